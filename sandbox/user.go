package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
)

// User is whom a sandbox's commands run as: the real, effective, saved and
// file-system ids of their first processes, and their supplementary
// groups. These are guest ids, seen and checked only by litebox's kernel:
// uid 0 is a guest root, with every capability over the kernel's own
// checks and none over the host (litebox never runs a host operation as
// another user, and its stubs are unprivileged whatever the guest is).
type User struct {
	UID, GID uint32
	Groups   []uint32
}

// DefaultUser is whom the guest runs as unless Config.User says otherwise:
// an unprivileged user, 1000:1000, without supplementary groups.
var DefaultUser = User{UID: 1000, GID: 1000}

// passwdFile is where ParseUser looks a uid's primary group up; the
// guest's /etc is a read-only view of the host's.
var passwdFile = "/etc/passwd"

// ParseUser parses the CLI form UID[:GID] (Docker's --user, with numeric
// ids). Without GID the group is the uid's primary group in /etc/passwd
// (the guest's /etc is the host's), or 0 when it has none, as Docker does.
func ParseUser(spec string) (User, error) {
	uidStr, gidStr, hasGID := strings.Cut(spec, ":")
	uid, err := parseID(uidStr)
	if err != nil {
		return User{}, fmt.Errorf("bad user %q: want UID[:GID], numeric ids below %d", spec, cred.NoID)
	}
	u := User{UID: uid}
	if !hasGID {
		u.GID = primaryGID(uid)
		return u, nil
	}
	if u.GID, err = parseID(gidStr); err != nil {
		return User{}, fmt.Errorf("bad user %q: want UID[:GID], numeric ids below %d", spec, cred.NoID)
	}
	return u, nil
}

// parseID reads a decimal id: (uid_t)-1 is not one.
func parseID(s string) (uint32, error) {
	if s == "" || s[0] == '+' {
		return 0, strconv.ErrSyntax
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || uint32(n) == cred.NoID {
		return 0, strconv.ErrRange
	}
	return uint32(n), nil
}

// primaryGID is the gid /etc/passwd gives uid, or 0.
func primaryGID(uid uint32) uint32 {
	f, err := os.Open(passwdFile)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	want := strconv.FormatUint(uint64(uid), 10)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) < 4 || fields[2] != want {
			continue
		}
		if gid, err := parseID(fields[3]); err == nil {
			return gid
		}
	}
	return 0
}

// user is the sandbox's user: Config.User, or DefaultUser.
func (cfg *Config) user() User {
	if cfg.User != nil {
		return *cfg.User
	}
	return DefaultUser
}

// creds are the kernel credentials of the sandbox's user.
func (cfg *Config) creds() *cred.Creds {
	u := cfg.user()
	return cred.New(u.UID, u.GID, u.Groups)
}

// hostOwner is whom the host user's files in --mount directories show as.
func (cfg *Config) hostOwner() *hostfs.Owner {
	u := cfg.user()
	return &hostfs.Owner{UID: u.UID, GID: u.GID}
}
