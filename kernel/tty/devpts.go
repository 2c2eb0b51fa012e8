package tty

import (
	"context"
	"sort"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Device numbers, as Linux's.
const (
	ttyMajor   = 5   // /dev/tty is 5:0, /dev/ptmx 5:2
	slaveMajor = 136 // UNIX98_PTY_SLAVE_MAJOR
	ttyGroup   = 5   // devpts' gid=5 mount option (Debian's group tty)
)

// PtmxMode is /dev/pts/ptmx's mode (devpts' ptmxmode= option): 0666, as
// container engines mount it, since the sandbox's /dev/ptmx links to it.
const PtmxMode = 0o666

// DefaultMax is the number of ptys a sandbox may hold open at once.
const DefaultMax = 256

// ControllingFunc returns the controlling terminal of the caller of an
// open (ctx is the walk's caller, cred its credentials): ENXIO without one.
type ControllingFunc func(ctx context.Context) (*Pty, error)

// FS is one devpts instance (a sandbox's /dev/pts) and the allocator of
// its ptys: /dev/pts/ptmx (which /dev/ptmx links to) allocates from it.
type FS struct {
	host        Host
	controlling ControllingFunc
	max         int
	dev         uint64
	time        unix.Timespec

	mu   sync.Mutex
	ptys map[int]*ptsEntry
}

type ptsEntry struct {
	pty      *Pty
	uid, gid uint32
}

// New returns a devpts for host; at most max ptys exist at once (ENOSPC
// beyond, as Linux's pty/max).
func New(host Host, controlling ControllingFunc, max int) *FS {
	return &FS{host: host, controlling: controlling, max: max, dev: vfs.NewDev(), time: vfs.Now(),
		ptys: map[int]*ptsEntry{}}
}

// Root returns /dev/pts.
func (fs *FS) Root() vfs.DirNode { return &ptsDir{fs: fs} }

// ReadOnly is false: the directory's own permissions keep the guest from
// adding entries, as on Linux.
func (fs *FS) ReadOnly() bool { return false }

// Name returns "devpts".
func (fs *FS) Name() string { return "devpts" }

// TTY returns the /dev/tty node to put in /dev.
func (fs *FS) TTY() vfs.Node { return &ttyNode{fs: fs, ino: vfs.NewIno()} }

func (fs *FS) stat(ino uint64, mode uint32) vfs.Stat {
	return vfs.Stat{Dev: fs.dev, Ino: ino, Nlink: 1, Mode: mode, Blksize: 1024,
		Atime: fs.time, Mtime: fs.time, Ctime: fs.time}
}

// OpenMaster allocates a pty for the kernel's own use (a terminal for a
// command of the sandbox, `litebox run -t`), owned by c, as an open of
// /dev/ptmx does.
func (fs *FS) OpenMaster(c *vfs.Cred) (*Master, error) {
	p, err := fs.alloc(c)
	if err != nil {
		return nil, err
	}
	return &Master{p: p}, nil
}

// alloc makes a new pty with the lowest free number, charged to the
// sandbox's memory.
func (fs *FS) alloc(c *vfs.Cred) (*Pty, error) {
	if err := fs.host.Charge(Cost); err != nil {
		return nil, unix.ENOMEM
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if len(fs.ptys) >= fs.max {
		_ = fs.host.Charge(-Cost)
		return nil, unix.ENOSPC
	}
	n := 0
	for fs.ptys[n] != nil {
		n++
	}
	p := newPty(fs.host, fs, n)
	uid, gid := uint32(vfs.GuestUID), uint32(ttyGroup)
	if c != nil {
		uid = c.FSUID
	}
	fs.ptys[n] = &ptsEntry{pty: p, uid: uid, gid: gid}
	return p, nil
}

// remove takes /dev/pts/n away (its master closed).
func (fs *FS) remove(n int) {
	fs.mu.Lock()
	delete(fs.ptys, n)
	fs.mu.Unlock()
}

func (fs *FS) entry(n int) *ptsEntry {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.ptys[n]
}

// ptsDir is /dev/pts: ptmx and one character device per pty.
type ptsDir struct{ fs *FS }

func (d *ptsDir) Stat() (vfs.Stat, error) {
	st := d.fs.stat(1, unix.S_IFDIR|0o755)
	st.Nlink = 2
	return st, nil
}

func (d *ptsDir) Lookup(name string) (vfs.Node, error) {
	if name == "ptmx" {
		// As a container's devpts (newinstance, ptmxmode=0666, what
		// Docker and runc mount): /dev/ptmx is a link to it, so it is
		// for everyone.
		return &ptmxNode{fs: d.fs, mode: PtmxMode, ino: 2}, nil
	}
	n, err := strconv.Atoi(name)
	if err != nil || n < 0 || strconv.Itoa(n) != name {
		return nil, unix.ENOENT
	}
	if d.fs.entry(n) == nil {
		return nil, unix.ENOENT
	}
	return &ptsNode{fs: d.fs, n: n}, nil
}

func (d *ptsDir) ReadDir() ([]vfs.DirEntry, error) {
	d.fs.mu.Lock()
	out := make([]vfs.DirEntry, 0, len(d.fs.ptys)+1)
	for n := range d.fs.ptys {
		out = append(out, vfs.DirEntry{Name: strconv.Itoa(n), Ino: uint64(n) + 3, Type: unix.DT_CHR})
	}
	d.fs.mu.Unlock()
	// Linux lists the newest entry first and ptmx, made at mount, last.
	sort.Slice(out, func(i, j int) bool { return out[i].Ino > out[j].Ino })
	return append(out, vfs.DirEntry{Name: "ptmx", Ino: 2, Type: unix.DT_CHR}), nil
}

// devpts has no create or mkdir operations (EACCES and EPERM on Linux).

func (d *ptsDir) Create(string, uint32) (vfs.Node, error)  { return nil, unix.EACCES }
func (d *ptsDir) Mkdir(string, uint32) error               { return unix.EPERM }
func (d *ptsDir) Unlink(string) error                      { return unix.EPERM }
func (d *ptsDir) Rmdir(string) error                       { return unix.EPERM }
func (d *ptsDir) Rename(string, vfs.DirNode, string) error { return unix.EPERM }
func (d *ptsDir) Symlink(string, string) error             { return unix.EPERM }

// ptsNode is /dev/pts/N, the slave of pty N.
type ptsNode struct {
	fs *FS
	n  int
}

func (s *ptsNode) Stat() (vfs.Stat, error) {
	e := s.fs.entry(s.n)
	if e == nil {
		return vfs.Stat{}, unix.ENOENT
	}
	st := s.fs.stat(uint64(s.n)+3, unix.S_IFCHR|0o620)
	st.Uid, st.Gid = e.uid, e.gid
	st.Rdev = unix.Mkdev(slaveMajor, uint32(s.n))
	return st, nil
}

func (s *ptsNode) Open(int) (vfs.FileOps, error) {
	e := s.fs.entry(s.n)
	if e == nil {
		return nil, unix.EIO // the master closed since the lookup
	}
	return e.pty.openSlave()
}

// ptmxNode is /dev/pts/ptmx: each open makes a pty.
type ptmxNode struct {
	fs   *FS
	mode uint32
	ino  uint64
}

func (m *ptmxNode) Stat() (vfs.Stat, error) {
	st := m.fs.stat(m.ino, unix.S_IFCHR|m.mode)
	st.Rdev = unix.Mkdev(ttyMajor, 2)
	return st, nil
}

func (m *ptmxNode) Open(int) (vfs.FileOps, error) { return m.OpenCaller(0, nil, nil) }

// OpenCaller allocates a pty owned by the opener; its slave starts locked.
func (m *ptmxNode) OpenCaller(_ int, c *vfs.Cred, _ context.Context) (vfs.FileOps, error) {
	p, err := m.fs.alloc(c)
	if err != nil {
		return nil, err
	}
	return &Master{p: p}, nil
}

// ttyNode is /dev/tty: the opener's controlling terminal.
type ttyNode struct {
	fs  *FS
	ino uint64
}

func (t *ttyNode) Stat() (vfs.Stat, error) {
	st := t.fs.stat(t.ino, unix.S_IFCHR|0o666)
	st.Rdev = unix.Mkdev(ttyMajor, 0)
	return st, nil
}

func (t *ttyNode) Open(int) (vfs.FileOps, error) { return nil, unix.ENXIO }

// OpenCaller opens the caller's controlling terminal: ENXIO without one.
func (t *ttyNode) OpenCaller(_ int, _ *vfs.Cred, ctx context.Context) (vfs.FileOps, error) {
	if ctx == nil {
		return nil, unix.ENXIO
	}
	p, err := t.fs.controlling(ctx)
	if err != nil {
		return nil, err
	}
	return p.openSlave()
}

// Master is one open master (a ptmx open).
type Master struct {
	p    *Pty
	once sync.Once
}

// Slave is one open of the slave (/dev/pts/N, or /dev/tty naming it).
type Slave struct {
	p    *Pty
	once sync.Once
}

// Pty returns the end's pty.
func (m *Master) Pty() *Pty { return m.p }

// Pty returns the end's pty.
func (s *Slave) Pty() *Pty { return s.p }

func (m *Master) IsStream() bool { return true }
func (s *Slave) IsStream() bool  { return true }

func (m *Master) ReadAt(b []byte, _ int64) (int, error) {
	return m.p.readMaster(b, false, context.Background())
}
func (m *Master) WriteAt(b []byte, _ int64) (int, error) {
	return m.p.writeMaster(b, false, context.Background())
}
func (s *Slave) ReadAt(b []byte, _ int64) (int, error) {
	return s.p.readSlave(b, false, context.Background())
}
func (s *Slave) WriteAt(b []byte, _ int64) (int, error) {
	return s.p.writeSlave(b, false, context.Background())
}

// ReadCancel reads honouring O_NONBLOCK; a wait ends with ERESTARTSYS
// when ctx is done.
func (m *Master) ReadCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return m.p.readMaster(b, flags&unix.O_NONBLOCK != 0, ctx)
}

// WriteCancel writes input to the line discipline.
func (m *Master) WriteCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return m.p.writeMaster(b, flags&unix.O_NONBLOCK != 0, ctx)
}

// ReadCancel reads the slave's input.
func (s *Slave) ReadCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return s.p.readSlave(b, flags&unix.O_NONBLOCK != 0, ctx)
}

// WriteCancel writes the slave's output.
func (s *Slave) WriteCancel(b []byte, flags int, ctx context.Context) (int, error) {
	return s.p.writeSlave(b, flags&unix.O_NONBLOCK != 0, ctx)
}

func (m *Master) Readiness() int16 { return m.p.readiness(true) }
func (s *Slave) Readiness() int16  { return s.p.readiness(false) }

func (m *Master) Truncate(int64) error { return unix.EINVAL }
func (s *Slave) Truncate(int64) error  { return unix.EINVAL }
func (m *Master) Sync() error          { return unix.EINVAL }
func (s *Slave) Sync() error           { return unix.EINVAL }

// Close closes the master: a hangup of the slave.
func (m *Master) Close() error { m.once.Do(func() { m.p.release(true) }); return nil }

// Close closes this open of the slave.
func (s *Slave) Close() error { s.once.Do(func() { s.p.release(false) }); return nil }
