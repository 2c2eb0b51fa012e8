package overlay

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestAgainstModel applies random changes to an overlay and to a plain
// memfs holding the same merged tree (the layers unpacked), and checks
// that both answer each change alike and end as the same tree: names,
// types, modes, sizes, contents, link targets, link counts of files and
// which names share an inode. Renames of directories the run did not make
// are left out (the overlay refuses those of image directories with
// EXDEV, by design).
func TestAgainstModel(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runModel(t, seed) })
	}
}

var modelNames = []string{"a", "b", "c", "d/a", "d/b", "d/e/a", "e/a", "e/b", "f", "d/e", "g", "d/g"}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	bottom := layer(t, "a=bottom a", "d/a=da", "d/e/a=dea", "e/a=ea", "e/b=eb", "f=f", "g=g")
	must(t, "lower link", vfs.New(bottom).Link("/g", "/d/g", false))
	top := layer(t, "b=top b", "d/b=db", "d/.wh.a=", "e/.wh..wh..opq=", "e/b=top eb", ".wh.f=")
	model := memfs.New(0)
	mv := vfs.New(model)
	for _, s := range []string{"/a", "/b", "/d", "/d/b", "/d/e", "/d/e/a", "/e", "/e/b"} {
		switch s {
		case "/d", "/d/e", "/e":
			must(t, "mkdir", mv.Mkdir(s, 0o755))
		default:
			text := map[string]string{"/a": "bottom a", "/b": "top b", "/d/b": "db", "/d/e/a": "dea", "/e/b": "top eb"}[s]
			writeFile(t, mv, s, text)
		}
	}
	writeFile(t, mv, "/g", "g")
	must(t, "model link", mv.Link("/g", "/d/g", false))
	_, ov := stack(t, Options{}, top, bottom)
	check := func(step string) {
		t.Helper()
		a, b := dump(t, ov), dump(t, mv)
		if a != b {
			t.Fatalf("seed %d after %s:\noverlay:\n%s\nmodel:\n%s", seed, step, a, b)
		}
	}
	check("start")
	made := map[string]bool{} // directories this run made: the overlay may rename those
	for i := range 80 {
		p := "/" + modelNames[rng.IntN(len(modelNames))]
		q := "/" + modelNames[rng.IntN(len(modelNames))]
		var step string
		var op func(v *vfs.VFS) error
		switch rng.IntN(10) {
		case 0:
			step, op = "write "+p, func(v *vfs.VFS) error { return tryWrite(v, p, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC, "w"+p) }
		case 1:
			step, op = "append "+p, func(v *vfs.VFS) error { return tryWrite(v, p, unix.O_WRONLY|unix.O_APPEND, "+") }
		case 2:
			step, op = "unlink "+p, func(v *vfs.VFS) error { return v.Unlink(p) }
		case 3:
			step, op = "mkdir "+p, func(v *vfs.VFS) error {
				err := v.Mkdir(p, 0o755)
				if err == nil && v == mv {
					made[p] = true
				}
				return err
			}
		case 4:
			step, op = "rmdir "+p, func(v *vfs.VFS) error { return v.Rmdir(p) }
		case 5:
			step = "rename " + p + " " + q
			op = func(v *vfs.VFS) error {
				if st, err := v.Stat(p, false); err == nil && st.IsDir() && !made[p] {
					return nil // see the test's comment
				}
				err := v.Rename(p, q)
				if err == nil && v == mv && made[p] {
					for d := range made {
						if d == p || strings.HasPrefix(d, p+"/") || d == q || strings.HasPrefix(d, q+"/") {
							delete(made, d)
						}
					}
					made[q] = true
				}
				return err
			}
		case 6:
			step, op = "link "+p+" "+q, func(v *vfs.VFS) error { return v.Link(p, q, false) }
		case 7:
			step, op = "symlink "+q, func(v *vfs.VFS) error { return v.Symlink("target"+p, q) }
		case 8:
			step, op = "chmod "+p, func(v *vfs.VFS) error { return v.Chmod(p, 0o750, false) }
		case 9:
			step, op = "truncate "+p, func(v *vfs.VFS) error { return v.Truncate(p, 3) }
		}
		step = fmt.Sprintf("step %d: %s", i, step)
		e1 := op(ov)
		e2 := op(mv) // last: it updates made
		if vfs.ErrnoOf(e1) != vfs.ErrnoOf(e2) {
			t.Fatalf("seed %d %s: overlay %v, model %v", seed, step, e1, e2)
		}
		check(step)
	}
}

func tryWrite(v *vfs.VFS, p string, flags int, text string) error {
	f, err := v.Open(p, flags, 0o644)
	if err != nil {
		return err
	}
	defer f.DecRef()
	_, err = f.Write([]byte(text))
	return err
}

// dump describes the tree of v: one line per name, and the groups of
// names sharing an inode.
func dump(t *testing.T, v *vfs.VFS) string {
	var lines []string
	inos := map[uint64][]string{}
	var walk func(dir string)
	walk = func(dir string) {
		f, err := v.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY, 0)
		must(t, "opendir "+dir, err)
		ents, err := f.Getdents(1 << 20)
		f.DecRef()
		must(t, "getdents", err)
		for _, e := range ents {
			if e.Name == "." || e.Name == ".." {
				continue
			}
			p := strings.TrimSuffix(dir, "/") + "/" + e.Name
			st, err := v.Stat(p, false)
			must(t, "stat "+p, err)
			line := fmt.Sprintf("%s %o", p, st.Mode)
			switch {
			case st.IsDir():
				lines = append(lines, line)
				walk(p)
				continue
			case st.IsSymlink():
				target, _ := v.Readlink(p)
				line += " -> " + target
			default:
				line += fmt.Sprintf(" nlink=%d %q", st.Nlink, mustRead(t, v, p))
			}
			inos[st.Ino] = append(inos[st.Ino], p)
			lines = append(lines, line)
		}
	}
	walk("/")
	for _, names := range inos {
		if len(names) > 1 {
			sort.Strings(names)
			lines = append(lines, "same: "+strings.Join(names, " "))
		}
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
