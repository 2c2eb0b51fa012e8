package compat

import "strings"

// Known classifies a difference from native that a compat run has shown:
// a defect (naming the issue-11 bullet that fixes it) or a difference that
// is right by design (and why). docs/compatibility.md prints each differing
// case with its classification; a case no entry matches is printed as
// unclassified, so that a refresh after merging fixes shows at once what
// went away and what is new.
type Known struct {
	Module string `json:"module"`
	// Case is a prefix of the case id without "test.MODULE." (a class
	// name matches all its tests; a trailing "*" matches any id starting
	// with the rest, e.g. "ProcessPool*"); "" classifies the module as a
	// whole (its outcome or counts).
	Case string `json:"case"`
	Why  string `json:"why"`
}

// Classify returns the longest matching entry of KnownDifferences for a
// case of module (id is the full unittest id; "" asks for the module
// entry), or nil.
func Classify(module, id string) *Known {
	var best *Known
	short := shortID(module, id)
	for i := range KnownDifferences {
		k := &KnownDifferences[i]
		if k.Module != module {
			continue
		}
		if id == "" {
			if k.Case == "" {
				return k
			}
			continue
		}
		if k.Case == "" {
			continue
		}
		if raw, ok := strings.CutSuffix(k.Case, "*"); ok {
			if !strings.HasPrefix(short, raw) {
				continue
			}
		} else if !strings.HasPrefix(short, k.Case) ||
			// "C.test_x" must not match "C.test_xy": a prefix ends at a
			// dot or the end of the id (unless it ends in "*").
			len(short) > len(k.Case) && short[len(k.Case)] != '.' {
			continue
		}
		if best == nil || len(k.Case) > len(best.Case) {
			best = k
		}
	}
	return best
}

// Reasons shared by several entries. A defect names the issue (and bullet)
// whose fix removes the difference.
const (
	defectInet = "defect (issue 12: AF_UNIX/AF_INET sockets): socket(AF_INET) is EACCES today; issue 12 brings TCP/IP on loopback inside the sandbox"
	// multiprocessing's Listener and Manager tests make a listener of
	// each family, AF_INET among them, or at a TCP address.
	defectMPInet = defectInet + " (a multiprocessing Listener or Manager on AF_INET)"
)

// KnownDifferences lists every difference seen on the reference machine
// (docs/compatibility.md says which run). An entry whose difference went
// away is deleted: the last check was against the run of 2026-12-02 02:31
// with the 03:22/03:32 re-runs (docs/compatibility.md) and, for
// test_multiprocessing_fork, the systrap and ptrace runs of 06:00-06:49
// with main at 33ec6df.
var KnownDifferences = []Known{
	{Module: "test_os", Case: "TestSendfile", Why: defectInet + " (the test sends over a loopback TCP connection)"},

	// Not printed while the outcome and counts match (the table's "env"
	// mark is not a difference to Report.Same); it says why the mark is
	// there, and classifies the module if its outcome ever differs.
	{Module: "test_posix", Why: "by design: the sandbox's first process is pid 1 of its own pid namespace and adopts orphans (docs/ARCHITECTURE.md), " +
		"so regrtest (pid 1 in the guest) reaps the grandchild test_register_at_fork leaves behind (\"Warning -- reap_children() reaped child process N\", " +
		"\"env changed\"); natively the host's init adopts it"},

	{Module: "test_signal", Case: "WakeupFDTests.test_invalid_socket", Why: defectInet},
	{Module: "test_signal", Case: "WakeupFDTests.test_set_wakeup_fd_socket_result", Why: defectInet},

	{Module: "test_eintr", Case: "__main__.SocketEINTRTest.test_accept", Why: defectInet},
	{Module: "test_eintr", Case: "EINTRTests.test_all", Why: "follows from the __main__ cases above (test_all runs _test_eintr.py, whose cases are counted too)"},

	{Module: "test_multiprocessing_fork", Case: "TestCloseFds", Why: defectInet + " (it closes a socket's fd in a child)"},
	{Module: "test_multiprocessing_fork", Case: "TestTimeouts", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "TestWait.test_wait_socket*", Why: defectInet},
	{Module: "test_multiprocessing_fork", Case: "WithManagerTestManagerRestart", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestManagerRestart", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "WithThreadsTestManagerRestart", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "WithManagerTestRemoteManager", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestListener.test_multiple_bind", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestListenerClient", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestPicklingConnections.test_pickling", Why: defectMPInet},
	{Module: "test_multiprocessing_fork", Why: "follows from WithProcessesTestPicklingConnections.test_pickling's AF_INET error (issue 12), not a kernel defect: " +
		"the case's listener child fails socket(AF_INET), so the case errors before it stops its other daemon child (_remote, blocked in recv); " +
		"that child was forked after the fork server and holds the write end of its \"alive\" pipe, so tearDownModule's forkserver._stop() " +
		"closes its own end and waits for ever in waitpid for a server that never reads end of file (the daemon would be SIGTERMed at exit, later). " +
		"The same hang natively with socket(AF_INET) refused (docs/compatibility.md; testdata/pipe_holder.c, TestPipeHolder). " +
		"With AF_INET the module gives the native counts, \"env changed\" by design: regrtest (pid 1) reaps orphaned grandchildren, as in test_posix"},
}
