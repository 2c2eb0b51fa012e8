package linux

import (
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"

	"github.com/litebox-go/litebox/kernel"
)

const pageSize = mm.PageSize

// The fake guest memory used by the shim's tests: memBase..memEnd is
// read-write and ends at a page boundary with nothing mapped after it;
// noAccess is a PROT_NONE page right after another read-write page.
const (
	memBase  = 0x10000000
	memEnd   = memBase + 2*pageSize
	rwPage   = memBase + 8*pageSize
	noAccess = rwPage + pageSize
)

type fakePage struct {
	data [pageSize]byte
	prot int
}

// fakeMem simulates guest memory page by page, with the host kernel's
// rules: copies stop with EFAULT at the first unmapped page or one
// lacking the needed access, reporting the bytes moved before it. It also
// implements mm.Mapper so that a process's MM can be backed by it.
type fakeMem struct {
	pages map[uint64]*fakePage
}

func newFakeMem() *fakeMem { return &fakeMem{pages: map[uint64]*fakePage{}} }

// errBadRange is deliberately not an errno: the kernel must never ask for
// such a range, and a test must not pass by mistaking it for one.
var errBadRange = errors.New("fake memory: bad range")

func checkRange(addr, length uint64) error {
	if addr%pageSize != 0 || length%pageSize != 0 || length == 0 || addr < mm.MinAddr ||
		addr+length < addr || addr+length > mm.MaxAddr || length > 1<<30 {
		return errBadRange
	}
	return nil
}

// MapShared maps like Map: the fake has no fork, so sharing cannot show.
func (m *fakeMem) MapShared(addr, length uint64, prot int) error { return m.Map(addr, length, prot) }

func (m *fakeMem) Map(addr, length uint64, prot int) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	for a := addr; a < addr+length; a += pageSize {
		m.pages[a] = &fakePage{prot: prot}
	}
	return nil
}

func (m *fakeMem) Unmap(addr, length uint64) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	for a := addr; a < addr+length; a += pageSize {
		delete(m.pages, a)
	}
	return nil
}

func (m *fakeMem) Protect(addr, length uint64, prot int) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	for a := addr; a < addr+length; a += pageSize {
		if m.pages[a] == nil {
			return unix.ENOMEM
		}
		m.pages[a].prot = prot
	}
	return nil
}

func (m *fakeMem) Remap(oldAddr, oldLen, newAddr, newLen uint64) error {
	if checkRange(oldAddr, oldLen) != nil || checkRange(newAddr, newLen) != nil {
		return errBadRange
	}
	var moved []*fakePage
	for a := oldAddr; a < oldAddr+oldLen; a += pageSize {
		if m.pages[a] == nil {
			return unix.EFAULT
		}
		moved = append(moved, m.pages[a])
	}
	for a := oldAddr; a < oldAddr+oldLen; a += pageSize {
		delete(m.pages, a)
	}
	for i := range newLen / pageSize {
		pg := &fakePage{prot: moved[len(moved)-1].prot}
		if i < uint64(len(moved)) {
			pg = moved[i]
		}
		m.pages[newAddr+i*pageSize] = pg
	}
	return nil
}

func (m *fakeMem) Discard(addr, length uint64) error {
	if err := checkRange(addr, length); err != nil {
		return err
	}
	for a := addr; a < addr+length; a += pageSize {
		if pg := m.pages[a]; pg != nil {
			pg.data = [pageSize]byte{}
		}
	}
	return nil
}

func (m *fakeMem) copy(addr uint64, buf []byte, need int, out bool) (int, error) {
	done := 0
	for done < len(buf) {
		at := addr + uint64(done)
		pg := m.pages[at&^(pageSize-1)]
		if pg == nil || pg.prot&need == 0 {
			return done, unix.EFAULT
		}
		if out {
			done += copy(pg.data[at%pageSize:], buf[done:])
		} else {
			done += copy(buf[done:], pg.data[at%pageSize:])
		}
	}
	return done, nil
}

func (m *fakeMem) CopyIn(addr uint64, dst []byte) (int, error) {
	return m.copy(addr, dst, unix.PROT_READ, false)
}

func (m *fakeMem) CopyOut(addr uint64, src []byte) (int, error) {
	return m.copy(addr, src, unix.PROT_WRITE, true)
}

