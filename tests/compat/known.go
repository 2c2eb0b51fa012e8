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
// whose fix removes the difference and, while it is being fixed in
// parallel, the part of the issue-11 round that owns it.
const (
	defectInet  = "defect (issue 12: AF_UNIX/AF_INET sockets): socket(AF_INET) is EACCES today; issue 12 brings TCP/IP on loopback inside the sandbox"
	defectUnix  = "defect (issue 12: AF_UNIX/AF_INET sockets): socket(AF_UNIX) bound to a path is EAFNOSUPPORT; only socketpair works (being fixed, part unix)"
	defectPidfd = "defect (issue 11, Time and resources: pidfd_open/pidfd_send_signal) — being fixed (part timers)"
	defectPty   = "defect (issue 11, Terminals: /dev/ptmx, /dev/pts) — being fixed (part pty)"
	defectXattr = "defect (extended attributes: setxattr/getxattr/listxattr are ENOSYS) — being fixed (part files)"
	defectSplic = "defect (issue 11, Files: splice/tee) — being fixed (part files)"
	// multiprocessing's forkserver and its Manager talk over AF_UNIX
	// sockets (a listener at a path in /tmp).
	defectMPUnix = defectUnix + " (multiprocessing's forkserver and Manager listen on a Unix socket)"
)

// KnownDifferences lists every difference seen on the reference machine
// (docs/compatibility.md says which run).
var KnownDifferences = []Known{
	{Module: "test_os", Case: "ExtendedAttributeTests", Why: defectXattr},
	{Module: "test_os", Case: "FDInheritanceTests.test_openpty", Why: defectPty},
	{Module: "test_os", Case: "FileTests.test_splice*", Why: defectSplic},
	{Module: "test_os", Case: "TestSendfile", Why: defectInet + " (the test sends over a loopback TCP connection)"},

	{Module: "test_posix", Case: "PosixTester.test_pidfd_open", Why: defectPidfd},
	{Module: "test_posix", Why: "by design: the sandbox's first process is pid 1 of its own pid namespace and adopts orphans (docs/ARCHITECTURE.md), " +
		"so regrtest (pid 1 in the guest) reaps the grandchild test_register_at_fork leaves behind (\"Warning -- reap_children() reaped child process N\", " +
		"\"env changed\"); natively the host's init adopts it"},

	{Module: "test_pathlib", Case: "PathTest.test_is_socket_true", Why: defectUnix},
	{Module: "test_pathlib", Case: "PosixPathTest.test_is_socket_true", Why: defectUnix},

	{Module: "test_signal", Case: "PidfdSignalTest", Why: defectPidfd},
	{Module: "test_signal", Case: "WakeupFDTests.test_invalid_socket", Why: defectInet},
	{Module: "test_signal", Case: "WakeupFDTests.test_set_wakeup_fd_socket_result", Why: defectInet},

	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_preexec_fork_failure", Why: "defect (setrlimit(RLIMIT_NPROC) does not limit fork) — being fixed (part files)"},
	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_restore_signals", Why: "defect (/proc/PID/status is missing) — being fixed (part files)"},

	{Module: "test_pty", Case: "PtyTest", Why: defectPty},

	{Module: "test_fcntl", Case: "TestFcntl.test_fcntl_64_bit", Why: "defect (issue 11, Files: F_NOTIFY is EINVAL) — being fixed (part files)"},

	{Module: "test_eintr", Case: "__main__.SocketEINTRTest.test_accept", Why: defectInet},
	{Module: "test_eintr", Case: "EINTRTests.test_all", Why: "follows from the __main__ cases above (test_all runs _test_eintr.py, whose cases are counted too)"},

	{Module: "test_multiprocessing_fork", Case: "TestSyncManagerTypes", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithManager*", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestListener", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestListenerClient", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestPicklingConnections", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestConnection.test_fd_transfer", Why: defectMPUnix + " (SCM_RIGHTS)"},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestConnection.test_large_fd_transfer", Why: defectMPUnix + " (SCM_RIGHTS)"},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestManagerRestart", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithThreadsTestManagerRestart", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "WithProcessesTestSharedMemory.test_shared_memory_SharedMemory*", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "TestInitializers", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "TestIgnoreEINTR.test_ignore_listener", Why: defectMPUnix},
	{Module: "test_multiprocessing_fork", Case: "TestStartMethod", Why: defectMPUnix + " (it starts the forkserver)"},
	{Module: "test_multiprocessing_fork", Case: "TestTimeouts", Why: defectInet + " (a Listener on AF_INET)"},
	{Module: "test_multiprocessing_fork", Case: "TestWait.test_wait_socket*", Why: defectInet},
	{Module: "test_multiprocessing_fork", Case: "TestCloseFds", Why: defectInet + " (it closes a socket's fd in a child)"},
	{Module: "test_multiprocessing_fork", Why: "defect (issue 12: AF_UNIX/AF_INET sockets), most likely: every case ran, then the run hung " +
		"after the last one until it was interrupted (twice, both platforms), with the processes and Managers of the " +
		"socket-failed cases left behind (\"Dangling processes\"); to be confirmed once sockets exist"},

	{Module: "test_concurrent_futures", Case: "ProcessPoolForkserver*", Why: defectMPUnix},
	{Module: "test_concurrent_futures", Case: "ProcessPoolForkProcessPoolExecutorTest.test_ressources_gced_in_workers", Why: defectMPUnix},
	{Module: "test_concurrent_futures", Case: "ProcessPoolSpawnProcessPoolExecutorTest.test_ressources_gced_in_workers", Why: defectMPUnix},
}
