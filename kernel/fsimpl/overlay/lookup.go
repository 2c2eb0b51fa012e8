package overlay

import (
	"errors"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// found is what the layers hold under one name of a directory.
type found struct {
	upper vfs.Node // the upper entry (never a whiteout)
	// upperWhiteout: the upper holds a whiteout there.
	upperWhiteout bool
	lower         vfs.Node // the top lower entry
	layer         int
	dirs          []layerDir // lower directories to merge
	opaque        bool       // the upper directory is opaque
}

func (f *found) exists() bool { return f.upper != nil || f.lower != nil }

// isENOENT reports a missing entry (as opposed to a failing layer).
func isENOENT(err error) bool { return errors.Is(err, unix.ENOENT) }

// resolve looks name up in the layers of directory p; fs.mu held.
func (fs *FS) resolve(p *base, name string) (found, error) {
	var f found
	if pu, ok := p.upper().(vfs.DirNode); ok {
		u, err := pu.Lookup(name)
		switch {
		case err == nil && isWhiteout(u):
			f.upperWhiteout = true
			return f, nil // hides every layer
		case err == nil:
			f.upper = u
		case !isENOENT(err):
			return f, err
		}
	}
	if strings.HasPrefix(name, whPrefix) {
		return f, nil // the layers' whiteouts are not names
	}
	upperDir := false
	if f.upper != nil {
		_, upperDir = f.upper.(vfs.DirNode)
		f.opaque = upperDir && isOpaque(f.upper)
	}
	for _, ld := range p.dirs {
		n, err := ld.dir.Lookup(name)
		if err != nil {
			if !isENOENT(err) {
				return f, err
			}
			if lowerWhiteout(ld.dir, name) {
				break // hidden in the layers below
			}
			continue
		}
		if f.lower == nil {
			f.lower, f.layer = n, ld.layer
		}
		d, isDir := n.(vfs.DirNode)
		if !isDir || f.upper != nil && (!upperDir || f.opaque) {
			break // a non-directory ends the stack; so does an opaque upper
		}
		f.dirs = append(f.dirs, layerDir{layer: ld.layer, dir: d})
		if lowerOpaque(d) || lowerWhiteout(ld.dir, name) {
			// Opaque; or whited out and made again in this layer
			// (OCI: a layer's whiteout hides the layers below it, so
			// the directory holds only this layer's entries).
			break
		}
	}
	return f, nil
}

// child returns p's node for name, making it from the layers when none is
// live; ENOENT when no layer has it. fs.mu held.
func (fs *FS) child(p *base, name string) (*base, error) {
	if p.dead {
		return nil, unix.ENOENT
	}
	c := p.cached(name)
	if c == nil {
		f, err := fs.resolve(p, name)
		if err != nil {
			return nil, err
		}
		if !f.exists() {
			return nil, unix.ENOENT
		}
		if c, err = fs.newBase(&f); err != nil {
			return nil, err
		}
		fs.adopt(p, name, c)
		fs.coverDir(c)
	}
	if c.upper() == nil && c.kind == unix.S_IFREG && !fs.ro {
		if fs.indexed(c.ino) != nil {
			// Another link of a lower file copied up before: it is
			// that upper file now (linked in, as Linux's index).
			_ = fs.copyUp(c)
		}
	}
	return c, nil
}

// newBase makes the node for what resolve found.
func (fs *FS) newBase(f *found) (*base, error) {
	c := &base{fs: fs, lower: f.lower, layer: f.layer, dirs: f.dirs, whiteout: f.lower != nil || f.upperWhiteout}
	if f.upper != nil {
		c.setUpper(f.upper)
	}
	st, err := c.real().Stat()
	if err != nil {
		return nil, err
	}
	c.kind = st.Mode & unix.S_IFMT
	switch {
	case f.upper != nil:
		if o, ok := originOf(f.upper); ok {
			c.ino, c.origin = o, true
		} else {
			c.ino = tagIno(0, st.Ino)
		}
	default:
		c.ino, c.origin = tagIno(f.layer, st.Ino), true
	}
	return c, nil
}

// coverDir gives a new directory node its covering files; fs.mu held.
func (fs *FS) coverDir(c *base) {
	if len(fs.covers) == 0 || c.kind != unix.S_IFDIR {
		return
	}
	if files, ok := fs.covers[c.path()]; ok {
		c.covers = files
	}
}

// dirNode is a merged directory.
type dirNode struct{ *base }

// Lookup finds name: a covering file, the upper entry, or the top lower
// one, as the package comment says.
func (d dirNode) Lookup(name string) (vfs.Node, error) {
	if err := vfs.ValidName(name); err != nil {
		return nil, err
	}
	if n, ok := d.covers[name]; ok {
		return n, nil
	}
	fs := d.fs
	// A live node is found under the read lock, so that lookups of the
	// names the guest holds run side by side.
	fs.mu.RLock()
	if d.dead {
		fs.mu.RUnlock()
		return nil, unix.ENOENT
	}
	if c := d.cached(name); c != nil && !(c.upper() == nil && c.kind == unix.S_IFREG && fs.indexed(c.ino) != nil) {
		fs.mu.RUnlock()
		return c.node(), nil
	}
	fs.mu.RUnlock()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	c, err := fs.child(d.base, name)
	if err != nil {
		return nil, err
	}
	return c.node(), nil
}

// ReadDir lists the merged directory, sorted by name: each name once,
// whiteouts and whited-out names left out.
func (d dirNode) ReadDir() ([]vfs.DirEntry, error) {
	fs := d.fs
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if d.dead {
		return nil, nil
	}
	ents, err := fs.readDir(d.base)
	if err != nil {
		return nil, err
	}
	if len(d.covers) > 0 {
		kept := ents[:0]
		for _, e := range ents {
			if _, ok := d.covers[e.Name]; !ok {
				kept = append(kept, e)
			}
		}
		ents = kept
		for name, n := range d.covers {
			st, err := n.Stat()
			if err != nil {
				continue // a covering file that cannot say what it is
			}
			ents = append(ents, vfs.DirEntry{Name: name, Ino: st.Ino, Type: vfs.DTFromMode(st.Mode)})
		}
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name < ents[j].Name })
	return ents, nil
}

