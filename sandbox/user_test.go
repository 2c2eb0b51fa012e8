package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
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

func TestLookupUser(t *testing.T) {
	files := map[string]string{
		"/etc/passwd": "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n" +
			"nohome:x:1002:1002:::/bin/sh\nbad:x:notanumber:1::/:\nshort:x\n",
		"/etc/group": "root:x:0:\nstaff:x:50:app,other\napp:x:1001:\nwheel:x:10:root,app\nodd:x:zz:app\n",
	}
	read := func(fs map[string]string) func(string) ([]byte, error) {
		return func(name string) ([]byte, error) {
			s, ok := fs[name]
			if !ok {
				return nil, os.ErrNotExist
			}
			return []byte(s), nil
		}
	}
	for _, tc := range []struct {
		spec     string
		files    map[string]string
		uid, gid uint32
		groups   []uint32
		home     string
		err      string
	}{
		{spec: "", uid: 0, gid: 0, groups: []uint32{10}, home: "/root"},
		{spec: "root", uid: 0, gid: 0, groups: []uint32{10}, home: "/root"},
		{spec: "app", uid: 1000, gid: 1001, groups: []uint32{50, 10}, home: "/home/app"},
		{spec: "1000", uid: 1000, gid: 1001, groups: []uint32{50, 10}, home: "/home/app"},
		{spec: "app:staff", uid: 1000, gid: 50, groups: []uint32{10}, home: "/home/app"},
		{spec: "app:7", uid: 1000, gid: 7, groups: []uint32{50, 10}, home: "/home/app"},
		{spec: "4242", uid: 4242, gid: 0, home: "/"},
		{spec: "4242:staff", uid: 4242, gid: 50, home: "/"},
		{spec: "nohome", uid: 1002, gid: 1002, home: "/"},
		{spec: "1000", files: map[string]string{}, uid: 1000, gid: 0, home: "/"}, // no passwd at all
		{spec: "nobody", err: `user "nobody": no such user in the image's /etc/passwd`},
		{spec: "app:nogroup", err: `group "nogroup": no such group in the image's /etc/group`},
		{spec: "bad", err: `user "bad": bad uid "notanumber"`},
		{spec: "4294967295", err: "uid out of range"},
		{spec: "1:99999999999", err: "gid out of range"},
		{spec: ":1", err: "bad user"},
		{spec: "app:", err: "bad user"},
	} {
		fs := tc.files
		if fs == nil {
			fs = files
		}
		u, home, err := LookupUser(tc.spec, read(fs))
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LookupUser(%q) = %+v, %v; want error %q", tc.spec, u, err, tc.err)
			}
			continue
		}
		if err != nil || u.UID != tc.uid || u.GID != tc.gid || !slices.Equal(u.Groups, tc.groups) || home != tc.home {
			t.Errorf("LookupUser(%q) = %+v %q %v; want %d:%d %v %q", tc.spec, u, home, err, tc.uid, tc.gid, tc.groups, tc.home)
		}
	}
}
