package tests

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/litebox-go/litebox/platform/pagecache"
	"github.com/litebox-go/litebox/tests/harness"
)

// Shared memory (issue 11): MAP_SHARED file mappings that are the file's
// own pages, /dev/shm, and the programs that need them, natively and under
// litebox with the same output.

const shmFileWant = `read after store: stored
mapping after write: written
size: 8192
msync MS_SYNC: ok
msync MS_ASYNC: ok
msync MS_INVALIDATE: ok
msync unaligned: EINVAL
msync both: EINVAL
child sees: stored
parent after sem_wait: from the child
child: exit 0
parent after exit: child's own mapping
reopened: child's own mapping
shared rw of O_RDONLY: EACCES
shared ro: stored
mprotect PROT_WRITE: EACCES
private rw of O_RDONLY: mapped
after mremap: grown stored
/dev/shm mode: 1777
shm: hello through /dev/shm
shm child: exit 0
sem_unlink: ok
shm_unlink: ok
shm_unlink again: ENOENT
`

// TestSharedFileMappings runs testdata/shm_file.c: shared writable file
// mappings between a parent and its child and a process mapping the file
// on its own, msync, read after store, munmap then open again, mremap,
// and shm_open/sem_open in /dev/shm.
func TestSharedFileMappings(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "shm_file", v)
			want := harness.Result{Stdout: []byte(shmFileWant)}
			t.Run("native", func(t *testing.T) {
				checkResult(t, runNative(t, "", nil, nil, bin, t.TempDir()), want, true)
			})
			t.Run("litebox", func(t *testing.T) {
				got := runGuest(t, harness.Guest{Mounts: []string{workMount(v)}}, nil, "/work/shm_file", "/tmp")
				checkExitedNormally(t, got)
				checkResult(t, got, want, true)
			})
		})
	}
}

// sqliteWAL makes a WAL database, has two sqlite3 processes insert into
// it at the same time (each maps the -shm index, the WAL's shared memory),
// and reads it back with a third.
const sqliteWAL = `cd @TMP@ || exit 1
sqlite3 w.db 'PRAGMA journal_mode=WAL; CREATE TABLE t(x);' || exit 1
ins() { seq $1 $2 | sed 's/.*/INSERT INTO t VALUES(&);/' | sqlite3 -cmd '.timeout 60000' w.db; echo "writer $1: $?"; }
ins 1 50 > a &
ins 101 150 > b &
wait
cat a b
sqlite3 w.db 'PRAGMA integrity_check; SELECT count(*), sum(x) FROM t; PRAGMA journal_mode;'
ls`

func TestSqliteWAL(t *testing.T) {
	needProgram(t, sqlitePath)
	runShellCases(t, dashPath, []shellCase{{name: "two-writers", args: []string{"-c", sqliteWAL},
		want: "wal\nwriter 1: 0\nwriter 101: 0\nok\n100|7550\nwal\na\nb\nw.db\n"}})
}

// multiprocessingScript uses multiprocessing's Pool, concurrent.futures'
// ProcessPoolExecutor and a Semaphore released by child processes while
// the parent waits on it (SemLock: a named semaphore made with sem_open in
// /dev/shm, mapped by every process; a shared futex between them).
const multiprocessingScript = `import multiprocessing as mp, concurrent.futures as cf
def sq(x): return x * x
if __name__ == '__main__':
    with mp.Pool(2) as p:
        print(p.map(sq, range(10)))
    with cf.ProcessPoolExecutor(2) as ex:
        print(list(ex.map(sq, range(10))))
    s = mp.Semaphore(0)
    ps = [mp.Process(target=s.release) for _ in range(3)]
    for q in ps: q.start()
    got = sum(s.acquire(timeout=60) for _ in range(3))
    for q in ps: q.join()
    print(got, s.acquire(False), [q.exitcode for q in ps])
`

func TestPythonMultiprocessing(t *testing.T) {
	runShellCases(t, pythonPath, []shellCase{{name: "pool-executor-semaphore", args: []string{"-c", multiprocessingScript},
		want: "[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n3 False [0, 0, 0]\n"}})
}

