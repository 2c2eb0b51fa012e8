package tests

// Escape tests against the stubs themselves: a guest that knows litebox's
// layout and attacks the stub's code page and its shared slots.

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// onSystrap reports whether guest runs use the systrap platform (the
// default where the host allows it, as on every machine the suite runs).
func onSystrap() bool { return os.Getenv(harness.PlatformEnv) != "ptrace" }

var stubSiteLine = regexp.MustCompile(`^site \+0x[0-9a-f]+: (killed by signal \d+|trap \d+, rax -?\d+|exit \d+)$`)

// TestEscapeStubPage runs testdata/escape_stubpage.c: the guest jumps onto
// every `syscall` instruction in the stub's code page with the registers
// of an attack (make the code page writable; map and touch 512 MiB under
// --memory 64M; forge a completion on the stub's pipe; clone a host
// process) and reports whether the host carried it out. Nothing may
// succeed: under systrap every attempt kills its stub (the guest filter),
// under ptrace every attempt is an ordinary guest syscall served by our
// kernel. On the host: the stubs' peak RSS stays under the limit and no
// host process beyond the --pids budget (plus the holder) ever exists.
func TestEscapeStubPage(t *testing.T) {
	program(t, "escape_stubpage", staticVariant)
	const pids = 8
	for _, attack := range []string{"mprotect", "mmap", "write", "clone"} {
		t.Run(attack, func(t *testing.T) {
			t.Parallel()
			g, audit := escapeGuest(t, "--memory", "64M", "--pids", strconv.Itoa(pids))
			w := watchTree(audit)
			got := runGuest(t, g, nil, "/work/escape_stubpage", attack)
			lb, stubs, maxStubs := w.finish()
			checkExitedNormally(t, got)
			checkLiteboxRSS(t, lb)
			if got.ExitCode != 0 {
				t.Fatalf("exit code %d, want 0:\n%s", got.ExitCode, got)
			}
			lines := strings.Split(strings.TrimSuffix(string(got.Stdout), "\n"), "\n")
			last := lines[len(lines)-1]
			n, err := strconv.Atoi(strings.TrimPrefix(last, "sites: "))
			if err != nil || n < 10 {
				t.Fatalf("last line %q: want \"sites: N\" with N >= 10 (the guest must find the stub's syscall instructions)\n%s", last, got.Stdout)
			}
			killed := 0
			for _, l := range lines[:len(lines)-1] {
				switch {
				case strings.HasPrefix(l, "ESCAPED"):
					t.Errorf("%s", l)
				case strings.HasPrefix(l, "clone from the stub page returned"):
					if onSystrap() {
						t.Errorf("%s: under systrap the stub must refuse it", l)
					}
				case stubSiteLine.MatchString(l):
					if strings.Contains(l, "killed by signal") {
						killed++
					}
				default:
					t.Errorf("unexpected line %q", l)
				}
			}
			if onSystrap() && killed != n {
				t.Errorf("under systrap %d of %d attempts killed their stub, want all:\n%s", killed, n, got.Stdout)
			}
			if kb := sumHWM(stubs); kb > 64<<10 {
				t.Errorf("peak RSS of the stubs on the host: %d KiB, more than the 64 MiB limit", kb)
			}
			if maxStubs > pids+1 {
				t.Errorf("%d host processes below litebox at once, more than --pids %d plus the holder", maxStubs, pids)
			}
			checkStubsGone(t, stubs)
			t.Logf("%d sites, %d attempts killed their stub, at most %d host processes at once", n, killed, maxStubs)
		})
	}
}

// maxLiteboxRSSKiB bounds litebox's own peak RSS in the stub escape tests:
// nothing a guest does to its stub may make litebox hold memory for it.
const maxLiteboxRSSKiB = 128 << 10

