package manifest

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"
)

// CheckPath reports whether p can be an entry's path: absolute, clean
// (path.Clean leaves it as it is: no "//", ".", ".." or trailing "/"),
// not "/", at most 4095 bytes with components of at most 255, valid
// UTF-8 without NUL or U+FFFD (the replacement character, which is what
// a name that is not UTF-8 would become: two such names would be one).
func CheckPath(p string) error {
	switch {
	case p == "":
		return errors.New("empty path")
	case p[0] != '/':
		return errors.New("not an absolute path")
	case p == "/":
		return errors.New("the root is not a file")
	case len(p) > maxPath:
		return fmt.Errorf("longer than %d bytes", maxPath)
	case !utf8.ValidString(p):
		return errors.New("not valid UTF-8")
	case strings.ContainsRune(p, 0):
		return errors.New("contains NUL")
	case strings.ContainsRune(p, utf8.RuneError):
		return errors.New("contains U+FFFD")
	case path.Clean(p) != p:
		return errors.New("not a clean path (no //, ., .. or trailing /)")
	}
	for rest := p[1:]; rest != ""; {
		c := rest
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			c, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		if len(c) > maxName {
			return fmt.Errorf("a component longer than %d bytes", maxName)
		}
	}
	return nil
}
