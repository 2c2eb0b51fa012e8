package kernel

import (
	"fmt"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// notifier wakes pollers whenever some file's readiness may have changed.
// Pollers take the current channel, check their files, and wait for it to
// close: a change between the check and the wait is never missed.
type notifier struct {
	mu sync.Mutex
	ch chan struct{}
}

func (n *notifier) wait() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ch == nil {
		n.ch = make(chan struct{})
	}
	return n.ch
}

func (n *notifier) notify() {
	n.mu.Lock()
	if n.ch != nil {
		close(n.ch)
		n.ch = nil
	}
	n.mu.Unlock()
}

// Pipe2 creates a pipe and returns its read and write descriptors.
func (p *Process) Pipe2(flags int) (int, int, error) {
	if flags&^(unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_DIRECT) != 0 {
		return -1, -1, unix.EINVAL
	}
	pp, err := p.k.newPipe()
	if err != nil {
		return -1, -1, err
	}
	pp.SetNotify(p.k.poll.notify)
	c := p.Creds()
	pp.SetOwner(c.FSUID, c.FSGID)
	re, we := pp.Ends()
	st, _ := re.Stat()
	name := fmt.Sprintf("pipe:[%d]", st.Ino)
	status := flags & unix.O_NONBLOCK
	rf := vfs.NewAnonFile(name, re, re, unix.O_RDONLY|status)
	wf := vfs.NewAnonFile(name, we, we, unix.O_WRONLY|status)
	cloexec := flags&unix.O_CLOEXEC != 0
	rfd, err := p.FDs.Install(rf, 0, cloexec)
	if err != nil {
		_ = rf.DecRef()
		_ = wf.DecRef()
		return -1, -1, err
	}
	wfd, err := p.FDs.Install(wf, 0, cloexec)
	if err != nil {
		_ = p.FDs.Close(rfd)
		_ = wf.DecRef()
		return -1, -1, err
	}
	return rfd, wfd, nil
}

// PollFd is one entry of a poll set.
type PollFd struct {
	Fd      int
	Events  int16
	Revents int16
}

// Poll waits until one of fds is ready, the timeout (nil: forever)
// expires, or a signal arrives (ERESTARTNOHAND), and returns the number of
// ready entries.
func (t *Task) Poll(fds []PollFd, timeout *time.Duration) (int, error) {
	p := t.Proc
	var timer <-chan time.Time
	if timeout != nil && *timeout > 0 {
		t := time.NewTimer(*timeout)
		defer t.Stop()
		timer = t.C
	}
	for {
		changed := p.k.poll.wait()
		n := 0
		for i := range fds {
			pf := &fds[i]
			pf.Revents = 0
			if pf.Fd < 0 {
				continue
			}
			f, err := p.FDs.Get(pf.Fd)
			if err != nil {
				pf.Revents = unix.POLLNVAL
				n++
				continue
			}
			// POLLERR, POLLHUP and POLLNVAL are reported whether asked or not.
			pf.Revents = f.Readiness() & (pf.Events | unix.POLLERR | unix.POLLHUP)
			if pf.Revents != 0 {
				n++
			}
		}
		if n > 0 || (timeout != nil && *timeout <= 0) {
			return n, nil
		}
		select {
		case <-changed:
		case <-timer:
			return 0, nil
		case <-t.Interruptible().Done():
			return 0, ERESTARTNOHAND
		}
	}
}
