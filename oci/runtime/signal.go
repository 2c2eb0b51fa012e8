package runtime

import (
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ParseSignal reads a signal as runc's kill takes it: a number (1-64), a
// name with or without SIG (any case: TERM, SIGTERM, sigkill), or
// SIGRTMIN+N / SIGRTMAX-N.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMIN"); ok {
		return rt(s, 34, rest, 1)
	}
	if rest, ok := strings.CutPrefix(name, "SIGRTMAX"); ok {
		return rt(s, 64, rest, -1)
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("unknown signal %q", s)
}

func rt(orig string, base int, rest string, dir int) (unix.Signal, error) {
	n := 0
	if rest != "" {
		sign := rest[0]
		v, err := strconv.Atoi(rest[1:])
		if err != nil || (sign == '+' && dir < 0) || (sign == '-' && dir > 0) || (sign != '+' && sign != '-') {
			return 0, fmt.Errorf("unknown signal %q", orig)
		}
		n = v * dir
	}
	sig := base + n
	if sig < 34 || sig > 64 {
		return 0, fmt.Errorf("unknown signal %q", orig)
	}
	return unix.Signal(sig), nil
}
