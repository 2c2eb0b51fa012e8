package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

func TestOpenArchiveGGCR(t *testing.T) {
	ft := useFakeTar(t)
	one := testImage(t, "amd64", v1.Config{Cmd: []string{"one"}}, gzLayer(t, base), rawLayer(t, top))
	two := testImage(t, "amd64", v1.Config{Cmd: []string{"two"}}, gzLayer(t, top))
	file := filepath.Join(t.TempDir(), "img.tar")
	refs := map[name.Reference]v1.Image{}
	for tag, im := range map[string]v1.Image{"example.com/one:1": one, "debian:12": two} {
		r, err := name.NewTag(tag)
		if err != nil {
			t.Fatal(err)
		}
		refs[r] = im
	}
	if err := tarball.MultiRefWriteToFile(file, refs); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	for _, tc := range []struct {
		ref, cmd, err string
		layers        int
	}{
		{ref: "docker-archive:" + file + ":example.com/one:1", cmd: "one", layers: 2},
		{ref: "docker-archive:" + file + ":debian:12", cmd: "two", layers: 1},
		{ref: "docker-archive:" + file + ":docker.io/library/debian:12", cmd: "two", layers: 1},
		{ref: "docker-archive:" + file, err: "holds 2 images: give one"},
		{ref: "docker-archive:" + file + ":nope", err: `no image tagged "nope"`},
		{ref: "docker-archive:" + filepath.Join(t.TempDir(), "missing.tar"), err: "no such file or directory"},
		{ref: "docker-archive:" + t.TempDir(), err: "not a regular file"},
	} {
		t.Run(tc.ref, func(t *testing.T) {
			ft.reset()
			im, err := openRef(t, s, tc.ref)
			if tc.err != "" {
				checkErr(t, err, tc.err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if got := strings.Join(im.Config.Cmd, " "); got != tc.cmd || len(ft.layers) != tc.layers {
				t.Errorf("Cmd %q, %d layers; want %q, %d", got, len(ft.layers), tc.cmd, tc.layers)
			}
		})
	}
}

// dockerSave writes an archive as `docker save` (legacy format) does:
// manifest.json, HEX.json config, ID/layer.tar uncompressed layers, a
// repeated layer as a symlink to the first copy.
type savedLayer struct {
	id   string
	tar  []byte
	link string // a symlink to this other layer's layer.tar instead
}

func dockerSave(t *testing.T, cfg []byte, layers []savedLayer, mutateTar func(name string, b []byte) []byte) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(name string, b []byte) {
		if mutateTar != nil {
			b = mutateTar(name, b)
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	sum := sha256.Sum256(cfg)
	cfgName := hex.EncodeToString(sum[:]) + ".json"
	add(cfgName, cfg)
	var names []string
	for _, l := range layers {
		tw.WriteHeader(&tar.Header{Name: l.id + "/", Mode: 0o755, Typeflag: tar.TypeDir})
		nm := l.id + "/layer.tar"
		names = append(names, nm)
		if l.link != "" {
			tw.WriteHeader(&tar.Header{Name: nm, Typeflag: tar.TypeSymlink, Linkname: "../" + l.link + "/layer.tar"})
			continue
		}
		add(nm, l.tar)
	}
	m, _ := json.Marshal([]map[string]any{{"Config": cfgName, "RepoTags": []string{"test:latest"}, "Layers": names}})
	add("manifest.json", m)
	tw.Close()
	file := filepath.Join(t.TempDir(), "saved.tar")
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

func diffIDOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func TestOpenArchiveDockerSave(t *testing.T) {
	ft := useFakeTar(t)
	l1, l2 := tarOf(t, base), tarOf(t, top)
	cfgOf := func(arch string, diffs ...[]byte) []byte {
		var ids []string
		for _, d := range diffs {
			ids = append(ids, diffIDOf(d))
		}
		b, _ := json.Marshal(map[string]any{"os": "linux", "architecture": arch,
			"config": map[string]any{"Cmd": []string{"/bin/sh"}, "User": "1000"},
			"rootfs": map[string]any{"type": "layers", "diff_ids": ids}})
		return b
	}
	good := cfgOf("amd64", l1, l2, l1)
	layers := []savedLayer{{id: "a", tar: l1}, {id: "b", tar: l2}, {id: "c", link: "a"}}

	t.Run("read in place", func(t *testing.T) {
		s := newStore(t)
		file := dockerSave(t, good, layers, nil)
		im, err := openRef(t, s, "docker-archive:"+file+":test")
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		if len(ft.layers) != 3 || !reflect.DeepEqual(ft.layers[0].files, base) || !reflect.DeepEqual(ft.layers[1].files, top) ||
			!reflect.DeepEqual(ft.layers[2].files, base) {
			t.Fatalf("layers read: %v", ft.layers)
		}
		if im.Config.User != "1000" {
			t.Errorf("config %+v", im.Config)
		}
		if ents, _ := os.ReadDir(s.LayerCache()); len(ents) != 0 {
			t.Errorf("uncompressed archive layers were copied to the cache (%d files)", len(ents))
		}
	})
	flipIn := func(member string) func(string, []byte) []byte {
		return func(nm string, b []byte) []byte {
			if nm == member {
				b = append([]byte(nil), b...)
				b[len(b)/2] ^= 1
			}
			return b
		}
	}
	for _, tc := range []struct {
		name   string
		cfg    []byte
		layers []savedLayer
		spoil  func(string, []byte) []byte
		err    string
	}{
		{"layer flipped", good, layers, flipIn("b/layer.tar"), "layer 2 of 3 (" + diffIDOf(l2) + "): digest mismatch"},
		{"config flipped", good, layers, func(nm string, b []byte) []byte {
			if strings.HasSuffix(nm, ".json") && nm != "manifest.json" {
				return bytes.Replace(b, []byte("/bin/sh"), []byte("/bin/xx"), 1)
			}
			return b
		}, "config sha256:"},
		{"missing layer", good, layers[:2], nil, "config sha256:"},
		{"link to nowhere", good, []savedLayer{layers[0], layers[1], {id: "c", link: "zz"}}, nil, "layer 3 of 3 (" + diffIDOf(l1) + "): missing blob: no zz/layer.tar in the archive"},
		{"wrong architecture", cfgOf("arm64", l1), layers[:1], nil, "the image is linux/arm64"},
		{"manifest garbage", good, layers, func(nm string, b []byte) []byte {
			if nm == "manifest.json" {
				return []byte("[{")
			}
			return b
		}, "manifest.json:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ft.reset()
			file := dockerSave(t, tc.cfg, tc.layers, tc.spoil)
			im, err := openRef(t, newStore(t), "docker-archive:"+file)
			if err == nil {
				im.Close()
			}
			checkErr(t, err, tc.err)
		})
	}
	t.Run("corrupt tar", func(t *testing.T) {
		file := dockerSave(t, good, layers, nil)
		b, _ := os.ReadFile(file)
		copy(b[100:], "garbage!") // the first header's mode field
		os.WriteFile(file, b, 0o644)
		_, err := openRef(t, newStore(t), "docker-archive:"+file)
		checkErr(t, err, "corrupt tar")
	})
	t.Run("not an archive", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "x.tar")
		os.WriteFile(file, tarOf(t, map[string]string{"a": "b"}), 0o644)
		_, err := openRef(t, newStore(t), "docker-archive:"+file)
		checkErr(t, err, "not a docker archive: no manifest.json in the archive")
	})
}

// Docker 25+ saves an OCI layout inside the archive: manifest.json names
// blobs/sha256/HEX members, so the layers' stored digests are checked too
// (compressed ones before decompression).
func TestOpenArchiveOCIMembers(t *testing.T) {
	ft := useFakeTar(t)
	l1 := tarOf(t, base)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	zw.Write(tarOf(t, top))
	zw.Close()
	gz := zb.Bytes()
	cfg, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffIDOf(l1), diffIDOf(tarOf(t, top))}}})
	write := func(spoilGz bool) string {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		add := func(name string, b []byte) {
			tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
			tw.Write(b)
		}
		blob := func(b []byte) string { return "blobs/sha256/" + strings.TrimPrefix(diffIDOf(b), "sha256:") }
		add(blob(cfg), cfg)
		add(blob(l1), l1)
		gzName := blob(gz)
		if spoilGz {
			// Same gzip stream, one more byte after it: still decompresses,
			// but is not the blob its name says.
			gz = append(append([]byte(nil), gz...), 0)
		}
		add(gzName, gz)
		m, _ := json.Marshal([]map[string]any{{"Config": blob(cfg), "RepoTags": []string{"x:1"}, "Layers": []string{blob(l1), gzName}}})
		add("manifest.json", m)
		tw.Close()
		file := filepath.Join(t.TempDir(), "oci.tar")
		os.WriteFile(file, buf.Bytes(), 0o644)
		return file
	}
	im, err := openRef(t, newStore(t), "docker-archive:"+write(false))
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	if len(ft.layers) != 2 || !reflect.DeepEqual(ft.layers[0].files, base) || !reflect.DeepEqual(ft.layers[1].files, top) {
		t.Fatalf("layers read as %v", ft.layers)
	}
	_, err = openRef(t, newStore(t), "docker-archive:"+write(true))
	checkErr(t, err, "layer 2 of 2 (sha256:")
	checkErr(t, err, "digest mismatch")
}

