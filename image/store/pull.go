package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/match"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/litebox-go/litebox/image/internal/blob"
	"github.com/litebox-go/litebox/image/ref"
)

// PullOptions configures Pull.
type PullOptions struct {
	// Insecure allows plain HTTP (and unverified TLS) to the registry.
	// Loopback and private addresses use HTTP without it, as Docker does.
	Insecure bool
	// Transport, if set, carries the registry requests (tests).
	Transport http.RoundTripper
	// Progress, if set, receives a line per layer as it is downloaded
	// (and every few seconds of a long one).
	Progress io.Writer
}

// Entry is an image of the store.
type Entry struct {
	Name         string // full name, e.g. index.docker.io/library/debian:12
	Digest       string // the manifest's
	Size         int64  // manifest, config and layers as stored (compressed)
	Created      time.Time
	ExposedPorts []string
}

// Platform is the one platform pulled.
var Platform = v1.Platform{OS: "linux", Architecture: "amd64"}

// Pull copies the linux/amd64 image r names from its registry into the
// store, replacing an image of the same name. Authentication is the
// user's Docker credentials (~/.docker/config.json), if any.
func (s *Store) Pull(ctx context.Context, r ref.Ref, opts PullOptions) (Entry, error) {
	if r.Kind != ref.Store {
		return Entry{}, fmt.Errorf("pull %s: not a registry name (oci: and docker-archive: images run as they are)", r)
	}
	var nopts []name.Option
	if opts.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	nref, err := name.ParseReference(r.Name, nopts...)
	if err != nil {
		return Entry{}, fmt.Errorf("pull %s: %v", r.Name, oneLine(err))
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithPlatform(Platform),
		remote.WithAuthFromKeychain(authn.DefaultKeychain), remote.WithUserAgent("litebox")}
	if opts.Transport != nil {
		ropts = append(ropts, remote.WithTransport(opts.Transport))
	} else if opts.Insecure {
		t := remote.DefaultTransport.(*http.Transport).Clone()
		if t.TLSClientConfig == nil {
			t.TLSClientConfig = &tls.Config{}
		}
		t.TLSClientConfig.InsecureSkipVerify = true
		ropts = append(ropts, remote.WithTransport(t))
	}
	img, err := remote.Image(nref, ropts...)
	if err != nil {
		return Entry{}, fmt.Errorf("pull %s: %v", r.Name, oneLine(err))
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return Entry{}, fmt.Errorf("pull %s: config: %v", r.Name, oneLine(err))
	}
	if cf.OS != Platform.OS || cf.Architecture != Platform.Architecture {
		return Entry{}, fmt.Errorf("pull %s: the image is %s/%s; litebox runs only %s/%s images", r.Name,
			cf.OS, cf.Architecture, Platform.OS, Platform.Architecture)
	}
	unlock, err := s.Lock(true)
	if err != nil {
		return Entry{}, err
	}
	p, err := s.layout()
	unlock()
	if err != nil {
		return Entry{}, err
	}
	// The download, outside the lock (runs of other images go on): the
	// blobs are written to temporary files and renamed (the layout code
	// does), so a pull that fails leaves no half blob under its name, and
	// nothing names them until the index does.
	progress := opts.Progress
	if progress == nil {
		progress = io.Discard
	}
	if err := fetchLayers(string(p), img, r.Name, progress); err != nil {
		return Entry{}, fmt.Errorf("pull %s: %v", r.Name, err)
	}
	if err := p.WriteImage(img); err != nil {
		return Entry{}, fmt.Errorf("pull %s: %v", r.Name, oneLine(err))
	}
	if unlock, err = s.Lock(true); err != nil {
		return Entry{}, err
	}
	defer unlock()
	// The blobs are there: this only rewrites index.json.
	if err := p.ReplaceImage(img, match.Annotation(RefName, r.Name),
		layout.WithAnnotations(map[string]string{RefName: r.Name})); err != nil {
		return Entry{}, fmt.Errorf("pull %s: %v", r.Name, oneLine(err))
	}
	entries, err := s.list()
	if err != nil {
		return Entry{}, err
	}
	for _, e := range entries {
		if e.Name == r.Name {
			return e, nil
		}
	}
	return Entry{}, fmt.Errorf("pull %s: not in the store after the pull", r.Name)
}

// layout opens the store's layout, creating an empty one the first time.
func (s *Store) layout() (layout.Path, error) {
	dir := s.LayoutDir()
	if _, err := os.Stat(filepath.Join(dir, "index.json")); errors.Is(err, os.ErrNotExist) {
		p, err := layout.Write(dir, empty.Index)
		if err != nil {
			return "", fmt.Errorf("store %s: %v", s.dir, oneLine(err))
		}
		return p, nil
	}
	return layout.FromPath(dir)
}

// Find returns the layout directory holding the image called name (its
// RefName annotation there is name), or an error saying it is not there.
func (s *Store) Find(name string) (string, error) {
	unlock, err := s.Lock(false)
	if err != nil {
		return "", err
	}
	defer unlock()
	idx, err := blob.ReadIndex(s.LayoutDir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("store %s: %v", s.dir, err)
	}
	if idx != nil {
		for _, d := range idx.Manifests {
			if d.Annotations[RefName] == name {
				return s.LayoutDir(), nil
			}
		}
	}
	return "", fmt.Errorf("image %s is not in the store %s (litebox pull it, or use oci:DIR or docker-archive:FILE)", name, s.dir)
}

// List returns the store's images, sorted by name.
func (s *Store) List() ([]Entry, error) {
	unlock, err := s.Lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return s.list()
}

func (s *Store) list() ([]Entry, error) {
	dir := s.LayoutDir()
	idx, err := blob.ReadIndex(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %v", s.dir, err)
	}
	var out []Entry
	for _, d := range idx.Manifests {
		n := d.Annotations[RefName]
		if n == "" {
			continue
		}
		e := Entry{Name: n, Digest: d.Digest.String(), Size: d.Size}
		raw, err := blob.ReadLayout(dir, d.Digest, d.Size, "manifest")
		if err != nil {
			return nil, fmt.Errorf("image %s: %v", n, err)
		}
		m, err := v1.ParseManifest(strings.NewReader(string(raw)))
		if err != nil {
			return nil, fmt.Errorf("image %s: manifest %s: %v", n, d.Digest, oneLine(err))
		}
		e.Size += m.Config.Size
		for _, l := range m.Layers {
			e.Size += l.Size
		}
		rawCfg, err := blob.ReadLayout(dir, m.Config.Digest, m.Config.Size, "config")
		if err != nil {
			return nil, fmt.Errorf("image %s: %v", n, err)
		}
		cf, err := v1.ParseConfigFile(strings.NewReader(string(rawCfg)))
		if err != nil {
			return nil, fmt.Errorf("image %s: config %s: %v", n, m.Config.Digest, oneLine(err))
		}
		e.Created = cf.Created.Time
		for p := range cf.Config.ExposedPorts {
			e.ExposedPorts = append(e.ExposedPorts, p)
		}
		sort.Strings(e.ExposedPorts)
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
