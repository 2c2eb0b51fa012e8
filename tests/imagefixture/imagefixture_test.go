package imagefixture

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestCached: a fixture is built once, found by later callers without a
// rebuild, rebuilt when its version changes, and not left half-built by a
// failing build; concurrent callers wait for one build.
func TestCached(t *testing.T) {
	t.Setenv(CacheEnv, t.TempDir())
	var builds atomic.Int32
	build := func(body string) func(string, func(string, time.Time)) (string, error) {
		return func(dir string, step func(string, time.Time)) (string, error) {
			builds.Add(1)
			time.Sleep(20 * time.Millisecond) // long enough for the others to queue on the lock
			step("write", time.Now())
			return "test", os.WriteFile(filepath.Join(dir, "f"), []byte(body), 0o644)
		}
	}
	var wg sync.WaitGroup
	dirs := make([]string, 4)
	errs := make([]error, 4)
	for i := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dirs[i], _, errs[i] = cached("fx", "v1", build("one"))
		}()
	}
	wg.Wait()
	for i := range dirs {
		if errs[i] != nil || dirs[i] != dirs[0] {
			t.Fatalf("caller %d: %q, %v (caller 0: %q)", i, dirs[i], errs[i], dirs[0])
		}
	}
	if n := builds.Load(); n != 1 {
		t.Errorf("%d builds for four concurrent callers, want 1", n)
	}
	dir, st, err := cached("fx", "v1", build("two"))
	if err != nil || builds.Load() != 1 || st.Source != "test" || st.Version != "v1" {
		t.Errorf("second call: %v, %d builds, stamp %+v", err, builds.Load(), st)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "one" {
		t.Errorf("content %q, want the first build's", b)
	}
	if _, _, err := cached("fx", "v2", build("two")); err != nil || builds.Load() != 2 {
		t.Errorf("new version: %v, %d builds, want a rebuild", err, builds.Load())
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "f")); string(b) != "two" {
		t.Errorf("content %q after the new version, want the rebuild's", b)
	}

	boom := errors.New("boom")
	_, _, err = cached("bad", "v1", func(dir string, _ func(string, time.Time)) (string, error) {
		os.WriteFile(filepath.Join(dir, "partial"), nil, 0o644)
		return "", boom
	})
	if !errors.Is(err, boom) {
		t.Errorf("failing build: %v, want it wrapped", err)
	}
	cache, _ := CacheDir()
	for _, left := range []string{"bad", "bad.building"} {
		if _, err := os.Stat(filepath.Join(cache, left)); err == nil {
			t.Errorf("a failing build left %s behind", left)
		}
	}
}

// TestWriteLayout checks the hand-made layout's consistency: every
// descriptor names a blob of its size and digest, the diff_ids are the
// uncompressed layers' digests, and the tag is in index.json.
func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	img := Image{Tag: "x", Layers: []Layer{
		{Entries: []Entry{{Name: "a/", Type: tar.TypeDir}, {Name: "a/f", Body: "f\n"}}, Gzip: true},
		{Entries: []Entry{{Name: "a/.wh.f"}, {Name: "a/l", Type: tar.TypeSymlink, Link: "/a/f"}}},
	}}
	w, err := WriteLayout(dir, img)
	if err != nil {
		t.Fatal(err)
	}
	var index struct {
		Manifests []descriptor `json:"manifests"`
	}
	readJSON(t, filepath.Join(dir, "index.json"), &index)
	if len(index.Manifests) != 1 || index.Manifests[0].Digest != w.Manifest || index.Manifests[0].Annotations[refNameKey] != "x" {
		t.Fatalf("index.json: %+v", index)
	}
	var man struct {
		Config descriptor   `json:"config"`
		Layers []descriptor `json:"layers"`
	}
	readJSON(t, BlobPath(dir, w.Manifest), &man)
	var cfg struct {
		Architecture string `json:"architecture"`
		RootFS       struct {
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	readJSON(t, BlobPath(dir, man.Config.Digest), &cfg)
	if cfg.Architecture != "amd64" || len(cfg.RootFS.DiffIDs) != 2 || len(man.Layers) != 2 {
		t.Fatalf("config %+v, manifest %+v", cfg, man)
	}
	for _, d := range append([]descriptor{index.Manifests[0], man.Config}, man.Layers...) {
		b, err := os.ReadFile(BlobPath(dir, d.Digest))
		if err != nil || digest(b) != d.Digest || int64(len(b)) != d.Size {
			t.Errorf("blob %s: %d bytes, %v; digest %s", d.Digest, len(b), err, digest(b))
		}
	}
	for i, l := range img.Layers {
		raw, _ := LayerTar(l.Entries)
		if cfg.RootFS.DiffIDs[i] != digest(raw) {
			t.Errorf("layer %d: diff_id %s, want %s", i, cfg.RootFS.DiffIDs[i], digest(raw))
		}
	}
	if man.Layers[0].MediaType != MediaLayerGzip || man.Layers[1].MediaType != MediaLayer {
		t.Errorf("media types %s, %s", man.Layers[0].MediaType, man.Layers[1].MediaType)
	}
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestSnapshot: a change of content, mode or a new file changes the
// snapshot; with hash, even one that keeps size and mtime.
func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1700000000, 0)
	os.Chtimes(f, mtime, mtime)
	before, err := Snapshot(dir, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func()
		hash   bool
	}{
		{"same size and mtime", func() { os.WriteFile(f, []byte("abd"), 0o644); os.Chtimes(f, mtime, mtime) }, true},
		{"mode", func() { os.Chmod(f, 0o600) }, false},
		{"new file", func() { os.WriteFile(filepath.Join(dir, "g"), nil, 0o644) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref, _ := Snapshot(dir, tc.hash)
			tc.change()
			after, _ := Snapshot(dir, tc.hash)
			if ref == after {
				t.Errorf("the snapshot did not change")
			}
		})
	}
	if after, _ := Snapshot(dir, true); bytes.Equal([]byte(before), []byte(after)) {
		t.Error("the snapshot is the same after all the changes")
	}
}
