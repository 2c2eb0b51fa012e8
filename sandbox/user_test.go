package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseUser(t *testing.T) {
	passwd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nu:x:1234:77::/:/bin/sh\nbad:x:5:notanumber::/:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	old := passwdFile
	passwdFile = passwd
	defer func() { passwdFile = old }()
	for _, tc := range []struct {
		spec     string
		uid, gid uint32
		ok       bool
	}{
		{"0", 0, 0, true},
		{"0:0", 0, 0, true},
		{"1234", 1234, 77, true}, // the passwd entry's group
		{"1234:5", 1234, 5, true},
		{"999", 999, 0, true}, // no entry: group 0, as Docker
		{"5", 5, 0, true},     // an entry whose group is unreadable
		{"4294967294:4294967294", 4294967294, 4294967294, true},
		{"4294967295", 0, 0, false}, // (uid_t)-1 is not an id
		{"1:4294967295", 0, 0, false},
		{"-1", 0, 0, false},
		{"+1", 0, 0, false},
		{"root", 0, 0, false},
		{"", 0, 0, false},
		{":1", 0, 0, false},
		{"1:", 0, 0, false},
		{"1:2:3", 0, 0, false},
		{"0x10", 0, 0, false},
	} {
		u, err := ParseUser(tc.spec)
		if (err == nil) != tc.ok {
			t.Errorf("ParseUser(%q): error %v, want ok=%v", tc.spec, err, tc.ok)
			continue
		}
		if tc.ok && (u.UID != tc.uid || u.GID != tc.gid || u.Groups != nil) {
			t.Errorf("ParseUser(%q) = %+v, want %d:%d", tc.spec, u, tc.uid, tc.gid)
		}
	}
}
