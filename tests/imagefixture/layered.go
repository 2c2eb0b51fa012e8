package imagefixture

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// layeredVersion names the hand-made image's content: change it with
// LayeredImage.
const layeredVersion = "layered-5"

// LayeredTag and LayeredArchiveRef name the hand-made image in its layout
// and its docker archive.
const (
	LayeredTag        = "layers"
	LayeredArchiveRef = "litebox-fixture/layers:latest"
)

// Layered is the hand-made multi-layer image.
type Layered struct {
	Dir           string
	OCI           string // OCI layout, image tagged LayeredTag
	DockerArchive string // skopeo's docker archive of it, named LayeredArchiveRef
	Rootfs        string // umoci's unpacking: the native side's root; never write to it
	// RootfsTar and RootfsTarGz are Rootfs tarred by GNU tar (plain and
	// gzip), for --rootfs FILE.
	RootfsTar, RootfsTarGz string
}

// BusyboxApplets are the tools the layered image's /bin offers (symlinks
// to /bin/busybox).
var BusyboxApplets = []string{"sh", "ls", "cat", "find", "stat", "mv", "rm", "echo", "chmod", "chown", "ln",
	"mkdir", "touch", "sort", "wc", "readlink", "cp", "head", "tr", "sed", "test", "true", "printf", "rmdir",
	"id", "env", "pwd", "grep", "truncate", "xargs"}

// LayeredConfig is the hand-made image's config.
var LayeredConfig = Config{
	Env:        []string{"PATH=/bin", "FIXTURE=layered"},
	Cmd:        []string{"/bin/sh", "-c", "echo cmd ran as $(id -u):$(id -g) in $(pwd) with FIXTURE=$FIXTURE"},
	WorkingDir: "/data",
}

