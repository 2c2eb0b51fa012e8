package pipe

import (
	"context"

	"golang.org/x/sys/unix"
)

// What splice(2), tee(2) and vmsplice(2) need of a pipe: waiting for data
// or room, copying buffered bytes without taking them, and moving or
// copying between two pipes under both locks.

// WaitData waits until the pipe holds data and returns how much; 0 at end
// of file (no writers), EAGAIN when nonblock, ERESTARTSYS when ctx ends.
func (p *Pipe) WaitData(nonblock bool, ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.n == 0 {
		if p.writers == 0 {
			return 0, nil
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(ctx); err != nil {
			return 0, err
		}
	}
	return p.n, nil
}

// WaitRoom waits until the pipe has room and returns how much: EPIPE
// without readers (the caller raises SIGPIPE), EAGAIN when nonblock,
// ERESTARTSYS when ctx ends.
func (p *Pipe) WaitRoom(nonblock bool, ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if p.readers == 0 {
			return 0, unix.EPIPE
		}
		if room := p.cap - p.n; room > 0 {
			return room, nil
		}
		if nonblock {
			return 0, unix.EAGAIN
		}
		if err := p.waitLocked(ctx); err != nil {
			return 0, err
		}
	}
}

// Peek copies up to len(b) buffered bytes into b without taking them.
func (p *Pipe) Peek(b []byte) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.peekLocked(b)
}

func (p *Pipe) peekLocked(b []byte) int {
	done, head := 0, p.head
	for i := 0; i < len(p.pages) && done < len(b) && done < p.n; i++ {
		end := pageSize
		if i == len(p.pages)-1 {
			end = p.tail
		}
		done += copy(b[done:min(len(b), p.n)], p.pages[i][head:end])
		head = 0
	}
	return done
}

// Discard drops the first n buffered bytes (what a splice to a file
// wrote of what it peeked).
func (p *Pipe) Discard(n int) {
	p.mu.Lock()
	for n > 0 && p.n > 0 {
		end := pageSize
		if len(p.pages) == 1 {
			end = p.tail
		}
		c := min(n, end-p.head)
		p.head += c
		p.n -= c
		n -= c
		if p.head == end {
			p.dropFirstLocked()
		}
	}
	p.mu.Unlock()
	p.changed()
}

// lockPair locks two distinct pipes in a fixed order.
func lockPair(a, b *Pipe) {
	if a.ino < b.ino {
		a.mu.Lock()
		b.mu.Lock()
	} else {
		b.mu.Lock()
		a.mu.Lock()
	}
}

// Transfer moves (tee: copies) up to n bytes from p to dst, waiting for
// data in p, then for room in dst, as Linux's splice_pipe_to_pipe and
// link_pipe: 0 at p's end of file, EPIPE without readers of dst, EAGAIN
// when nonblock. p and dst must differ.
func (p *Pipe) Transfer(dst *Pipe, n int, keep, nonblock bool, ctx context.Context) (int, error) {
	buf := make([]byte, min(n, Capacity))
	for {
		if avail, err := p.WaitData(nonblock, ctx); avail == 0 || err != nil {
			return 0, err
		}
		if _, err := dst.WaitRoom(nonblock, ctx); err != nil {
			return 0, err
		}
		lockPair(p, dst)
		m := min(len(buf), p.n, dst.cap-dst.n)
		if dst.readers == 0 {
			p.mu.Unlock()
			dst.mu.Unlock()
			return 0, unix.EPIPE
		}
		if m <= 0 {
			p.mu.Unlock()
			dst.mu.Unlock()
			continue // taken or filled meanwhile: wait again
		}
		if keep {
			m = p.peekLocked(buf[:m])
		} else {
			m = p.takeLocked(buf[:m])
		}
		w := dst.appendLocked(buf[:m], false)
		if w < m && !keep {
			// No memory for all of it in dst: put the rest back in front.
			p.unreadLocked(buf[w:m])
		}
		p.mu.Unlock()
		dst.mu.Unlock()
		p.changed()
		dst.changed()
		if w == 0 {
			return 0, unix.ENOMEM
		}
		return w, nil
	}
}

// unreadLocked puts b back at the front of the buffer (a move that could
// not be completed); p.mu held. The pages are charged like any write's.
func (p *Pipe) unreadLocked(b []byte) {
	rest := make([]byte, p.n)
	p.takeLocked(rest)
	p.fillLocked(b, 0)
	p.fillLocked(rest, 0)
}