// poke writes guest memory regardless of protection.
func (m *fakeMem) poke(t *testing.T, addr uint64, b []byte) {
	t.Helper()
	for len(b) > 0 {
		pg := m.pages[addr&^(pageSize-1)]
		if pg == nil {
			t.Fatalf("poke %#x: not mapped", addr)
		}
		n := copy(pg.data[addr%pageSize:], b)
		b, addr = b[n:], addr+uint64(n)
	}
}

// peek reads guest memory regardless of protection.
func (m *fakeMem) peek(t *testing.T, addr uint64, n int) []byte {
	t.Helper()
	out := make([]byte, 0, n)
	for len(out) < n {
		at := addr + uint64(len(out))
		pg := m.pages[at&^(pageSize-1)]
		if pg == nil {
			t.Fatalf("peek %#x: not mapped", at)
		}
		out = append(out, pg.data[at%pageSize:min(pageSize, at%pageSize+uint64(n-len(out)))]...)
	}
	return out
}

// newMemTask returns a task whose memory has the standard layout. The
// copy helpers only use Mem, so no process is needed.
func newMemTask(t *testing.T) (*kernel.Task, *fakeMem) {
	t.Helper()
	mem := newFakeMem()
	for _, r := range []struct {
		addr, len uint64
		prot      int
	}{
		{memBase, memEnd - memBase, unix.PROT_READ | unix.PROT_WRITE},
		{rwPage, pageSize, unix.PROT_READ | unix.PROT_WRITE},
		{noAccess, pageSize, unix.PROT_NONE},
	} {
		if err := mem.Map(r.addr, r.len, r.prot); err != nil {
			t.Fatal(err)
		}
	}
	return &kernel.Task{Mem: mem}, mem
}

// wantErrno fails unless err carries exactly want (0 meaning success).
func wantErrno(t *testing.T, err error, want unix.Errno) {
	t.Helper()
	var got unix.Errno
	if err != nil && !errors.As(err, &got) {
		t.Fatalf("error %v is not an errno, want %v", err, want)
	}
	if got != want {
		t.Fatalf("got errno %v (%d), want %v (%d)", got, int(got), want, int(want))
	}
}

func TestReadString(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	tests := []struct {
		name    string
		addr    uint64
		put     string // written at addr before the call
		max     int    // 0: readPath's limit, PATH_MAX-1
		want    string
		wantErr unix.Errno
	}{
		// The terminator is the last mapped byte: nothing beyond may be read.
		{name: "ends right before an unmapped page", addr: memEnd - 6, put: "hello\x00", want: "hello"},
		{name: "empty string in the last mapped byte", addr: memEnd - 1, put: "\x00", want: ""},
		{name: "crosses into an unmapped page", addr: memEnd - 5, put: "hello", wantErr: unix.EFAULT},
		{name: "starts in an unmapped page", addr: memEnd, wantErr: unix.EFAULT},
		{name: "crosses into an inaccessible page", addr: noAccess - 3, put: "abc", wantErr: unix.EFAULT},
		{name: "in an inaccessible page", addr: noAccess, wantErr: unix.EFAULT},
		{name: "NULL", addr: 0, wantErr: unix.EFAULT},
		{name: "crosses a mapped page boundary", addr: memBase + pageSize - 2, put: "abcd\x00", want: "abcd"},
		{name: "NUL on a chunk boundary", addr: memBase + 10, put: long(246) + "\x00", want: long(246)},
		{name: "NUL just before a chunk boundary", addr: memBase + 10, put: long(245) + "\x00", want: long(245)},
		{name: "exactly max bytes", addr: memBase + 3, put: long(300) + "\x00", max: 300, want: long(300)},
		{name: "one byte over max", addr: memBase + 3, put: long(301) + "\x00", max: 300, wantErr: unix.ENAMETOOLONG},
		{name: "longest path", addr: memBase, put: long(unix.PathMax-1) + "\x00", want: long(unix.PathMax - 1)},
		{name: "path of PATH_MAX bytes", addr: memBase, put: long(unix.PathMax) + "\x00", wantErr: unix.ENAMETOOLONG},
		// As Linux's strncpy_from_user: PATH_MAX readable bytes without a
		// terminator are too long, whatever follows them...
		{name: "too long before an unmapped page", addr: memEnd - unix.PathMax, put: long(unix.PathMax),
			wantErr: unix.ENAMETOOLONG},
		// ...but a fault within them is a fault.
		{name: "unmapped page within the limit", addr: memEnd - unix.PathMax + 1, put: long(unix.PathMax - 1),
			wantErr: unix.EFAULT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, mem := newMemTask(t)
			mem.poke(t, tt.addr, []byte(tt.put))
			var got string
			var err error
			if tt.max == 0 {
				got, err = readPath(task, tt.addr)
			} else {
				got, err = readString(task, tt.addr, tt.max)
			}
			wantErrno(t, err, tt.wantErr)
			if got != tt.want {
				t.Errorf("got %q (len %d), want %q (len %d)", got, len(got), tt.want, len(tt.want))
			}
		})
	}
}

