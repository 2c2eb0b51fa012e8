package ref

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in        string
		kind      Kind
		path, tag string
		name      string
		err       string
	}{
		{in: "oci:/srv/img", kind: OCI, path: "/srv/img"},
		{in: "oci:img:v1", kind: OCI, path: "img", tag: "v1"},
		{in: "oci:img:example.com/a/b:v1", kind: OCI, path: "img", tag: "example.com/a/b:v1"},
		{in: "docker-archive:a.tar", kind: DockerArchive, path: "a.tar"},
		{in: "docker-archive:a.tar:debian:12", kind: DockerArchive, path: "a.tar", tag: "debian:12"},
		{in: "debian", kind: Store, name: "index.docker.io/library/debian:latest"},
		{in: "docker.io/library/debian:12", kind: Store, name: "index.docker.io/library/debian:12"},
		{in: "docker://alpine:3", kind: Store, name: "index.docker.io/library/alpine:3"},
		{in: "localhost:5000/x/y:t", kind: Store, name: "localhost:5000/x/y:t"},
		{in: "127.0.0.1:5000/x@sha256:" + strings.Repeat("a", 64), kind: Store,
			name: "127.0.0.1:5000/x@sha256:" + strings.Repeat("a", 64)},
		{in: "", err: "empty"},
		{in: "oci:", err: "want oci:PATH"},
		{in: "oci::tag", err: "want oci:PATH"},
		{in: "docker-archive:", err: "want docker-archive:PATH"},
		{in: "dir:/x", err: `transport "dir" is not supported`},
		{in: "oci-archive:/x.tar", err: `transport "oci-archive" is not supported`},
		{in: "UPPER/case", err: "bad image reference"},
		{in: "x@sha256:12", err: "bad image reference"},
		{in: "a\nb", err: "control characters"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			r, err := Parse(tc.in)
			if tc.err != "" {
				if err == nil || !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "\n") {
					t.Fatalf("Parse(%q) = %+v, %v; want one line with %q", tc.in, r, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if r.Kind != tc.kind || r.Path != tc.path || r.Tag != tc.tag || r.Name != tc.name {
				t.Fatalf("Parse(%q) = %+v", tc.in, r)
			}
			if tc.kind != Store {
				if again, err := Parse(r.String()); err != nil || again.Path != r.Path || again.Tag != r.Tag {
					t.Errorf("String() %q does not parse back: %+v %v", r.String(), again, err)
				}
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"oci:/x:y", "docker-archive:a:b:c", "debian", "localhost:5000/a@sha256:" + strings.Repeat("0", 64), "dir:x", ":", "oci::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("Parse(%q): error %q is not one ErrSyntax line", s, err)
			}
			return
		}
		if r.Kind == Store && r.Registry == nil || r.Kind != Store && r.Path == "" {
			t.Fatalf("Parse(%q) = %+v", s, r)
		}
	})
}
