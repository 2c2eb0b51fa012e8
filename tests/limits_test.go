package tests

// Limit tests: what a guest can make litebox itself hold or spend (kernel
// objects, file-system metadata, lock records) is charged to a limit, the
// guest gets the errno Linux gives, and litebox stays within a bound on the
// host. Guest programs: testdata/escape_{truncate,tmpfs,pipes,locks}.c.

import (
	"os"
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
