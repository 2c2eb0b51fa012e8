package tests

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// The process tests run the multi-process and multi-threaded programs of
// testdata/ (fork_wait, pipe_fork, exec_args, threads; signals and sigfpe in
// signals_test.go). Each program takes a mode as its first argument, so
// that every aspect is a subtest of its own and one kernel bug does not hide
// the others. Every mode prints only deterministic lines (no pids, no
// addresses, no descriptor numbers), so each case has an exact expected
// stdout; the native subtest checks that expectation against Linux itself,
// and the litebox subtest requires the guest run to produce exactly the
// native stdout and exit code and an empty stderr.

// modeCase is one run of a mode of a testdata program.
type modeCase struct {
	name string
	prog string // testdata/<prog>.c
	// args follow the program name; "@TMP@" stands for an empty writable
	// directory: a fresh host directory natively, the guest's /tmp.
	args     []string
	want     string // exact stdout, natively and in the guest
	wantExit int
}

// substTmp replaces @TMP@ in args by dir.
func substTmp(args []string, dir string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = strings.ReplaceAll(a, "@TMP@", dir)
	}
	return out
}

// runModeCases runs every case for every link variant, natively and under
// litebox, all in parallel.
func runModeCases(t *testing.T, cases []modeCase) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					bin := program(t, tc.prog, v)
					want := harness.Result{ExitCode: tc.wantExit, Stdout: []byte(tc.want)}
					native := runNative(t, "", nil, nil, append([]string{bin}, substTmp(tc.args, t.TempDir())...)...)
					t.Run("native", func(t *testing.T) {
						checkResult(t, native, want, true)
					})
					t.Run("litebox", func(t *testing.T) {
						g := harness.Guest{Mounts: []string{workMount(v)}}
						got := runGuest(t, g, nil, "/work/"+tc.prog, substTmp(tc.args, "/tmp")...)
						checkExitedNormally(t, got)
						// Against the native run (which the native subtest
						// holds to the expectation): stdout, exit code, and
						// the empty stderr.
						checkResult(t, got, native, true)
					})
				})
			}
		})
	}
}

var forkWaitCases = []modeCase{
	{name: "exit-codes", prog: "fork_wait", args: []string{"exit-codes"}, want: `child pids distinct and not the parent's: yes
child 4: exited 255
child 3: exited 127
child 2: exited 42
child 1: exited 1
child 0: exited 0
wait() collected 20, 21, 22: 1 1 1
wait() with no children left: -1 ECHILD
`},
	{name: "signaled", prog: "fork_wait", args: []string{"signaled"}, want: `kill(getpid(), SIGTERM): killed by SIGTERM
null write: killed by SIGSEGV
SIGKILL from the parent: killed by SIGKILL
abort(): killed by SIGABRT
ignored SIGUSR1: exited 33
SIGHUP while blocked in read: killed by SIGHUP
`},
	{name: "wnohang", prog: "fork_wait", args: []string{"wnohang"}, want: `WNOHANG while the child runs: 0
WNOHANG (any child) while the child runs: 0
blocking waitpid returned the child: yes
child: exited 7
WNOHANG after it was reaped: -1 ECHILD
WNOHANG eventually returned the child: yes
child: exited 9
`},
	{name: "echild", prog: "fork_wait", args: []string{"echild"}, want: `wait(): -1 ECHILD
waitpid(-1, WNOHANG): -1 ECHILD
waitid(P_ALL): -1 ECHILD
child of C: exited 0
C: waitpid(orphaned grandchild): -1 ECHILD
C: exited 0
waitpid(bad options): -1 EINVAL
`},
	{name: "waitid", prog: "fork_wait", args: []string{"waitid"}, want: `WNOWAIT: si_signo=SIGCHLD si_code=CLD_EXITED si_status=5 si_pid==child: yes
waitid: si_code=CLD_EXITED si_status=5 si_pid==child: yes si_uid==getuid(): yes
waitid again: -1 ECHILD
waitid WNOHANG while running: 0 si_pid=0
killed: si_code=CLD_KILLED si_status=SIGKILL si_pid==child: yes
waitid without WEXITED/WSTOPPED/WCONTINUED: -1 EINVAL
`},
	{name: "stop", prog: "fork_wait", args: []string{"stop"}, want: `WUNTRACED returned the child: yes
child: stopped by SIGSTOP
WCONTINUED returned the child: yes
child: continued
child: exited 4
waitid WSTOPPED: si_code=CLD_STOPPED si_status=SIGTSTP
stopped child after SIGKILL: killed by SIGKILL
`},
	{name: "memory", prog: "fork_wait", args: []string{"memory", "@TMP@"}, want: `child: exited 0
global after child wrote it: 1
stack variable: 1
heap intact: yes
MAP_SHARED sees the child's write: 2
MAP_PRIVATE: 1
file: 13 bytes: child
parent
`},
	{name: "vfork", prog: "fork_wait", args: []string{"vfork"}, want: `vfork shares memory until _exit: yes
vfork child: exited 3
vfork + execve: exited 12
vfork + failing execve: exited 44
posix_spawn: ok
posix_spawn child: exited 4
posix_spawn missing program: ENOENT
`},
	{name: "pgroup", prog: "fork_wait", args: []string{"pgroup"}, want: `getpgid(a)==a: yes
getpgid(b)==a: yes
own group differs: yes
setpgid into a missing group: -1 EPERM
group members killed by SIGTERM: 2
waitpid(-a) afterwards: -1 ECHILD
kill(-a, 0) afterwards: -1 ESRCH
setsid child: exited 0
setsid + setpgid across sessions: exited 0
`},
	{name: "many", prog: "fork_wait", args: []string{"many"}, want: `reaped 100 children, status sum 2450
then wait(): -1 ECHILD
`},
	{name: "procself", prog: "fork_wait", args: []string{"procself"}, want: `parent: /proc/self is getpid(): yes
child: /proc/self is getpid(): yes
grandchild: /proc/self is getpid(): yes
child: exited 0
parent again: /proc/self is getpid(): yes
`},
}