// LayeredImage returns the hand-made image: busybox and a /data tree in a
// gzip base layer, then an uncompressed and a gzip layer that replace, white
// out, make opaque, re-create and add entries, so that every overlay rule
// shows in the merged /data (the comments say what each entry pins).
func LayeredImage(busybox []byte) Image {
	base := []Entry{
		{Name: "bin/", Type: tar.TypeDir},
		{Name: "bin/busybox", Body: string(busybox), Mode: 0o755},
		{Name: "etc/", Type: tar.TypeDir},
		{Name: "etc/passwd", Body: "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n"},
		{Name: "etc/group", Body: "root:x:0:\napp:x:1000:\n"},
		{Name: "tmp/", Type: tar.TypeDir, Mode: 0o1777},
		{Name: "dev/", Type: tar.TypeDir}, // the usual mount points; MinimalImage has none
		{Name: "proc/", Type: tar.TypeDir},
		{Name: "home/app/", Type: tar.TypeDir, UID: 1000, GID: 1000, Mode: 0o750},
		{Name: "data/", Type: tar.TypeDir},
		{Name: "data/keep.txt", Body: "keep\n"},      // untouched until the top layer changes its mode
		{Name: "data/replaced.txt", Body: "lower\n"}, // replaced by layer 1
		{Name: "data/gone.txt", Body: "gone\n"},      // whited out by layer 1
		{Name: "data/opq/", Type: tar.TypeDir},       // made opaque by layer 1
		{Name: "data/opq/a.txt", Body: "a\n"},
		{Name: "data/opq/sub/x.txt", Body: "x\n"},
		{Name: "data/dir/sub/deep.txt", Body: "deep\n"}, // a whole tree whited out by layer 1
		{Name: "data/recreated/old.txt", Body: "old\n"}, // whited out and re-created in layer 1
		{Name: "data/hard1", Body: "shared\n"},          // two names of one file
		{Name: "data/hard2", Type: tar.TypeLink, Link: "data/hard1"},
		{Name: "data/link-rel", Type: tar.TypeSymlink, Link: "keep.txt"},
		{Name: "data/link-abs", Type: tar.TypeSymlink, Link: "/data/keep.txt"},
		{Name: "data/link-dangling", Type: tar.TypeSymlink, Link: "missing.txt"},      // whited out by layer 1
		{Name: "data/link-up", Type: tar.TypeSymlink, Link: "../../../../etc/passwd"}, // climbs above / and stays in the image
		{Name: "data/mode.sh", Body: "#!/bin/sh\necho mode script\n", Mode: 0o755},
		{Name: "data/owned", Body: "owned\n", Mode: 0o640, UID: 1000, GID: 1000},
		{Name: "data/lower-only/f1", Body: "f1\n"}, // merged with layer 1's f3
		{Name: "data/lower-only/f2", Body: "f2\n"},
		{Name: "data/implied/file.txt", Body: "implied\n"}, // no entry of its own for data/implied/
	}
	for _, a := range BusyboxApplets {
		base = append(base, Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
	}
	layer1 := []Entry{
		{Name: "data/replaced.txt", Body: "upper\n"},
		{Name: "data/.wh.gone.txt"},
		{Name: "data/opq/", Type: tar.TypeDir, Mode: 0o750},
		{Name: "data/opq/.wh..wh..opq"},
		{Name: "data/opq/c.txt", Body: "c\n"},
		{Name: "data/.wh.dir"},
		{Name: "data/.wh.recreated"},
		{Name: "data/recreated/", Type: tar.TypeDir},
		{Name: "data/recreated/new.txt", Body: "new\n"},
		{Name: "data/.wh.link-dangling"},
		{Name: "data/l1only.txt", Body: "layer 1 only\n"}, // whited out by layer 2
		{Name: "data/lower-only/f3", Body: "f3\n"},
	}
	layer2 := []Entry{
		{Name: "data/.wh.l1only.txt"},
		{Name: "data/keep.txt", Body: "keep\n", Mode: 0o600}, // a metadata-only change re-adds the file
		{Name: "data/late.txt", Body: "late\n"},
		{Name: "data/late-link", Type: tar.TypeLink, Link: "data/late.txt"},
	}
	return Image{
		Tag:    LayeredTag,
		Layers: []Layer{{Entries: base, Gzip: true}, {Entries: layer1}, {Entries: layer2, Gzip: true}},
		Config: LayeredConfig,
	}
}

// MinimalImage is a one-layer image of busybox alone, as a "FROM scratch"
// image of one static program: no /dev, /proc, /tmp or /etc for litebox's
// own mounts and name files to land in.
func MinimalImage(busybox []byte) Image {
	entries := []Entry{{Name: "bin/busybox", Body: string(busybox), Mode: 0o755}}
	for _, a := range []string{"sh", "ls", "cat", "echo"} {
		entries = append(entries, Entry{Name: "bin/" + a, Type: tar.TypeSymlink, Link: "busybox"})
	}
	return Image{Tag: "minimal", Layers: []Layer{{Entries: entries}}}
}

// GetLayered returns the hand-made image, building it first if the cache
// does not hold it (a second or two).
func GetLayered() (*Layered, error) {
	if err := HaveTools("umoci", "skopeo", "busybox"); err != nil {
		return nil, err
	}
	dir, _, err := cached("layered", layeredVersion, func(dir string, step func(string, time.Time)) (string, error) {
		bb, err := os.ReadFile("/bin/busybox")
		if err != nil {
			return "", err
		}
		oci := filepath.Join(dir, "oci")
		if _, err := WriteLayout(oci, LayeredImage(bb)); err != nil {
			return "", err
		}
		if err := run(dir, "umoci", "unpack", "--image", oci+":"+LayeredTag, filepath.Join(dir, "bundle")); err != nil {
			return "", err
		}
		rootfs := filepath.Join(dir, "bundle", "rootfs")
		for _, c := range [][]string{
			{"tar", "-cf", filepath.Join(dir, "rootfs.tar"), "-C", rootfs, "--numeric-owner", "."},
			{"tar", "-czf", filepath.Join(dir, "rootfs.tar.gz"), "-C", rootfs, "--numeric-owner", "."},
		} {
			if err := run(dir, c...); err != nil {
				return "", err
			}
		}
		return "", run(dir, "skopeo", "copy", "--quiet", "oci:"+oci+":"+LayeredTag,
			"docker-archive:"+filepath.Join(dir, "docker.tar")+":"+LayeredArchiveRef)
	})
	if err != nil {
		return nil, err
	}
	return &Layered{Dir: dir, OCI: filepath.Join(dir, "oci"), DockerArchive: filepath.Join(dir, "docker.tar"),
		Rootfs: filepath.Join(dir, "bundle", "rootfs"), RootfsTar: filepath.Join(dir, "rootfs.tar"),
		RootfsTarGz: filepath.Join(dir, "rootfs.tar.gz")}, nil
}

// Bad is one broken image: litebox must refuse Args (the flags naming it,
// e.g. --image oci:DIR) with exit 125 and one line.
type Bad struct {
	Name string
	Args []string
	// Want is a word the one line must contain (the blob, the entry, the
	// architecture…), lower case; "" if nothing in particular.
	Want string
}

// BadImages writes the broken images into dir (a test's temporary
// directory: they are small and cheap) and returns them.
func BadImages(dir string) ([]Bad, error) {
	file := []Entry{{Name: "hello.txt", Body: "hello\n"}, {Name: "bin/", Type: tar.TypeDir}}
	good := func() Image { return Image{Tag: "t", Layers: []Layer{{Entries: file}}} }
	var bads []Bad
	// damage, if set, breaks the written layout and returns the digest of
	// the blob it broke, which the error must name.
	layout := func(name string, img Image, damage func(dir string, w Written) (string, error), want string) error {
		d := filepath.Join(dir, name)
		w, err := WriteLayout(d, img)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if damage != nil {
			blob, err := damage(d, w)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			if blob != "" {
				want = blob
			}
		}
		bads = append(bads, Bad{Name: name, Args: []string{"--image", "oci:" + d + ":t"}, Want: want})
		return nil
	}
	fileTar, err := LayerTar(file)
	if err != nil {
		return nil, err
	}
	bigTar, err := LayerTar([]Entry{{Name: "big.bin", Body: string(make([]byte, 1<<20))}})
	if err != nil {
		return nil, err
	}

	bigEntries := []Entry{{Name: "big.bin", Body: string(randomBytes(1 << 16))}}
	bigRandom, err := LayerTar(bigEntries)
	if err != nil {
		return nil, err
	}
	gz := Gzip(bigRandom)

	flip := func(path string, at int) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		b[at%len(b)] ^= 0x20
		return os.WriteFile(path, b, 0o644)
	}
	notTarBytes := []byte("this is not a tar archive, just text that is long enough to fill a header block\n" + string(make([]byte, 600)))

	steps := []error{
		// Bytes that are no tar at all (not zeros, which read as an empty
		// archive); the digest and diff_id match them: the tar reader must
		// refuse them.
		layout("corrupt-tar", Image{Tag: "t", Layers: []Layer{{Raw: notTarBytes}}}, nil, "corrupt"),
		// A file whose header promises more bytes than the tar holds.
		layout("truncated-tar", Image{Tag: "t", Layers: []Layer{{Raw: bigTar[:4096]}}}, nil, "big.bin"),
		// A gzip stream cut in the middle; the blob's digest is of the cut
		// bytes, so only decompression can notice.
		layout("truncated-gzip", Image{Tag: "t", Layers: []Layer{{Gzip: true, Entries: bigEntries, Raw: gz[:len(gz)/2]}}}, nil, "gzip"),
		// The manifest names a layer blob that is not in the layout.
		layout("missing-blob", good(), func(d string, w Written) (string, error) {
			return w.Layers[0], os.Remove(BlobPath(d, w.Layers[0]))
		}, ""),
		// A layer blob of the right size whose bytes do not match its
		// digest: only the SHA-256 can tell.
		layout("digest-mismatch", good(), func(d string, w Written) (string, error) {
			return w.Layers[0], flip(BlobPath(d, w.Layers[0]), 600)
		}, ""),
		// A layer blob one byte longer than the manifest says.
		layout("size-mismatch", good(), func(d string, w Written) (string, error) {
			return w.Layers[0], os.WriteFile(BlobPath(d, w.Layers[0]), append(fileTar[:len(fileTar):len(fileTar)], 0), 0o644)
		}, ""),
		// A config blob of the right size whose bytes do not match.
		layout("config-digest-mismatch", good(), func(d string, w Written) (string, error) {
			return w.Config, flip(BlobPath(d, w.Config), 20)
		}, ""),
		// A manifest blob whose bytes do not match its digest in index.json.
		layout("manifest-digest-mismatch", good(), func(d string, w Written) (string, error) {
			return w.Manifest, flip(BlobPath(d, w.Manifest), 5)
		}, ""),
		layout("arm64", Image{Tag: "t", Arch: "arm64", Layers: []Layer{{Entries: file}}}, nil, "arm64"),
		layout("escape-dotdot", Image{Tag: "t", Layers: []Layer{{Entries: []Entry{{Name: "../escape.txt", Body: "out\n"}}}}}, nil, "escape.txt"),
		layout("escape-nested-dotdot", Image{Tag: "t", Layers: []Layer{{Entries: []Entry{{Name: "a/../../escape.txt", Body: "out\n"}}}}}, nil, "escape.txt"),
		layout("hardlink-outside", Image{Tag: "t", Layers: []Layer{{Entries: append(file[:1:1],
			Entry{Name: "passwd", Type: tar.TypeLink, Link: "../../../etc/passwd"})}}}, nil, "../../../etc/passwd"),
		layout("hardlink-missing", Image{Tag: "t", Layers: []Layer{{Entries: append(file[:1:1],
			Entry{Name: "link", Type: tar.TypeLink, Link: "no/such/file"})}}}, nil, "no/such/file"),
		layout("index-not-json", good(), func(d string, w Written) (string, error) {
			return "", os.WriteFile(filepath.Join(d, "index.json"), []byte("{not json"), 0o644)
		}, "index.json"),
	}
	for _, err := range steps {
		if err != nil {
			return nil, err
		}
	}
	good0 := filepath.Join(dir, "good")
	if _, err := WriteLayout(good0, good()); err != nil {
		return nil, err
	}
	notTar := filepath.Join(dir, "not-a-tar.tar")
	if err := os.WriteFile(notTar, notTarBytes, 0o644); err != nil {
		return nil, err
	}
	bads = append(bads,
		Bad{Name: "unknown-tag", Args: []string{"--image", "oci:" + good0 + ":nosuchtag"}, Want: "nosuchtag"},
		Bad{Name: "missing-layout", Args: []string{"--image", "oci:" + filepath.Join(dir, "nonexistent")}, Want: "no such file"},
		Bad{Name: "missing-docker-archive", Args: []string{"--image", "docker-archive:" + filepath.Join(dir, "nonexistent.tar")}, Want: "no such file"},
		Bad{Name: "docker-archive-not-a-tar", Args: []string{"--image", "docker-archive:" + notTar}, Want: "tar"},
		Bad{Name: "missing-rootfs-dir", Args: []string{"--rootfs", filepath.Join(dir, "nonexistent")}, Want: "no such file"},
		Bad{Name: "rootfs-not-a-tar", Args: []string{"--rootfs", notTar}, Want: "tar"},
		Bad{Name: "unknown-store-name", Args: []string{"--image", "no-such-image-in-the-store:latest"}, Want: "no-such-image-in-the-store"},
	)
	// A docker archive (skopeo's) of the good image, then damaged: its
	// layer member gone, or changed (same size) so that it no longer
	// matches the config's diff_id.
	archive := filepath.Join(dir, "good-docker.tar")
	if err := run(dir, "skopeo", "copy", "--quiet", "oci:"+good0+":t", "docker-archive:"+archive+":bad/image:t"); err != nil {
		return nil, err
	}
	for _, v := range []struct{ name, want string }{{"docker-archive-missing-layer", ""}, {"docker-archive-layer-mismatch", ""}} {
		out := filepath.Join(dir, v.name+".tar")
		layer, err := rewriteArchive(archive, out, v.name == "docker-archive-missing-layer")
		if err != nil {
			return nil, fmt.Errorf("%s: %w", v.name, err)
		}
		bads = append(bads, Bad{Name: v.name, Args: []string{"--image", "docker-archive:" + out}, Want: layer})
	}
	return bads, nil
}

// rewriteArchive copies the docker archive in to out, dropping its layer
// blob (the one member of more than a header's size that is not JSON) if
// drop, else flipping one byte of it. It returns the member's name.
func rewriteArchive(in, out string, drop bool) (string, error) {
	f, err := os.Open(in)
	if err != nil {
		return "", err
	}
	defer f.Close()
	o, err := os.Create(out)
	if err != nil {
		return "", err
	}
	defer o.Close()
	tr, tw := tar.NewReader(f), tar.NewWriter(o)
	layer := ""
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return "", err
		}
		if layer == "" && h.Typeflag == tar.TypeReg && strings.HasSuffix(h.Name, ".tar") && len(body) >= 1024 {
			layer = h.Name
			if drop {
				continue
			}
			body[600] ^= 0x20
		}
		if err := tw.WriteHeader(h); err != nil {
			return "", err
		}
		if _, err := tw.Write(body); err != nil {
			return "", err
		}
	}
	if layer == "" {
		return "", fmt.Errorf("%s: no layer member", in)
	}
	return strings.TrimSuffix(filepath.Base(layer), ".tar"), tw.Close()
}

// randomBytes returns n bytes that do not compress (a xorshift stream),
// the same every time.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}
