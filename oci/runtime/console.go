package runtime

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// hostPty is a host pseudo-terminal pair made for --console-socket: the
// master goes to the engine (conmon, containerd-shim), which shows it to
// the user; the supervisor keeps the slave and copies it to and from the
// sandbox's own pty, so the guest's terminal is litebox's kernel's (its
// line discipline, job control) and the host's pty is only a byte pipe in
// raw mode.
type hostPty struct {
	master, slave *os.File
}

// openHostPty opens a new host pty pair, its slave in raw mode.
func openHostPty() (*hostPty, error) {
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening a host pty: %w", err)
	}
	fd := int(m.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		return nil, fmt.Errorf("unlocking the host pty: %w", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("naming the host pty: %w", err)
	}
	name := "/dev/pts/" + strconv.Itoa(n)
	s, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	if err := makeRaw(int(s.Fd())); err != nil {
		m.Close()
		s.Close()
		return nil, fmt.Errorf("%s: raw mode: %w", name, err)
	}
	return &hostPty{master: m, slave: s}, nil
}

// makeRaw is cfmakeraw: the sandbox's pty does the editing, echo and
// signals, so the host's must pass every byte as it is.
func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// setSize sets the pty's window size (ignored when zero).
func (p *hostPty) setSize(rows, cols uint16) {
	if rows == 0 || cols == 0 {
		return
	}
	_ = unix.IoctlSetWinsize(int(p.master.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
}

// size is the slave's window size, as the engine last set it on the
// master (24x80 when unset).
func (p *hostPty) size() (rows, cols uint16) {
	ws, err := unix.IoctlGetWinsize(int(p.slave.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row == 0 || ws.Col == 0 {
		return 24, 80
	}
	return ws.Row, ws.Col
}

// watchSize calls resize whenever the engine changes the window size. The
// slave is not the supervisor's controlling terminal (one container has
// several, one per exec -t), so no SIGWINCH reaches us: we poll.
func (p *hostPty) watchSize(resize func(rows, cols uint16), done <-chan struct{}) {
	r0, c0 := p.size()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		if r, c := p.size(); r != r0 || c != c0 {
			r0, c0 = r, c
			resize(r, c)
		}
	}
}

// sendMaster gives the master to the engine listening on the console
// socket path, as runc does: one message carrying the descriptor
// (SCM_RIGHTS) and its name. The supervisor closes its own copy after.
func (p *hostPty) sendMaster(socketPath string) error {
	conn, err := net.DialTimeout("unix", socketPath, 10*time.Second)
	if err != nil {
		p.master.Close()
		p.master = nil
		return fmt.Errorf("console socket: %w", err)
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("console socket: not a unix socket")
	}
	f, err := uc.File()
	if err != nil {
		return fmt.Errorf("console socket: %w", err)
	}
	defer f.Close()
	return p.sendMasterOn(f)
}

// sendMasterOn sends the master on a connection to the console socket
// made by the exec caller (the supervisor, confined by its seccomp
// policy, makes no sockets once the container runs): a bare sendmsg, no
// more.
func (p *hostPty) sendMasterOn(conn *os.File) error {
	defer func() { p.master.Close(); p.master = nil }()
	rights := unix.UnixRights(int(p.master.Fd()))
	if err := unix.Sendmsg(int(conn.Fd()), []byte(p.master.Name()), rights, nil, 0); err != nil {
		return fmt.Errorf("console socket: sending the pty master: %w", err)
	}
	return nil
}

// close closes what is left of the pair.
func (p *hostPty) close() {
	if p.master != nil {
		p.master.Close()
	}
	p.slave.Close()
}
