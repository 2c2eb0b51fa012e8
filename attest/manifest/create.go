package manifest

import (
	"bytes"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// Options are what Create lists.
type Options struct {
	// Roots are the guest directories (or files) to walk; none: "/".
	// A root reached through a symbolic link is walked at its target.
	Roots []string
	// Data are guest paths of verified data: a file, listed (as data
	// unless it is code), or a directory, whose every regular file is. A
	// data path that does not exist is an error.
	Data []string
	// Source is recorded in the manifest; Create fills in its Paths and
	// Data when they are empty.
	Source Source
	// Created is the manifest's time; zero: now.
	Created time.Time
	// Progress, if set, is called every progressEvery files and once at
	// the end (Done).
	Progress func(Progress)
	// Warn, if set, is told of every file or directory skipped (not
	// readable, a name that is not UTF-8, changed while read). A skipped
	// file is not in the manifest, so a verified run refuses it.
	Warn func(path string, err error)
}

// Progress is how far a Create walk is.
type Progress struct {
	Files   int    // regular files examined
	Listed  int    // entries so far
	Bytes   int64  // bytes hashed
	Skipped int    // files and directories skipped (see Options.Warn)
	Path    string // the file examined last
	Done    bool
}

const progressEvery = 1000

// Create lists the files of fs that may run: every regular file below
// opts.Roots that is an ELF executable or shared object (by its ELF
// header, whatever its mode), has an exec bit, or starts with "#!", and
// the files of opts.Data. It reads with fs's credentials (set one that
// can read the tree, such as the tree's root). Symbolic links are not
// entries: a link to a regular file lists its target (fs resolves it
// within its own root, so nothing outside the tree is reached), a link to
// a directory is not walked (the directory is listed where the walk
// finds it). Entries are keyed by canonical path. Unreadable files are
// skipped and reported to opts.Warn; a walk error of a root or data path
// itself is returned.
func Create(fs *vfs.VFS, opts Options) (*Manifest, error) {
	roots := opts.Roots
	if len(roots) == 0 {
		roots = []string{"/"}
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now()
	}
	src := opts.Source
	if len(src.Paths) == 0 {
		src.Paths = slices.Clone(roots)
	}
	if len(src.Data) == 0 {
		src.Data = slices.Clone(opts.Data)
	}
	w := &walker{
		fs:   fs,
		opts: opts,
		m: &Manifest{
			Version: Version,
			Created: created.UTC().Truncate(time.Second),
			Source:  src,
			Entries: make(map[string]Entry),
		},
		seen:   make(map[string]bool),
		walked: make(map[walkKey]bool),
	}
	for _, r := range roots {
		if err := w.root(r, false); err != nil {
			return nil, err
		}
	}
	for _, d := range opts.Data {
		if err := w.root(d, true); err != nil {
			return nil, fmt.Errorf("--data %s: %w", d, err)
		}
	}
	w.progress(true)
	if err := w.m.validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	return w.m, nil
}

type walker struct {
	fs   *vfs.VFS
	opts Options
	m    *Manifest
	// seen maps each canonical file path examined to whether it was
	// listed: a file reached twice (by a link, and as data) is read once
	// more only to list it as data.
	seen map[string]bool
	// walked holds the directories walked, with the data flag they were
	// walked with ("/usr/bin" and a root /bin that links to it are one).
	walked map[walkKey]bool
	p      Progress
}

type walkKey struct {
	dir  string
	data bool
}

func (w *walker) warn(p string, err error) {
	w.p.Skipped++
	if w.opts.Warn != nil {
		w.opts.Warn(p, err)
	}
}

func (w *walker) progress(done bool) {
	w.p.Listed, w.p.Done = len(w.m.Entries), done
	if w.opts.Progress != nil {
		w.opts.Progress(w.p)
	}
}

// root walks one root or data path.
func (w *walker) root(p string, data bool) error {
	if !strings.HasPrefix(p, "/") {
		return fmt.Errorf("%s: not an absolute guest path", p)
	}
	real, err := w.fs.Realpath(path.Clean(p))
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	st, err := w.fs.Stat(real, false)
	if err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	switch {
	case st.IsRegular():
		return w.file(real, data)
	case st.IsDir():
		return w.dir(real, data)
	}
	if data {
		return fmt.Errorf("%s: not a regular file or directory", p)
	}
	return nil // a device or socket as a root: nothing to list
}

// dir walks the tree below dir, depth first in name order.
func (w *walker) dir(top string, data bool) error {
	stack := []string{top}
	for len(stack) > 0 {
		dir := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k := walkKey{dir, data}
		if w.walked[k] {
			continue
		}
		w.walked[k] = true
		names, err := w.readDir(dir)
		if err != nil {
			if dir == top {
				return fmt.Errorf("%s: %w", dir, err)
			}
			w.warn(dir, err)
			continue
		}
		var subdirs []string
		for _, name := range names {
			child := path.Join(dir, name)
			if err := CheckPath(child); err != nil {
				w.warn(child, fmt.Errorf("cannot be listed: %w", err))
				continue
			}
			st, err := w.fs.Stat(child, false)
			if err != nil {
				w.warn(child, err)
				continue
			}
			switch {
			case st.IsDir():
				subdirs = append(subdirs, child)
			case st.IsRegular():
				if err := w.file(child, data); err != nil {
					return err
				}
			case st.IsSymlink():
				if err := w.link(child, data); err != nil {
					return err
				}
			}
		}
		// Pushed in reverse, so they are walked in name order.
		for i := len(subdirs) - 1; i >= 0; i-- {
			stack = append(stack, subdirs[i])
		}
	}
	return nil
}

func (w *walker) readDir(dir string) ([]string, error) {
	f, err := w.fs.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.DecRef()
	ents, err := f.Getdents(0)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Name != "." && e.Name != ".." {
			names = append(names, e.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// link lists the regular file a symbolic link leads to, if it does.
// Dangling links and loops are not files: nothing to list.
func (w *walker) link(p string, data bool) error {
	real, err := w.fs.Realpath(p)
	if err != nil {
		return nil
	}
	st, err := w.fs.Stat(real, false)
	if err != nil || !st.IsRegular() {
		return nil
	}
	return w.file(real, data)
}

// file examines the regular file at canonical path p and lists it if it
// is code, or data.
func (w *walker) file(p string, data bool) error {
	if listed, ok := w.seen[p]; ok && (listed || !data) {
		return nil
	}
	w.p.Files++
	w.p.Path = p
	if w.p.Files%progressEvery == 0 {
		w.progress(false)
	}
	e, listed, err := w.examine(p, data)
	w.seen[p] = listed
	if err != nil {
		w.warn(p, err)
		return nil
	}
	if !listed {
		return nil
	}
	if len(w.m.Entries) >= MaxEntries {
		return fmt.Errorf("more than %d files to list", MaxEntries)
	}
	w.m.Entries[p] = e
	return nil
}

func (w *walker) examine(p string, data bool) (Entry, bool, error) {
	// O_NONBLOCK: should the file become a FIFO after its stat, the open
	// must not wait for a writer.
	f, err := w.fs.Open(p, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return Entry{}, false, err
	}
	defer f.DecRef()
	st, err := f.Stat()
	if err != nil {
		return Entry{}, false, err
	}
	if !st.IsRegular() {
		return Entry{}, false, errors.New("no longer a regular file")
	}
	kind, err := classify(readerAt{f}, st.Size, st.Mode, path.Base(p))
	if err != nil {
		return Entry{}, false, err
	}
	if kind == "" {
		if !data {
			return Entry{}, false, nil
		}
		kind = KindData
	}
	sum, size, err := HashFile(f)
	if err != nil {
		return Entry{}, false, err
	}
	w.p.Bytes += size
	if after, err := f.Stat(); err != nil || after.Size != size || after.Mtime != st.Mtime {
		return Entry{}, false, errors.New("changed while it was read")
	}
	return Entry{SHA256: sum, Size: size, Kind: kind}, true, nil
}

// classify says what kind of code a file is from its content, its mode
// and its base name: "" for a file that is not code.
//
//   - An ELF file (debug/elf reads its header) of type ET_EXEC is an
//     executable. One of type ET_DYN is a library when named *.so or
//     *.so.* (libc.so.6 and ld.so have an interpreter and are
//     libraries), an executable when it has an interpreter (a PIE) or an
//     exec bit (a static PIE), else a library. An ELF file of another
//     type (an object file, a core) is code only by the exec-bit rule; a
//     file with ELF's magic that debug/elf cannot read is a library: the
//     loader may still map it, so it is listed.
//   - A file starting "#!" is a script.
//   - Any other file with an exec bit is an executable (a shell runs it
//     as a script when execve fails; either way it is code).
func classify(r io.ReaderAt, size int64, mode uint32, name string) (Kind, error) {
	execBit := mode&0o111 != 0
	head := make([]byte, 4)
	n, err := r.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	head = head[:n]
	if string(head) == elf.ELFMAG {
		if k := elfKind(r, size, execBit, name); k != "" {
			return k, nil
		}
	}
	if bytes.HasPrefix(head, []byte("#!")) {
		return KindScript, nil
	}
	if execBit {
		return KindExecutable, nil
	}
	return "", nil
}

func elfKind(r io.ReaderAt, size int64, execBit bool, name string) Kind {
	ef, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		return KindLibrary
	}
	defer ef.Close()
	switch ef.Type {
	case elf.ET_EXEC:
		return KindExecutable
	case elf.ET_DYN:
		if sharedName(name) {
			return KindLibrary
		}
		for _, p := range ef.Progs {
			if p.Type == elf.PT_INTERP {
				return KindExecutable
			}
		}
		if execBit {
			return KindExecutable
		}
		return KindLibrary
	}
	return ""
}

// sharedName reports whether name is a shared library's: *.so or *.so.*.
func sharedName(name string) bool {
	return strings.HasSuffix(name, ".so") || strings.Contains(name, ".so.")
}

// readerAt reads a vfs.File with Pread, as io.ReaderAt wants: a short
// read ends with io.EOF.
type readerAt struct{ f *vfs.File }

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := r.f.Pread(p[n:], off+int64(n))
		n += m
		if err != nil && !errors.Is(err, io.EOF) {
			return n, err
		}
		if m == 0 || err != nil {
			return n, io.EOF
		}
	}
	return n, nil
}
