package linux

import (
	"encoding/binary"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// ioctlArg says how an ioctl's argument is passed: size bytes at the
// pointer, copied in (in) and/or out (out) around the call; size 0 for
// requests that take a value or nothing.
type ioctlArg struct {
	size    int
	in, out bool
}

// ioctls are the requests the kernel answers; anything else is ENOTTY.
var ioctls = map[uint]ioctlArg{
	unix.TCGETS:      {size: 36, out: true}, // struct termios (kernel layout)
	unix.TCSETS:      {size: 36, in: true},
	unix.TCSETSW:     {size: 36, in: true},
	unix.TCSETSF:     {size: 36, in: true},
	unix.TIOCGWINSZ:  {size: 8, out: true},
	unix.TIOCSWINSZ:  {size: 8, in: true},
	unix.TIOCGPGRP:   {size: 4, out: true},
	unix.TIOCSPGRP:   {size: 4, in: true},
	unix.TIOCGSID:    {size: 4, out: true},
	unix.TIOCINQ:     {size: 4, out: true}, // FIONREAD
	unix.TIOCOUTQ:    {size: 4, out: true},
	unix.TIOCGETD:    {size: 4, out: true},
	unix.TIOCGPTN:    {size: 4, out: true},
	unix.TIOCSPTLCK:  {size: 4, in: true},
	unix.TIOCGPTLCK:  {size: 4, out: true},
	unix.TIOCPKT:     {size: 4, in: true},
	unix.TIOCSCTTY:   {},
	unix.TIOCNOTTY:   {},
	unix.TIOCGPTPEER: {},
	unix.TCFLSH:      {},
	unix.TCXONC:      {},
	unix.TCSBRK:      {},
	unix.TCSBRKP:     {},
	fionbio:          {size: 4, in: true},
	0x5451:           {}, // FIOCLEX
	0x5450:           {}, // FIONCLEX
}

func sysIoctl(t *kernel.Task, a args) (uint64, error) {
	fd, req, argp := fdArg(a[0]), uint(uint32(a[1])), a[2]
	if r, ok, err := netdevIoctl(t, fd, req, argp); ok { // SIOCGIF* (sys_netdev.go)
		return r, err
	}
	spec, known := ioctls[req]
	if !known {
		if _, err := t.Proc.FDs.Get(fd); err != nil {
			return 0, err
		}
		return 0, unix.ENOTTY
	}
	buf := make([]byte, spec.size)
	if spec.in {
		in, err := t.CopyIn(argp, spec.size)
		if err != nil {
			return 0, err
		}
		copy(buf, in)
	}
	if req == fionbio {
		f, err := t.Proc.FDs.Get(fd)
		if err != nil {
			return 0, err
		}
		fl := f.Flags() &^ unix.O_NONBLOCK
		if binary.LittleEndian.Uint32(buf) != 0 {
			fl |= unix.O_NONBLOCK
		}
		f.SetFlags(fl)
		return 0, nil
	}
	r, err := t.Ioctl(fd, req, argp, buf)
	if err != nil {
		return 0, err
	}
	if spec.out {
		return uint64(r), t.CopyOut(argp, buf)
	}
	return uint64(r), nil
}
