// Package tty implements the kernel's terminals: pseudo-terminal pairs
// (/dev/ptmx and the devpts file system) with Linux's N_TTY line
// discipline, termios, window sizes and the /dev/tty device. Sessions,
// controlling terminals and job control are the kernel's (kernel/tty.go):
// this package keeps the terminal's session and foreground process group
// as numbers and asks its Host to signal them.
package tty

import "encoding/binary"

// TermiosSize is the size of the kernel's struct termios (TCGETS/TCSETS).
const TermiosSize = 36

// Termios is the kernel's struct termios: the four flag words, the line
// discipline and the 19 control characters.
type Termios struct {
	Iflag, Oflag, Cflag, Lflag uint32
	Line                       uint8
	CC                         [19]uint8
}

// Indexes into CC, as in asm-generic/termbits.h.
const (
	VINTR    = 0
	VQUIT    = 1
	VERASE   = 2
	VKILL    = 3
	VEOF     = 4
	VTIME    = 5
	VMIN     = 6
	VSTART   = 8
	VSTOP    = 9
	VSUSP    = 10
	VEOL     = 11
	VREPRINT = 12
	VWERASE  = 14
	VLNEXT   = 15
	VEOL2    = 16
)

// Input flags.
const (
	IGNBRK  = 0o1
	BRKINT  = 0o2
	ISTRIP  = 0o40
	INLCR   = 0o100
	IGNCR   = 0o200
	ICRNL   = 0o400
	IUCLC   = 0o1000
	IXON    = 0o2000
	IXANY   = 0o4000
	IXOFF   = 0o10000
	IMAXBEL = 0o20000
	IUTF8   = 0o40000
)

// Output flags.
const (
	OPOST  = 0o1
	OLCUC  = 0o2
	ONLCR  = 0o4
	OCRNL  = 0o10
	ONOCR  = 0o20
	ONLRET = 0o40
	TABDLY = 0o14000
	XTABS  = 0o14000
)

// Control flags.
const (
	B38400 = 0o17
	CS8    = 0o60
	CREAD  = 0o200
	HUPCL  = 0o2000
)

// Local flags.
const (
	ISIG    = 0o1
	ICANON  = 0o2
	ECHO    = 0o10
	ECHOE   = 0o20
	ECHOK   = 0o40
	ECHONL  = 0o100
	NOFLSH  = 0o200
	TOSTOP  = 0o400
	ECHOCTL = 0o1000
	ECHOPRT = 0o2000
	ECHOKE  = 0o4000
	IEXTEN  = 0o100000
)

// disabled is _POSIX_VDISABLE: a control character set to it is off.
const disabled = 0

// defaultSlave is what a new pty's slave starts with, Linux's
// tty_std_termios with the pty slave driver's c_cflag.
func defaultSlave() Termios {
	t := Termios{
		Iflag: ICRNL | IXON,
		Oflag: OPOST | ONLCR,
		Cflag: B38400 | CS8 | CREAD,
		Lflag: ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN,
	}
	copy(t.CC[:], []byte{3, 034, 0177, 025, 4, 0, 1, 0, 021, 023, 032, 0, 022, 017, 027, 026, 0})
	return t
}

// Encode writes t in the kernel layout.
func (t *Termios) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], t.Iflag)
	le.PutUint32(b[4:], t.Oflag)
	le.PutUint32(b[8:], t.Cflag)
	le.PutUint32(b[12:], t.Lflag)
	b[16] = t.Line
	copy(b[17:36], t.CC[:])
}

// DecodeTermios reads a termios in the kernel layout.
func DecodeTermios(b []byte) Termios {
	le := binary.LittleEndian
	t := Termios{Iflag: le.Uint32(b[0:]), Oflag: le.Uint32(b[4:]), Cflag: le.Uint32(b[8:]),
		Lflag: le.Uint32(b[12:]), Line: b[16]}
	copy(t.CC[:], b[17:36])
	return t
}

// is reports whether control character c is the one at index i (never
// for a disabled entry).
func (t *Termios) is(c byte, i int) bool { return t.CC[i] != disabled && c == t.CC[i] }

// Winsize is struct winsize (TIOCGWINSZ/TIOCSWINSZ).
type Winsize struct{ Row, Col, Xpixel, Ypixel uint16 }

// Encode writes w in the kernel layout (8 bytes).
func (w Winsize) Encode(b []byte) {
	le := binary.LittleEndian
	le.PutUint16(b[0:], w.Row)
	le.PutUint16(b[2:], w.Col)
	le.PutUint16(b[4:], w.Xpixel)
	le.PutUint16(b[6:], w.Ypixel)
}

// DecodeWinsize reads a struct winsize.
func DecodeWinsize(b []byte) Winsize {
	le := binary.LittleEndian
	return Winsize{le.Uint16(b[0:]), le.Uint16(b[2:]), le.Uint16(b[4:]), le.Uint16(b[6:])}
}
