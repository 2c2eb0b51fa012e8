package tests

// Limit tests: what a guest can make litebox itself hold or spend (kernel
// objects, file-system metadata, lock records) is charged to a limit, the
// guest gets the errno Linux gives, and litebox stays within a bound on the
// host. Guest programs: testdata/escape_{truncate,tmpfs,pipes,locks}.c.

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestEscapeTruncateFileSize: under --fsize 1M, growing a file with
// ftruncate or truncate past 1 MiB (to 1 TiB, and to 1 MiB + 1) raises
// SIGXFSZ and fails with EFBIG exactly as natively under RLIMIT_FSIZE
// (same program, same output, same signal count, same death by SIGXFSZ
// when it is not handled), in /tmp and in a :rw host mount, and the host
// file never grows beyond the limit.
func TestEscapeTruncateFileSize(t *testing.T) {
	prog := program(t, "escape_truncate", staticVariant)
	const limit = "1048576"
	for _, where := range []string{"tmp", "host-mount"} {
		for _, mode := range []string{"count-xfsz", "ignore-xfsz", "default"} {
			t.Run(where+"/"+mode, func(t *testing.T) {
				t.Parallel()
				args := []string{limit}
				if mode != "default" {
					args = append(args, mode)
				}
				nativeDir := t.TempDir()
				want := runNative(t, nativeDir, nil, nil, append([]string{prog, filepath.Join(nativeDir, "f")}, args...)...)
				if mode == "default" && (!want.Signaled || want.ExitCode != 128+25) {
					t.Fatalf("native run was not killed by SIGXFSZ:\n%s", want)
				}
				want.Signaled = false
				dir := t.TempDir()
				g, audit := escapeGuest(t, "--fsize", "1M")
				g.Mounts = append(g.Mounts, dir+":/data:rw")
				path := "/tmp/f"
				if where == "host-mount" {
					path = "/data/f"
				}
				got := runGuest(t, g, nil, "/work/escape_truncate", append([]string{path}, args...)...)
				checkExitedNormally(t, got)
				checkResult(t, got, want, true)
				checkAuditLimit(t, audit, "fsize")
				if where != "host-mount" {
					checkHostDir(t, dir, map[string]string{})
					return
				}
				st, err := os.Stat(filepath.Join(dir, "f"))
				if err != nil {
					t.Fatalf("host file: %v", err)
				}
				// The program ends by truncating to 0 (or dies at the first
				// growth): the file is empty and never took blocks.
				if st.Size() != 0 {
					t.Errorf("host file has %d bytes, want 0", st.Size())
				}
			})
		}
	}
}

// nativeTmpfs mounts a tmpfs with the given options in a fresh directory
// for the native half of a comparison, or returns "" when that is not
// possible (not root, no mount permission).
func nativeTmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Getuid() != 0 {
		t.Logf("not root: no native tmpfs to compare with")
		return ""
	}
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, opts); err != nil {
		t.Logf("mounting a native tmpfs (%s): %v", opts, err)
		return ""
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting the native tmpfs: %v", err)
		}
	})
	return dir
}

// liteboxPeakKB returns the peak RSS (VmHWM) litebox itself reached.
func liteboxPeakKB(t *testing.T, lb map[int]hostProc) int64 {
	t.Helper()
	if len(lb) == 0 {
		t.Fatalf("the host-side watch never saw the litebox process")
	}
	return sumHWM(lb)
}