// readDir merges b's layers; fs.mu held.
func (fs *FS) readDir(b *base) ([]vfs.DirEntry, error) {
	var out []vfs.DirEntry
	seen := map[string]bool{}
	if u, ok := b.upper().(vfs.DirNode); ok {
		ents, err := u.ReadDir()
		if err != nil {
			return nil, err
		}
		for _, e := range ents {
			seen[e.Name] = true
			n, err := u.Lookup(e.Name)
			if err != nil {
				continue // gone meanwhile
			}
			if e.Type == unix.DT_LNK && isWhiteout(n) {
				continue
			}
			e.Ino = tagIno(0, e.Ino)
			if c := b.cached(e.Name); c != nil {
				e.Ino = c.ino
			} else if o, ok := originOf(n); ok {
				e.Ino = o
			}
			out = append(out, e)
		}
	}
	if b.upper() != nil && isOpaque(b.upper()) {
		return out, nil
	}
	var hidden []string
	for _, ld := range b.dirs {
		ents, err := ld.dir.ReadDir()
		if err != nil {
			return nil, err
		}
		hidden = hidden[:0]
		for _, e := range ents {
			if strings.HasPrefix(e.Name, whPrefix) {
				if e.Name != whOpaque {
					hidden = append(hidden, e.Name[len(whPrefix):])
				}
				continue
			}
			if seen[e.Name] {
				continue
			}
			seen[e.Name] = true
			e.Ino = tagIno(ld.layer, e.Ino)
			out = append(out, e)
		}
		for _, h := range hidden {
			seen[h] = true // for the layers below
		}
	}
	return out, nil
}

// empty reports whether the merged directory b lists nothing; fs.mu
// held.
func (fs *FS) empty(b *base) (bool, error) {
	ents, err := fs.readDir(b)
	return len(ents) == 0, err
}
