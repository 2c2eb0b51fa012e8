package tests

import (
	"regexp"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// The shell tests run scripts that create many processes (pipelines,
// command substitution, background jobs, traps, exec) with busybox sh
// (static), dash (/bin/sh, dynamic) and python3 (dynamic), natively and
// under litebox, and require the same stdout, exit code and stderr.

const dashPath = "/bin/sh"

// shellCase is one script. "@TMP@" in args stands for an empty writable
// directory: a fresh host directory natively, the guest's /tmp.
type shellCase struct {
	name string
	args []string // after the program
	// want, if not empty, is the exact stdout (checked natively too).
	want     string
	wantExit int
	// jobMessages drops busybox's "Terminated"/"Killed" job notices from
	// stderr before comparing: whether sh prints them for a background job
	// killed by a signal depends on timing, natively too.
	jobMessages bool
}

var jobMessageRE = regexp.MustCompile(`(?m)^(Terminated|Killed)\n`)

func runShellCases(t *testing.T, prog string, cases []shellCase) {
	needProgram(t, prog)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			native := runNative(t, "", nil, nil, append([]string{prog}, substTmp(tc.args, t.TempDir())...)...)
			if tc.jobMessages {
				native.Stderr = jobMessageRE.ReplaceAll(native.Stderr, nil)
			}
			t.Run("native", func(t *testing.T) {
				if native.ExitCode != tc.wantExit {
					t.Errorf("exit code = %d, want %d\n%s", native.ExitCode, tc.wantExit, native)
				}
				if tc.want != "" && string(native.Stdout) != tc.want {
					t.Errorf("stdout differs\n%s", lineDiff([]byte(tc.want), native.Stdout))
				}
			})
			t.Run("litebox", func(t *testing.T) {
				got := runGuest(t, harness.Guest{}, nil, prog, substTmp(tc.args, "/tmp")...)
				if tc.jobMessages {
					got.Stderr = jobMessageRE.ReplaceAll(got.Stderr, nil)
				}
				checkExitedNormally(t, got)
				checkResult(t, got, native, true)
			})
		})
	}
}

// sh returns the arguments of `sh -c script`.
func sh(script string) []string { return []string{"sh", "-c", script} }

