package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The control protocol between the runtime's commands and a container's
// supervisor: over ROOT/ID/ctl.sock (a unix stream socket only the
// supervisor's user may use), each side sends JSON objects, one a line.
// A request may carry descriptors (exec's stdio) by SCM_RIGHTS on its
// first byte. An exec connection stays open: the supervisor answers
// {"pid":N} once the command started, then {"exit":STATUS} when it ended;
// meanwhile the client may send {"op":"signal","signal":N}, and closing the
// connection before the end kills the command (the caller is gone).

// request is a client's message.
type request struct {
	Op      string         `json:"op"` // start, kill, exec, signal
	Signal  int            `json:"signal,omitempty"`
	All     bool           `json:"all,omitempty"`
	Process *specs.Process `json:"process,omitempty"` // exec
	// Console says the one descriptor of an exec request is a connection
	// to its --console-socket (process.terminal), not stdio.
	Console bool `json:"console,omitempty"`
}

// reply is the supervisor's message.
type reply struct {
	Error string `json:"error,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	// Exit is the wait status of an exec'd command, once it ended.
	Exit *int `json:"exit,omitempty"`
}

// maxMsg bounds one message (a process spec with its environment).
const maxMsg = 1 << 20

// conn is one control connection: line-framed JSON with descriptors.
type conn struct {
	c   *net.UnixConn
	buf []byte // read but not yet consumed
}

// send writes v as one line, with fds attached to it (if any).
func (c *conn) send(v any, fds ...int) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	n, _, err := c.c.WriteMsgUnix(b, oob, nil)
	if err != nil {
		return err
	}
	if n < len(b) {
		_, err = c.c.Write(b[n:])
	}
	return err
}

// recv reads one line into v, returning the descriptors that came with
// it (the caller owns them). More than want descriptors, or any on a
// message that wants none, are closed and refused.
func (c *conn) recv(v any, want int) ([]*os.File, error) {
	var files []*os.File
	fail := func(err error) ([]*os.File, error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	oob := make([]byte, unix.CmsgSpace(4*3))
	for {
		if i := bytes.IndexByte(c.buf, '\n'); i >= 0 {
			line := c.buf[:i]
			c.buf = c.buf[i+1:]
			if err := json.Unmarshal(line, v); err != nil {
				return fail(fmt.Errorf("control message: %w", err))
			}
			return files, nil
		}
		if len(c.buf) > maxMsg {
			return fail(errors.New("control message too long"))
		}
		p := make([]byte, 64<<10)
		n, oobn, flags, _, err := c.c.ReadMsgUnix(p, oob)
		n, oobn = max(n, 0), max(oobn, 0) // -1 with some errors
		if oobn > 0 {
			got, perr := parseRights(oob[:oobn])
			files = append(files, got...)
			if perr != nil {
				return fail(perr)
			}
			if flags&unix.MSG_CTRUNC != 0 || len(files) > want {
				return fail(fmt.Errorf("control message: %d descriptors, want at most %d", len(files), want))
			}
		}
		c.buf = append(c.buf, p[:n]...)
		if err != nil {
			return fail(err)
		}
		if n == 0 {
			return fail(errors.New("control connection closed"))
		}
	}
}

func parseRights(oob []byte) ([]*os.File, error) {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("control message: %w", err)
	}
	var files []*os.File
	for _, m := range msgs {
		fds, err := unix.ParseUnixRights(&m)
		if err != nil {
			continue
		}
		for _, fd := range fds {
			unix.CloseOnExec(fd)
			files = append(files, os.NewFile(uintptr(fd), "fd"))
		}
	}
	return files, nil
}

// maxSunPath is the longest path a sockaddr_un holds (108 with the NUL).
const maxSunPath = 107

// dial connects to container's supervisor. A path too long for a socket
// address is reached through /proc/self/fd of its directory.
func dial(path string) (*conn, error) {
	if len(path) > maxSunPath {
		dir, err := os.OpenFile(filepath.Dir(path), unix.O_PATH|unix.O_DIRECTORY, 0)
		if err != nil {
			return nil, fmt.Errorf("reaching the container's supervisor: %w", err)
		}
		defer dir.Close()
		path = fmt.Sprintf("/proc/self/fd/%d/%s", dir.Fd(), filepath.Base(path))
	}
	c, err := net.DialTimeout("unix", path, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("reaching the container's supervisor: %w", err)
	}
	return &conn{c: c.(*net.UnixConn)}, nil
}

// call sends one request and reads its reply.
func call(path string, req request) (*reply, error) {
	c, err := dial(path)
	if err != nil {
		return nil, err
	}
	defer c.c.Close()
	if err := c.send(req); err != nil {
		return nil, fmt.Errorf("talking to the container's supervisor: %w", err)
	}
	var r reply
	if _, err := c.recv(&r, 0); err != nil {
		return nil, fmt.Errorf("talking to the container's supervisor: %w", err)
	}
	if r.Error != "" {
		return &r, errors.New(r.Error)
	}
	return &r, nil
}

// peerIsUs checks that the peer of a control connection runs as our uid
// (the socket's mode says the same; this holds if it was loosened).
func peerIsUs(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil || cerr != nil {
		return false
	}
	return int(cred.Uid) == os.Getuid()
}
