package cover

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestCover(t *testing.T) {
	inner := memfs.New(0)
	for _, name := range []string{"hosts", "passwd"} {
		if _, err := inner.Root().Create(name, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	content := "127.0.0.1\tlocalhost\n"
	fs := New(inner, map[string]func() ([]byte, error){
		"hosts":    func() ([]byte, error) { return []byte(content), nil },
		"hostname": func() ([]byte, error) { return []byte("box\n"), nil },
	})
	v := vfs.New(fs)

	st, err := v.Stat("/hosts", true)
	if err != nil || st.Size != int64(len(content)) || st.Mode != unix.S_IFREG|0o644 || st.Uid != 0 {
		t.Fatalf("stat: %+v %v", st, err)
	}
	f, err := v.Open("/hosts", unix.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, _ := f.Read(buf)
	if string(buf[:n]) != content {
		t.Errorf("read %q", buf[:n])
	}
	content = "changed\n" // a snapshot per open: the open file keeps its
	if n, _ := f.Read(buf); n != 0 {
		t.Errorf("read past the snapshot: %d", n)
	}
	f.DecRef()
	if _, err := fs.Root().(*dir).files["hosts"].Open(unix.O_WRONLY); err != unix.EROFS {
		t.Errorf("open for writing: %v", err)
	}
	if err := fs.Root().Unlink("hosts"); err != unix.EROFS {
		t.Errorf("unlink: %v", err)
	}
	if _, err := fs.Root().Lookup("passwd"); err != nil {
		t.Errorf("an uncovered name: %v", err)
	}
	ents, err := fs.Root().ReadDir()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"hostname", "hosts", "passwd"}) {
		t.Errorf("listing %v: each name once, the covering ones added", names)
	}
	if fs.Name() != inner.Name() || fs.ReadOnly() != inner.ReadOnly() {
		t.Errorf("the file system is not shown as the inner one")
	}
}