func TestReadStringArray(t *testing.T) {
	const strs = memBase + pageSize // strings live in the second page
	tests := []struct {
		name     string
		addr     uint64
		ptrs     []uint64 // written at addr
		raw      []byte   // written at addr instead of ptrs
		strings  []string // written at strs, strs+0x100, ...
		maxTotal int
		want     []string
		wantErr  unix.Errno
	}{
		{name: "argv", addr: memBase, ptrs: []uint64{strs, strs + 0x100, strs + 0x200, 0},
			strings: []string{"sh", "-c", "echo hi"}, maxTotal: 1 << 20, want: []string{"sh", "-c", "echo hi"}},
		{name: "empty strings", addr: memBase, ptrs: []uint64{strs, strs, 0},
			strings: []string{""}, maxTotal: 1 << 20, want: []string{"", ""}},
		// execve treats a NULL argv or envp as an empty one.
		{name: "NULL array", addr: 0, maxTotal: 1 << 20, want: nil},
		{name: "empty array", addr: memBase, ptrs: []uint64{0}, maxTotal: 1 << 20, want: nil},
		{name: "terminator in the last mapped bytes", addr: memEnd - 16, ptrs: []uint64{strs, 0},
			strings: []string{"x"}, maxTotal: 1 << 20, want: []string{"x"}},
		{name: "array runs into an unmapped page", addr: memEnd - 16, ptrs: []uint64{strs, strs},
			strings: []string{"x"}, maxTotal: 1 << 20, wantErr: unix.EFAULT},
		{name: "pointer straddles an unmapped page", addr: memEnd - 4, raw: []byte{1, 2, 3, 4},
			maxTotal: 1 << 20, wantErr: unix.EFAULT},
		{name: "bad string pointer", addr: memBase, ptrs: []uint64{strs, memEnd, 0},
			strings: []string{"ok"}, maxTotal: 1 << 20, wantErr: unix.EFAULT},
		// Each string costs its bytes, its NUL and its pointer.
		{name: "exactly the limit", addr: memBase, ptrs: []uint64{strs, strs + 0x100, 0},
			strings: []string{"aaaa", "bbbbbbb"}, maxTotal: 20, want: []string{"aaaa", "bbbbbbb"}},
		{name: "over the limit", addr: memBase, ptrs: []uint64{strs, strs + 0x100, 0},
			strings: []string{"aaaa", "bbbbbbbb"}, maxTotal: 20, wantErr: unix.E2BIG},
		{name: "limit already used up", addr: memBase, ptrs: []uint64{strs, strs + 0x100, 0},
			strings: []string{"aaaaaaaaaaaa", ""}, maxTotal: 20, wantErr: unix.E2BIG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, mem := newMemTask(t)
			for i, s := range tt.strings {
				mem.poke(t, strs+uint64(i)*0x100, append([]byte(s), 0))
			}
			raw := tt.raw
			for _, p := range tt.ptrs {
				raw = binary.LittleEndian.AppendUint64(raw, p)
			}
			if len(raw) > 0 {
				mem.poke(t, tt.addr, raw)
			}
			got, err := readStringArray(task, tt.addr, tt.maxTotal)
			wantErrno(t, err, tt.wantErr)
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadIovecs(t *testing.T) {
	const arr = rwPage - 4*pageSize // room for UIO_MAXIOV iovecs before rwPage
	iov := func(n int, length uint64) []iovec {
		out := make([]iovec, n)
		for i := range out {
			out[i] = iovec{base: memBase + uint64(i), len: length}
		}
		return out
	}
	tests := []struct {
		name    string
		addr    uint64
		put     []iovec // written at addr
		count   uint64
		want    []iovec
		wantErr unix.Errno
	}{
		{name: "none", addr: 0, count: 0, want: []iovec{}},
		{name: "two", addr: arr, put: []iovec{{memBase, 5}, {memBase + 100, 0}}, count: 2,
			want: []iovec{{memBase, 5}, {memBase + 100, 0}}},
		{name: "UIO_MAXIOV", addr: arr, put: iov(1024, 1), count: 1024, want: iov(1024, 1)},
		// The count is checked before the array is read, as on Linux.
		{name: "one over UIO_MAXIOV", addr: arr, put: iov(1024, 1), count: 1025, wantErr: unix.EINVAL},
		{name: "over UIO_MAXIOV at a bad address", addr: 0, count: 1025, wantErr: unix.EINVAL},
		{name: "count that is negative as an int", addr: arr, count: 1 << 63, wantErr: unix.EINVAL},
		{name: "negative length", addr: arr, put: []iovec{{memBase, 1}, {memBase, 1 << 63}}, count: 2,
			wantErr: unix.EINVAL},
		{name: "length -1", addr: arr, put: []iovec{{memBase, ^uint64(0)}}, count: 1, wantErr: unix.EINVAL},
		{name: "largest length", addr: arr, put: []iovec{{memBase, 1<<63 - 1}}, count: 1,
			want: []iovec{{memBase, 1<<63 - 1}}},
		{name: "array runs into an unmapped page", addr: memEnd - 16, put: []iovec{{memBase, 1}}, count: 2,
			wantErr: unix.EFAULT},
		{name: "NULL array", addr: 0, count: 1, wantErr: unix.EFAULT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task, mem := newMemTask(t)
			if err := mem.Map(arr, 4*pageSize, unix.PROT_READ); err != nil {
				t.Fatal(err)
			}
			var raw []byte
			for _, v := range tt.put {
				raw = binary.LittleEndian.AppendUint64(raw, v.base)
				raw = binary.LittleEndian.AppendUint64(raw, v.len)
			}
			if len(raw) > 0 {
				mem.poke(t, tt.addr, raw)
			}
			got, err := readIovecs(task, tt.addr, tt.count)
			wantErrno(t, err, tt.wantErr)
			if tt.wantErr == 0 && !slices.Equal(got, tt.want) {
				t.Errorf("got %d iovecs %v, want %d", len(got), got[:min(len(got), 4)], len(tt.want))
			}
		})
	}
}

func TestCopyHelpers(t *testing.T) {
	task, mem := newMemTask(t)
	// Empty copies never touch memory, so any address will do.
	if b, err := task.CopyIn(0, 0); err != nil || len(b) != 0 {
		t.Errorf("copyIn(NULL, 0) = %v, %v", b, err)
	}
	if err := task.CopyOut(0, nil); err != nil {
		t.Errorf("copyOut(NULL, nil) = %v", err)
	}

	if err := task.WriteU64(memEnd-8, 0x1122334455667788); err != nil {
		t.Fatalf("writeU64 into the last mapped bytes: %v", err)
	}
	if v, err := task.ReadU64(memEnd - 8); err != nil || v != 0x1122334455667788 {
		t.Errorf("readU64 = %#x, %v", v, err)
	}
	if err := task.WriteU32(memEnd-4, 0xdeadbeef); err != nil {
		t.Fatal(err)
	}
	if got := mem.peek(t, memEnd-8, 8); binary.LittleEndian.Uint64(got) != 0xdeadbeef55667788 {
		t.Errorf("after writeU32: % x", got)
	}

	// Errors are EFAULT whatever the platform said.
	_, err := task.ReadU64(memEnd - 4)
	wantErrno(t, err, unix.EFAULT)
	wantErrno(t, task.WriteU64(memEnd-4, 1), unix.EFAULT)
	wantErrno(t, task.WriteU32(noAccess, 1), unix.EFAULT)
	_, err = task.CopyIn(noAccess-8, 16)
	wantErrno(t, err, unix.EFAULT)
}

// TestIOBuffer: a transfer's buffer is as long as the transfer (at most
// ioChunk); small ones get their own, large ones one from the pool.
func TestIOBuffer(t *testing.T) {
	for _, tc := range []struct {
		count  uint64
		length int
		pooled bool
	}{
		{0, 0, false},
		{100, 100, false},
		{pooledIO - 1, pooledIO - 1, false},
		{pooledIO, pooledIO, true},
		{128 << 10, 128 << 10, true},
		{ioChunk + 1, ioChunk, true},
		{maxIO, ioChunk, true},
	} {
		b, release := ioBuffer(tc.count)
		if len(b) != tc.length {
			t.Errorf("ioBuffer(%d) is %d bytes, want %d", tc.count, len(b), tc.length)
		}
		if pooled := cap(b) == ioChunk; pooled != tc.pooled {
			t.Errorf("ioBuffer(%d): pooled %v, want %v", tc.count, pooled, tc.pooled)
		}
		release()
	}
}