// TestShmChargedLikeTmp: /dev/shm draws on /tmp's --tmpfs-size. With 40
// MiB written to /tmp under a 64 MiB limit, /dev/shm takes at most the
// remaining 24 MiB, then ENOSPC.
func TestShmChargedLikeTmp(t *testing.T) {
	t.Parallel()
	program(t, "escape_fill", staticVariant)
	g, _ := escapeGuest(t, "--tmpfs-size", "64M")
	got := runGuest(t, g, nil, dashPath, "-c", "/work/escape_fill /tmp/a 40 && /work/escape_fill /dev/shm/b 1024")
	checkExitedNormally(t, got)
	want := "write: ok\nbytes written: 41943040\nMiB written: 40\nwrite: ENOSPC\n"
	out := string(got.Stdout)
	if got.ExitCode != 0 || !strings.HasPrefix(out, want) {
		t.Fatalf("want 40 MiB in /tmp, then ENOSPC in /dev/shm:\n%s", got)
	}
	var n int64
	if _, err := fmt.Sscanf(strings.TrimPrefix(out, want), "bytes written: %d", &n); err != nil || n < 20<<20 || n > 24<<20 {
		t.Errorf("/dev/shm took %d bytes (%v), want 20 to 24 MiB:\n%s", n, err, out)
	}
}

const mmapHostfileWant = `read after store: stored by mapping
msync MS_SYNC: 0
other fd after msync: 24 stored by mapping
mapping after write: written
msync MS_ASYNC: 0
child sees: stored by mapping
parent after child: from the child
own mapping sees: from the child
other process: exit 0
after other process: other mapping
munmap: 0
read after munmap: 24 unmapped without msync
fsync: 0
read after fsync: 24 fsynced
fdatasync: 0
close fd: 0
truncate: 0
grow: 0
second page after regrow: (zero)
first page: first page
shared rw of O_RDONLY: EACCES
`

// TestMmapHostFile runs testdata/mmap_hostfile.c on a host directory:
// natively, and under litebox with the directory mounted :rw, then
// compares the files it left, read from the host. Then the same
// directory mounted :ro: nothing can be mapped writable.
func TestMmapHostFile(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "mmap_hostfile", v)
			want := harness.Result{Stdout: []byte(mmapHostfileWant)}
			nativeDir, guestDir := t.TempDir(), t.TempDir()
			checkResult(t, runNative(t, "", nil, nil, bin, nativeDir), want, true)
			got := runGuest(t, harness.Guest{Mounts: []string{workMount(v), guestDir + ":/data:rw"}}, nil, "/work/mmap_hostfile", "/data")
			checkExitedNormally(t, got)
			checkResult(t, got, want, true)
			for _, name := range []string{"f", "g"} {
				n, errN := os.ReadFile(filepath.Join(nativeDir, name))
				g, errG := os.ReadFile(filepath.Join(guestDir, name))
				if errN != nil || errG != nil || !bytes.Equal(n, g) {
					t.Errorf("host file %s after the guest differs from native (%v, %v): %d bytes, native %d; %s",
						name, errN, errG, len(g), len(n), printable(g))
				}
			}
			if f, _ := os.ReadFile(filepath.Join(guestDir, "f")); !bytes.Contains(f, []byte("at exit")) || !bytes.Contains(f, []byte("other mapping")) {
				t.Errorf("host file f lacks what the guest stored before exit: %s", printable(f))
			}
			ro := runGuest(t, harness.Guest{Mounts: []string{workMount(v), guestDir + ":/data:ro"}}, nil, "/work/mmap_hostfile", "/data", "ro")
			checkExitedNormally(t, ro)
			checkResult(t, ro, harness.Result{Stdout: []byte("open O_RDWR: EROFS\nopen O_RDONLY: 3\nshared rw of O_RDONLY: EACCES\nshared ro: stored by mapping\nmprotect PROT_WRITE: EACCES\n")}, true)
		})
	}
}

// printable shows the non-zero runs of a mostly zero file.
func printable(b []byte) string {
	var out []string
	for _, run := range bytes.FieldsFunc(b, func(r rune) bool { return r == 0 }) {
		out = append(out, fmt.Sprintf("%q", run))
	}
	return "[" + strings.Join(out, " ") + "]"
}