var pipeForkCases = []modeCase{
	{name: "checksum", prog: "pipe_fork", args: []string{"checksum"}, want: `reply: 16 bytes
child read 1048576 bytes
checksum matches: yes
then EOF: 0
child: exited 0
`},
	{name: "wc", prog: "pipe_fork", args: []string{"wc"}, want: `wc: exited 0
busybox wc -c said: 100000
tr: exited 0
busybox tr said: HELLO, PIPE
seq 1 1000 | wc -l said: 1000
seq: exited 0
wc: exited 0
`},
	{name: "cloexec", prog: "pipe_fork", args: []string{"cloexec"}, want: `before exec, open O_CLOEXEC: F_GETFD=1
before exec, open plain: F_GETFD=0
before exec, pipe2 O_CLOEXEC read end: F_GETFD=1
before exec, pipe2 O_CLOEXEC write end: F_GETFD=1
before exec, F_DUPFD_CLOEXEC: F_GETFD=1
before exec, dup of O_CLOEXEC: F_GETFD=0
before exec, dup3 O_CLOEXEC: F_GETFD=1
before exec, F_SETFD FD_CLOEXEC: F_GETFD=1
forked child sees all of them: exited 0
after exec, open O_CLOEXEC: EBADF
after exec, open plain: open, F_GETFD=0
after exec, pipe2 O_CLOEXEC read end: EBADF
after exec, pipe2 O_CLOEXEC write end: EBADF
after exec, F_DUPFD_CLOEXEC: EBADF
after exec, dup of O_CLOEXEC: open, F_GETFD=0
after exec, dup3 O_CLOEXEC: EBADF
after exec, F_SETFD FD_CLOEXEC: EBADF
`},
	{name: "nonblock", prog: "pipe_fork", args: []string{"nonblock"}, want: `pipe2(O_NONBLOCK) read on empty: -1 EAGAIN
F_GETFL has O_NONBLOCK: yes
F_GETFL access mode of the ends: O_RDONLY O_WRONLY
full pipe: write -1 EAGAIN, capacity >= 4096: yes
FIONREAD == bytes written: yes
drained == written: yes, then -1 EAGAIN
pipe() read end O_NONBLOCK: no
after F_SETFL O_NONBLOCK, read: -1 EAGAIN
poll empty: 0
poll after write: 1 POLLIN=yes
FIONREAD: 5
poll write end: 1 POLLOUT=yes
read after writer closed: 5
poll at EOF: 1 POLLHUP=yes
read at EOF: 0
poll write end without readers: 1 POLLERR=yes
write without readers: -1 EPIPE
write to the read end: -1 EBADF
read from the write end: -1 EBADF
lseek on a pipe: -1 ESPIPE
`},
	{name: "atomic", prog: "pipe_fork", args: []string{"atomic"}, want: `records: 800, per writer: 200 200 200 200
records intact: yes, in order per writer: yes
writer: exited 0
writer: exited 0
writer: exited 0
writer: exited 0
`},
}

