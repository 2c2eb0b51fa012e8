package unixsock

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/socket"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestParseAddr(t *testing.T) {
	fam := []byte{byte(unix.AF_UNIX), 0}
	long := bytes.Repeat([]byte{'a'}, sunPathMax)
	for _, tc := range []struct {
		name    string
		in      []byte
		err     error
		nilAddr bool
		raw     []byte
	}{
		{"short", []byte{1}, unix.EINVAL, false, nil},
		{"family only", fam, nil, true, nil},
		{"wrong family", []byte{byte(unix.AF_INET), 0, 'x'}, unix.EINVAL, false, nil},
		{"too long", append(append([]byte{}, fam...), append(long, 'b')...), unix.EINVAL, false, nil},
		{"path stops at NUL", append(append([]byte{}, fam...), "ab\x00cd"...), nil, false, append(append([]byte{}, fam...), "ab\x00"...)},
		{"path without NUL", append(append([]byte{}, fam...), "ab"...), nil, false, append(append([]byte{}, fam...), "ab\x00"...)},
		{"full path", append(append([]byte{}, fam...), long...), nil, false, append(append(append([]byte{}, fam...), long...), 0)},
		{"abstract keeps NULs", append(append([]byte{}, fam...), "\x00a\x00"...), nil, false, append(append([]byte{}, fam...), "\x00a\x00"...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := parseAddr(tc.in)
			if err != tc.err {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if (a == nil) != tc.nilAddr {
				t.Fatalf("addr = %v, want nil %v", a, tc.nilAddr)
			}
			if a != nil && !bytes.Equal(a.raw, tc.raw) {
				t.Errorf("raw = %q, want %q", a.raw, tc.raw)
			}
		})
	}
}

func TestCredsAllowed(t *testing.T) {
	user := cred.New(1000, 1000, nil)
	root := cred.New(0, 0, nil)
	for _, tc := range []struct {
		name string
		c    *cred.Creds
		u    socket.Ucred
		want bool
	}{
		{"own", user, socket.Ucred{PID: 7, UID: 1000, GID: 1000}, true},
		{"other pid", user, socket.Ucred{PID: 8, UID: 1000, GID: 1000}, false},
		{"other uid", user, socket.Ucred{PID: 7, UID: 0, GID: 1000}, false},
		{"other gid", user, socket.Ucred{PID: 7, UID: 1000, GID: 0}, false},
		{"root claims anyone", root, socket.Ucred{PID: 1, UID: 5, GID: 6}, true},
	} {
		c := &socket.Caller{PID: 7, Creds: tc.c}
		if got := credsAllowed(c, tc.u); got != tc.want {
			t.Errorf("%s: credsAllowed = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// budget counts what a namespace charges.
type budget struct{ used atomic.Int64 }

func (b *budget) charge(n int64) error { b.used.Add(n); return nil }

func caller() *socket.Caller {
	return &socket.Caller{Ctx: context.Background(), PID: 1, Creds: cred.New(1000, 1000, nil), NoFile: 1024}
}

func abstractAddr(name string) []byte {
	return append([]byte{byte(unix.AF_UNIX), 0, 0}, name...)
}

// TestChargesReturn: sockets, queued messages and in-flight descriptors
// give back everything they charged once received and closed, also when a
// message with a descriptor is dropped unread with its socket.
func TestChargesReturn(t *testing.T) {
	var b budget
	ns := NewNamespace(nil, b.charge, nil, func(string) {})
	c := caller()
	l, _ := ns.New(c, unix.SOCK_STREAM)
	if err := l.Bind(c, abstractAddr("l")); err != nil {
		t.Fatal(err)
	}
	if err := l.Listen(c, 0); err != nil {
		t.Fatal(err)
	}
	cl, _ := ns.New(c, unix.SOCK_STREAM)
	if err := cl.Connect(c, abstractAddr("l"), true); err != nil {
		t.Fatal(err)
	}
	// Backlog 0 takes one connection; the second would wait.
	c2, _ := ns.New(c, unix.SOCK_STREAM)
	if err := c2.Connect(c, abstractAddr("l"), true); err != unix.EAGAIN {
		t.Errorf("second connect on backlog 0: %v, want EAGAIN", err)
	}
	s, err := l.Accept(c, true)
	if err != nil {
		t.Fatal(err)
	}
	passed := vfs.NewAnonFile("x", nil, nil, unix.O_RDONLY)
	if _, err := cl.Send(c, &socket.SendMsg{Data: []byte("hello"), Rights: []*vfs.File{passed}}); err != nil {
		t.Fatal(err)
	}
	if ns.inflight != 1 {
		t.Errorf("in flight %d, want 1", ns.inflight)
	}
	r := socket.RecvMsg{Max: 2}
	if err := s.Recv(c, &r); err != nil || string(r.Data) != "he" || len(r.Rights) != 1 {
		t.Fatalf("recv: %v %q %d rights", err, r.Data, len(r.Rights))
	}
	_ = r.Rights[0].DecRef()
	// The rest stays queued and goes with the socket.
	s.Release()
	cl.Release()
	c2.Release()
	l.Release()
	if got := b.used.Load(); got != 0 {
		t.Errorf("%d bytes still charged after every socket was closed", got)
	}
	if ns.inflight != 0 || len(ns.abstract) != 0 {
		t.Errorf("in flight %d, abstract names %d after close", ns.inflight, len(ns.abstract))
	}
}

// TestInflightLimit: descriptors in flight are bounded by the sender's
// RLIMIT_NOFILE (ETOOMANYREFS), and a refused send releases them.
func TestInflightLimit(t *testing.T) {
	var b budget
	ns := NewNamespace(nil, b.charge, nil, func(string) {})
	c := caller()
	c.NoFile = 2
	x, y, err := ns.Pair(c, unix.SOCK_DGRAM)
	if err != nil {
		t.Fatal(err)
	}
	f := vfs.NewAnonFile("x", nil, nil, unix.O_RDONLY)
	for i := range 3 {
		f.IncRef()
		_, err := x.Send(c, &socket.SendMsg{Data: []byte("m"), Rights: []*vfs.File{f}})
		want := error(nil)
		if i == 2 {
			want = unix.ETOOMANYREFS
		}
		if err != want {
			t.Errorf("send %d: %v, want %v", i, err, want)
		}
	}
	x.Release()
	y.Release()
	if err := f.DecRef(); err != nil {
		t.Errorf("last reference: %v (references leaked or dropped twice)", err)
	}
	if b.used.Load() != 0 || ns.inflight != 0 {
		t.Errorf("charged %d, in flight %d after close", b.used.Load(), ns.inflight)
	}
}

// TestAutobindNames: autobound names are distinct five-hex-digit
// abstract names.
func TestAutobindNames(t *testing.T) {
	var b budget
	ns := NewNamespace(nil, b.charge, nil, func(string) {})
	c := caller()
	seen := map[string]bool{}
	for range 50 {
		e, _ := ns.New(c, unix.SOCK_DGRAM)
		if err := e.Bind(c, []byte{byte(unix.AF_UNIX), 0}); err != nil {
			t.Fatal(err)
		}
		n := e.Name()
		if len(n) != 8 || n[2] != 0 || seen[string(n)] {
			t.Fatalf("autobind name %q", n)
		}
		seen[string(n)] = true
	}
}
