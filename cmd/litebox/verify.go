package main

import (
	"errors"

	"github.com/spf13/pflag"

	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/attest/manifest"
	"github.com/litebox-go/litebox/kernel/verify"
)

// verifyFlags are litebox run's verified-execution flags.
type verifyFlags struct {
	manifest   string
	trust      string
	noExecAnon bool
	// keyID is the --trust key's id, once options has read it.
	keyID string
}

func (v *verifyFlags) add(f *pflag.FlagSet) {
	f.StringVar(&v.manifest, "verify", "", "run only what the signed manifest `MANIFEST` lists: every program, ELF interpreter, #! script and interpreter, and file mapped executable must have the listed SHA-256, else EACCES and an exec_denied audit event (needs --trust)")
	f.StringVar(&v.trust, "trust", "", "the public key `PUBKEY` (PEM, openssl pkey -pubout) the --verify manifest must be signed with")
	f.BoolVar(&v.noExecAnon, "no-exec-anon", false, "refuse executable anonymous memory (W^X): mmap/mprotect with PROT_EXEC of memory no file backs get EACCES; JITs (Java, Node, PyPy, LuaJIT, libffi closures) then fail")
}

// options reads and verifies the manifest, before anything runs: a
// manifest that is malformed, unsigned, signed by another key or over
// other bytes is a one-line usage error (exit 125). record says a record
// of the run is wanted, which needs the policy even without a manifest.
func (v *verifyFlags) options(record bool) (*verify.Options, error) {
	if v.manifest == "" && v.trust != "" {
		return nil, errors.New("--trust needs --verify MANIFEST")
	}
	if v.manifest == "" && !v.noExecAnon && !record {
		return nil, nil
	}
	o := &verify.Options{NoExecAnon: v.noExecAnon}
	if v.manifest != "" {
		if v.trust == "" {
			return nil, errors.New("--verify needs --trust PUBKEY, the key the manifest must be signed with")
		}
		m, err := manifest.ReadVerified(v.manifest, v.trust)
		if err != nil {
			return nil, err
		}
		o.Manifest = m
		if pub, err := keys.ReadPublic(v.trust); err == nil {
			v.keyID = keys.KeyID(pub)
		}
	}
	return o, nil
}
