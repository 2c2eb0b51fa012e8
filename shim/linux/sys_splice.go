package linux

import (
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// splice(2), tee(2), vmsplice(2): the kernel moves the bytes
// (kernel/splice.go); here are the offsets and the iovecs.

func sysSplice(t *kernel.Task, a args) (uint64, error) {
	in, inAddr, out, outAddr, n, flags := fdArg(a[0]), a[1], fdArg(a[2]), a[3], a[4], uint32(a[5])
	if n == 0 {
		return 0, nil
	}
	inOff, err := readOff(t, inAddr)
	if err != nil {
		return 0, err
	}
	outOff, err := readOff(t, outAddr)
	if err != nil {
		return 0, err
	}
	m, err := t.Splice(in, inOff, out, outOff, n, flags)
	if m > 0 {
		if werr := writeOff(t, inAddr, inOff); werr != nil {
			return 0, werr
		}
		if werr := writeOff(t, outAddr, outOff); werr != nil {
			return 0, werr
		}
	}
	return brokenPipe(t, uint64(m), err)
}

func sysTee(t *kernel.Task, a args) (uint64, error) {
	n, err := t.Tee(fdArg(a[0]), fdArg(a[1]), a[2], uint32(a[3]))
	return brokenPipe(t, uint64(n), err)
}

// sysVmsplice copies guest memory into a pipe opened for writing (as much
// as it has room for after one wait), or a pipe's data into guest memory
// (what it holds after one wait), as Linux's vmsplice_to_pipe and
// vmsplice_to_user. Only SPLICE_F_NONBLOCK makes it not wait.
func sysVmsplice(t *kernel.Task, a args) (uint64, error) {
	fd, iovAddr, nr, flags := fdArg(a[0]), a[1], a[2], uint32(a[3])
	p, write, err := t.Proc.VmsplicePipe(fd, flags)
	if err != nil {
		return 0, err
	}
	iovs, err := readIovecs(t, iovAddr, nr)
	if err != nil {
		return 0, err
	}
	var total uint64
	for _, v := range iovs {
		total += v.len
	}
	if total == 0 {
		return 0, nil
	}
	if p == nil {
		return 0, unix.EBADF
	}
	nonblock := flags&kernel.SpliceFNonblock != 0
	ctx := t.Interruptible()
	if write {
		room, err := p.WaitRoom(nonblock, ctx)
		if err != nil {
			return brokenPipe(t, 0, err)
		}
		left := uint64(room)
		n, err := vectoredIovs(t, iovs, func(v iovec) (uint64, error) {
			if left == 0 {
				return 0, nil
			}
			return writeFrom(t, v.base, min(v.len, left), func(b []byte) (int, error) {
				w, err := p.Write(b, true, ctx)
				left -= uint64(w)
				return w, err
			})
		})
		return brokenPipe(t, n, err)
	}
	if avail, err := p.WaitData(nonblock, ctx); avail == 0 || err != nil {
		return 0, err
	}
	return vectoredIovs(t, iovs, func(v iovec) (uint64, error) {
		return readInto(t, v.base, v.len, func(b []byte) (int, error) { return p.Read(b, true, ctx) })
	})
}
