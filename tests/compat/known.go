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

// Reasons shared by several entries.
const (
	byDesignNoNet   = "by design: no host network (socket(AF_INET) is EACCES in the guest)"
	defectIdentity  = "defect (issue 11, Identity: setuid/setgid/setgroups/getgroups... are ENOSYS)"
	defectPipeSize  = "defect (issue 11, Files: F_GETPIPE_SZ/F_SETPIPE_SZ are EINVAL)"
	defectShm       = "defect (issue 11, Shared memory: no /dev/shm, so sem_open/SemLock fail with ENOENT)"
	defectItimer    = "defect (issue 11, Time and resources: ITIMER_VIRTUAL/ITIMER_PROF are EINVAL)"
	defectPidfd     = "defect (issue 11, Time and resources: pidfd_open/pidfd_send_signal)"
	defectProcStat  = "defect (not in issue 11: /proc/PID/status is missing)"
	defectNproc     = "defect (not in issue 11: setrlimit(RLIMIT_NPROC) does not limit fork)"
	hangPtraceIOSig = "defect? (ptrace only, seen once under heavy load: the SIGALRM meant to interrupt a blocked pipe write never ended it; regrtest's --timeout fired)"
)

// KnownDifferences lists every difference seen on the reference machine
// (docs/compatibility.md says which run).
var KnownDifferences = []Known{
	{Module: "test_signal", Case: "WakeupFDTests.test_invalid_socket", Why: byDesignNoNet},
	{Module: "test_signal", Case: "WakeupFDTests.test_set_wakeup_fd_socket_result", Why: byDesignNoNet},
	{Module: "test_signal", Case: "ItimerTest.test_itimer_prof", Why: defectItimer},
	{Module: "test_signal", Case: "ItimerTest.test_itimer_virtual", Why: defectItimer},
	{Module: "test_signal", Case: "PidfdSignalTest", Why: defectPidfd},

	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_extra_groups", Why: defectIdentity},
	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_group", Why: defectIdentity},
	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_user", Why: defectIdentity},
	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_preexec_fork_failure", Why: defectNproc},
	{Module: "test_subprocess", Case: "POSIXProcessTestCase.test_restore_signals", Why: defectProcStat},
	{Module: "test_subprocess", Case: "ProcessTestCase.test_pipesize_default", Why: defectPipeSize},
	{Module: "test_subprocess", Case: "ProcessTestCase.test_pipesizes", Why: defectPipeSize},
	{Module: "test_subprocess", Case: "ProcessTestCaseNoPoll.test_pipesize_default", Why: defectPipeSize},
	{Module: "test_subprocess", Case: "ProcessTestCaseNoPoll.test_pipesizes", Why: defectPipeSize},

	{Module: "test_io", Case: "PySignalsTest.test_interrupted_write_text", Why: hangPtraceIOSig},
	{Module: "test_io", Why: "ptrace: the run ended at the hung case below (regrtest's --timeout), so the cases after it were not reached"},

	{Module: "test_multiprocessing_fork", Why: defectShm + "; regrtest skips the whole module"},

	{Module: "test_concurrent_futures", Case: "ProcessPool*", Why: defectShm},
}
