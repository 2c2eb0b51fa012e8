package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	ktty "github.com/litebox-go/litebox/kernel/tty"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TTY asks for a terminal for a command (Cmd.TTY): a pty of the sandbox's
// own kernel, whose slave is the first process's standard input, output
// and error and its controlling terminal. Cmd.Stdin is what is typed at
// it, Cmd.Stdout receives what it shows; Cmd.Stderr is not used. Rows and
// Cols are its first window size (Cmd.Resize changes it).
type TTY struct {
	Rows, Cols uint16
}

// cmdOutput is how a command's output reaches the host: the pipes' writer
// goroutine (hostOutput) or a terminal's master.
type cmdOutput interface {
	// close ends the output once the guest is gone: it waits until
	// everything was delivered, giveUp is closed or wait (> 0) passed,
	// and reports whether everything was.
	close(giveUp <-chan struct{}, wait time.Duration) bool
}

// stdio makes the first process's standard streams: pipes to the host, or
// a terminal's slave with TTY.
func (c *Cmd) stdio() ([3]*vfs.File, cmdOutput, error) {
	if c.TTY != nil {
		return c.openTerminal()
	}
	stdin, err := c.stdinFile(c.Stdin)
	if err != nil {
		return [3]*vfs.File{}, nil, err
	}
	// Guest output reaches the host through one writer goroutine, so that
	// a host reader that stops reading blocks the guest in an
	// interruptible wait, never in a host write.
	out := newHostOutput()
	return [3]*vfs.File{stdin,
		vfs.NewStreamFile("pipe:[stdout]", nil, out.sink(c.Stdout), hostTerminal(c.Stdout)),
		vfs.NewStreamFile("pipe:[stderr]", nil, out.sink(c.Stderr), hostTerminal(c.Stderr)),
	}, out, nil
}

// cmdTerminal is a command's terminal: the master the sandbox holds and
// the goroutines copying between it and the host.
type cmdTerminal struct {
	master *ktty.Master
	slave  *vfs.File // until the first process has it (attach)
	done   chan struct{}
	cancel context.CancelFunc
	once   sync.Once
}

// openTerminal makes the command's terminal: a pty whose slave, opened as
// /dev/pts/N (so that tty(1) names it), is fds 0, 1 and 2.
func (c *Cmd) openTerminal() ([3]*vfs.File, cmdOutput, error) {
	s := c.sb
	m, err := s.kernel.Devpts().OpenMaster(s.cfg.creds())
	if err != nil {
		return [3]*vfs.File{}, nil, fmt.Errorf("making the terminal: %w", err)
	}
	p := m.Pty()
	p.SetWinsize(ktty.Winsize{Row: c.TTY.Rows, Col: c.TTY.Cols})
	p.SetLocked(false)
	slave, err := s.fs.Open("/dev/pts/"+strconv.Itoa(p.Index()), unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		_ = m.Close()
		return [3]*vfs.File{}, nil, fmt.Errorf("opening the terminal: %w", err)
	}
	slave.IncRef()
	slave.IncRef()
	ctx, cancel := context.WithCancel(context.Background())
	t := &cmdTerminal{master: m, slave: slave, done: make(chan struct{}), cancel: cancel}
	c.mu.Lock()
	c.term = t
	c.mu.Unlock()
	go t.copyOut(ctx, c.Stdout, s.kernel.Recover)
	if c.Stdin != nil {
		go t.copyIn(ctx, c.Stdin, s.kernel.Recover)
	}
	return [3]*vfs.File{slave, slave, slave}, t, nil
}

// copyOut copies what the terminal shows to w until every slave is closed
// (EIO) or the terminal is closed.
func (t *cmdTerminal) copyOut(ctx context.Context, w io.Writer, recover func()) {
	defer recover()
	defer close(t.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := t.master.ReadCancel(buf, 0, ctx)
		if n > 0 && w != nil {
			if _, werr := w.Write(buf[:n]); werr != nil {
				w = nil // keep draining: the guest must not block on it
			}
		}
		if err != nil {
			return
		}
	}
}

// copyIn types what r gives at the terminal until r ends or the terminal
// is closed.
func (t *cmdTerminal) copyIn(ctx context.Context, r io.Reader, recover func()) {
	defer recover()
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		for b := buf[:n]; len(b) > 0; {
			w, werr := t.master.WriteCancel(b, 0, ctx)
			if werr != nil {
				return
			}
			b = b[w:]
		}
		if err != nil {
			// End of input: as a terminal's user typing ^D at the
			// start of a line, the guest reads end of file.
			if errors.Is(err, io.EOF) {
				eof := t.master.Pty().Termios().CC[ktty.VEOF]
				_, _ = t.master.WriteCancel([]byte{eof}, 0, ctx)
			}
			return
		}
	}
}

// attach makes the terminal the first process's controlling terminal.
func (t *cmdTerminal) attach(proc interface{ SetControllingTerminal(*vfs.File) error }) error {
	return proc.SetControllingTerminal(t.slave)
}

// drainGrace bounds how long a command's end waits for its terminal's
// output once the command is gone: the slave is normally closed by then
// (its master reads EIO at once), unless another command of the sandbox
// opened /dev/pts/N too, which must not keep this one's Wait waiting.
const drainGrace = 5 * time.Second

// close ends the terminal. Without giveUp or wait the command never ran
// (a failed start): nothing is waited for.
func (t *cmdTerminal) close(giveUp <-chan struct{}, wait time.Duration) bool {
	ok := true
	if giveUp != nil || wait > 0 {
		if wait <= 0 {
			wait = drainGrace
		}
		tm := time.NewTimer(wait)
		defer tm.Stop()
		select {
		case <-t.done:
		case <-giveUp:
			ok = false
		case <-tm.C:
			ok = false
		}
	}
	t.once.Do(func() {
		t.cancel()
		_ = t.master.Close()
	})
	return ok
}

// foreground is the foreground process group of the command's terminal,
// or 0.
func (c *Cmd) foreground() int {
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t == nil {
		return 0
	}
	return t.master.Pty().Pgrp()
}

// Resize changes the window size of the command's terminal (Cmd.TTY); the
// foreground process group gets SIGWINCH when it changed. It does nothing
// for a command without a terminal.
func (c *Cmd) Resize(rows, cols uint16) {
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t != nil {
		t.master.Pty().SetWinsize(ktty.Winsize{Row: rows, Col: cols})
	}
}
