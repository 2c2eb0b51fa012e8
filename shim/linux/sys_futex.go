package linux

import (
	"encoding/binary"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// futex operations (linux/futex.h).
const (
	futexWait          = 0
	futexWake          = 1
	futexRequeue       = 3
	futexCmpRequeue    = 4
	futexWaitBitset    = 9
	futexWakeBitset    = 10
	futexPrivate       = 128
	futexClockRealtime = 256
	futexBitsetAll     = 0xffffffff
)

func sysFutex(t *kernel.Task, a args) (uint64, error) {
	uaddr, op, val := a[0], int(a[1]), uint32(a[2])
	cmd := op &^ (futexPrivate | futexClockRealtime)
	if uaddr%4 != 0 {
		return 0, unix.EINVAL
	}
	key := futexKey(t, uaddr, op)
	load := func() (uint32, error) {
		b, err := t.CopyIn(uaddr, 4)
		if err != nil {
			return 0, err
		}
		return binary.LittleEndian.Uint32(b), nil
	}
	futexes := &t.Proc.Kernel().Futexes
	switch cmd {
	case futexWait, futexWaitBitset:
		bitset := uint32(futexBitsetAll)
		if cmd == futexWaitBitset {
			bitset = uint32(a[5])
		} else if op&futexClockRealtime != 0 {
			return 0, unix.ENOSYS // as Linux: FUTEX_WAIT has only a relative timeout
		}
		var deadline *time.Time
		if a[3] != 0 {
			d, err := readTimespec(t, a[3])
			if err != nil {
				return 0, err
			}
			var at time.Time
			switch {
			case cmd == futexWait:
				at = time.Now().Add(d)
			case op&futexClockRealtime != 0:
				at = time.Unix(0, int64(d))
			default:
				at = t.Proc.Kernel().BootTime().Add(d)
			}
			deadline = &at
		}
		return 0, futexes.FutexWaitTask(t, key, val, load, bitset, deadline)
	case futexWake, futexWakeBitset:
		bitset := uint32(futexBitsetAll)
		if cmd == futexWakeBitset {
			bitset = uint32(a[5])
		}
		n, err := futexes.FutexWake(key, int(min(val, 1<<30)), bitset)
		return uint64(n), err
	case futexRequeue, futexCmpRequeue:
		if a[4]%4 != 0 {
			return 0, unix.EINVAL
		}
		nMove := int(min(uint32(a[3]), 1<<30))
		to := futexKey(t, a[4], op)
		var check func() (bool, error)
		if cmd == futexCmpRequeue {
			check = func() (bool, error) {
				cur, err := load()
				return cur == uint32(a[5]), err
			}
		}
		n, err := futexes.FutexRequeue(key, to, int(min(val, 1<<30)), nMove, check)
		return uint64(n), err
	}
	t.Proc.Kernel().Unsupported("futex op", unix.SYS_FUTEX, t.Proc.PID)
	return 0, unix.ENOSYS
}

// futexWaits refines the table's mayBlock for futex: only the waits block.
func futexWaits(a args) bool {
	op := a[1] & 0x7f
	return op == futexWait || op == futexWaitBitset
}

// futexKey names the futex word at addr. A shared futex (no
// FUTEX_PRIVATE_FLAG) in MAP_SHARED memory is named by that memory, so
// processes that map it, at any address, meet on one queue.
func futexKey(t *kernel.Task, addr uint64, op int) kernel.FutexKey {
	if op&futexPrivate == 0 {
		if obj, off, ok := t.Proc.MM.SharedKey(addr); ok {
			return kernel.FutexKey{Space: obj, Addr: off}
		}
	}
	return kernel.FutexKey{Space: t.Proc.MM, Addr: addr}
}