// checkLiteboxRSS asserts litebox's own peak RSS (VmHWM, as the watch saw
// it) stayed under maxLiteboxRSSKiB, and that the watch saw litebox at all.
func checkLiteboxRSS(t *testing.T, lb map[int]hostProc) {
	t.Helper()
	if len(lb) == 0 {
		t.Error("the host-side watch never saw the litebox process")
	}
	if kb := sumHWM(lb); kb > maxLiteboxRSSKiB {
		t.Errorf("litebox's peak RSS: %d KiB, more than %d KiB", kb, maxLiteboxRSSKiB)
	}
}

// TestEscapeSlotFuzz runs testdata/escape_slotfuzz.c: child processes whose
// threads trap through their slots while another thread writes random and
// interesting values over every slot page and signal stack it can find,
// racing the stub's handler and litebox. The children may die in any way;
// litebox must survive all of it: exit 0 with the guest's "done" line, no
// Go panic, no process of the run left. LITEBOX_FUZZ_GUEST_SECONDS sets
// the duration (default 8; `make fuzz-guest` runs a minute).
func TestEscapeSlotFuzz(t *testing.T) {
	program(t, "escape_slotfuzz", staticVariant)
	secs := 8
	if v := os.Getenv("LITEBOX_FUZZ_GUEST_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			t.Fatalf("LITEBOX_FUZZ_GUEST_SECONDS=%q: want a positive number of seconds", v)
		}
		secs = n
	}
	g, audit := escapeGuest(t)
	w := watchTree(audit)
	g.Test = t.Name()
	got := harness.Run(harness.Cmd{Argv: g.Argv(litebox(t), "/work/escape_slotfuzz", strconv.Itoa(secs), "0x5eed"),
		Dir: t.TempDir(), Timeout: time.Duration(secs)*time.Second + harness.DefaultTimeout})
	if got.Err != nil {
		t.Fatalf("litebox: %v", got.Err)
	}
	checkNoPanic(t, got)
	lb, stubs, _ := w.finish()
	checkExitedNormally(t, got)
	checkLiteboxRSS(t, lb)
	if got.ExitCode != 0 || !regexp.MustCompile(`^done: [1-9]\d* children, \d+ killed after 3 s\n$`).Match(got.Stdout) {
		t.Fatalf("want exit 0 and \"done: N children\":\n%s", got)
	}
	checkStubsGone(t, stubs)
	t.Logf("%s", strings.TrimSpace(string(got.Stdout)))
}

// TestTimeoutDuringChurn: a --timeout that strikes while litebox is in the
// middle of making a stub or a thread (ptrace injections into the stub)
// still ends the run at once. Several churning runs at a time make the
// window likely: a stub killed mid-injection used to stay a traced zombie
// that kept the holder, and with it litebox, from ever exiting.
func TestTimeoutDuringChurn(t *testing.T) {
	program(t, "soak_churn", staticVariant)
	for i := range 6 {
		mode := []string{"fork", "tree", "threads"}[i%3]
		t.Run(fmt.Sprintf("%s-%d", mode, i), func(t *testing.T) {
			t.Parallel()
			g := harness.Guest{Mounts: []string{workMount(staticVariant)}, Flags: []string{"--timeout", "2s"}}
			g.Test = t.Name()
			start := time.Now()
			got := harness.Run(harness.Cmd{Argv: g.Argv(litebox(t), "/work/soak_churn", mode),
				Dir: t.TempDir(), Timeout: 30 * time.Second})
			if got.Err != nil {
				t.Fatalf("litebox: %v (after %v)", got.Err, time.Since(start).Round(time.Millisecond))
			}
			checkNoPanic(t, got)
			checkExitedNormally(t, got)
			if got.ExitCode != 137 {
				t.Errorf("exit code %d, want 137 (killed at --timeout):\n%s", got.ExitCode, got)
			}
			// A generous bound: the point is that it ends, not how fast.
			if d := time.Since(start); d > 12*time.Second {
				t.Errorf("run took %v with --timeout 2s", d.Round(time.Millisecond))
			}
		})
	}
}
