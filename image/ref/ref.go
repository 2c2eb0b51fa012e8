// Package ref parses the image references of `litebox run --image` and
// `litebox pull`: where an image comes from, without opening anything.
//
// The spellings are skopeo's transports, so that a reference that works
// with `skopeo copy` works here:
//
//	oci:DIR[:TAG]              an OCI image layout directory (index.json)
//	docker-archive:FILE[:REF]  a `docker save` / `podman save` tar
//	NAME[:TAG|@DIGEST]         an image in litebox's store (`litebox pull NAME`)
//
// As in skopeo, DIR and FILE end at the first colon.
package ref

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Kind says where an image is read from.
type Kind int

// The kinds of reference.
const (
	OCI           Kind = iota + 1 // an OCI image layout directory
	DockerArchive                 // a docker-archive tar file
	Store                         // an image in litebox's store
)

func (k Kind) String() string {
	switch k {
	case OCI:
		return "oci"
	case DockerArchive:
		return "docker-archive"
	case Store:
		return "store"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Ref is a parsed image reference.
type Ref struct {
	Kind Kind
	// Path is the layout directory or archive file (OCI, DockerArchive).
	Path string
	// Tag selects an image inside the layout or archive: the layout's
	// org.opencontainers.image.ref.name annotation, or an archive's
	// RepoTags entry. Empty: the only image there is.
	Tag string
	// Name is a store image's full name, normalized as the registry
	// client names it (docker.io/library/debian:latest becomes
	// index.docker.io/library/debian:latest); its registry form is
	// Registry.
	Name string
	// Registry is the name as go-containerregistry parsed it (Store only).
	Registry name.Reference
}

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("bad image reference")

// Parse reads an image reference (see the package comment).
func Parse(s string) (Ref, error) {
	if s == "" {
		return Ref{}, fmt.Errorf("%w: empty", ErrSyntax)
	}
	if strings.ContainsAny(s, "\x00\n") {
		return Ref{}, fmt.Errorf("%w %q: control characters", ErrSyntax, s)
	}
	for _, t := range []struct {
		prefix string
		kind   Kind
	}{{"oci:", OCI}, {"docker-archive:", DockerArchive}} {
		rest, ok := strings.CutPrefix(s, t.prefix)
		if !ok {
			continue
		}
		path, tag, _ := strings.Cut(rest, ":")
		if path == "" {
			return Ref{}, fmt.Errorf("%w %q: want %sPATH[:TAG]", ErrSyntax, s, t.prefix)
		}
		return Ref{Kind: t.kind, Path: path, Tag: tag}, nil
	}
	if prefix, _, ok := strings.Cut(s, ":"); ok && !strings.ContainsAny(prefix, "./") && isTransport(prefix) {
		return Ref{}, fmt.Errorf("%w %q: transport %q is not supported (oci:, docker-archive: or a pulled name)", ErrSyntax, s, prefix)
	}
	r, err := ParseName(s)
	if err != nil {
		return Ref{}, err
	}
	return r, nil
}

// ParseName reads a registry image name (litebox pull's argument, and the
// names of the store), as `docker pull` does: a missing registry is Docker
// Hub, a missing tag "latest".
func ParseName(s string) (Ref, error) {
	if strings.HasPrefix(s, "docker://") {
		s = strings.TrimPrefix(s, "docker://") // skopeo's spelling of a registry image
	}
	n, err := name.ParseReference(s)
	if err != nil {
		return Ref{}, fmt.Errorf("%w %q: %v", ErrSyntax, s, oneLine(err))
	}
	return Ref{Kind: Store, Name: n.Name(), Registry: n}, nil
}

// isTransport reports whether p names one of skopeo's other transports,
// which would otherwise parse as a registry host ("dir:foo" is not a
// host:port, but "localhost:5000/x" is).
func isTransport(p string) bool {
	switch p {
	case "dir", "docker-daemon", "oci-archive", "containers-storage", "ostree", "sif", "tarball":
		return true
	}
	return false
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }

func (r Ref) String() string {
	switch r.Kind {
	case OCI, DockerArchive:
		if r.Tag != "" {
			return r.Kind.String() + ":" + r.Path + ":" + r.Tag
		}
		return r.Kind.String() + ":" + r.Path
	}
	return r.Name
}