// TestEscapeTmpfsSymlinkFlood: 50,000 symlinks with 4000-byte targets
// under --tmpfs-size 1M: metadata is charged to the size, so creation
// stops with ENOSPC after about as many as a 1 MiB Linux tmpfs holds
// (there each such link takes a page: 255 with the root's inode; here a
// link costs its target plus an inode and an entry, so a few fewer), all
// of it is given back when they are removed, and litebox's RSS stays
// bounded (before the fix: all 50,000 succeeded and litebox grew to
// 350 MB).
func TestEscapeTmpfsSymlinkFlood(t *testing.T) {
	t.Parallel()
	prog := program(t, "escape_tmpfs", staticVariant)
	nativeMax := 256 // what a 1 MiB tmpfs could hold at one page per link
	if dir := nativeTmpfs(t, "size=1M,nr_inodes=256"); dir != "" {
		nat := runNative(t, "", nil, nil, prog, dir, "symlinks", "50000")
		l := lines(nat.Stdout)
		if len(l) != 3 || l[0] != "symlink: ENOSPC" || l[2] != "after cleanup: ok" {
			t.Fatalf("native run:\n%s", nat)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(l[1], "created: "))
		if err != nil {
			t.Fatalf("native: %q", l[1])
		}
		nativeMax = n
	}
	g, audit := escapeGuest(t, "--tmpfs-size", "1M")
	w := watchTree(audit)
	got := runGuest(t, g, nil, "/work/escape_tmpfs", "/tmp", "symlinks", "50000")
	lb, stubs, _ := w.finish()
	checkExitedNormally(t, got)
	l := lines(got.Stdout)
	if got.ExitCode != 0 || len(l) != 3 || l[0] != "symlink: ENOSPC" || l[2] != "after cleanup: ok" {
		t.Fatalf("want ENOSPC, every link removable and room again afterwards:\n%s", got)
	}
	n, err := strconv.Atoi(strings.TrimPrefix(l[1], "created: "))
	if err != nil || n < nativeMax/2 || n > nativeMax {
		t.Errorf("%q: want between %d and %d (a native 1 MiB tmpfs holds %d)", l[1], nativeMax/2, nativeMax, nativeMax)
	}
	// litebox's own baseline is some 10-30 MiB; the links may add at
	// most the 1 MiB they are charged, and the bound is far below what
	// 50,000 links would take (200 MiB of targets alone).
	const budgetKB = 64 << 10
	kb := liteboxPeakKB(t, lb)
	t.Logf("guest created %d links; litebox peak RSS %d KiB", n, kb)
	if kb > budgetKB {
		t.Errorf("litebox peak RSS %d KiB, more than %d KiB", kb, budgetKB)
	}
	checkStubsGone(t, stubs)
}