// runMounted runs prog with args natively in a host temp dir and under
// litebox with another host temp dir mounted :rw at /data (@TMP@ in args
// names the directory), compares the runs and returns both directories,
// for the caller to check from the host.
func runMounted(t *testing.T, prog string, args ...string) (nativeDir, guestDir string) {
	t.Helper()
	needProgram(t, prog)
	nativeDir, guestDir = t.TempDir(), t.TempDir()
	native := runNative(t, "", nil, nil, append([]string{prog}, substTmp(args, nativeDir)...)...)
	if native.ExitCode != 0 {
		t.Fatalf("native run failed:\n%s", native)
	}
	got := runGuest(t, harness.Guest{Mounts: []string{guestDir + ":/data:rw"}}, nil, prog, substTmp(args, "/data")...)
	checkExitedNormally(t, got)
	checkResult(t, got, native, true)
	return nativeDir, guestDir
}

// TestSqliteWALMounted is TestSqliteWAL on a database in a host directory
// mounted :rw (the -shm index is a host file mapped MAP_SHARED by both
// writers), then the database is checked from the host.
func TestSqliteWALMounted(t *testing.T) {
	t.Parallel()
	_, guestDir := runMounted(t, dashPath, "-c", sqliteWAL)
	check := runNative(t, guestDir, nil, nil, sqlitePath, "w.db", "PRAGMA integrity_check; SELECT count(*), sum(x) FROM t;")
	if string(check.Stdout) != "ok\n100|7550\n" {
		t.Errorf("the host reads the guest's database as:\n%s", check)
	}
}

// pythonMmap uses Python's mmap module on a file: writes through the
// mapping seen by read and by a forked child, write(2) seen by the
// mapping, flush (msync), resize (ftruncate and mremap), and a read-only
// mapping refused writes.
const pythonMmap = `import mmap, os
p = '@TMP@/m'
with open(p, 'w+b') as f:
    f.write(b'\0' * 8192); f.flush()
    m = mmap.mmap(f.fileno(), 0)
    m[0:5] = b'hello'
    f.seek(0); print(f.read(5))
    os.pwrite(f.fileno(), b'world', 4096)
    print(m[4096:4101])
    m.flush()
    pid = os.fork()
    if pid == 0:
        m[10:15] = b'child'; os._exit(0)
    os.waitpid(pid, 0)
    print(m[10:15], m.find(b'world'))
    m.resize(12288); m[8192:8197] = b'grown'
    print(len(m), os.path.getsize(p))
    m.close()
with open(p, 'rb') as f:
    r = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    print(r[8192:8197], r[0:5])
    try:
        r[0:1] = b'x'
    except TypeError as e:
        print('read-only:', e)
    r.close()
`

// TestPythonMmapMounted runs pythonMmap on a file in a :rw mount and
// checks the file from the host.
func TestPythonMmapMounted(t *testing.T) {
	t.Parallel()
	nativeDir, guestDir := runMounted(t, pythonPath, "-c", pythonMmap)
	n, errN := os.ReadFile(filepath.Join(nativeDir, "m"))
	g, errG := os.ReadFile(filepath.Join(guestDir, "m"))
	if errN != nil || errG != nil || !bytes.Equal(n, g) {
		t.Errorf("host file after the guest differs from native (%v, %v): %s, native %s", errN, errG, printable(g), printable(n))
	}
}

// TestMmapPastEOF runs `mmap_hostfile DIR eof`: a shared mapping longer
// than its file raises SIGBUS (BUS_ADRERR) past the end, read(2) into it
// fails with EFAULT, and once write(2) or ftruncate grows the file the
// same mapping shows the new bytes; on a host file (:rw mount) and a
// memfs one (/tmp). One known difference (docs/SECURITY.md, "Known
// gaps"): a page truncated away stays mapped, zeroed, where Linux
// unmaps it (SIGBUS).
func TestMmapPastEOF(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "mmap_hostfile", v)
			native := runNative(t, "", nil, nil, bin, t.TempDir(), "eof")
			if native.ExitCode != 0 || !strings.Contains(string(native.Stdout), "read past the end: SIGBUS code 2\n") {
				t.Fatalf("native run:\n%s", native)
			}
			want := native
			want.Stdout = []byte(strings.Replace(string(native.Stdout), "past the end again: SIGBUS code 2\n", "past the end again: ok 0\n", 1))
			for name, dir := range map[string]string{"hostfs": "/data", "memfs": "/tmp"} {
				t.Run(name, func(t *testing.T) {
					got := runGuest(t, harness.Guest{Mounts: []string{workMount(v), t.TempDir() + ":/data:rw"}}, nil, "/work/mmap_hostfile", dir, "eof")
					checkExitedNormally(t, got)
					checkResult(t, got, want, true)
				})
			}
		})
	}
}

