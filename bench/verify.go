package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/tests/harness"
)

// The verified-execution row (issue 17): `python3 -c pass` under litebox
// run --verify, with a signed manifest of the host directories python3
// maps code from, next to the python_startup row's same run without it.
// Natively there is nothing to verify: the native column is the same
// plain run as python_startup's, so the two rows' ratios compare.

// VerifyDirs are the host directories the row's manifest lists: python3's
// executable's directory, its libraries' and its C extensions'.
var VerifyDirs = []string{"/usr/bin", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/python3.11/lib-dynload"}

// verifyState is the row's manifest and key, made on first use.
type verifyState struct {
	once          sync.Once
	manifest, pub string
	err           error
}

// verifyFiles makes a key pair and the signed manifest of VerifyDirs
// (with litebox manifest create and sign: a few seconds, once).
func (e *Env) verifyFiles() (manifest, pub string, err error) {
	e.ver.once.Do(func() {
		if e.liteboxErr != nil {
			e.ver.err = e.liteboxErr
			return
		}
		priv, pubPEM, err := keys.Generate()
		if err != nil {
			e.ver.err = err
			return
		}
		key := filepath.Join(e.dir, "verify.pem")
		e.ver.pub = filepath.Join(e.dir, "verify.pub")
		unsigned := filepath.Join(e.dir, "verify-manifest.json")
		e.ver.manifest = filepath.Join(e.dir, "verify-manifest.signed.json")
		if err := os.WriteFile(key, priv, 0o600); err != nil {
			e.ver.err = err
			return
		}
		if err := os.WriteFile(e.ver.pub, pubPEM, 0o644); err != nil {
			e.ver.err = err
			return
		}
		fmt.Fprintf(os.Stderr, "bench: making the manifest of %v\n", VerifyDirs)
		for _, argv := range [][]string{
			append([]string{e.Litebox, "manifest", "create", "-q", "-o", unsigned}, VerifyDirs...),
			{e.Litebox, "manifest", "sign", "--key", key, "-o", e.ver.manifest, unsigned},
		} {
			if res := harness.Run(harness.Cmd{Argv: argv, Timeout: 5 * time.Minute}); res.Err != nil || res.ExitCode != 0 {
				e.ver.err = fmt.Errorf("%q failed:\n%s", argv, res)
				return
			}
		}
	})
	return e.ver.manifest, e.ver.pub, e.ver.err
}

// VerifyUnavailable says which systems have no verified execution: the
// peers (natively the row is the plain run).
func (e *Env) VerifyUnavailable(s *System) string {
	if s.Peer {
		return "unavailable: verified execution is litebox's"
	}
	return ""
}

// PythonStartupVerify measures one `python3 -c pass` under --verify on a
// litebox system (natively: the plain run, see above).
func (e *Env) PythonStartupVerify(s *System) (Sample, error) {
	if s.kind != kindLitebox {
		return e.PythonStartup(s)
	}
	if s.Unavailable != "" {
		return Sample{}, fmt.Errorf("%s is %s", s.Name, s.Unavailable)
	}
	m, pub, err := e.verifyFiles()
	if err != nil {
		return Sample{}, err
	}
	flags := s.Command[1 : len(s.Command)-1] // without "litebox" and the final "--"
	argv := append([]string{e.Litebox}, flags...)
	argv = append(argv, "--verify", m, "--trust", pub, "--", PythonPath, "-c", "pass")
	res := harness.Run(harness.Cmd{Argv: argv, Env: harness.MinimalEnv(), Dir: os.TempDir()})
	if res.Err != nil || res.ExitCode != 0 {
		return Sample{}, fmt.Errorf("%q failed:\n%s", argv, res)
	}
	return wholeRun(res, nil)
}
