package kernel

import (
	"context"
	"encoding/binary"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// timerFD is a timerfd: a wall-clock timer whose expiries are counted and
// read as one 8-byte number. As Linux's fs/timerfd.c, a periodic timer that
// expired is not re-armed until the count is read (or timerfd_gettime asks):
// then the periods missed are added to the count and the timer goes on from
// its grid. So an unread timerfd costs one expiry, however small its
// period. TFD_TIMER_CANCEL_ON_SET is accepted, and never cancels: the
// guest's clocks cannot be set (clock_settime is EPERM).
type timerFD struct {
	anonInode
	k     *Kernel
	clock int32

	mu       sync.Mutex
	gen      uint64
	timer    *time.Timer
	expires  time.Duration // on the clock; 0: disarmed
	interval time.Duration
	expired  bool // fired, not re-armed yet
	ticks    uint64
}

// timerfd flags (linux/timerfd.h).
const (
	tfdTimerAbstime     = 1
	tfdTimerCancelOnSet = 2
	tfdCreateFlags      = unix.TFD_CLOEXEC | unix.TFD_NONBLOCK
)

// TimerfdCreate creates a timerfd on clock.
func (p *Process) TimerfdCreate(clock int32, flags int) (int, error) {
	if flags&^tfdCreateFlags != 0 {
		return -1, unix.EINVAL
	}
	if err := timerClock(clock, false); err != nil {
		return -1, err
	}
	if err := p.k.charge(TimerCost); err != nil {
		return -1, err
	}
	tf := &timerFD{anonInode: newAnonInode(), k: p.k, clock: clock}
	return p.installAnon("anon_inode:[timerfd]", tf, flags, flags&unix.TFD_CLOEXEC != 0)
}

// timerfd returns the timerfd open on fd: EBADF if fd is not open, EINVAL
// if it is something else.
func (p *Process) timerfd(fd int) (*timerFD, error) {
	f, err := p.FDs.Get(fd)
	if err != nil {
		return nil, unix.EBADF
	}
	tf, ok := f.Ops().(*timerFD)
	if !ok {
		return nil, unix.EINVAL
	}
	return tf, nil
}

// TimerfdSettime arms or disarms the timerfd and returns its previous
// setting. valid is false for a malformed spec: EINVAL, which Linux
// reports before a bad descriptor, like bad flags.
func (p *Process) TimerfdSettime(fd, flags int, spec TimerSpec, valid bool) (TimerSpec, error) {
	if flags&^(tfdTimerAbstime|tfdTimerCancelOnSet) != 0 || !valid {
		return TimerSpec{}, unix.EINVAL
	}
	tf, err := p.timerfd(fd)
	if err != nil {
		return TimerSpec{}, err
	}
	now := p.k.wallNow(tf.clock)
	tf.mu.Lock()
	old := tf.getLocked(now)
	tf.gen++
	if tf.timer != nil {
		tf.timer.Stop()
		tf.timer = nil
	}
	tf.expires, tf.interval, tf.expired, tf.ticks = 0, spec.Interval, false, 0
	if spec.Value > 0 {
		exp := spec.Value
		if flags&tfdTimerAbstime == 0 {
			exp += now
		}
		tf.expires = max(exp, 1)
		tf.armLocked(now)
	}
	tf.mu.Unlock()
	p.k.poll.notify() // the count was reset
	return old, nil
}

// TimerfdGettime returns the time to the next expiry and the period.
func (p *Process) TimerfdGettime(fd int) (TimerSpec, error) {
	tf, err := p.timerfd(fd)
	if err != nil {
		return TimerSpec{}, err
	}
	now := p.k.wallNow(tf.clock)
	tf.mu.Lock()
	defer tf.mu.Unlock()
	return tf.getLocked(now), nil
}

// getLocked re-arms an expired periodic timer first (see timerFD); tf.mu
// held.
func (tf *timerFD) getLocked(now time.Duration) TimerSpec {
	tf.rearmLocked(now)
	spec := TimerSpec{Interval: tf.interval}
	if tf.expires != 0 && !tf.expired {
		spec.Value = max(tf.expires-now, 1)
	}
	return spec
}

// rearmLocked restarts an expired periodic timer on its grid, counting the
// periods it missed; tf.mu held.
func (tf *timerFD) rearmLocked(now time.Duration) {
	if !tf.expired || tf.interval == 0 {
		return
	}
	if tf.expires <= now {
		n := uint64((now-tf.expires)/tf.interval) + 1
		tf.expires += time.Duration(n) * tf.interval
		tf.ticks += n - 1
	}
	tf.armLocked(now)
}

func (tf *timerFD) armLocked(now time.Duration) {
	tf.expired = false
	gen := tf.gen
	tf.timer = time.AfterFunc(max(tf.expires-now, 0), func() {
		defer tf.k.Recover() // a timer goroutine serves the sandbox too
		tf.mu.Lock()
		if gen != tf.gen {
			tf.mu.Unlock()
			return
		}
		tf.timer, tf.expired = nil, true
		tf.ticks++
		tf.mu.Unlock()
		tf.k.poll.notify()
	})
}

func (tf *timerFD) ReadAt(b []byte, _ int64) (int, error) {
	return tf.ReadCancel(b, 0, context.Background())
}

// ReadCancel returns the number of expiries since the last read (waiting
// for one unless nonblocking) and resets it.
func (tf *timerFD) ReadCancel(b []byte, flags int, ctx context.Context) (int, error) {
	if len(b) < 8 {
		return 0, unix.EINVAL
	}
	for {
		changed := tf.k.poll.wait()
		now := tf.k.wallNow(tf.clock)
		tf.mu.Lock()
		if tf.ticks > 0 {
			tf.rearmLocked(now)
			v := tf.ticks
			tf.ticks = 0
			tf.mu.Unlock()
			binary.LittleEndian.PutUint64(b, v)
			return 8, nil
		}
		tf.mu.Unlock()
		if flags&unix.O_NONBLOCK != 0 {
			return 0, unix.EAGAIN
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ERESTARTSYS
		}
	}
}

// WriteCancel: a timerfd cannot be written.
func (tf *timerFD) WriteCancel([]byte, int, context.Context) (int, error) { return 0, unix.EINVAL }

func (tf *timerFD) Readiness() int16 {
	tf.mu.Lock()
	defer tf.mu.Unlock()
	if tf.ticks > 0 {
		return unix.POLLIN
	}
	return 0
}

func (tf *timerFD) Close() error {
	tf.mu.Lock()
	tf.gen++
	if tf.timer != nil {
		tf.timer.Stop()
		tf.timer = nil
	}
	tf.mu.Unlock()
	tf.k.uncharge(TimerCost)
	return nil
}
