package main

import (
	"errors"
	"sync"

	"github.com/spf13/pflag"

	"github.com/litebox-go/litebox/attest/digests"
	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/attest/manifest"
	"github.com/litebox-go/litebox/kernel/verify"
)

// verifyFlags are litebox run's verified-execution flags.
type verifyFlags struct {
	manifest   string
	trust      string
	noExecAnon bool
	// load waits for the manifest being verified (options); nil without
	// --verify.
	load func() (*manifest.Manifest, string, error)
}

func (v *verifyFlags) add(f *pflag.FlagSet) {
	f.StringVar(&v.manifest, "verify", "", "run only what the signed manifest `MANIFEST` lists: every program, ELF interpreter, #! script and interpreter, and file mapped executable must have the listed SHA-256, else EACCES and an exec_denied audit event (needs --trust)")
	f.StringVar(&v.trust, "trust", "", "the public key `PUBKEY` (PEM, openssl pkey -pubout) the --verify manifest must be signed with")
	f.BoolVar(&v.noExecAnon, "no-exec-anon", false, "refuse executable anonymous memory and memory both writable and executable (W^X): such mmap/mprotect get EACCES; JITs (Java, Node, PyPy, LuaJIT, libffi closures) then fail")
}

// options starts reading and verifying the manifest, which goes on while
// the sandbox is made; the kernel's first check (the first program's
// execve, before any guest instruction) waits for it, and wait reports
// its error after the run: a manifest that is malformed, unsigned, signed
// by another key or over other bytes is then a one-line usage error
// (exit 125), and nothing of the guest has run. record says a record of
// the run is wanted, which needs the policy even without a manifest.
func (v *verifyFlags) options(record bool) (*verify.Options, error) {
	if v.manifest == "" && v.trust != "" {
		return nil, errors.New("--trust needs --verify MANIFEST")
	}
	if v.manifest == "" && !v.noExecAnon && !record {
		return nil, nil
	}
	// Digests of host files are remembered across runs (the user's cache
	// directory; LITEBOX_DIGESTS=DIR|off), so a second run hashes nothing.
	o := &verify.Options{NoExecAnon: v.noExecAnon, Record: record, Digests: digests.Process()}
	if v.manifest != "" {
		if v.trust == "" {
			return nil, errors.New("--verify needs --trust PUBKEY, the key the manifest must be signed with")
		}
		type verified struct {
			m     *manifest.Manifest
			keyID string
			err   error
		}
		ch := make(chan verified, 1)
		go func() {
			m, err := manifest.ReadVerified(v.manifest, v.trust)
			r := verified{m: m, err: err}
			if pub, perr := keys.ReadPublic(v.trust); err == nil && perr == nil {
				r.keyID = keys.KeyID(pub)
			}
			ch <- r
		}()
		var once sync.Once
		var r verified
		v.load = func() (*manifest.Manifest, string, error) {
			once.Do(func() { r = <-ch })
			return r.m, r.keyID, r.err
		}
		o.Load = func() (*manifest.Manifest, error) {
			m, _, err := v.load()
			return m, err
		}
	}
	return o, nil
}

// wait returns the manifest's verification error, once it is done; nil
// without --verify.
func (v *verifyFlags) wait() error {
	if v.load == nil {
		return nil
	}
	_, _, err := v.load()
	return err
}
