package linux

import (
	"bytes"
	"encoding/binary"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// maxIO bounds the bytes a single read or write moves through the kernel,
// like Linux's MAX_RW_COUNT; callers see a short count beyond it.
const maxIO = 1 << 30

// ioChunk is the buffer size for moving data between guest and kernel.
const ioChunk = 1 << 20

// pooledIO is the least transfer that borrows an ioBufs buffer rather
// than allocating its own: a fresh buffer per call costs an allocation
// and a clearing of its size, and at network speeds (a 128 KiB read or
// write per call) that garbage makes the collector run all the time.
const pooledIO = 32 << 10

// ioBufs holds ioChunk buffers for transfers of at least pooledIO bytes.
// A borrowed buffer is used only within one call and holds old bytes of
// earlier transfers (of any sandbox): only what the call itself put in
// it is copied out.
var ioBufs = sync.Pool{New: func() any { return new([ioChunk]byte) }}

// ioBuffer is a buffer for a transfer of count bytes (at most ioChunk of
// it) and the function that gives it back.
func ioBuffer(count uint64) ([]byte, func()) {
	n := min(count, ioChunk)
	if n < pooledIO {
		return make([]byte, n), func() {}
	}
	b := ioBufs.Get().(*[ioChunk]byte)
	return b[:n], func() { ioBufs.Put(b) }
}

// readString copies a NUL-terminated string of at most max bytes
// (terminator excluded) from the guest; longer strings give ENAMETOOLONG.
func readString(t *kernel.Task, addr uint64, max int) (string, error) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	var out []byte
	var chunk [256]byte
	for len(out) <= max {
		// Never read across a page boundary in one go: the next page may
		// be unmapped although the string ends before it.
		n := len(chunk) - int((addr+uint64(len(out)))%uint64(len(chunk)))
		c, err := t.Mem.CopyIn(addr+uint64(len(out)), chunk[:n])
		if i := bytes.IndexByte(chunk[:c], 0); i >= 0 {
			out = append(out, chunk[:i]...)
			if len(out) > max {
				return "", unix.ENAMETOOLONG
			}
			return string(out), nil
		}
		if err != nil {
			return "", unix.EFAULT
		}
		out = append(out, chunk[:c]...)
	}
	return "", unix.ENAMETOOLONG
}

// readPath copies a path argument.
func readPath(t *kernel.Task, addr uint64) (string, error) {
	return readString(t, addr, unix.PathMax-1)
}

// readStringArray copies a NULL-terminated array of string pointers (argv).
func readStringArray(t *kernel.Task, addr uint64, maxTotal int) ([]string, error) {
	if addr == 0 {
		return nil, nil
	}
	var out []string
	total := 0
	for i := 0; ; i++ {
		p, err := t.ReadU64(addr + uint64(i)*8)
		if err != nil {
			return nil, err
		}
		if p == 0 {
			return out, nil
		}
		s, err := readString(t, p, maxTotal-total)
		if err != nil {
			if err == unix.ENAMETOOLONG {
				return nil, unix.E2BIG
			}
			return nil, err
		}
		total += len(s) + 1 + 8
		out = append(out, s)
	}
}

type iovec struct{ base, len uint64 }

// readIovecs copies an iovec array, validating its count and total length.
func readIovecs(t *kernel.Task, addr uint64, count uint64) ([]iovec, error) {
	if count > 1024 { // UIO_MAXIOV
		return nil, unix.EINVAL
	}
	raw, err := t.CopyIn(addr, int(count)*16)
	if err != nil {
		return nil, err
	}
	out := make([]iovec, count)
	var total uint64
	for i := range out {
		out[i] = iovec{binary.LittleEndian.Uint64(raw[i*16:]), binary.LittleEndian.Uint64(raw[i*16+8:])}
		if int64(out[i].len) < 0 {
			return nil, unix.EINVAL
		}
		total += out[i].len
		if int64(total) < 0 {
			return nil, unix.EINVAL
		}
	}
	return out, nil
}
