package sandbox

import (
	"fmt"
	"log/slog"
	"path"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// This file holds what an OCI bundle's config.json asks of a sandbox
// beyond the CLI's flags (package oci/spec translates the spec into these):
// tmpfs mounts, guest resource limits, the guest's capability sets, and the
// record of the settings litebox did not apply.

// Tmpfs makes a Mount a new in-memory file system (a tmpfs) at GuestPath
// instead of a host directory: empty (unless CopyUp), private to the
// sandbox, gone with it.
type Tmpfs struct {
	// Size caps its bytes, data and metadata (size=); 0 shares the limits
	// of /tmp (TmpSize), as the root's memfs does.
	Size int64
	// Mode is its root directory's permission bits (mode=); 0 means 01777,
	// Linux's default for a tmpfs.
	Mode uint32
	// ReadOnly makes it read-only (ro): empty for good, or as CopyUp
	// made it.
	ReadOnly bool
	// CopyUp starts it with a copy of the directory it is mounted over
	// (podman's tmpcopyup; see tmpcopy.go).
	CopyUp bool
}

// Rlimit is one guest resource limit (setrlimit(2)'s resource and values,
// unix.RLIM_INFINITY for none). It is the guest's only: litebox's kernel
// applies it to the command's first process, and the host's limits of
// litebox itself never change.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
}

// Caps are the capability sets of a command's first process, as the guest
// sees and the kernel checks them (capget, /proc/PID/status, the kernel's
// own permission checks): never host capabilities.
type Caps struct {
	Bounding, Effective, Permitted, Inheritable, Ambient cred.CapSet
}

// Unapplied is a setting of the sandbox's description that litebox did not
// apply (an OCI spec's seccomp profile, an AppArmor profile, a sysfs mount):
// New records each in the audit log as an unapplied_setting event and logs
// it, so that nothing asked for is silently ignored.
type Unapplied struct {
	Field  string // where it was, e.g. "linux.seccomp", "mounts[5]"
	Value  string // what it asked for, short
	Reason string // what litebox does instead
}

// reportUnapplied records cfg.Unapplied once the sandbox's audit log
// exists.
func (s *Sandbox) reportUnapplied() {
	for _, u := range s.cfg.Unapplied {
		s.log.Warn("setting not applied", "field", u.Field, "value", u.Value, "reason", u.Reason)
		s.kernel.AuditEvent("unapplied_setting", slog.String("field", u.Field),
			slog.String("value", u.Value), slog.String("reason", u.Reason))
	}
}

// maxTmpfsMode is what a tmpfs's mode= may hold: permission, sticky,
// set-id bits.
const maxTmpfsMode = 0o7777

// mountTmpfs mounts a new memfs at m.GuestPath. A sized one has its own
// limits; an unsized one shares /tmp's, so that the sandbox's stored bytes
// stay bounded by TmpSize either way.
func mountTmpfs(fs *vfs.VFS, tmp *memfs.FS, m Mount) error {
	t := m.Tmpfs
	if t.Mode > maxTmpfsMode {
		return fmt.Errorf("tmpfs at %s: mode %#o out of range", m.GuestPath, t.Mode)
	}
	var mfs *memfs.FS
	if t.Size > 0 {
		mfs = memfs.New(t.Size)
	} else {
		mfs = memfs.Sharing(tmp)
	}
	guest := path.Clean(m.GuestPath)
	mode := t.Mode
	if t.CopyUp {
		if err := copyInto(fs, guest, mfs); err != nil {
			return fmt.Errorf("tmpfs at %s: copying the directory up: %w", guest, err)
		}
		// The copy keeps the directory's own mode too, unless mode= says.
		if st, err := fs.Stat(guest, true); err == nil && mode == 0 {
			mode = st.Mode & maxTmpfsMode
		}
	}
	var root vfs.FileSystem = mfs
	if t.ReadOnly || m.NoExec {
		root = tmpfsView{FS: mfs, ro: t.ReadOnly, noExec: m.NoExec}
	}
	if err := mountAt(fs, guest, root); err != nil {
		return fmt.Errorf("tmpfs at %s: %w", guest, err)
	}
	if mode == 0 {
		mode = 0o1777
	}
	if t.ReadOnly {
		// The mode of an empty read-only tmpfs is set on its memfs
		// directly: the mount refuses chmod.
		if sa, ok := mfs.Root().(vfs.SetAttrer); ok {
			return sa.Chmod(mode)
		}
		return nil
	}
	if err := fs.Chmod(guest, mode, true); err != nil {
		return fmt.Errorf("tmpfs at %s: chmod: %w", guest, err)
	}
	return nil
}

