package image

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
)

func TestOpenRootfs(t *testing.T) {
	ft := useFakeTar(t)
	s := newStore(t)

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "hello"), []byte("hi"), 0o644)
	im, err := OpenRootfs(dir, Options{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Layers) != 1 || !im.Layers[0].ReadOnly() {
		t.Fatalf("rootfs dir: %d layers", len(im.Layers))
	}
	if _, ok := im.Layers[0].(*hostfs.FS); !ok {
		t.Errorf("rootfs dir layer is %T, want hostfs", im.Layers[0])
	}
	im.Close()

	plain := filepath.Join(t.TempDir(), "root.tar")
	os.WriteFile(plain, tarOf(t, base), 0o644)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(tarOf(t, top))
	zw.Close()
	gz := filepath.Join(t.TempDir(), "root.tar.gz")
	os.WriteFile(gz, zb.Bytes(), 0o644)

	for _, tc := range []struct {
		path  string
		files map[string]string
	}{{plain, base}, {gz, top}} {
		ft.reset()
		im, err := OpenRootfs(tc.path, Options{Store: s})
		if err != nil {
			t.Fatal(err)
		}
		im.Close()
		if len(ft.layers) != 1 || !reflect.DeepEqual(ft.layers[0].files, tc.files) {
			t.Fatalf("%s read as %v", tc.path, ft.layers)
		}
	}
	// The same file keeps its index key; a rewritten one gets another.
	key := func() string {
		ft.reset()
		im, err := OpenRootfs(plain, Options{Store: s})
		if err != nil {
			t.Fatal(err)
		}
		im.Close()
		return ft.layers[0].key
	}
	k1, k2 := key(), key()
	os.WriteFile(plain, tarOf(t, top), 0o644)
	if k3 := key(); k1 != k2 || k3 == k1 {
		t.Errorf("index keys %s %s then %s after a rewrite: want the same two, then another", k1, k2, k3)
	}

	for _, tc := range []struct{ path, err string }{
		{filepath.Join(t.TempDir(), "none"), "no such file or directory"},
		{"/dev/null", "not a directory or a tar file"},
	} {
		_, err := OpenRootfs(tc.path, Options{Store: s})
		checkErr(t, err, tc.err)
	}
	truncated := filepath.Join(t.TempDir(), "cut.tar.gz")
	os.WriteFile(truncated, zb.Bytes()[:zb.Len()/2], 0o644)
	_, err = OpenRootfs(truncated, Options{Store: s})
	checkErr(t, err, "--rootfs "+truncated+": truncated gzip stream")
}
