package kernel

import (
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// dnotify (fcntl F_NOTIFY) on the inotify machinery: a registration is a
// vfs.Watcher on the directory's inode that sends SIGIO (no F_SETSIG: the
// default signal) to the process that registered, once, or on every change
// with DN_MULTISHOT. As on Linux, registrations on one open directory
// accumulate, and go when it is closed.

// The DN_* bits of fcntl(F_NOTIFY) (linux/fcntl.h).
const (
	dnAccess    = 0x1
	dnModify    = 0x2
	dnCreate    = 0x4
	dnDelete    = 0x8
	dnRename    = 0x10
	dnAttrib    = 0x20
	dnMultishot = 0x80000000
)

// DnotifyCost is charged per registered open directory.
const DnotifyCost = 256

type dnotify struct {
	p    *Process
	key  vfs.WatchKey
	mask atomic.Uint32 // IN_* events
	// multishot is read under the registry's lock (Notify) and set by
	// fcntl under mu.
	multishot atomic.Bool
	cancel    func()
	// sending coalesces SIGIOs in flight: a standard signal pends once.
	sending atomic.Bool
	// dead: the registration left its inode (one-shot, or the directory
	// died); a new F_NOTIFY makes a new one.
	dead atomic.Bool
}

// dnotifyEvents maps DN_* bits to the inotify events they stand for
// (Linux's convert_arg).
func dnotifyEvents(arg uint32) uint32 {
	var m uint32
	if arg&dnDelete != 0 {
		m |= unix.IN_DELETE | unix.IN_MOVED_FROM
	}
	if arg&dnModify != 0 {
		m |= unix.IN_MODIFY
	}
	if arg&dnAccess != 0 {
		m |= unix.IN_ACCESS
	}
	if arg&dnAttrib != 0 {
		m |= unix.IN_ATTRIB
	}
	if arg&dnRename != 0 {
		m |= unix.IN_MOVED_FROM | unix.IN_MOVED_TO
	}
	if arg&dnCreate != 0 {
		m |= unix.IN_CREATE | unix.IN_MOVED_TO
	}
	return m
}

// dnotifyTable holds the registrations by open directory.
type dnotifyTable struct {
	mu  sync.Mutex
	reg map[*vfs.File]*dnotify
}

// fcntlNotify implements F_NOTIFY: arg without any DN_ event removes the
// file's registration; otherwise the file must be a directory (ENOTDIR)
// and its events are added.
func (p *Process) fcntlNotify(f *vfs.File, arg uint32) (int, error) {
	t := &p.k.dnotify
	if arg&^dnMultishot == 0 {
		t.mu.Lock()
		dn := t.reg[f]
		delete(t.reg, f)
		t.mu.Unlock()
		if dn != nil {
			dn.remove(f)
		}
		return 0, nil
	}
	st, err := f.Stat()
	if err != nil {
		return -1, err
	}
	if !st.IsDir() || f.Dentry() == nil {
		return -1, unix.ENOTDIR
	}
	t.mu.Lock()
	if dn := t.reg[f]; dn != nil && !dn.dead.Load() {
		dn.mask.Or(dnotifyEvents(arg))
		if arg&dnMultishot != 0 {
			dn.multishot.Store(true)
		}
		t.mu.Unlock()
		return 0, nil
	} else if dn != nil {
		delete(t.reg, f)
		dn.cancel()
	}
	if err := p.k.charge(DnotifyCost); err != nil {
		t.mu.Unlock()
		return -1, err
	}
	dn := &dnotify{p: p, key: vfs.KeyOf(&st)}
	dn.mask.Store(dnotifyEvents(arg))
	dn.multishot.Store(arg&dnMultishot != 0)
	cancel, ok := f.WatchRelease(func() {
		t.mu.Lock()
		if t.reg[f] == dn {
			delete(t.reg, f)
		}
		t.mu.Unlock()
		dn.remove(f)
	})
	if !ok {
		t.mu.Unlock()
		p.k.uncharge(DnotifyCost)
		return -1, unix.EBADF
	}
	dn.cancel = cancel
	if t.reg == nil {
		t.reg = map[*vfs.File]*dnotify{}
	}
	t.reg[f] = dn
	t.mu.Unlock()
	// After t.mu: the registry's lock comes first when Notify runs.
	p.k.cfg.FS.AddWatch(dn.key, dn)
	return 0, nil
}

// remove takes the registration off its inode and gives back its cost.
func (dn *dnotify) remove(*vfs.File) {
	if dn.p.k.cfg.FS.RemoveWatch(dn.key, dn) {
		dn.p.k.uncharge(DnotifyCost)
	}
	if dn.cancel != nil {
		dn.cancel()
	}
}

// Notify sends SIGIO for an event the registration asked for. The signal
// goes from a goroutine: the VFS delivers events with its locks held, and
// sending a signal takes the process's. A one-shot registration is done.
func (dn *dnotify) Notify(e vfs.Event) bool {
	if e.Mask&dn.mask.Load() == 0 {
		return false
	}
	if !dn.sending.Swap(true) {
		go func() {
			dn.sending.Store(false)
			_ = dn.p.SendSignal(SigInfo{Signo: unix.SIGIO, Code: SIKernel})
		}()
	}
	return !dn.multishot.Load()
}

// Ignored: the registration left its inode (one-shot, or the directory
// was removed); its cost goes back.
func (dn *dnotify) Ignored() {
	dn.dead.Store(true)
	dn.p.k.uncharge(DnotifyCost)
}
