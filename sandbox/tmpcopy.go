package sandbox

import (
	"errors"
	"fmt"
	"io"
	"path"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// Tmpfs.CopyUp (podman's tmpcopyup): a tmpfs over a directory of the image
// starts with a copy of what the directory held (a /run with its
// subdirectories, a /var/tmp), as the engines' runtimes do, instead of
// empty. The copy is made once, before the guest runs, into the new memfs
// and within its limits (ENOSPC fails New); directories, regular files and
// symbolic links are copied with their modes and owners, anything else
// (device nodes, FIFOs, sockets) is left out, as a tmpfs copy-up of
// special files would give the guest nothing of the image's anyway.

// maxCopyDepth bounds the directories the copy descends: the image is the
// operator's choice, but a pathological one must not exhaust the stack.
const maxCopyDepth = 64

// copyInto copies the directory src of fs (if it exists) into the root of
// mfs.
func copyInto(fs *vfs.VFS, src string, mfs *memfs.FS) error {
	st, err := fs.Stat(src, true)
	if errors.Is(err, unix.ENOENT) {
		return nil // nothing to copy: the tmpfs starts empty
	}
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%s: %w", src, unix.ENOTDIR)
	}
	dst := vfs.New(mfs)
	dst.SetCred(cred.New(0, 0, nil)) // the sandbox copies as the image's root
	return copyDir(fs, src, dst, "/", 0)
}

func copyDir(fs *vfs.VFS, src string, dst *vfs.VFS, to string, depth int) error {
	if depth > maxCopyDepth {
		return fmt.Errorf("%s: deeper than %d directories", src, maxCopyDepth)
	}
	d, err := fs.Open(src, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	var ents []vfs.DirEntry
	for {
		batch, err := d.Getdents(256)
		if err != nil {
			d.DecRef()
			return err
		}
		if len(batch) == 0 {
			break
		}
		ents = append(ents, batch...)
	}
	d.DecRef()
	for _, e := range ents {
		if e.Name == "." || e.Name == ".." {
			continue
		}
		from, into := path.Join(src, e.Name), path.Join(to, e.Name)
		st, err := fs.Stat(from, false)
		if err != nil {
			return err
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := dst.Mkdir(into, st.Mode&0o7777); err != nil {
				return err
			}
			if err := copyDir(fs, from, dst, into, depth+1); err != nil {
				return err
			}
		case unix.S_IFLNK:
			target, err := fs.Readlink(from)
			if err != nil {
				return err
			}
			if err := dst.Symlink(target, into); err != nil {
				return err
			}
		case unix.S_IFREG:
			if err := copyFile(fs, from, dst, into, st.Mode&0o7777); err != nil {
				return err
			}
		default:
			continue
		}
		if err := dst.ChownAt(vfs.Loc{}, into, st.Uid, st.Gid, false); err != nil {
			return fmt.Errorf("%s: chown: %w", into, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			// Again after the chown, which clears set-id bits.
			if err := dst.Chmod(into, st.Mode&0o7777, false); err != nil {
				return fmt.Errorf("%s: chmod: %w", into, err)
			}
		}
	}
	return nil
}

func copyFile(fs *vfs.VFS, from string, dst *vfs.VFS, into string, mode uint32) error {
	in, err := fs.Open(from, unix.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.DecRef()
	out, err := dst.Open(into, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, mode)
	if err != nil {
		return err
	}
	defer out.DecRef()
	buf := make([]byte, 64<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 {
			if _, werr := out.Write(buf[:n]); werr != nil {
				return fmt.Errorf("%s: %w", into, werr)
			}
		}
		if n == 0 || errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