var execArgsCases = []modeCase{
	{name: "argv-envp", prog: "exec_args", args: []string{"argv-envp"}, want: `before execve
pid preserved: yes
ppid preserved: yes
argc=9
argv[0]=[custom-argv0]
argv[4]=[one]
argv[5]=[two words]
argv[6]=[]
argv[7]=[tab	here]
argv[8]=[last]
argv[argc]==NULL: yes
env[0]=[FOO=bar]
env[1]=[EMPTY=]
env[2]=[X=1=2]
env[3]=[PATH=/nowhere]
env[4]=[NOEQUALS]
env[5]=[FOO=second]
environ==envp: yes
getenv(FOO)=[bar]
`},
	{name: "empty-env", prog: "exec_args", args: []string{"empty-env"},
		want: "argc=1 argv[0]=[only-argv0] argv[1]==NULL: yes envc=0\n"},
	{name: "big", prog: "exec_args", args: []string{"big"}, want: "argc=2002, all 2000 arguments intact: yes\n"},
	{name: "errors", prog: "exec_args", args: []string{"errors", "@TMP@"}, want: `missing file: -1 ENOENT
empty path: -1 ENOENT
directory: -1 EACCES
file as directory: -1 ENOTDIR
missing file in DIR: -1 ENOENT
text file without x bit: -1 EACCES
text file with x bit: -1 ENOEXEC
empty file with x bit: -1 ENOEXEC
#! with a missing interpreter: -1 ENOENT
#! script without x bit: -1 EACCES
still running: yes
`},
	{name: "script", prog: "exec_args", args: []string{"script", "@TMP@"}, want: `sh script: argc=2 1=[x] 2=[y z] FOO=[from-execve]
#!/bin/sh: exited 5
busybox script: argc=1 1=[arg]
#!/bin/busybox sh: exited 6
before false
#! /bin/sh -e: exited 1
interp.sh got 2 arguments, second [last-arg]
nested #!: exited 7
`},
	{name: "sigstate", prog: "exec_args", args: []string{"sigstate"}, want: `SIGUSR1 (had a handler): SIG_DFL
SIGUSR2 (was ignored): SIG_IGN
SIGTERM blocked: yes, SIGUSR1 blocked: no
SIGINT pending: yes, SIGTERM pending: no
sigwaitinfo: SIGINT
`},
	{name: "fdpos", prog: "exec_args", args: []string{"fdpos", "@TMP@"}, want: "offset after exec: 3, read 4 bytes: 3456\n"},
	{name: "path", prog: "exec_args", args: []string{"path"}, want: `found on PATH
execlp busybox: exited 0
execlp missing: ENOENT
execlp missing: exited 127
`},
}

var threadsCases = []modeCase{
	{name: "sum", prog: "threads", args: []string{"sum"}, want: `counter: 1600080000 (want 1600080000)
joined partial sums: 7200360000 (want 7200360000)
`},
	{name: "barrier", prog: "threads", args: []string{"barrier"}, want: `condvar barrier: 8 arrived, 0 released early
pthread_barrier_wait: 50 rounds, serial thread 50 times
handshake: 1000 pings, 1000 pongs
`},
	{name: "tls", prog: "threads", args: []string{"tls"}, want: `threads start with the initial value 42: yes
each thread keeps its own value: yes
main thread's value unchanged: yes
distinct TLS addresses: yes
distinct tids, none equal to the pid: yes
getpid() same in all threads: yes
main thread: gettid()==getpid(): yes
`},
	{name: "prodcons", prog: "threads", args: []string{"prodcons"}, want: `consumed 10000 items (want 10000), sum 525005000 (want 525005000)
pthread_cond_timedwait: ETIMEDOUT after >= 90ms: yes
trylock free mutex: 0
trylock held mutex from another thread: EBUSY
`},
	{name: "exit", prog: "threads", args: []string{"exit"}, want: "thread calls exit(3)\n", wantExit: 3},
	// exit_group racing with thread creation: every thread, including
	// those still being created, must go.
	{name: "exit-race", prog: "threads", args: []string{"exit-race"}, wantExit: 3},
	{name: "fork", prog: "threads", args: []string{"fork"}, want: `child: new thread works: yes
forked from a thread: exited 11
`},
	{name: "exec", prog: "threads", args: []string{"exec"}, want: `after exec from a thread: pid kept: yes, gettid()==getpid(): yes
new thread after exec: 5
`},
	{name: "signal", prog: "threads", args: []string{"signal"}, want: `pthread_kill: handled 1 time(s), by the target thread: yes
kill(getpid()): handled 1 time(s), by the unblocking thread: yes
raise while blocked: pending yes, handled 0
after unblocking: handled 1, by main: yes
`},
	{name: "cancel", prog: "threads", args: []string{"cancel"}, want: "pthread_cancel: 0, joined PTHREAD_CANCELED: yes\n"},
}