// TestEscapeTmpfsInodes: the inode cap of /tmp is one inode per 4 KiB of
// --tmpfs-size by default (256 for 1M), like a Linux tmpfs mounted with
// nr_inodes=256: empty files stop with ENOSPC after exactly the same count
// (the root counts), in /tmp and in the root directory (which shares
// /tmp's limits), and --tmpfs-inodes sets the cap.
func TestEscapeTmpfsInodes(t *testing.T) {
	prog := program(t, "escape_tmpfs", staticVariant)
	want := harness.Result{Stdout: []byte("create: ENOSPC\ncreated: 255\nafter cleanup: ok\n")}
	if dir := nativeTmpfs(t, "size=1M,nr_inodes=256"); dir != "" {
		nat := runNative(t, "", nil, nil, prog, dir, "files", "50000")
		checkResult(t, nat, want, true)
	}
	for _, tc := range []struct {
		name  string
		flags []string
		dir   string
		want  harness.Result
	}{
		{"tmp", nil, "/tmp", want},
		{"root", nil, "/", want},
		{"tmpfs-inodes", []string{"--tmpfs-inodes", "101"}, "/tmp",
			harness.Result{Stdout: []byte("create: ENOSPC\ncreated: 100\nafter cleanup: ok\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			g, _ := escapeGuest(t, append([]string{"--tmpfs-size", "1M"}, tc.flags...)...)
			got := runGuest(t, g, nil, "/work/escape_tmpfs", tc.dir, "files", "50000")
			checkExitedNormally(t, got)
			checkResult(t, got, tc.want, true)
		})
	}
}

// TestEscapeTmpfsSparse: under --tmpfs-size 1M, four 1 GiB files made
// with ftruncate, each with one written page, all fit: /tmp charges the
// pages a file holds, not its size, exactly as a Linux tmpfs (same output
// as natively, st_blocks 8 each).
func TestEscapeTmpfsSparse(t *testing.T) {
	t.Parallel()
	prog := program(t, "escape_tmpfs", staticVariant)
	want := harness.Result{Stdout: []byte(strings.Repeat(
		"ftruncate(1 GiB): ok\npwrite(4096 at 512 MiB): ok\nsize 1073741824 blocks 8\n", 4))}
	if dir := nativeTmpfs(t, "size=1M"); dir != "" {
		checkResult(t, runNative(t, "", nil, nil, prog, dir, "sparse"), want, true)
	}
	g, _ := escapeGuest(t, "--tmpfs-size", "1M")
	got := runGuest(t, g, nil, "/work/escape_tmpfs", "/tmp", "sparse")
	checkExitedNormally(t, got)
	checkResult(t, got, want, true)
}

// lines splits output into lines without the final newline.
func lines(b []byte) []string {
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestEscapeLockFlood: record locks are bounded per sandbox
// (lock.DefaultMaxLocks, 65536): a flood of one-byte write locks stops
// there with ENOLCK, which is what Linux returns when it cannot allocate
// a lock; the locks are all held (another process sees them with F_GETLK)
// and one unlock frees them all. Below the limit the program behaves
// exactly as natively. Placing a lock costs O(log n): litebox's CPU time
// for the whole flood stays within a generous bound (before the fix, each
// call re-sorted every lock of the sandbox: 20,000 locks took 13-20 s of
// litebox CPU, and 65,536 would take minutes).
func TestEscapeLockFlood(t *testing.T) {
	t.Parallel()
	prog := program(t, "escape_locks", staticVariant)
	const tail = "getlk held: F_WRLCK by parent yes\ngetlk free: F_UNLCK\nunlock all: ok\nlock again: ok\n"
	t.Run("below-limit", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		want := runNative(t, dir, nil, nil, prog, filepath.Join(dir, "l"), "5000")
		checkResult(t, want, harness.Result{Stdout: []byte("setlk: ok\nlocks: 5000\n" + tail)}, true)
		g, _ := escapeGuest(t)
		got := runGuest(t, g, nil, "/work/escape_locks", "/tmp/l", "5000")
		checkExitedNormally(t, got)
		checkResult(t, got, want, true)
	})
	t.Run("flood", func(t *testing.T) {
		t.Parallel()
		g, audit := escapeGuest(t)
		w := watchTree(audit)
		got := runGuest(t, g, nil, "/work/escape_locks", "/tmp/l", "100000")
		lb, _, _ := w.finish()
		checkExitedNormally(t, got)
		checkResult(t, got, harness.Result{Stdout: []byte("setlk: ENOLCK\nlocks: 65536\n" + tail)}, true)
		kb := liteboxPeakKB(t, lb)
		t.Logf("litebox: %v CPU, peak RSS %d KiB", got.CPU, kb)
		if got.CPU > 20*time.Second {
			t.Errorf("litebox used %v of CPU for 65,536 locks, want well under 20s", got.CPU)
		}
		if kb > 128<<10 {
			t.Errorf("litebox peak RSS %d KiB, want under 128 MiB", kb)
		}
	})
}

// TestEscapePipeFill: under --memory 64M, children that fill pipe (or
// socketpair) buffers, each holding them until the end, run into the
// memory budget, which pipe buffers are charged to like the guest's own
// mappings: writes then fail with ENOMEM (Linux's pipe_write when it cannot
// get a page), pipe/socketpair with ENFILE and fork with ENOMEM, and
// litebox's RSS stays bounded (before the fix it grew past 250 MB). A run
// that stays within the budget behaves exactly as natively.
func TestEscapePipeFill(t *testing.T) {
	prog := program(t, "escape_pipes", staticVariant)
	for _, mode := range []string{"pipe", "socketpair"} {
		t.Run(mode+"/within-budget", func(t *testing.T) {
			t.Parallel()
			want := runNative(t, "", nil, nil, prog, mode, "3", "20")
			checkResult(t, want, harness.Result{Stdout: []byte("stopped by ok: 3\nreaped: 3\n")}, true)
			g, _ := escapeGuest(t)
			got := runGuest(t, g, nil, "/work/escape_pipes", mode, "3", "20")
			checkExitedNormally(t, got)
			checkResult(t, got, want, true)
		})
		t.Run(mode+"/exhausted", func(t *testing.T) {
			t.Parallel()
			g, audit := escapeGuest(t, "--memory", "64M")
			w := watchTree(audit)
			got := runGuest(t, g, nil, "/work/escape_pipes", mode, "16", "500")
			lb, stubs, _ := w.finish()
			checkExitedNormally(t, got)
			if got.ExitCode != 0 || len(got.Stderr) != 0 {
				t.Fatalf("escape_pipes failed:\n%s", got)
			}
			stopped, exhausted, forked := 0, false, -1
			for _, line := range lines(got.Stdout) {
				var n int
				var what string
				switch {
				case strings.HasPrefix(line, "stopped by "):
					what, _, _ = strings.Cut(strings.TrimPrefix(line, "stopped by "), ":")
					n, _ = strconv.Atoi(strings.TrimSpace(line[strings.LastIndexByte(line, ':')+1:]))
					if what != "ok" && what != "ENOMEM" && what != "ENFILE" {
						t.Errorf("a child stopped with %s: want ENOMEM or ENFILE (or no error)", what)
					}
					exhausted = exhausted || what != "ok"
					stopped += n
				case strings.HasPrefix(line, "fork: "):
					if !strings.HasPrefix(line, "fork: ENOMEM after ") {
						t.Errorf("%q: want fork to fail with ENOMEM", line)
					}
					exhausted = true
				case strings.HasPrefix(line, "reaped: "):
					forked, _ = strconv.Atoi(strings.TrimPrefix(line, "reaped: "))
				default:
					t.Errorf("unexpected line %q", line)
				}
			}
			if !exhausted {
				t.Errorf("16 children x 500 full buffers did not run out of a 64 MiB budget:\n%s", got.Stdout)
			}
			if forked != stopped {
				t.Errorf("%d children reaped but %d reported", forked, stopped)
			}
			checkAuditLimit(t, audit, "memory")
			// litebox's baseline (10-30 MiB) plus at most the 64 MiB budget.
			kb := liteboxPeakKB(t, lb)
			t.Logf("%s; litebox peak RSS %d KiB", strings.ReplaceAll(string(got.Stdout), "\n", "; "), kb)
			if kb > 128<<10 {
				t.Errorf("litebox peak RSS %d KiB, more than 128 MiB under --memory 64M", kb)
			}
			checkStubsGone(t, stubs)
		})
	}
}

// TestEscapeSigqueue: queued signals are bounded by RLIMIT_SIGPENDING,
// counted across the sandbox as Linux counts them per user: past the limit
// a real-time signal sent with tgkill fails with EAGAIN, kill() and
// standard signals still succeed without their information, exactly as
// natively (the native run gets a user namespace of its own, so that other
// processes of the same host user do not count).
func TestEscapeSigqueue(t *testing.T) {
	t.Parallel()
	prog := program(t, "escape_sigqueue", staticVariant)
	want := harness.Result{Stdout: []byte(`tgkill(SIGRTMIN): EAGAIN after 100
kill(SIGRTMIN) past the limit: ok
tgkill(SIGUSR1) past the limit: ok
dequeued: SIGRTMIN 101, SIGUSR1 1, without information 2
tgkill(SIGRTMIN) after draining: ok
`)}
	if unshare, err := exec.LookPath("unshare"); err == nil {
		nat := runNative(t, "", nil, nil, unshare, "--user", prog, "100")
		if nat.ExitCode == 0 {
			checkResult(t, nat, want, true)
		} else {
			t.Logf("no native run in a user namespace: %s", nat)
		}
	}
	g, audit := escapeGuest(t)
	got := runGuest(t, g, nil, "/work/escape_sigqueue", "100")
	checkExitedNormally(t, got)
	checkResult(t, got, want, true)
	checkAuditLimit(t, audit, "sigpending")
}