var busyboxShellCases = []shellCase{
	{name: "pipeline", args: sh(`seq 1 1000 | grep 7 | wc -l`), want: "271\n"},
	{name: "pipeline-long", args: sh(`seq 1 20000 | sort -rn | head -n 3 | tr '\n' ' '; echo`), want: "20000 19999 19998 \n"},
	{name: "command-substitution", args: sh(`x=$(echo hello | tr a-z A-Z); echo "$x ${#x}"; echo $(seq 3) "$(echo a; echo b)"; echo $(( $(seq 10 | wc -l) * 2 ))`),
		want: "HELLO 5\n1 2 3 a\nb\n20\n"},
	{name: "loop-200-children", args: sh(`for i in $(seq 200); do /bin/true; done; echo ok`), want: "ok\n"},
	{name: "loop-count", args: sh(`n=0; for i in $(seq 100); do busybox true && n=$((n+1)); done; echo $n`), want: "100\n"},
	{name: "background-wait", args: sh(`sleep 0.1 & wait; echo "wait: $?"; (exit 3) & wait $!; echo "wait pid: $?"; sleep 5 & p=$!; kill $p; wait $p; echo "killed: $?"; sleep 10 & kill -9 $!; wait $!; echo "kill -9: $?"`),
		want: "wait: 0\nwait pid: 3\nkilled: 143\nkill -9: 137\n", jobMessages: true},
	// Sorted: the order in which the jobs finish is the scheduler's.
	{name: "parallel-jobs", args: sh(`(for i in 3 1 2; do (sleep 0.$i; echo job $i) & done; wait) | sort; echo all done`),
		want: "job 1\njob 2\njob 3\nall done\n"},
	{name: "redirections", args: sh(`cd @TMP@ && echo one > f && echo two >> f && cat f && wc -l < f && ls nonexistent 2> e; echo "ls: $?"; wc -l < e; cat < f | sort -r > g; cat g; rm f g e; ls; echo end`),
		want: "one\ntwo\n2\nls: 1\n1\ntwo\none\nend\n"},
	{name: "trap-usr1", args: sh(`trap 'echo got USR1' USR1; kill -USR1 $$; echo after`), want: "got USR1\nafter\n"},
	{name: "trap-exit", args: sh(`trap 'echo bye' EXIT; echo hi; exit 3`), want: "hi\nbye\n", wantExit: 3},
	{name: "trap-from-child", args: sh(`trap 'echo got TERM; exit 0' TERM; (sleep 0.2; kill -TERM $$) & while :; do sleep 0.05; done`),
		want: "got TERM\n"},
	{name: "subshell-exit-codes", args: sh(`(exit 3); echo $?; (false) || echo failed; (exit 7); echo $?; sh -c 'exit 9'; echo $?; ( (exit 4) ); echo $?; x=1; (x=2); echo $x`),
		want: "3\nfailed\n7\n9\n4\n1\n"},
	{name: "pipeline-status", args: sh(`false | true; echo $?; true | false; echo $?; ! true; echo $?`), want: "0\n1\n1\n"},
	{name: "exec-redirection", args: sh(`exec 3>@TMP@/g; echo a >&3; echo b >&3; exec 3>&-; cat @TMP@/g; exec 4<@TMP@/g; read l <&4; echo "read: $l"; read l <&4; echo "read: $l"; exec 4<&-; exec 2>/dev/null; ls /nonexistent; echo "stderr gone: $?"`),
		want: "a\nb\nread: a\nread: b\nstderr gone: 1\n"},
	{name: "exec-replace", args: sh(`echo before; exec busybox echo replaced; echo not reached`), want: "before\nreplaced\n"},
	{name: "exit-status", args: sh(`echo out; exit 42`), want: "out\n", wantExit: 42},
	{name: "killed-by-signal", args: sh(`kill -9 $$; echo not reached`), wantExit: 137},
	{name: "heredoc", args: sh("cat <<EOF\nline $((1+2))\n$(echo sub)\nEOF"), want: "line 3\nsub\n"},
	{name: "sigpipe-producers", args: sh(`yes | head -n 3; seq 1 100000 | head -n 2; echo $?`), want: "y\ny\ny\n1\n2\n0\n"},
	{name: "xargs", args: sh(`seq 5 | xargs -n 2 echo`), want: "1 2\n3 4\n5\n"},
	{name: "read-from-pipe", args: sh(`echo "a b c" | { read x y z; echo $z $y $x; }`), want: "c b a\n"},
	{name: "nested-shells", args: sh(`sh -c 'sh -c "echo deep; exit 2"; echo $?'; test "$(sh -c 'echo $PPID')" = $$ && echo ppid ok`),
		want: "deep\n2\nppid ok\n"},
	{name: "timeout", args: sh(`timeout 1 sleep 5; echo $?; timeout -s KILL 1 sleep 5; echo $?`), want: "143\n137\n", jobMessages: true},
}

var dashCases = []shellCase{
	{name: "pipeline", args: []string{"-c", `seq 1 1000 | grep 7 | wc -l`}, want: "271\n"},
	{name: "command-substitution", args: []string{"-c", `x=$(printf '%s-' a b c); echo "$x"; echo $(( $(seq 10 | wc -l) + 1 )); y=$(echo $(echo nested)); echo $y`},
		want: "a-b-c-\n11\nnested\n"},
	{name: "loop", args: []string{"-c", `i=0; while [ $i -lt 50 ]; do /bin/true; i=$((i+1)); done; echo $i`}, want: "50\n"},
	{name: "sort-uniq", args: []string{"-c", `printf 'b\na\nb\nc\n' | sort | uniq -c | sort -rn | head -n 1`}, want: "      2 b\n"},
	{name: "trap", args: []string{"-c", `trap 'echo got USR1' USR1; kill -USR1 $$; echo after; trap 'echo bye' EXIT`}, want: "got USR1\nafter\nbye\n"},
	{name: "background", args: []string{"-c", `sleep 0.1 & wait $!; echo $?; (exit 6) & wait $!; echo $?`}, want: "0\n6\n"},
	{name: "redirect", args: []string{"-c", `cd @TMP@ && echo x > f && cat f | tr x y && rm f && echo done`}, want: "y\ndone\n"},
	{name: "exit", args: []string{"-c", `(exit 5); echo $?; exit 3`}, want: "5\n", wantExit: 3},
}

