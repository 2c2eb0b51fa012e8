package memfs

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestSeals: memfs files are born with F_SEAL_SEAL (no seal can be added);
// NewUnlinked(true) files take seals, which writes and truncates obey.
func TestSeals(t *testing.T) {
	fs := New(1 << 20)
	n, err := fs.Root().Create("f", 0o600)
	if err != nil {
		t.Fatal(err)
	}
	ops, _ := n.(vfs.OpenableNode).Open(unix.O_RDWR)
	h := ops.(*handle)
	if s, _ := h.Seals(); s != unix.F_SEAL_SEAL {
		t.Fatalf("seals of a new file = %#x, want F_SEAL_SEAL", s)
	}
	wantErrno(t, "AddSeals on a sealed file", h.AddSeals(unix.F_SEAL_WRITE), unix.EPERM)
	_ = h.Close()

	_, ops, err = fs.NewUnlinked(true)
	if err != nil {
		t.Fatal(err)
	}
	h = ops.(*handle)
	if _, err := h.WriteAt([]byte("abcd"), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		seals int
		op    func() error
		want  unix.Errno
	}{
		{"unknown seal", 0x100, nil, unix.EINVAL},
		{"grow sealed: write past end", unix.F_SEAL_GROW, func() error { _, err := h.WriteAt([]byte("x"), 4); return err }, unix.EPERM},
		{"grow sealed: write inside", 0, func() error { _, err := h.WriteAt([]byte("x"), 0); return err }, 0},
		{"grow sealed: truncate up", 0, func() error { return h.Truncate(10) }, unix.EPERM},
		{"shrink sealed: truncate down", unix.F_SEAL_SHRINK, func() error { return h.Truncate(1) }, unix.EPERM},
		{"write sealed", unix.F_SEAL_WRITE, func() error { _, err := h.WriteAt([]byte("x"), 0); return err }, unix.EPERM},
		{"seal sealed", unix.F_SEAL_SEAL, func() error { return h.AddSeals(unix.F_SEAL_GROW) }, unix.EPERM},
	} {
		if tc.seals != 0 {
			err := h.AddSeals(tc.seals)
			if tc.op == nil {
				wantErrno(t, tc.name, err, tc.want)
				continue
			}
			wantErrno(t, tc.name+": AddSeals", err, 0)
		}
		wantErrno(t, tc.name, tc.op(), tc.want)
	}
	used := fs.Used()
	_ = h.Close()
	if fs.Used() >= used {
		t.Fatalf("closing the unlinked file gave nothing back (%d -> %d)", used, fs.Used())
	}
}

// TestAllocate: fallocate charges the pages of the range at once, mode 0
// grows the size and KEEP_SIZE does not; beyond the limit ENOSPC leaves
// nothing allocated.
func TestAllocate(t *testing.T) {
	fs := New(64 * PageCost)
	n, _ := fs.Root().Create("f", 0o600)
	ops, _ := n.(vfs.OpenableNode).Open(unix.O_RDWR)
	h := ops.(*handle)
	before := fs.Used()
	wantErrno(t, "allocate 3 pages", h.Allocate(0, 0, 3*pageSize), 0)
	if got := fs.Used() - before; got != 3*PageCost {
		t.Fatalf("allocate charged %d, want %d", got, 3*PageCost)
	}
	if st := mustStat(t, n); st.Size != 3*pageSize {
		t.Fatalf("size %d after mode 0", st.Size)
	}
	wantErrno(t, "allocate KEEP_SIZE", h.Allocate(unix.FALLOC_FL_KEEP_SIZE, 2*pageSize, 2*pageSize), 0)
	if st := mustStat(t, n); st.Size != 3*pageSize {
		t.Fatalf("size %d after KEEP_SIZE", st.Size)
	}
	used := fs.Used()
	wantErrno(t, "allocate beyond the limit", h.Allocate(0, 0, 1<<30), unix.ENOSPC)
	if fs.Used() != used {
		t.Fatalf("a failed allocate changed the charge: %d -> %d", used, fs.Used())
	}
	st, _ := fs.StatFS()
	if st.Type != vfs.TmpfsMagic || st.Blocks != uint64(64*PageCost/pageSize) || st.Bfree > st.Blocks {
		t.Fatalf("StatFS = %+v", st)
	}
}

// TestFifoNode: a FIFO made by Mknod stats as one, and its opens meet.
func TestFifoNode(t *testing.T) {
	fs := New(1 << 20)
	d := fs.Root().(*Dir)
	wantErrno(t, "mknod fifo", d.Mknod("p", unix.S_IFIFO|0o640), 0)
	wantErrno(t, "mknod again", d.Mknod("p", unix.S_IFIFO|0o640), unix.EEXIST)
	wantErrno(t, "mknod char", d.Mknod("c", unix.S_IFCHR|0o640), unix.EPERM)
	n := lookup(t, d, "p")
	if st := mustStat(t, n); st.Mode != unix.S_IFIFO|0o640 {
		t.Fatalf("mode %#o", st.Mode)
	}
	bo := n.(vfs.BlockingOpener)
	if _, err := bo.OpenBlocking(unix.O_WRONLY|unix.O_NONBLOCK, context.Background()); err != unix.ENXIO {
		t.Fatalf("writer without reader: %v", err)
	}
	r, err := bo.OpenBlocking(unix.O_RDONLY|unix.O_NONBLOCK, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, err := bo.OpenBlocking(unix.O_WRONLY|unix.O_NONBLOCK, context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := w.(vfs.Stater).Stat(); st.Ino != mustStat(t, n).Ino {
		t.Fatal("an open FIFO does not stat as its node")
	}
	_, _ = w.Close(), r.Close()
}