// Whatever the bytes, opening them as a docker archive is an error or an
// image, never a panic.
func FuzzOpenArchive(f *testing.F) {
	useFake := func() func() {
		old := openTar
		openTar = func(r io.ReaderAt, size int64, indexDir, key string) (vfs.FileSystem, io.Closer, error) {
			return memfs.New(0), nil, nil
		}
		return func() { openTar = old }
	}
	defer useFake()()
	l := []byte("layer")
	cfg, _ := json.Marshal(map[string]any{"os": "linux", "architecture": "amd64",
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{diffIDOf(l)}}})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	sum := diffIDOf(cfg)[7:]
	for _, m := range []struct {
		name string
		b    []byte
	}{{sum + ".json", cfg}, {"a/layer.tar", l}, {"manifest.json", []byte(`[{"Config":"` + sum + `.json","Layers":["a/layer.tar"]}]`)}} {
		tw.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.b)), Typeflag: tar.TypeReg})
		tw.Write(m.b)
	}
	tw.Close()
	f.Add(buf.Bytes())
	f.Add([]byte{})
	s := newStore(f)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		file := filepath.Join(dir, "a.tar")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		im, err := openArchive(file, "", Options{Store: s})
		if err == nil {
			im.Close()
		} else if strings.Contains(err.Error(), "\n") {
			t.Fatalf("a two-line error: %q", err)
		}
	})
}
