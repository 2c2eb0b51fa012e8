package runtime

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		err  bool
	}{
		{"9", unix.SIGKILL, false}, {"KILL", unix.SIGKILL, false}, {"SIGKILL", unix.SIGKILL, false},
		{"sigterm", unix.SIGTERM, false}, {"term", unix.SIGTERM, false}, {"HUP", unix.SIGHUP, false},
		{"64", 64, false}, {"SIGRTMIN", 34, false}, {"RTMIN+2", 36, false}, {"SIGRTMAX-1", 63, false},
		{"SIGRTMAX", 64, false},
		{"0", 0, true}, {"65", 0, true}, {"-1", 0, true}, {"NOPE", 0, true}, {"", 0, true},
		{"SIGRTMIN+31", 0, true}, {"SIGRTMAX+1", 0, true}, {"SIGRTMIN-1", 0, true}, {"RTMIN+x", 0, true},
	} {
		got, err := ParseSignal(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseSignal(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseSignal(%q): multi-line error %q", tc.in, err)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"abc", true}, {"a-b_c.d+e", true}, {strings.Repeat("f", 64), true},
		{"", false}, {".", false}, {"..", false}, {"../x", false}, {"a/b", false}, {"a b", false},
		{"a\x00b", false}, {strings.Repeat("x", 1025), false},
	} {
		if err := CheckID(tc.id); (err == nil) != tc.ok {
			t.Errorf("CheckID(%q) = %v, want ok %v", tc.id, err, tc.ok)
		}
	}
}

func TestRootCreateLockLoad(t *testing.T) {
	r := Root{Dir: filepath.Join(t.TempDir(), "root")}
	st := &State{OCIState: OCIState{OCIVersion: OCIVersion, ID: "c", Status: Created, Bundle: "/b"}}
	unlock, err := r.create(st)
	if err != nil {
		t.Fatal(err)
	}
	// A second create of the id fails, without waiting for the lock.
	if _, err := r.create(&State{OCIState: OCIState{ID: "c"}}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("second create: %v", err)
	}
	// The lock is exclusive: Lock waits until create's unlock.
	got := make(chan error, 1)
	go func() {
		u, err := r.Lock("c")
		if err == nil {
			u()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("Lock did not wait for the holder: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	// Our own process as the supervisor: alive while its start time
	// matches.
	me := os.Getpid()
	tm, err := startTime(me)
	if err != nil {
		t.Fatal(err)
	}
	st.Supervisor, st.Pid, st.StartTime = me, me, tm
	if err := r.Save(st); err != nil {
		t.Fatal(err)
	}
	unlock()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	loaded, err := r.Load("c")
	if err != nil || loaded.Status != Created || loaded.Pid != me {
		t.Fatalf("Load: %+v, %v", loaded, err)
	}
	// Another start time: the pid was reused, the container is stopped.
	st.StartTime = tm + 1
	r.Save(st)
	if loaded, _ := r.Load("c"); loaded.Status != Stopped || loaded.Pid != 0 {
		t.Fatalf("Load with a reused pid: %+v", loaded)
	}
	ids, err := r.List()
	if err != nil || len(ids) != 1 || ids[0] != "c" {
		t.Fatalf("List: %v %v", ids, err)
	}
	// A corrupt state file is an error naming the container.
	os.WriteFile(r.statePath("c"), []byte("{"), 0o600)
	if _, err := r.Load("c"); err == nil || !strings.Contains(err.Error(), "container c: corrupt state") {
		t.Fatalf("Load of a corrupt state: %v", err)
	}
	if err := r.remove("c"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Lock("c"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Lock after remove: %v", err)
	}
	if _, err := r.Lock("../etc"); err == nil || errors.Is(err, ErrNotExist) {
		t.Fatalf("Lock of a bad id: %v", err)
	}
}

// TestConcurrentCreate: of many creates of one id, one wins.
func TestConcurrentCreate(t *testing.T) {
	r := Root{Dir: filepath.Join(t.TempDir(), "root")}
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := r.create(&State{OCIState: OCIState{ID: "x"}})
			if err == nil {
				mu.Lock()
				won++
				mu.Unlock()
				u()
			}
		}()
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("%d creates won", won)
	}
	ents, _ := os.ReadDir(r.Dir)
	if len(ents) != 1 {
		t.Fatalf("left behind: %v", ents)
	}
}

func pair(t *testing.T) (*conn, *conn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(fd int) *conn {
		f := os.NewFile(uintptr(fd), "sock")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		return &conn{c: c.(*net.UnixConn)}
	}
	a, b := mk(fds[0]), mk(fds[1])
	t.Cleanup(func() { a.c.Close(); b.c.Close() })
	return a, b
}

func TestConnFraming(t *testing.T) {
	a, b := pair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	// Two messages in a row, the first with a descriptor.
	if err := a.send(request{Op: "exec", Signal: 3}, int(w.Fd())); err != nil {
		t.Fatal(err)
	}
	if err := a.send(request{Op: "signal", Signal: 15}); err != nil {
		t.Fatal(err)
	}
	var got request
	files, err := b.recv(&got, 3)
	if err != nil || got.Op != "exec" || len(files) != 1 {
		t.Fatalf("recv: %+v %v %d", got, err, len(files))
	}
	files[0].Write([]byte("x"))
	files[0].Close()
	buf := make([]byte, 1)
	if _, err := r.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("the passed descriptor: %v %q", err, buf)
	}
	if _, err := b.recv(&got, 0); err != nil || got.Op != "signal" || got.Signal != 15 {
		t.Fatalf("second recv: %+v %v", got, err)
	}
	// More descriptors than wanted: refused, and closed.
	a.send(request{Op: "kill"}, int(w.Fd()))
	if _, err := b.recv(&got, 0); err == nil {
		t.Fatal("a descriptor on a request that wants none was accepted")
	}
}

func TestConnLimits(t *testing.T) {
	a, b := pair(t)
	// A line longer than maxMsg is refused without reading it all.
	go func() {
		chunk := make([]byte, 64<<10)
		for i := range chunk {
			chunk[i] = 'a'
		}
		for i := 0; i < (maxMsg/len(chunk))+4; i++ {
			if _, err := a.c.Write(chunk); err != nil {
				return
			}
		}
	}()
	var got request
	if _, err := b.recv(&got, 0); err == nil || !strings.Contains(err.Error(), "too long") {
		t.Fatalf("oversized message: %v", err)
	}
	// Bad JSON and a closed peer are errors, not panics.
	c, d := pair(t)
	c.c.Write([]byte("{nope\n"))
	if _, err := d.recv(&got, 0); err == nil {
		t.Fatal("bad JSON accepted")
	}
	c.c.Close()
	if _, err := d.recv(&got, 0); err == nil {
		t.Fatal("closed peer: no error")
	}
}

func TestWritePidFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pid")
	if err := WritePidFile(p, 1234); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "1234" {
		t.Fatalf("pid file %q, want runc's 1234 without newline", b)
	}
	if err := WritePidFile(filepath.Join(t.TempDir(), "no", "dir", "pid"), 1); err == nil {
		t.Fatal("pid file in a missing directory: no error")
	}
}
