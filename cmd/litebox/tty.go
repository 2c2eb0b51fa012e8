package main

import (
	"errors"
	"os"
	"os/signal"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/sandbox"
)

// errNotTTY is -t's refusal when standard input is not a terminal, in
// Docker's words.
var errNotTTY = errors.New("the input device is not a TTY")

// hostTerminal is the host terminal litebox -t runs on: its settings
// before litebox made it raw, restored on every way out.
type hostTerminal struct {
	fd    int
	saved *unix.Termios
}

// openHostTerminal checks that stdin is a terminal (errNotTTY otherwise).
func openHostTerminal(stdin any) (*hostTerminal, error) {
	f, ok := stdin.(*os.File)
	if !ok {
		return nil, errNotTTY
	}
	fd := int(f.Fd())
	tio, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, errNotTTY
	}
	return &hostTerminal{fd: fd, saved: tio}, nil
}

// size is the host terminal's window size (24x80 if it cannot say).
func (h *hostTerminal) size() (rows, cols uint16) {
	ws, err := unix.IoctlGetWinsize(h.fd, unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 || ws.Col == 0 {
		return 24, 80
	}
	return ws.Row, ws.Col
}

// makeRaw puts the host terminal in raw mode, as cfmakeraw: every key
// goes to the guest's terminal, whose own line discipline does the
// editing, echo and signals.
func (h *hostTerminal) makeRaw() error {
	raw := *h.saved
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Oflag &^= unix.OPOST
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN], raw.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(h.fd, unix.TCSETS, &raw)
}

// restore gives the host terminal back its settings.
func (h *hostTerminal) restore() {
	_ = unix.IoctlSetTermios(h.fd, unix.TCSETS, h.saved)
}

// forwardResize passes the host terminal's size changes (SIGWINCH) on to
// the guest's terminal.
func (h *hostTerminal) forwardResize(c *sandbox.Cmd) (stop func()) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, unix.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				c.Resize(h.size())
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}
