package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

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
// guest's /etc is a read-only view of the host's (with a root image, the
// CLI resolves users with LookupUser through the image's /etc instead).
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
	if o := cfg.MountOwner; o != nil {
		return &hostfs.Owner{UID: o.UID, GID: o.GID}
	}
	u := cfg.user()
	return &hostfs.Owner{UID: u.UID, GID: u.GID}
}

// LookupUser resolves an image's user, Docker's USER / --user forms
// NAME|UID[:GROUP|GID], through the passwd and group files readFile gives
// ("/etc/passwd", "/etc/group" of the image's root, never the host's):
// a name must be in /etc/passwd (a group name in /etc/group); a uid
// without an entry gets gid 0 and home "/", as Docker does. An empty spec
// is root (0:0), the default of an image without USER. When the user has
// a passwd entry, its supplementary groups are the /etc/group groups that
// list its name (its passwd group is not one when GROUP replaces it, as
// with runc). home is the entry's home directory (for $HOME).
func LookupUser(spec string, readFile func(name string) ([]byte, error)) (u User, home string, err error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" && spec != "" || hasGroup && groupPart == "" {
		return User{}, "", fmt.Errorf("bad user %q: want NAME|UID[:GROUP|GID]", spec)
	}
	if userPart == "" {
		userPart = "0"
	}
	passwd, err := readDB(readFile, "/etc/passwd", 7)
	if err != nil {
		return User{}, "", err
	}
	home = "/"
	var entry []string
	if uid, err := parseID(userPart); err == nil {
		u.UID = uid
		for _, e := range passwd {
			if parseIDEq(e[2], uid) {
				entry = e
				break
			}
		}
	} else if isNumeric(userPart) {
		return User{}, "", fmt.Errorf("bad user %q: uid out of range", spec)
	} else {
		for _, e := range passwd {
			if e[0] == userPart {
				entry = e
				break
			}
		}
		if entry == nil {
			return User{}, "", fmt.Errorf("user %q: no such user in the image's /etc/passwd", userPart)
		}
		if u.UID, err = parseID(entry[2]); err != nil {
			return User{}, "", fmt.Errorf("user %q: bad uid %q in the image's /etc/passwd", userPart, entry[2])
		}
	}
	if entry != nil {
		if gid, err := parseID(entry[3]); err == nil {
			u.GID = gid
		}
		if entry[5] != "" {
			home = entry[5]
		}
	}
	var groups [][]string
	if hasGroup || entry != nil {
		if groups, err = readDB(readFile, "/etc/group", 4); err != nil {
			return User{}, "", err
		}
	}
	if hasGroup {
		if gid, err := parseID(groupPart); err == nil {
			u.GID = gid
		} else if isNumeric(groupPart) {
			return User{}, "", fmt.Errorf("bad user %q: gid out of range", spec)
		} else {
			found := false
			for _, g := range groups {
				if g[0] == groupPart {
					if u.GID, err = parseID(g[2]); err != nil {
						return User{}, "", fmt.Errorf("group %q: bad gid %q in the image's /etc/group", groupPart, g[2])
					}
					found = true
					break
				}
			}
			if !found {
				return User{}, "", fmt.Errorf("group %q: no such group in the image's /etc/group", groupPart)
			}
		}
	}
	if entry != nil {
		seen := map[uint32]bool{u.GID: true}
		for _, g := range groups {
			gid, err := parseID(g[2])
			if err != nil || seen[gid] {
				continue
			}
			for _, m := range strings.Split(g[3], ",") {
				if m == entry[0] {
					u.Groups = append(u.Groups, gid)
					seen[gid] = true
					break
				}
			}
		}
	}
	return u, home, nil
}

// maxUserDB bounds the passwd and group files read from an image.
const maxUserDB = 16 << 20

// readDB reads a colon-separated database (passwd, group) into its lines'
// fields, skipping comments and lines with fewer than minFields fields.
// A missing file is an empty database.
func readDB(readFile func(string) ([]byte, error), name string, minFields int) ([][]string, error) {
	data, err := readFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading the image's %s: %w", name, err)
	}
	if len(data) > maxUserDB {
		return nil, fmt.Errorf("the image's %s is larger than %d bytes", name, maxUserDB)
	}
	var out [][]string
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Split(line, ":")
		if len(f) >= minFields {
			out = append(out, f)
		}
	}
	return out, nil
}

func parseIDEq(s string, id uint32) bool {
	n, err := parseID(s)
	return err == nil && n == id
}

func isNumeric(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}
