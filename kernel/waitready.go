package kernel

import (
	"context"

	"golang.org/x/sys/unix"
)

// waitReady calls try until it is done, waiting on the kernel's readiness
// notifier between calls (taken before each call, so a change between the
// call and the wait is not missed): EAGAIN at once when nonblock, and
// ERESTARTSYS when ctx ends. The blocking reads and writes of eventfds and
// inotify instances wait this way.
func (k *Kernel) waitReady(nonblock bool, ctx context.Context, try func() (n int, done bool, err error)) (int, error) {
	for {
		changed := k.poll.wait()
		if n, done, err := try(); done {
			return n, err
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return 0, ERESTARTSYS
		}
	}
}
