package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/litebox-go/litebox/sandbox"
)

// guestEnv builds the guest's environment: the sandbox default plus the
// variables given with -e. Nothing else of the host's environment leaks in.
func guestEnv(specs []string) ([]string, error) { return applyEnv(sandbox.DefaultEnv, specs) }

// applyEnv is base (the default, or an image's Env) with the -e variables
// on top.
func applyEnv(base, specs []string) ([]string, error) {
	env := append([]string(nil), base...)
	set := func(kv string) {
		key, _, _ := strings.Cut(kv, "=")
		for i, e := range env {
			if strings.HasPrefix(e, key+"=") {
				env[i] = kv
				return
			}
		}
		env = append(env, kv)
	}
	for _, s := range specs {
		key, _, hasValue := strings.Cut(s, "=")
		if key == "" || strings.ContainsRune(key, 0) {
			return nil, fmt.Errorf("bad --env %q: want KEY=VALUE or KEY", s)
		}
		if !hasValue {
			v, ok := os.LookupEnv(key)
			if !ok {
				continue
			}
			s = key + "=" + v
		}
		set(s)
	}
	return env, nil
}

// parseSize reads sizes like 64M, 1G, 4096.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToUpper(s[len(s)-1:]) {
	case "K":
		mult = 1 << 10
	case "M":
		mult = 1 << 20
	case "G":
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}
