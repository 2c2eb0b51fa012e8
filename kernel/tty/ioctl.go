package tty

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Ioctl serves the requests that need no caller (settings, window size,
// queues, the pty's number and lock) on the master (master set) or the
// slave. buf holds the argument the shim copied in, and receives what it
// copies out; arg is the raw argument of requests that take a value.
// Requests about sessions and process groups are the kernel's. ENOTTY for
// anything else, as Linux.
func (p *Pty) Ioctl(master bool, req uint, arg uint64, buf []byte) (int, error) {
	le := binary.LittleEndian
	switch req {
	case unix.TCGETS:
		t := p.Termios()
		t.Encode(buf)
	case unix.TCSETS, unix.TCSETSW, unix.TCSETSF:
		// A pty's output is in the master's queue as soon as it is
		// written: there is nothing to drain for TCSETSW.
		p.SetTermios(DecodeTermios(buf), req == unix.TCSETSF)
	case unix.TIOCGWINSZ:
		p.Winsize().Encode(buf)
	case unix.TIOCSWINSZ:
		p.SetWinsize(DecodeWinsize(buf))
	case unix.TIOCINQ:
		le.PutUint32(buf, uint32(p.Queued(master)))
	case unix.TIOCOUTQ:
		// What a pty writes is already in the other end's queue (Linux's
		// pty driver has no chars_in_buffer either).
		le.PutUint32(buf, 0)
	case unix.TCFLSH:
		return 0, p.Flush(master, int(int32(arg)))
	case unix.TCXONC:
		return 0, p.Flow(master, int(int32(arg)))
	case unix.TCSBRK, unix.TCSBRKP:
		// tcdrain (arg != 0) has nothing to wait for; a break means
		// nothing to a pty.
	case unix.TIOCGETD:
		le.PutUint32(buf, 0) // N_TTY
	case unix.TIOCGPTN:
		if !master {
			return 0, unix.ENOTTY
		}
		le.PutUint32(buf, uint32(p.index))
	case unix.TIOCSPTLCK:
		if !master {
			return 0, unix.ENOTTY
		}
		p.SetLocked(le.Uint32(buf) != 0)
	case unix.TIOCGPTLCK:
		if !master {
			return 0, unix.ENOTTY
		}
		var l uint32
		if p.Locked() {
			l = 1
		}
		le.PutUint32(buf, l)
	default:
		return 0, unix.ENOTTY
	}
	return 0, nil
}