// tmpfsView is a tmpfs mounted read-only (the VFS refuses every change,
// EROFS, before it calls a node) or noexec (vfs.NoExecer). It embeds the
// memfs itself, so that every optional interface of it stays visible.
type tmpfsView struct {
	*memfs.FS
	ro, noExec bool
}

func (v tmpfsView) ReadOnly() bool { return v.ro }
func (v tmpfsView) NoExec() bool   { return v.noExec }

// noExecHost is a host directory mounted noexec.
type noExecHost struct{ *hostfs.FS }

func (noExecHost) NoExec() bool { return true }

// creds are the credentials of the command's first process: its own user
// and capability sets, else the sandbox's (nil: the kernel's initial ones).
func (c *Cmd) creds() *cred.Creds {
	if c.User == nil && c.Capabilities == nil {
		return nil
	}
	u := c.sb.cfg.user()
	if c.User != nil {
		u = *c.User
	}
	cr := cred.New(u.UID, u.GID, u.Groups)
	if k := c.Capabilities; k != nil {
		cr = cr.WithCaps(k.Bounding, k.Effective, k.Permitted, k.Inheritable, k.Ambient)
	}
	return cr
}

// setup applies the command's umask and rlimits to its first process,
// before it runs.
func (c *Cmd) setup(p *kernel.Process) error {
	if c.Umask != nil {
		if *c.Umask > 0o777 {
			return fmt.Errorf("umask %#o out of range", *c.Umask)
		}
		p.Umask(*c.Umask)
	}
	for _, r := range c.Rlimits {
		if err := p.SetupRlimit(r.Resource, unix.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			return fmt.Errorf("rlimit %d (soft %d, hard %d): %w", r.Resource, r.Soft, r.Hard, err)
		}
	}
	return nil
}

// MountLabel names one of litebox's own mounts (/proc, /dev, /dev/pts,
// /dev/shm, /tmp) or a tmpfs Mount in the guest's mount table
// (/proc/self/mounts, mountinfo) the way a container's config asked for
// it, where litebox serves that kind there: an OCI config's tmpfs at /dev
// (litebox's devfs, read-only as the table says), its "shm" source for
// /dev/shm.
type MountLabel struct {
	GuestPath string
	// Type is the file-system type shown; "" keeps litebox's.
	Type string
	// Source is the source field shown; "" keeps litebox's (the type).
	// It must not name a path (no "/"): the table never names a host one.
	Source string
}

// maxLabel bounds a label's type and source, as Linux's mount(2) bounds
// its strings by a page.
const maxLabel = 255

// labelMounts applies labels to the mounts just made.
func labelMounts(fs *vfs.VFS, labels []MountLabel) error {
	for _, l := range labels {
		for _, v := range []string{l.Type, l.Source} {
			if len(v) > maxLabel || strings.ContainsAny(v, "/\x00") {
				return fmt.Errorf("mount label %q for %s: at most %d bytes, no / or NUL", v, l.GuestPath, maxLabel)
			}
		}
		if err := fs.SetLabel(path.Clean(l.GuestPath), l.Type, l.Source); err != nil {
			return fmt.Errorf("mount label for %s: %w", l.GuestPath, err)
		}
	}
	return nil
}
