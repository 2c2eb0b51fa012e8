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
	byDesignNoNet    = "by design: no host network (socket(AF_INET) is EACCES in the guest)"
	defectIdentity   = "defect (issue 11, Identity: setuid/setgid/setgroups/getgroups... are ENOSYS)"
	defectPipeSize   = "defect (issue 11, Files: F_GETPIPE_SZ/F_SETPIPE_SZ are EINVAL)"
	defectShm        = "defect (issue 11, Shared memory: no /dev/shm, so sem_open/SemLock fail with ENOENT)"
	defectItimer     = "defect (issue 11, Time and resources: ITIMER_VIRTUAL/ITIMER_PROF are EINVAL)"
	defectPidfd      = "defect (issue 11, Time and resources: pidfd_open/pidfd_send_signal)"
	defectProcStat   = "defect (not in issue 11: /proc/PID/status is missing)"
	defectStatfs     = "defect (issue 11, Files: statfs/fstatfs are ENOSYS)"
	defectFifo       = "defect (issue 11, Files: FIFOs, mknod/mkfifo are ENOSYS)"
	defectCopy       = "defect (issue 11, Files: copy_file_range/splice/sendfile are ENOSYS)"
	defectMemfd      = "defect (issue 11, Files: memfd_create is ENOSYS)"
	defectFalloc     = "defect (issue 11, Files: fallocate is ENOSYS)"
	defectPreadv2    = "defect (issue 11, Files: preadv2/pwritev2 flags)"
	defectFNotify    = "defect (issue 11, Files: F_NOTIFY is EINVAL)"
	defectMapShared  = "defect (issue 11, Shared memory: writable MAP_SHARED file mappings are ENODEV, msync is ENOSYS)"
	defectPty        = "defect (issue 11, Terminals: no /dev/ptmx, /dev/pts)"
	defectSched      = "defect (issue 11, Time and resources: sched_* scheduler calls)"
	defectPrio       = "defect (issue 11, Time and resources: getpriority/setpriority are ENOSYS)"
	defectRusage     = "defect (issue 11, Time and resources: getrusage is ENOSYS)"
	defectSettime    = "defect (issue 11, Time and resources: clock_settime must be EPERM, is ENOSYS)"
	defectCPUClock   = "defect (issue 11, Time and resources: per-thread CPU clocks (pthread_getcpuclockid) are EINVAL)"
	defectXattr      = "defect (not in issue 11: extended attributes (setxattr/getxattr/listxattr) are ENOSYS)"
	defectUnixPath   = "defect (not in issue 11: socket(AF_UNIX) bound to a path is EAFNOSUPPORT; only socketpair works)"
	byDesignNoNetTCP = "by design: no host network (the test talks over a loopback TCP socket; socket(AF_INET) is EACCES)"
	defectNproc      = "defect (not in issue 11: setrlimit(RLIMIT_NPROC) does not limit fork)"
	hangPtraceIOSig  = "defect (ptrace only, not in issue 11; reproduced in 2 of 2 runs): the reader thread stays blocked in os.read(r, 1) although the main thread filled the pipe before SIGALRM interrupted its write, so t.join() never returns and regrtest's --timeout ends the module"
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

	{Module: "test_os", Case: "ChownFileTests.test_chown_gid", Why: defectIdentity + " (natively skipped: the user has one group)"},
	{Module: "test_os", Case: "PosixUidGidTests", Why: defectIdentity},
	{Module: "test_os", Case: "ExtendedAttributeTests", Why: defectXattr},
	{Module: "test_os", Case: "FDInheritanceTests.test_openpty", Why: defectPty},
	{Module: "test_os", Case: "FileTests.test_copy_file_range*", Why: defectCopy},
	{Module: "test_os", Case: "FileTests.test_splice*", Why: defectCopy},
	{Module: "test_os", Case: "MemfdCreateTests", Why: defectMemfd},
	{Module: "test_os", Case: "ProgramPriorityTests", Why: defectPrio},
	{Module: "test_os", Case: "Pep383Tests.test_statvfs", Why: defectStatfs},
	{Module: "test_os", Case: "StatAttributeTests.test_statvfs*", Why: defectStatfs},
	{Module: "test_os", Case: "TestInvalidFD.test_fpathconf", Why: defectStatfs + " (glibc's fpathconf uses fstatfs, so a bad fd is not EBADF)"},
	{Module: "test_os", Case: "TestInvalidFD.test_fstatvfs", Why: defectStatfs + " (a bad fd must be EBADF first)"},
	{Module: "test_os", Case: "TestSendfile", Why: byDesignNoNetTCP},

	{Module: "test_posix", Case: "PosixTester.testNoArgFunctions", Why: defectIdentity + " (it calls getresuid, getgroups, ...)"},
	{Module: "test_posix", Case: "PosixTester.test_chown", Why: defectIdentity + " (chown/fchown/lchown are ENOSYS)"},
	{Module: "test_posix", Case: "PosixTester.test_fchown", Why: defectIdentity + " (chown/fchown/lchown are ENOSYS)"},
	{Module: "test_posix", Case: "PosixTester.test_lchown", Why: defectIdentity + " (chown/fchown/lchown are ENOSYS)"},
	{Module: "test_posix", Case: "PosixTester.test_getgroups", Why: defectIdentity},
	{Module: "test_posix", Case: "PosixTester.test_getres*", Why: defectIdentity},
	{Module: "test_posix", Case: "PosixTester.test_setres*", Why: defectIdentity},
	{Module: "test_posix", Case: "PosixTester.test_initgroups", Why: defectIdentity + " (setgroups must be EPERM for a non-root user)"},
	{Module: "test_posix", Case: "TestPosixSpawn.test_resetids", Why: defectIdentity},
	{Module: "test_posix", Case: "TestPosixSpawnP.test_resetids", Why: defectIdentity},
	{Module: "test_posix", Case: "PosixTester.test_fstatvfs", Why: defectStatfs},
	{Module: "test_posix", Case: "PosixTester.test_statvfs", Why: defectStatfs},
	{Module: "test_posix", Case: "PosixTester.test_mkfifo", Why: defectFifo},
	{Module: "test_posix", Case: "PosixTester.test_mknod", Why: defectFifo},
	{Module: "test_posix", Case: "TestPosixDirFd.test_mkfifo_dir_fd", Why: defectFifo},
	{Module: "test_posix", Case: "TestPosixDirFd.test_mknod_dir_fd", Why: defectFifo},
	{Module: "test_posix", Case: "PosixTester.test_posix_fallocate*", Why: defectFalloc},
	{Module: "test_posix", Case: "PosixTester.test_preadv_flags", Why: defectPreadv2},
	{Module: "test_posix", Case: "PosixTester.test_pidfd_open", Why: defectPidfd},
	{Module: "test_posix", Case: "PosixTester.test_sched*", Why: defectSched},
	{Module: "test_posix", Case: "PosixTester.test_get_and_set_scheduler_and_param", Why: defectSched},
	{Module: "test_posix", Case: "TestPosixSpawn.test_setscheduler*", Why: defectSched},
	{Module: "test_posix", Case: "TestPosixSpawnP.test_setscheduler*", Why: defectSched},

	{Module: "test_shutil", Case: "TestCopy.test_copyfile_named_pipe", Why: defectFifo},
	{Module: "test_shutil", Case: "TestCopyTree.test_copytree_named_pipe", Why: defectFifo},
	{Module: "test_shutil", Case: "TestMisc.test_disk_usage", Why: defectStatfs},
	{Module: "test_shutil", Case: "TestZeroCopySendfile", Why: defectCopy},

	{Module: "test_pathlib", Case: "PathTest.test_is_fifo_true", Why: defectFifo},
	{Module: "test_pathlib", Case: "PosixPathTest.test_is_fifo_true", Why: defectFifo},
	{Module: "test_pathlib", Case: "PathTest.test_is_socket_true", Why: defectUnixPath},
	{Module: "test_pathlib", Case: "PosixPathTest.test_is_socket_true", Why: defectUnixPath},

	{Module: "test_mmap", Case: "MmapTests", Why: defectMapShared},

	{Module: "test_pty", Case: "PtyTest", Why: defectPty},

	{Module: "test_time", Case: "TimeTestCase.test_clock_settime", Why: defectSettime},
	{Module: "test_time", Case: "TimeTestCase.test_monotonic_settime", Why: defectSettime + " (natively skipped: EPERM)"},
	{Module: "test_time", Case: "TimeTestCase.test_pthread_getcpuclockid", Why: defectCPUClock},

	{Module: "test_fcntl", Case: "TestFcntl.test_fcntl_64_bit", Why: defectFNotify},
	{Module: "test_fcntl", Case: "TestFcntl.test_fcntl_f_pipesize", Why: defectPipeSize},

	{Module: "test_resource", Case: "ResourceTest.test_getrusage", Why: defectRusage},

	{Module: "test_eintr", Case: "__main__.SocketEINTRTest.test_accept", Why: byDesignNoNet},
	{Module: "test_eintr", Case: "__main__.SocketEINTRTest.test_open", Why: defectFifo},
	{Module: "test_eintr", Case: "__main__.SocketEINTRTest.test_os_open", Why: defectFifo},
	{Module: "test_eintr", Case: "EINTRTests.test_all", Why: "follows from the __main__ cases above (test_all runs _test_eintr.py, whose cases are counted too)"},

	{Module: "test_io", Case: "PySignalsTest.test_interrupted_write_text", Why: hangPtraceIOSig},
	{Module: "test_io", Why: "ptrace: the run ended at the hung case below (regrtest's --timeout), so the cases after it were not reached"},

	{Module: "test_multiprocessing_fork", Why: defectShm + "; regrtest skips the whole module"},

	{Module: "test_concurrent_futures", Case: "ProcessPool*", Why: defectShm},
	{Module: "test_concurrent_futures", Case: "ThreadPoolExecutorTest.test_hang_global_shutdown_lock", Why: defectShm + " (it starts a ProcessPoolExecutor)"},
}
