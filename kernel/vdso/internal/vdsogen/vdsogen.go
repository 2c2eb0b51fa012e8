// Package vdsogen builds the guest's vDSO from vdso.S, vdso.lds and
// vdso.ver with the machine's gcc and GNU ld. kernel/vdso's gen.go writes
// the committed vdso.so with it (embedded in litebox); kernel/vdso's tests
// use it to check that vdso.so matches the sources.
package vdsogen

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Generate builds the vDSO from the sources in dir (kernel/vdso) and
// returns the shared object.
func Generate(dir string) ([]byte, error) {
	tmp, err := os.MkdirTemp("", "vdsogen")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	so := filepath.Join(tmp, "vdso.so")
	args := []string{"-nostdlib", "-shared", "-fPIC",
		"-Wl,-T," + filepath.Join(dir, "vdso.lds"),
		"-Wl,--version-script=" + filepath.Join(dir, "vdso.ver"),
		"-Wl,-soname=linux-vdso.so.1", // the name ldd and the C library show
		"-Wl,--hash-style=both",       // DT_HASH and DT_GNU_HASH: every consumer finds its table
		"-Wl,--build-id=none",         // the same bytes on every build,
		"-Wl,--strip-all",             // and no temporary file names in a .symtab (.dynsym stays)
		"-Wl,--eh-frame-hdr", "-Wl,-z,max-page-size=4096", "-Wl,-z,noexecstack",
		"-o", so, filepath.Join(dir, "vdso.S")}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("gcc %v: %v\n%s", args, err, out)
	}
	return os.ReadFile(so)
}
