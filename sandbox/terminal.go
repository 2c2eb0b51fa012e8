package sandbox

import (
	"encoding/binary"
	"os"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// hostTerminal answers terminal queries for a guest stream that is the
// host's terminal. Only queries pass through (TCGETS, TIOCGWINSZ,
// TIOCGPGRP): the guest can learn the terminal's settings and size but
// cannot change the host's terminal.
func hostTerminal(stream any) vfs.Terminal {
	f, ok := stream.(*os.File)
	if !ok {
		return nil
	}
	if _, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err != nil {
		return nil
	}
	return tty{fd: int(f.Fd())}
}

type tty struct{ fd int }

func (t tty) Ioctl(req uint, arg []byte) (int, error) {
	le := binary.LittleEndian
	switch req {
	case unix.TCGETS:
		tio, err := unix.IoctlGetTermios(t.fd, unix.TCGETS)
		if err != nil {
			return 0, err
		}
		if len(arg) < 36 {
			return 0, unix.EINVAL
		}
		le.PutUint32(arg[0:], tio.Iflag)
		le.PutUint32(arg[4:], tio.Oflag)
		le.PutUint32(arg[8:], tio.Cflag)
		le.PutUint32(arg[12:], tio.Lflag)
		arg[16] = tio.Line
		copy(arg[17:36], tio.Cc[:19])
		return 0, nil
	case unix.TIOCGWINSZ:
		ws, err := unix.IoctlGetWinsize(t.fd, unix.TIOCGWINSZ)
		if err != nil {
			return 0, err
		}
		if len(arg) < 8 {
			return 0, unix.EINVAL
		}
		le.PutUint16(arg[0:], ws.Row)
		le.PutUint16(arg[2:], ws.Col)
		le.PutUint16(arg[4:], ws.Xpixel)
		le.PutUint16(arg[6:], ws.Ypixel)
		return 0, nil
	case unix.TIOCGPGRP:
		if len(arg) < 4 {
			return 0, unix.EINVAL
		}
		le.PutUint32(arg, 1) // the sandbox's first process group
		return 0, nil
	}
	return 0, unix.ENOTTY
}