const pySubprocess = `import subprocess
r = subprocess.run(['/bin/echo', 'x'], capture_output=True)
print(r.returncode, r.stdout)
r = subprocess.run(['/bin/sh', '-c', 'echo err >&2; exit 3'], capture_output=True)
print(r.returncode, r.stdout, r.stderr)
print(subprocess.check_output('echo hi | tr a-z A-Z', shell=True))
p = subprocess.Popen(['/bin/cat'], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
out, _ = p.communicate(b'through cat\n' * 1000)
print(len(out), p.returncode)
try:
    subprocess.run(['/nonexistent-litebox/prog'])
except FileNotFoundError as e:
    print('FileNotFoundError', e.errno)
`

const pyThreads = `import threading
total = 0
lock = threading.Lock()
def work(n):
    global total
    for _ in range(n):
        with lock:
            total += 1
ts = [threading.Thread(target=work, args=(20000,)) for _ in range(8)]
for t in ts: t.start()
for t in ts: t.join()
print(total)
ev = threading.Event()
res = []
def waiter():
    ev.wait()
    res.append('woken')
w = threading.Thread(target=waiter)
w.start()
ev.set()
w.join()
print(res)
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(4) as ex:
    print(sum(ex.map(lambda x: x * x, range(1000))))
`

const pyFork = `import os
pid = os.fork()
if pid == 0:
    os._exit(7)
wpid, st = os.waitpid(pid, 0)
print(wpid == pid, os.WIFEXITED(st), os.WEXITSTATUS(st))
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b'hello from the child')
    os._exit(0)
os.close(w)
print(os.read(r, 100))
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
pid = os.fork()
if pid == 0:
    import signal
    os.kill(os.getpid(), signal.SIGTERM)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
`

const pySignals = `import os, signal
got = []
signal.signal(signal.SIGUSR1, lambda s, f: got.append(s))
os.kill(os.getpid(), signal.SIGUSR1)
print(got)
signal.signal(signal.SIGALRM, lambda s, f: got.append(s))
# Periodic, so that a tick that comes before pause() cannot leave it
# waiting forever.
signal.setitimer(signal.ITIMER_REAL, 0.1, 0.1)
signal.pause()
signal.setitimer(signal.ITIMER_REAL, 0)
print(sorted(set(got)))
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])
os.kill(os.getpid(), signal.SIGUSR2)
print(signal.sigpending() == {signal.SIGUSR2})
print(signal.sigwait([signal.SIGUSR2]) == signal.SIGUSR2)
`

var pythonCases = []shellCase{
	{name: "subprocess", args: []string{"-c", pySubprocess}, want: `0 b'x\n'
3 b'' b'err\n'
b'HI\n'
12000 0
FileNotFoundError 2
`},
	{name: "threading", args: []string{"-c", pyThreads}, want: "160000\n['woken']\n332833500\n"},
	{name: "fork", args: []string{"-c", pyFork}, want: "True True 7\nb'hello from the child'\n0\n-15\n"},
	{name: "signals", args: []string{"-c", pySignals}, want: "[10]\n[10, 14]\nTrue\nTrue\n"},
}

// TestShellBusybox runs busybox sh scripts natively and in the guest.
func TestShellBusybox(t *testing.T) {
	needBusybox(t)
	runShellCases(t, busyboxPath, busyboxShellCases)
}

// TestShellDash runs the dynamically linked dash (/bin/sh), whose
// pipelines start dynamically linked coreutils.
func TestShellDash(t *testing.T) { runShellCases(t, dashPath, dashCases) }

// TestShellPython runs python3 with subprocess, threads, fork and signals.
func TestShellPython(t *testing.T) { runShellCases(t, pythonPath, pythonCases) }
