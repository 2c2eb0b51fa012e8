package harness

import (
	"path/filepath"
	"strings"
)

// SyscallTraceDirEnv names the environment variable that makes every guest
// run with a Guest.Test append the syscalls it used to a file in that
// directory (litebox's hidden --trace-syscalls flag). The directory must
// exist. `make syscalls-doc` sets it and turns the files into
// docs/syscalls.md.
const SyscallTraceDirEnv = "LITEBOX_SYSCALL_TRACE_DIR"

// maxTraceName bounds the file name: deep subtest names can be long, and
// file systems cap a name at 255 bytes.
const maxTraceName = 200

// SyscallTraceFile returns the trace file, in dir, of the test named test
// (as testing.T.Name reports it). The name keeps letters, digits, '_', '-'
// and '.', turns the subtest separator '/' into '.' and anything else into
// '_'. Since a top-level test name is a Go identifier, it is the file name
// up to its first character that cannot be in one, which is all the
// generator (shim/linux/cmd/syscalldoc) needs. Subtests that collide after
// this, or after truncation, share a file: harmless, because runs append and
// they belong to the same top-level test.
func SyscallTraceFile(dir, test string) string {
	var b strings.Builder
	for _, r := range test {
		switch {
		case r == '/':
			b.WriteByte('.')
		case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > maxTraceName {
		name = name[:maxTraceName]
	}
	return filepath.Join(dir, name+".txt")
}
