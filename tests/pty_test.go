package tests

// Terminals: pseudo-terminals inside the sandbox's kernel (/dev/ptmx,
// /dev/pts, /dev/tty), their line discipline and job control, compared
// with the same programs run natively, and the interactive `litebox run
// -t` driven through tmux the way a person would use it.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestPty runs each mode of testdata/pty.c natively and in the sandbox:
// the output (what the terminals did, never pids or pty numbers) and the
// exit code must be the same.
func TestPty(t *testing.T) {
	prog := program(t, "pty", staticVariant)
	for _, mode := range []string{"devices", "termios", "canon", "raw", "hangup", "signals", "jobs"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			want := runNative(t, "", nil, nil, prog, mode)
			if want.ExitCode != 0 {
				t.Fatalf("native run failed: %s", want)
			}
			g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
			got := runGuest(t, g, nil, "/work/pty", mode)
			checkResult(t, got, want, false)
		})
	}
}

// TestPtyPython: Python's pty module (os.openpty, pty.fork, a child
// reading and writing its terminal) and termios behave as natively.
func TestPtyPython(t *testing.T) {
	if _, err := os.Stat(pythonPath); err != nil {
		skipOrFail(t, "python3 is needed at %s: %v", pythonPath, err)
	}
	const script = `
import os, pty, sys, termios, tty
m, s = os.openpty()
print("tty", os.isatty(s), os.ttyname(s).startswith("/dev/pts/"))
attrs = termios.tcgetattr(s)
print("lflag", attrs[3] & (termios.ICANON | termios.ECHO | termios.ISIG))
os.write(m, b"line one\n")
print("read", os.read(s, 100))
print("echo", os.read(m, 100))
tty.setraw(s)
os.write(m, b"\x03raw")
print("raw", os.read(s, 100))
os.close(s)
try:
    os.read(m, 100)
except OSError as e:
    print("master after slave close", e.errno)
pid, fd = pty.fork()
if pid == 0:
    print("child", os.isatty(0), os.getsid(0) == os.getpid(), os.tcgetpgrp(0) == os.getpgrp())
    sys.stdout.flush()
    line = sys.stdin.readline()
    print("child got", repr(line))
    os._exit(3)
os.write(fd, b"to the child\n")
out = b""
while True:
    try:
        b = os.read(fd, 1024)
    except OSError:
        break
    if not b:
        break
    out += b
print("parent saw", out)
print("status", os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "p.py"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	want := runNative(t, dir, nil, nil, pythonPath, filepath.Join(dir, "p.py"))
	if want.ExitCode != 0 {
		t.Fatalf("native run failed: %s", want)
	}
	got := runGuest(t, harness.Guest{Mounts: []string{dir + ":/py"}}, nil, pythonPath, "/py/p.py")
	checkResult(t, got, want, false)
}

// TestScript: script(1) runs a command on a new pty (util-linux: openpty,
// a session with the slave as its terminal, the copy loop), natively and
// in the sandbox alike.
func TestScript(t *testing.T) {
	script, err := exec.LookPath("script")
	if err != nil {
		skipOrFail(t, "script (bsdutils) is needed: %v", err)
	}
	// script waits for its child's signals with signalfd(2), which this
	// build's kernel may not have yet (another part of issue 11 adds it):
	// probe the guest for it rather than fail on ENOSYS.
	probe := runGuest(t, harness.Guest{}, nil, pythonPath, "-c",
		"import ctypes,os; r=ctypes.CDLL(None,use_errno=True).syscall(289,-1,0,8,0); print(ctypes.get_errno())")
	if bytes.Equal(bytes.TrimSpace(probe.Stdout), []byte("38")) {
		t.Skip("signalfd4 is ENOSYS in this build's kernel; script(1) needs it")
	}
	argv := []string{script, "-qc", "tty; stty size; echo hi; test -t 0 && echo stdin-is-tty", "/dev/null"}
	want := runNative(t, "", nil, nil, argv...)
	got := runGuest(t, harness.Guest{}, nil, argv[0], argv[1:]...)
	// The tty's number may differ: compare the line's prefix.
	norm := func(b []byte) []byte {
		lines := bytes.SplitN(b, []byte("\n"), 2)
		if bytes.HasPrefix(lines[0], []byte("/dev/pts/")) {
			lines[0] = []byte("/dev/pts/N\r")
		}
		return bytes.Join(lines, []byte("\n"))
	}
	want.Stdout, got.Stdout = norm(want.Stdout), norm(got.Stdout)
	checkResult(t, got, want, false)
}
