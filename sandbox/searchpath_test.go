package sandbox_test

import (
	"slices"
	"testing"

	"github.com/litebox-go/litebox/sandbox"
)

func TestSearchPath(t *testing.T) {
	for _, tc := range []struct {
		name, cwd string
		env       []string
		want      []string
	}{
		{"sh", "/", []string{"PATH=/bin:/usr/bin/"}, []string{"/bin/sh", "/usr/bin/sh"}},
		{"sh", "/work", []string{"PATH=/bin::/x"}, []string{"/bin/sh", "/work/sh", "/x/sh"}},
		{"sh", "/", []string{"PATH=/a", "PATH=/b"}, []string{"/b/sh"}}, // the last PATH entry wins (glibc getenv takes the first)
		{"./run", "/work/", nil, []string{"/work/./run"}},
		{"/bin/sh", "/work", []string{"PATH=/x"}, []string{"/bin/sh"}},
		{"bin/sh", "/", nil, []string{"/bin/sh"}},
	} {
		if got := sandbox.SearchPath(tc.name, tc.env, tc.cwd); !slices.Equal(got, tc.want) {
			t.Errorf("SearchPath(%q, %q, %q) = %q, want %q", tc.name, tc.env, tc.cwd, got, tc.want)
		}
	}
	def := sandbox.SearchPath("sh", nil, "/")
	if len(def) == 0 || def[0] == "sh" {
		t.Errorf("no PATH: %q, want DefaultPath's directories", def)
	}
}
