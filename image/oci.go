package image

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/litebox-go/litebox/image/internal/blob"
	"github.com/litebox-go/litebox/image/store"
)

// maxIndexDepth bounds indexes of indexes (an image index may name
// another index; a hostile layout could make that a cycle).
const maxIndexDepth = 4

// openLayout opens the image tagged tag (or the only one) of the OCI
// image layout dir. what names the reference in messages.
func openLayout(dir, tag, what string, opts Options) (*Image, error) {
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%s: %s is not a directory (an OCI image layout is one; a tar is docker-archive:FILE or --rootfs FILE)", what, dir)
	}
	idx, err := blob.ReadIndex(dir)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	desc, err := pickTagged(idx, tag, what)
	if err != nil {
		return nil, err
	}
	m, mdesc, err := resolveManifest(dir, desc, what)
	if err != nil {
		return nil, err
	}
	cf, err := readConfig(dir, m, what)
	if err != nil {
		return nil, err
	}
	im := &Image{Config: configOf(cf), Digest: mdesc.Digest.String()}
	for i, l := range m.Layers {
		spec := layerSpec{digest: l.Digest, diffID: cf.RootFS.DiffIDs[i], n: i + 1, of: len(m.Layers)}
		p, err := blob.Path(dir, l.Digest)
		if err != nil {
			im.Close()
			return nil, fmt.Errorf("%s: %s: %w", what, spec.name(), err)
		}
		f, err := os.Open(p)
		if err != nil {
			im.Close()
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("%s: %s: missing blob (no %s)", what, spec.name(), p)
			}
			return nil, fmt.Errorf("%s: %s: %w", what, spec.name(), err)
		}
		im.closers = append(im.closers, f)
		fi, err := f.Stat()
		if err != nil {
			im.Close()
			return nil, fmt.Errorf("%s: %s: %w", what, spec.name(), err)
		}
		if !fi.Mode().IsRegular() {
			im.Close()
			return nil, fmt.Errorf("%s: %s: %s is not a regular file", what, spec.name(), p)
		}
		if fi.Size() != l.Size {
			im.Close()
			return nil, fmt.Errorf("%s: %s: blob is %d bytes, the manifest says %d", what, spec.name(), fi.Size(), l.Size)
		}
		spec.src = section{f: f, path: p, size: fi.Size()}
		fs, closers, err := opts.openLayer(spec)
		if err != nil {
			im.Close()
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		im.Layers = append(im.Layers, fs)
		im.closers = append(im.closers, closers...)
	}
	return im, nil
}

// pickTagged chooses the index's descriptor tagged tag, or its only one.
func pickTagged(idx *v1.IndexManifest, tag, what string) (v1.Descriptor, error) {
	var tags []string
	for _, d := range idx.Manifests {
		if n := d.Annotations[store.RefName]; n != "" {
			tags = append(tags, n)
		}
	}
	sort.Strings(tags)
	tagList := strings.Join(tags, ", ")
	if tagList == "" {
		tagList = "none"
	}
	if tag == "" {
		switch len(idx.Manifests) {
		case 0:
			return v1.Descriptor{}, fmt.Errorf("%s: the layout holds no image", what)
		case 1:
			return idx.Manifests[0], nil
		}
		return v1.Descriptor{}, fmt.Errorf("%s: the layout holds %d images: give a tag (oci:DIR:TAG; tags: %s)", what, len(idx.Manifests), tagList)
	}
	for _, d := range idx.Manifests {
		if d.Annotations[store.RefName] == tag {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("%s: no image tagged %q (tags: %s)", what, tag, tagList)
}

// resolveManifest reads the manifest desc names, through image indexes
// (multi-platform images) to their linux/amd64 manifest.
func resolveManifest(dir string, desc v1.Descriptor, what string) (*v1.Manifest, v1.Descriptor, error) {
	for depth := 0; ; depth++ {
		switch desc.MediaType {
		case types.OCIImageIndex, types.DockerManifestList:
			if depth >= maxIndexDepth {
				return nil, desc, fmt.Errorf("%s: image indexes nested more than %d deep", what, maxIndexDepth)
			}
			raw, err := blob.ReadLayout(dir, desc.Digest, desc.Size, "image index")
			if err != nil {
				return nil, desc, fmt.Errorf("%s: %w", what, err)
			}
			sub, err := v1.ParseIndexManifest(bytes.NewReader(raw))
			if err != nil {
				return nil, desc, fmt.Errorf("%s: image index %s: %v", what, desc.Digest, oneLine(err))
			}
			next, err := pickPlatform(sub, what)
			if err != nil {
				return nil, desc, err
			}
			desc = next
		case types.OCIManifestSchema1, types.DockerManifestSchema2, "":
			raw, err := blob.ReadLayout(dir, desc.Digest, desc.Size, "manifest")
			if err != nil {
				return nil, desc, fmt.Errorf("%s: %w", what, err)
			}
			m, err := v1.ParseManifest(bytes.NewReader(raw))
			if err != nil {
				return nil, desc, fmt.Errorf("%s: manifest %s: %v", what, desc.Digest, oneLine(err))
			}
			if m.MediaType != "" && m.MediaType != types.OCIManifestSchema1 && m.MediaType != types.DockerManifestSchema2 {
				return nil, desc, fmt.Errorf("%s: manifest %s has media type %q, not an image manifest", what, desc.Digest, m.MediaType)
			}
			return m, desc, nil
		default:
			return nil, desc, fmt.Errorf("%s: %s has media type %q, not an image manifest or index", what, desc.Digest, desc.MediaType)
		}
	}
}

// pickPlatform chooses an index's linux/amd64 manifest.
func pickPlatform(idx *v1.IndexManifest, what string) (v1.Descriptor, error) {
	var have []string
	for _, d := range idx.Manifests {
		if d.Platform == nil {
			continue
		}
		if d.Platform.OS == Platform.OS && d.Platform.Architecture == Platform.Architecture {
			return d, nil
		}
		have = append(have, d.Platform.OS+"/"+d.Platform.Architecture)
	}
	return v1.Descriptor{}, fmt.Errorf("%s: no %s/%s image in the index (it has %s); litebox runs only %s/%s",
		what, Platform.OS, Platform.Architecture, orNone(have), Platform.OS, Platform.Architecture)
}

// readConfig reads and checks m's config: its digest, its platform, one
// diff_id per layer.
func readConfig(dir string, m *v1.Manifest, what string) (*v1.ConfigFile, error) {
	raw, err := blob.ReadLayout(dir, m.Config.Digest, m.Config.Size, "config")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return parseConfig(raw, m.Config.Digest.String(), len(m.Layers), what)
}

func parseConfig(raw []byte, digest string, layers int, what string) (*v1.ConfigFile, error) {
	cf, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: config %s: %v", what, digest, oneLine(err))
	}
	if cf.OS != Platform.OS || cf.Architecture != Platform.Architecture {
		return nil, fmt.Errorf("%s: the image is %s/%s; litebox runs only %s/%s images", what,
			orUnknown(cf.OS), orUnknown(cf.Architecture), Platform.OS, Platform.Architecture)
	}
	if len(cf.RootFS.DiffIDs) != layers {
		return nil, fmt.Errorf("%s: config %s names %d diff_ids for %d layers", what, digest, len(cf.RootFS.DiffIDs), layers)
	}
	for _, d := range cf.RootFS.DiffIDs {
		if err := blob.CheckHash(d); err != nil {
			return nil, fmt.Errorf("%s: config %s: diff_id: %w", what, digest, err)
		}
	}
	return cf, nil
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
