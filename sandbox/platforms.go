package sandbox

import (
	"errors"
	"fmt"
	"strings"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/platform"

	// The platforms a sandbox can use: each registers itself. This is the
	// one place a new platform is added.
	_ "github.com/litebox-go/litebox/platform/ptrace"
	_ "github.com/litebox-go/litebox/platform/systrap"
)

// checkPlatform validates Config.Platform: a registered name, "auto" or
// empty (the same).
func checkPlatform(name string) error {
	if name == "" || name == "auto" {
		return nil
	}
	if _, ok := platform.Lookup(name); !ok {
		return fmt.Errorf("unknown platform %q (want %s or auto)", name, strings.Join(platform.Names(), ", "))
	}
	return nil
}

// withPlatform creates the configured platform and runs start with it.
// For "auto" it tries the registered platforms, most preferred first,
// moving on while start fails with a *kernel.PlatformError (the host lacks what
// the platform needs); other errors (a program that cannot be loaded) end
// the choice.
func (s *Sandbox) withPlatform(start func(platform.Platform) error) (platform.Platform, error) {
	if info, ok := platform.Lookup(s.cfg.Platform); ok {
		p := info.New()
		return p, start(p)
	}
	infos := platform.Registered()
	for i, info := range infos {
		p := info.New()
		err := start(p)
		var pe *kernel.PlatformError
		if i == len(infos)-1 || !errors.As(err, &pe) {
			return p, err
		}
		p.Close()
		s.log.Info(info.Name+" unavailable, trying "+infos[i+1].Name, "err", err, "needs", info.Needs)
	}
	return nil, errors.New("no platform registered")
}
