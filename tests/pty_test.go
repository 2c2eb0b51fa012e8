package tests

// Terminals: pseudo-terminals inside the sandbox's kernel (/dev/ptmx,
// /dev/pts, /dev/tty), their line discipline and job control, compared
// with the same programs run natively, and the interactive `litebox run
// -t` driven through tmux the way a person would use it.

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// TestPtyContainerPtmx: the sandbox's /dev/ptmx is a container's, a link
// to pts/ptmx on a devpts of its own with ptmxmode=0666 (what runc and
// Docker make, and what the OCI runtime-tools check), and opening it gives
// a working master to the guest's user (uid 1000: the mode matters). The
// native reference is that layout made by hand in a private mount
// namespace (a tmpfs as /dev, a new devpts instance in it, the link) and
// the program run there as the guest's uid.
func TestPtyContainerPtmx(t *testing.T) {
	prog := program(t, "pty", staticVariant)
	if os.Geteuid() != 0 {
		skipOrFail(t, "the native reference mounts a devpts instance: needs root")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		skipOrFail(t, "the native reference needs unshare(1): %v", err)
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		skipOrFail(t, "the native reference needs setpriv(1): %v", err)
	}
	// Reachable by the guest's uid natively (t.TempDir's are 0700).
	dev, err := os.MkdirTemp("", "litebox-ptmx-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dev) })
	if err := os.Chmod(dev, 0o755); err != nil {
		t.Fatal(err)
	}
	script := `set -e
mount -t tmpfs -o mode=0755 tmpfs "$1"
mkdir "$1/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$1/pts"
ln -s pts/ptmx "$1/ptmx"
exec "$3" --reuid 1000 --regid 1000 --clear-groups "$2" ptmx "$1"`
	want := runNative(t, "", nil, nil, unshare, "-m", "--propagation", "private", "/bin/sh", "-c", script, "sh", dev, prog, setpriv)
	if want.ExitCode != 0 {
		skipOrFail(t, "cannot make the native reference layout: %s", want)
	}
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
	got := runGuest(t, g, nil, "/work/pty", "ptmx", "/dev")
	checkResult(t, got, want, false)
}

// TestPtyPython: Python's pty module (os.openpty, pty.fork, a child
// reading and writing its terminal) and termios behave as natively.
func TestPtyPython(t *testing.T) {
	if _, err := os.Stat(pythonPath); err != nil {
		skipOrFail(t, "python3 is needed at %s: %v", pythonPath, err)
	}
	const script = `
import os, pty, select, sys, termios, tty
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
ep = select.epoll()
ep.register(m, select.EPOLLIN)
print("epoll empty", ep.poll(0))
os.write(s, b"out")
print("epoll data", [ev for fd, ev in ep.poll(5)])
print("drained", os.read(m, 100))
os.close(s)
print("epoll hangup", [ev for fd, ev in ep.poll(5)])
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
# Wait for the child's first line before typing: the echo of what the
# parent types would otherwise race with the child's output, natively too.
out = b""
while b"child " not in out:
    out += os.read(fd, 1024)
os.write(fd, b"to the child\n")
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

// tmuxSession is a tmux server of the test's own (a private socket) with
// one detached session.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) tmux(args ...string) string {
	s.t.Helper()
	argv := append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)
	out, err := exec.Command("tmux", argv...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %q: %v\n%s", args, err, out)
	}
	return string(out)
}

// screen is what the pane shows, trailing blank lines dropped.
func (s *tmuxSession) screen() string {
	return strings.TrimRight(s.tmux("capture-pane", "-p"), "\n")
}

// waitFor polls the screen until ok accepts it; the deadline is only a
// safety net for a session that never gets there.
func (s *tmuxSession) waitFor(what string, ok func(screen string) bool) {
	s.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		scr := s.screen()
		if ok(scr) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never showed %s:\n%s", what, scr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countLines counts the screen's lines equal to l.
func countLines(screen, l string) int {
	n := 0
	for _, x := range strings.Split(screen, "\n") {
		if strings.TrimRight(x, " ") == l {
			n++
		}
	}
	return n
}

// TestInteractiveTTY uses `litebox run -t` as a person would: tmux runs
// an interactive bash in the sandbox on a terminal, send-keys types at it
// and capture-pane reads the screen. Line editing, Ctrl-C, Ctrl-Z with
// jobs and fg, a window resize, and the exit status all behave as on a
// terminal, and the host terminal's settings are back afterwards.
func TestInteractiveTTY(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		skipOrFail(t, "tmux is needed to drive the terminal: %v", err)
	}
	dir := t.TempDir()
	g := harness.Guest{Env: []string{"PS1=lb$ "}, Flags: []string{"-t"}, Test: t.Name()}
	var cmdline []string
	for _, a := range g.Argv(litebox(t), "/bin/bash", "--norc", "-i") {
		cmdline = append(cmdline, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	script := "stty -g > before\n" + strings.Join(cmdline, " ") + "\necho EXIT=$?\n" +
		"stty -g > after\ncmp -s before after && echo TERMINAL-RESTORED\nsleep 600\n"
	if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	s := &tmuxSession{t: t, socket: fmt.Sprintf("litebox-test-%d-%d", os.Getpid(), time.Now().UnixNano())}
	s.tmux("new-session", "-d", "-x", "100", "-y", "30", "-c", dir, "sh "+filepath.Join(dir, "run.sh"))
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	prompts := func(n int) func(string) bool {
		return func(scr string) bool { return strings.Count("\n"+scr, "\nlb$") >= n }
	}
	s.waitFor("the first prompt", prompts(1))

	// Line editing: type, move left, insert, Enter.
	s.tmux("send-keys", "echo hllo", "Left", "Left", "Left", "e", "Enter")
	s.waitFor("hello", func(scr string) bool { return countLines(scr, "hello") == 1 && prompts(2)(scr) })
	if !strings.Contains(s.screen(), "lb$ echo hello") {
		t.Errorf("the edited line is not shown as edited:\n%s", s.screen())
	}
	s.tmux("send-keys", "tty; stty size", "Enter")
	s.waitFor("the terminal and its size", func(scr string) bool {
		return strings.Contains(scr, "\n/dev/pts/") && countLines(scr, "30 100") == 1 && prompts(3)(scr)
	})

	// Ctrl-C interrupts the foreground job. The job says when it runs
	// (bash has made it the terminal's foreground group by then): a ^C
	// typed earlier would reach bash instead, as on any terminal.
	const job = "sh -c 'echo sleeping; exec sleep 100'"
	s.tmux("send-keys", job, "Enter")
	s.waitFor("the job running", func(scr string) bool { return countLines(scr, "sleeping") == 1 })
	s.tmux("send-keys", "C-c")
	s.waitFor("^C and a prompt", func(scr string) bool { return countLines(scr, "^C") == 1 && prompts(4)(scr) })

	// Ctrl-Z stops it; jobs lists it; fg resumes it; Ctrl-C ends it.
	s.tmux("send-keys", job, "Enter")
	s.waitFor("the job running", func(scr string) bool { return countLines(scr, "sleeping") == 2 })
	s.tmux("send-keys", "C-z")
	stopped := "[1]+  Stopped                 " + job
	s.waitFor("the stopped job", func(scr string) bool { return countLines(scr, stopped) == 1 && prompts(5)(scr) })
	s.tmux("send-keys", "jobs", "Enter")
	s.waitFor("jobs", func(scr string) bool { return countLines(scr, stopped) == 2 && prompts(6)(scr) })
	s.tmux("send-keys", "fg", "Enter")
	s.waitFor("fg", func(scr string) bool { return countLines(scr, job) == 1 })
	s.tmux("send-keys", "C-c")
	s.waitFor("^C and a prompt", func(scr string) bool { return countLines(scr, "^C") == 2 && prompts(7)(scr) })

	// A resize reaches the guest's terminal (SIGWINCH, TIOCGWINSZ).
	s.tmux("resize-window", "-x", "120", "-y", "40")
	s.tmux("send-keys", "stty size", "Enter")
	s.waitFor("the new size", func(scr string) bool { return countLines(scr, "40 120") == 1 && prompts(8)(scr) })

	// The exit status is litebox's; the host terminal is as it was.
	s.tmux("send-keys", "exit 7", "Enter")
	s.waitFor("litebox's exit", func(scr string) bool { return strings.Contains(scr, "EXIT=") })
	s.waitFor("the restored terminal", func(scr string) bool {
		return countLines(scr, "EXIT=7") == 1 && countLines(scr, "TERMINAL-RESTORED") == 1
	})
}

// TestTTYNeedsTerminal: -t with a stdin that is not a terminal is refused
// in one line, with Docker's words, exit 125.
func TestTTYNeedsTerminal(t *testing.T) {
	res := runLitebox(t, []byte("input"), "run", "-t", "--", "/bin/true")
	checkOneLineError(t, res, 125)
	if !strings.Contains(string(res.Stderr), "the input device is not a TTY") {
		t.Errorf("stderr = %q, want Docker's \"the input device is not a TTY\"", res.Stderr)
	}
}
