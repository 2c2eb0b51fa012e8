package tests

// Internal errors: a bug in litebox's kernel (a panic on a goroutine serving
// a guest) must end that sandbox cleanly: one line on stderr, exit status
// 70, a kernel_error audit event with the stack, no stub left behind. The
// bug is injected with litebox's hidden --test-panic-syscall flag, which
// makes the kernel panic when the guest issues the named syscall.

import (
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

const panicLine = "litebox: internal error: test hook: injected kernel panic in getppid\n"

func TestKernelPanicEndsTheSandbox(t *testing.T) {
	program(t, "kernel_panic", staticVariant)
	for _, tc := range []struct {
		mode string
		why  string
	}{
		{"self", "the main thread's goroutine panics"},
		{"child", "a forked process's goroutine panics while the first one waits in wait4"},
		{"blocked", "another process sleeps in pause() forever: the end must not wait for it"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			g, audit := escapeGuest(t, "--test-panic-syscall", "getppid")
			w := watchTree(audit)
			got := runGuest(t, g, nil, "/work/kernel_panic", tc.mode)
			_, stubs, _ := w.finish()
			// runGuest already failed the test on a Go stack trace.
			checkExitedNormally(t, got)
			checkResult(t, got, harness.Result{ExitCode: 70, Stdout: []byte("before\n"), Stderr: []byte(panicLine)}, true)

			var kernelErrors []map[string]any
			var exits int
			for _, ev := range readAudit(t, audit) {
				switch ev["msg"] {
				case "kernel_error":
					kernelErrors = append(kernelErrors, ev)
				case "sandbox_exit":
					exits++
				}
			}
			if len(kernelErrors) != 1 {
				t.Fatalf("%d kernel_error events, want 1", len(kernelErrors))
			}
			ev := kernelErrors[0]
			if ev["panic"] != "test hook: injected kernel panic in getppid" {
				t.Errorf("kernel_error panic = %q", ev["panic"])
			}
			stack, _ := ev["stack"].(string)
			for _, frame := range []string{"goroutine ", "shim/linux.(*ABI).Syscall(", "kernel.(*Task).run("} {
				if !strings.Contains(stack, frame) {
					t.Errorf("kernel_error stack lacks %q:\n%s", frame, stack)
				}
			}
			if exits != 1 {
				t.Errorf("%d sandbox_exit events, want 1", exits)
			}
			checkStubsGone(t, stubs)
		})
	}
}

// Without the hook the same program runs as natively: the exit status 70
// above comes from the injected bug, nothing else.
func TestKernelPanicProgramWithoutHook(t *testing.T) {
	prog := program(t, "kernel_panic", staticVariant)
	for _, mode := range []string{"self", "child"} {
		want := runNative(t, "", nil, nil, prog, mode)
		got := runGuest(t, harness.Guest{Mounts: []string{workMount(staticVariant)}}, nil, "/work/kernel_panic", mode)
		checkResult(t, got, want, true)
		if string(want.Stdout) != "before\nafter\n" {
			t.Fatalf("native run printed %q", want.Stdout)
		}
	}
}

// The hook names a syscall; an unknown name is a usage error, and the flag
// is not advertised.
func TestKernelPanicHookFlag(t *testing.T) {
	res := runLitebox(t, nil, "run", "--test-panic-syscall", "no_such_call", "--", "/bin/true")
	checkOneLineError(t, res, 125)
	help := runLitebox(t, nil, "run", "--help")
	if strings.Contains(string(help.Stdout), "test-panic") {
		t.Errorf("run --help shows the test hook:\n%s", help.Stdout)
	}
}