// TestProcessForkWait: fork, exit statuses, waitpid/wait/waitid, stop and
// continue, vfork and posix_spawn, process groups and sessions.
func TestProcessForkWait(t *testing.T) { runModeCases(t, forkWaitCases) }

// TestProcessPipes: pipes between processes, dup2 onto stdin/stdout before
// execve, close-on-exec, non-blocking pipes, atomic writes.
func TestProcessPipes(t *testing.T) { runModeCases(t, pipeForkCases) }

// TestProcessExec: execve with chosen argv/envp, failures, #! scripts, and
// what survives execve.
func TestProcessExec(t *testing.T) { runModeCases(t, execArgsCases) }

// TestProcessThreads: pthreads with mutexes, condvars, barriers and TLS;
// exit, fork, execve and signals in a multi-threaded process; cancellation.
func TestProcessThreads(t *testing.T) { runModeCases(t, threadsCases) }

// TestProcessGuestPIDs checks what only the sandbox can promise: its pids
// start at 1 (the first process is pid 1 with parent 0, its children see
// parent 1, orphans are adopted and reaped by pid 1) and pids of the host
// are not visible (kill(1234567, 0) fails with ESRCH).
func TestProcessGuestPIDs(t *testing.T) {
	program(t, "fork_wait", staticVariant)
	g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
	got := runGuest(t, g, nil, "/work/fork_wait", "pids")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte(`getpid()==1: yes
getppid()==0: yes
child getppid()==1: yes
child getpid() small: yes
child: exited 0
middle process: exited 0
orphan getppid()==1: yes
pid 1 reaps the orphan: yes
orphan: exited 8
kill(1234567, 0): -1 ESRCH
kill(1, 0): 0
`)}, true)
}

// numericRE matches the /proc entries that are pids.
var numericRE = regexp.MustCompile(`^[0-9]+$`)

// procPIDs returns the numeric entries of an `ls -1 /proc` listing, sorted.
func procPIDs(t *testing.T, listing []byte) []int {
	t.Helper()
	var pids []int
	for _, name := range strings.Fields(string(listing)) {
		if !numericRE.MatchString(name) {
			continue
		}
		n, err := strconv.Atoi(name)
		if err != nil {
			t.Fatalf("bad /proc entry %q", name)
		}
		pids = append(pids, n)
	}
	sort.Ints(pids)
	return pids
}

// TestProcessGuestProcList checks that the guest's /proc lists only the
// sandbox's own processes: pid 1, small numbers, and every running guest
// process (a background sleep and the ls itself included).
func TestProcessGuestProcList(t *testing.T) {
	needBusybox(t)
	t.Run("single", func(t *testing.T) {
		t.Parallel()
		got := runGuest(t, harness.Guest{}, nil, busyboxPath, "ls", "-1", "/proc")
		if got.ExitCode != 0 || len(got.Stderr) != 0 {
			t.Fatalf("ls /proc failed:\n%s", got)
		}
		if pids := procPIDs(t, got.Stdout); len(pids) != 1 || pids[0] != 1 {
			t.Errorf("/proc pids = %v, want exactly [1] (ls is pid 1)\n%s", pids, got.Stdout)
		}
	})
	t.Run("with-children", func(t *testing.T) {
		t.Parallel()
		// sh is pid 1; sleep and ls are its children.
		got := runGuest(t, harness.Guest{}, nil, busyboxPath, "sh", "-c",
			"busybox sleep 2 & busybox ls -1 /proc; kill $!; readlink /proc/self; echo $$")
		if got.ExitCode != 0 || len(got.Stderr) != 0 {
			t.Fatalf("script failed:\n%s", got)
		}
		pids := procPIDs(t, got.Stdout)
		if len(pids) < 3 || pids[0] != 1 {
			t.Errorf("/proc pids = %v, want 1 and at least the sleep and the ls", pids)
		}
		for _, p := range pids {
			if p > 100 {
				t.Errorf("/proc lists pid %d: not a small sandbox pid (host pids leak?)\n%s", p, got.Stdout)
			}
		}
		lines := strings.Split(strings.TrimSpace(string(got.Stdout)), "\n")
		if n := len(lines); n < 2 || lines[n-1] != "1" {
			t.Errorf("$$ of the first shell = %q, want 1", lines[n-1])
		} else if self, _ := strconv.Atoi(lines[n-2]); self <= 1 {
			t.Errorf("readlink /proc/self in a child = %q, want the child's pid (> 1)", lines[n-2])
		}
	})
}
