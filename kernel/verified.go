package kernel

import (
	"github.com/litebox-go/litebox/attest/manifest"
	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/verify"
	"github.com/litebox-go/litebox/kernel/vfs"
	"github.com/litebox-go/litebox/loader"
)

// What asks verified execution at execve (verify.Check.Op).
const (
	opExec         = "exec"               // the program execve runs
	opScript       = "script"             // a #! script execve runs
	opScriptInterp = "script_interpreter" // the program a #! line names
	opELFInterp    = "elf_interpreter"    // the PT_INTERP of the program
)

// Verify returns verified execution's policy (its record of what was
// mapped executable), or nil when the sandbox has none.
func (k *Kernel) Verify() *verify.Policy { return k.verify }

// checkProgram asks verified execution whether the program file f may be
// run as op: its whole content, hashed from the open file. (A script is
// checked here only; its interpreter reads it later like any file. An
// ELF file is checked again, from the bytes its mappings are filled from,
// when the loader maps it executable.)
func (k *Kernel) checkProgram(f loader.File, op string) error {
	if !k.verify.Enforcing() {
		return nil
	}
	pf, ok := f.(*programFile)
	if !ok {
		return nil
	}
	return k.verify.Check(verify.Check{File: pf.f, Op: op,
		Sum: func() (manifest.Digest, int64, error) { return manifest.HashFile(pf.f) }})
}

// setExecCheck makes verified execution decide what m may map executable.
func (k *Kernel) setExecCheck(m *mm.MM) {
	if k.verify != nil {
		m.SetExecCheck(execCheck{k.verify})
	}
}

// execCheck is the sandbox's mm.ExecCheck: the policy, asked by every
// address space for every mapping about to become executable.
type execCheck struct{ p *verify.Policy }

func (c execCheck) CheckExec(x mm.ExecMapping) error {
	f, isFile := x.File.(*vfs.File)
	refuse := ""
	switch {
	case x.Shared:
		refuse = "a shared mapping of a writable file"
	case x.Writable:
		refuse = "writable and executable"
	}
	return c.p.Check(verify.Check{File: f, Name: x.Name, Op: x.Op,
		Sum: func() (manifest.Digest, int64, error) {
			s, n, err := x.Sum()
			return manifest.Digest(s), n, err
		},
		// A file mm did not name as a guest file is checked as new bytes.
		Fresh: x.Written || x.Shared || (x.File != nil && !isFile), Refuse: refuse, Map: true,
		Key: x.Key, Keyed: x.Keyed})
}

func (c execCheck) CheckAnonExec(op string) error { return c.p.CheckAnon(op) }