// pythonMmapCharge maps host files of 128 and 16 MiB MAP_SHARED and
// stores into their last byte.
const pythonMmapCharge = `import mmap, os, sys
for mib in (128, 16):
    p = os.path.join(sys.argv[1], 'big%d' % mib)
    with open(p, 'w+b') as f:
        f.truncate(mib << 20)
        try:
            m = mmap.mmap(f.fileno(), 0)
            m[-1] = 1
            m.close()
            print(mib, 'MiB: mapped')
        except OSError as e:
            print(mib, 'MiB:', os.strerror(e.errno))
`

// TestMmapHostFileCharged: the page cache of a mapped host file is charged
// to --memory. Under --memory 64M a 128 MiB file cannot be mapped (ENOMEM
// from mmap), a 16 MiB one can, and its store reaches the host file;
// natively both map.
func TestMmapHostFileCharged(t *testing.T) {
	t.Parallel()
	needProgram(t, pythonPath)
	native := runNative(t, "", nil, nil, pythonPath, "-c", pythonMmapCharge, t.TempDir())
	if string(native.Stdout) != "128 MiB: mapped\n16 MiB: mapped\n" {
		t.Fatalf("native run:\n%s", native)
	}
	dir := t.TempDir()
	got := runGuest(t, harness.Guest{Mounts: []string{dir + ":/data:rw"}, Flags: []string{"--memory", "64M"}}, nil, pythonPath, "-c", pythonMmapCharge, "/data")
	checkExitedNormally(t, got)
	checkResult(t, got, harness.Result{Stdout: []byte("128 MiB: Cannot allocate memory\n16 MiB: mapped\n")}, true)
	b, err := os.ReadFile(filepath.Join(dir, "big16"))
	if err != nil || len(b) != 16<<20 || b[len(b)-1] != 1 {
		t.Errorf("host file big16 after the guest: %d bytes, %v", len(b), err)
	}
}

// TestMmapPrivateFile runs testdata/mmap_private.c natively and under
// litebox on a file of a host directory mounted :ro (private mappings
// from the page cache) and :rw (private copies): copy-on-write, fork,
// MADV_DONTNEED, mremap and mprotect must look the same as natively.
func TestMmapPrivateFile(t *testing.T) {
	for _, v := range harness.Variants {
		t.Run(v.Name, func(t *testing.T) {
			t.Parallel()
			bin := program(t, "mmap_private", v)
			dir := t.TempDir()
			data := make([]byte, 3*4096+100)
			for i := range data {
				data[i] = byte(i*7 + i/4096)
			}
			if err := os.WriteFile(filepath.Join(dir, "f"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			written := time.Now()
			native := runNative(t, "", nil, nil, bin, dir)
			if native.ExitCode != 0 {
				t.Fatalf("native run failed:\n%s", native)
			}
			// The page cache takes a host file only once its last change
			// is StableAfter old: wait, so that :ro maps the cache.
			time.Sleep(time.Until(written.Add(pagecache.StableAfter + 10*time.Millisecond)))
			for _, mode := range []string{"ro", "rw"} {
				got := runGuest(t, harness.Guest{Mounts: []string{workMount(v), dir + ":/data:" + mode}}, nil, "/work/mmap_private", "/data")
				checkExitedNormally(t, got)
				checkResult(t, got, native, true)
			}
			if after, err := os.ReadFile(filepath.Join(dir, "f")); err != nil || !bytes.Equal(after, data) {
				t.Errorf("the file changed under private mappings (%v)", err)
			}
		})
	}
}
