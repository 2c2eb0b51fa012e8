package verify

import (
	"crypto/sha256"
	"errors"
	"log/slog"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/attest/manifest"
)

func TestCheck(t *testing.T) {
	code, data := []byte("code"), []byte("data")
	m := &manifest.Manifest{Version: 1, Entries: map[string]manifest.Entry{
		"/bin/prog": {SHA256: sha256.Sum256(code), Size: int64(len(code)), Kind: manifest.KindExecutable},
		"/etc/conf": {SHA256: sha256.Sum256(data), Size: int64(len(data)), Kind: manifest.KindData},
	}}
	sumOf := func(b []byte) func() (manifest.Digest, int64, error) {
		return func() (manifest.Digest, int64, error) { return sha256.Sum256(b), int64(len(b)), nil }
	}
	tests := []struct {
		name    string
		c       Check
		reason  string // "" allowed
		wantErr error
	}{
		{"listed", Check{Name: "/bin/prog", Sum: sumOf(code)}, "", nil},
		{"other bytes", Check{Name: "/bin/prog", Sum: sumOf([]byte("cod3"))}, "sha256 differs from the manifest", nil},
		{"other size", Check{Name: "/bin/prog", Sum: sumOf([]byte("codes"))}, "size differs from the manifest", nil},
		{"not listed", Check{Name: "/bin/other", Sum: sumOf(code)}, "not in the manifest", nil},
		{"data", Check{Name: "/etc/conf", Sum: sumOf(data)}, "listed as data, not for execution", nil},
		{"refused whatever", Check{Name: "/bin/prog", Sum: sumOf(code), Refuse: "writable and executable"}, "writable and executable", nil},
		{"unreadable", Check{Name: "/bin/prog", Sum: func() (manifest.Digest, int64, error) { return manifest.Digest{}, 0, unix.EIO }}, "", unix.EIO},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var events []map[string]string
			p := New(Options{Manifest: m, Audit: func(ev string, attrs ...slog.Attr) {
				e := map[string]string{"msg": ev}
				for _, a := range attrs {
					e[a.Key] = a.Value.String()
				}
				events = append(events, e)
			}})
			tc.c.Fresh, tc.c.Op = true, "mmap" // no File: the check's own bytes
			err := p.Check(tc.c)
			switch {
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) || len(events) != 0 {
					t.Fatalf("err %v events %v, want %v and no event", err, events, tc.wantErr)
				}
			case tc.reason == "":
				if err != nil || len(events) != 0 {
					t.Fatalf("err %v events %v, want allowed", err, events)
				}
			default:
				if !errors.Is(err, unix.EACCES) {
					t.Fatalf("err %v, want EACCES", err)
				}
				got, _, _ := tc.c.Sum()
				if len(events) != 1 || events[0]["msg"] != Event || events[0]["reason"] != tc.reason ||
					events[0]["path"] != tc.c.Name || events[0]["actual_sha256"] != got.String() || events[0]["op"] != "mmap" {
					t.Fatalf("events %v, want one %s of %s: %s", events, Event, tc.c.Name, tc.reason)
				}
				if e, ok := m.Lookup(tc.c.Name); ok && events[0]["expected_sha256"] != e.SHA256.String() {
					t.Errorf("expected_sha256 %s, want %s", events[0]["expected_sha256"], e.SHA256)
				}
			}
		})
	}
}

func TestRecordOnly(t *testing.T) {
	p := New(Options{Record: true})
	if p.Enforcing() {
		t.Fatal("a policy without a manifest enforces")
	}
	err := p.Check(Check{Name: "/x", Fresh: true, Sum: func() (manifest.Digest, int64, error) { return manifest.Digest{1}, 1, nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckAnon("mmap"); err != nil {
		t.Fatal(err)
	}
	if err := New(Options{NoExecAnon: true}).CheckAnon("mprotect"); !errors.Is(err, unix.EACCES) {
		t.Fatalf("--no-exec-anon: %v", err)
	}
}
