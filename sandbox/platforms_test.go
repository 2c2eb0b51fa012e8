package sandbox_test

import (
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/platform"
	"github.com/litebox-go/litebox/sandbox"
)

// brokenEnv makes the test binary register a platform, preferred over all
// others, that can never make an address space.
const brokenEnv = "LITEBOX_TEST_BROKEN_PLATFORM"

type broken struct{}

func (broken) Name() string { return "broken" }
func (broken) NewAddressSpace() (platform.AddressSpace, error) {
	return nil, errors.New("this host lacks what broken needs")
}
func (broken) Close() {}

func init() {
	if os.Getenv(brokenEnv) == "1" {
		platform.Register(platform.Info{Name: "broken", Summary: "never works", Needs: "nothing any host has",
			Preference: 1 << 30, New: func() platform.Platform { return broken{} }})
	}
}

// TestAutoPlatformFallsBack: "auto" tries the registered platforms in
// preference order and runs on the first that can make an address space;
// naming the broken one fails with its error. Runs in a child process so
// the broken platform is registered there only.
func TestAutoPlatformFallsBack(t *testing.T) {
	if os.Getenv(brokenEnv) != "1" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestAutoPlatformFallsBack$", "-test.v")
		cmd.Env = append(os.Environ(), brokenEnv+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestAutoPlatformFallsBack") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		return
	}
	if names := platform.Names(); len(names) < 3 || names[0] != "broken" {
		t.Fatalf("registered platforms %v, want broken first", names)
	}
	var log lockedBuf
	sb, err := sandbox.New(sandbox.Config{Log: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Command("/bin/true").Run(); err != nil {
		t.Fatalf("auto: %v\nlog:\n%s", err, log.String())
	}
	if want := "broken unavailable, trying " + platform.Names()[1]; !strings.Contains(log.String(), want) {
		t.Errorf("log does not say %q:\n%s", want, log.String())
	}
	sb, err = sandbox.New(sandbox.Config{Platform: "broken"})
	if err != nil {
		t.Fatal(err)
	}
	if err := sb.Command("/bin/true").Run(); err == nil || !strings.Contains(err.Error(), "this host lacks what broken needs") {
		t.Fatalf("the broken platform chosen by name: %v", err)
	}
}

func TestUnknownPlatform(t *testing.T) {
	_, err := sandbox.New(sandbox.Config{Platform: "kvm"})
	if err == nil || !strings.Contains(err.Error(), `unknown platform "kvm"`) {
		t.Fatalf("err = %v", err)
	}
	for _, name := range platform.Names() {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not list %s", err, name)
		}
	}
}
