package image

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/litebox-go/litebox/image/internal/blob"
)

// member is a regular file inside a docker archive: where its bytes are.
type member struct{ off, size int64 }

// archiveIndex is a docker archive's table of contents, read in one pass
// over its headers (the contents are skipped, not read).
type archiveIndex struct {
	files map[string]member
	links map[string]string // symlinks and hard links: name -> target name
}

// maxArchiveMembers bounds the table of contents of a docker archive (a
// few entries per layer in real ones).
const maxArchiveMembers = 1 << 16

func indexArchive(f *os.File, file string) (*archiveIndex, error) {
	ix := &archiveIndex{files: map[string]member{}, links: map[string]string{}}
	tr := tar.NewReader(f)
	for n := 0; ; n++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("docker-archive:%s: corrupt tar: %v", file, err)
		}
		if n >= maxArchiveMembers {
			return nil, fmt.Errorf("docker-archive:%s: more than %d entries: not a docker archive", file, maxArchiveMembers)
		}
		nm := cleanMember(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg:
			if isSparse(hdr) {
				continue // its bytes are not one range of the file: never a layer
			}
			// tar.Reader reads headers block by block and seeks over data,
			// so the file's offset now is where this member's bytes start.
			off, err := f.Seek(0, io.SeekCurrent)
			if err != nil {
				return nil, fmt.Errorf("docker-archive:%s: %w", file, err)
			}
			ix.files[nm] = member{off: off, size: hdr.Size}
		case tar.TypeSymlink:
			ix.links[nm] = cleanMember(path.Join(path.Dir(nm), hdr.Linkname))
		case tar.TypeLink:
			ix.links[nm] = cleanMember(hdr.Linkname)
		}
	}
	return ix, nil
}

func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func cleanMember(s string) string {
	return strings.TrimPrefix(path.Clean("/"+s), "/")
}

// find follows links to the regular member called nm.
func (ix *archiveIndex) find(nm string) (member, error) {
	nm = cleanMember(nm)
	for hops := 0; hops < 8; hops++ {
		if m, ok := ix.files[nm]; ok {
			return m, nil
		}
		t, ok := ix.links[nm]
		if !ok {
			return member{}, fmt.Errorf("no %s in the archive", nm)
		}
		nm = t
	}
	return member{}, fmt.Errorf("%s: too many links", nm)
}

// digestOfName is the digest a member's name states, if it states one:
// blobs/sha256/HEX (OCI layout inside the archive, docker 25+), HEX.json
// (docker's and podman's configs), sha256:HEX (go-containerregistry).
func digestOfName(nm string) (v1.Hash, bool) {
	s := strings.TrimPrefix(nm, "blobs/sha256/")
	s = strings.TrimPrefix(s, "sha256:")
	s = strings.TrimSuffix(s, ".json")
	h, err := v1.NewHash("sha256:" + s)
	if err != nil {
		return v1.Hash{}, false
	}
	return h, true
}

// openArchive opens the image tagged tag (or the only one) of a docker
// archive: `docker save` or `podman save` output (manifest.json, with a
// legacy or an OCI layout inside).
func openArchive(file, tag string, opts Options) (*Image, error) {
	what := "docker-archive:" + file
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	im := &Image{closers: []io.Closer{f}}
	fail := func(err error) (*Image, error) {
		im.Close()
		return nil, err
	}
	if fi, err := f.Stat(); err != nil {
		return fail(fmt.Errorf("%s: %w", what, err))
	} else if !fi.Mode().IsRegular() {
		return fail(fmt.Errorf("%s: not a regular file (an OCI image layout directory is oci:DIR)", what))
	}
	ix, err := indexArchive(f, file)
	if err != nil {
		return fail(err)
	}
	readMember := func(nm string) ([]byte, error) {
		m, err := ix.find(nm)
		if err != nil {
			return nil, err
		}
		if m.size > blob.MaxMeta {
			return nil, fmt.Errorf("%s: %d bytes, more than %d", nm, m.size, blob.MaxMeta)
		}
		buf := make([]byte, m.size)
		if _, err := f.ReadAt(buf, m.off); err != nil {
			return nil, fmt.Errorf("%s: %w", nm, err)
		}
		return buf, nil
	}
	raw, err := readMember("manifest.json")
	if err != nil {
		return fail(fmt.Errorf("%s: not a docker archive: %v", what, err))
	}
	var manifest tarball.Manifest
	if err := json.Unmarshal(raw, &manifest); err != nil {
		return fail(fmt.Errorf("%s: manifest.json: %v", what, oneLine(err)))
	}
	desc, err := pickRepoTag(manifest, tag, what)
	if err != nil {
		return fail(err)
	}
	cfgDigest, ok := digestOfName(cleanMember(desc.Config))
	if !ok {
		return fail(fmt.Errorf("%s: config %s is not named by its digest: it cannot be verified", what, desc.Config))
	}
	rawCfg, err := readMember(desc.Config)
	if err != nil {
		return fail(fmt.Errorf("%s: config: %v", what, err))
	}
	if err := blob.Check(rawCfg, cfgDigest, "config"); err != nil {
		return fail(fmt.Errorf("%s: %w", what, err))
	}
	cf, err := parseConfig(rawCfg, cfgDigest.String(), len(desc.Layers), what)
	if err != nil {
		return fail(err)
	}
	im.Config = configOf(cf)
	im.Digest = cfgDigest.String() // an archive has no manifest digest; the config's names the image (docker's image id)
	for i, nm := range desc.Layers {
		spec := layerSpec{diffID: cf.RootFS.DiffIDs[i], n: i + 1, of: len(desc.Layers)}
		if strings.HasPrefix(cleanMember(nm), "blobs/sha256/") {
			if d, ok := digestOfName(cleanMember(nm)); ok {
				spec.digest = d
			}
		}
		m, err := ix.find(nm)
		if err != nil {
			return fail(fmt.Errorf("%s: %s: missing blob: %v", what, spec.name(), err))
		}
		spec.src = section{f: f, path: file, off: m.off, size: m.size}
		fs, closers, err := opts.openLayer(spec)
		if err != nil {
			return fail(fmt.Errorf("%s: %w", what, err))
		}
		im.Layers = append(im.Layers, fs)
		im.closers = append(im.closers, closers...)
	}
	return im, nil
}

// pickRepoTag chooses the archive's image tagged tag, or its only one.
// Tags compare as registry names, so debian:12 finds
// docker.io/library/debian:12.
func pickRepoTag(m tarball.Manifest, tag, what string) (tarball.Descriptor, error) {
	var tags []string
	for _, d := range m {
		tags = append(tags, d.RepoTags...)
	}
	sort.Strings(tags)
	if tag == "" {
		switch len(m) {
		case 0:
			return tarball.Descriptor{}, fmt.Errorf("%s: manifest.json names no image", what)
		case 1:
			return m[0], nil
		}
		return tarball.Descriptor{}, fmt.Errorf("%s: the archive holds %d images: give one (docker-archive:FILE:REF; tags: %s)", what, len(m), orNone(tags))
	}
	norm := func(s string) string {
		if r, err := name.ParseReference(s); err == nil {
			return r.Name()
		}
		return s
	}
	want := norm(tag)
	for _, d := range m {
		for _, t := range d.RepoTags {
			if t == tag || norm(t) == want {
				return d, nil
			}
		}
	}
	return tarball.Descriptor{}, fmt.Errorf("%s: no image tagged %q (tags: %s)", what, tag, orNone(tags))
}
