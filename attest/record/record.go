// Package record is the signed record of a sandbox run (litebox run
// --record FILE --record-key KEY): an in-toto Statement v1 whose subjects
// are the files that were mapped executable, with their SHA-256, and whose
// predicate says how the run was configured and how it went, inside a
// DSSE envelope signed with ed25519. `litebox record verify` checks one.
//
// The statement is signed as the bytes Encode writes (JSON, struct fields
// in their order, map keys sorted, no HTML escaping); Verify refuses a
// payload that is not exactly that encoding of what it parses to, so a
// record has one signed form (no duplicate keys, no unknown fields, no
// nulls in place of values).
package record

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/litebox-go/litebox/attest/dsse"
	"github.com/litebox-go/litebox/attest/internal/hostfile"
	"github.com/litebox-go/litebox/attest/internal/strictjson"
	"github.com/litebox-go/litebox/attest/keys"
)

// The in-toto identifiers of a record.
const (
	// PayloadType is the DSSE payload type of an in-toto statement.
	PayloadType = "application/vnd.in-toto+json"
	// StatementType is in-toto's Statement v1.
	StatementType = "https://in-toto.io/Statement/v1"
	// PredicateType names the predicate of a litebox run record.
	PredicateType = "https://litebox.dev/attestation/run/v1"
)

// Statement is an in-toto Statement v1 about one run.
type Statement struct {
	Type          string    `json:"_type"`
	Subject       []Subject `json:"subject"`
	PredicateType string    `json:"predicateType"`
	Predicate     Run       `json:"predicate"`
}

// Subject is an in-toto resource descriptor: a file by guest path and
// digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// Run is the predicate: how the run was configured and what it did.
type Run struct {
	// Command is the guest program and its arguments.
	Command []string `json:"command"`
	// Platform is how guest code ran ("systrap", "ptrace").
	Platform string `json:"platform"`
	// Image is the image run, if one was (--image, --rootfs).
	Image *Image `json:"image,omitempty"`
	// Manifest is the manifest enforced, if one was (--verify).
	Manifest *Manifest `json:"manifest,omitempty"`
	// NoExecAnon says anonymous executable memory was refused.
	NoExecAnon bool      `json:"noExecAnon"`
	Limits     Limits    `json:"limits"`
	Network    Network   `json:"network"`
	StartTime  time.Time `json:"startTime"`
	EndTime    time.Time `json:"endTime"`
	// ExitStatus is litebox's exit status: the guest's, 128+N for a
	// signal, or litebox's own (125, 126, 127, 70).
	ExitStatus int   `json:"exitStatus"`
	Usage      Usage `json:"usage"`
	// Executables are the files mapped executable during the run (the
	// programs, their interpreters, every shared library and dlopened
	// module), as the subjects list them, with their sizes.
	Executables []File `json:"executables"`
	// ExecutablesDropped counts those not listed (past the bound on
	// what a run remembers).
	ExecutablesDropped int `json:"executablesDropped"`
	// AuditEvents counts the run's audit events by kind.
	AuditEvents map[string]int64 `json:"auditEvents"`
}

// Image names the image a run's root was.
type Image struct {
	Ref    string `json:"ref"`
	Digest string `json:"digest,omitempty"`
}

// Manifest names the manifest a run enforced.
type Manifest struct {
	// Digest is "sha256:<hex>" of its canonical encoding.
	Digest string `json:"digest"`
	// KeyID is the id of the key it was verified with.
	KeyID string `json:"keyid"`
}

// Limits are the run's resource limits (0: none).
type Limits struct {
	MemoryBytes    uint64 `json:"memoryBytes"`
	Pids           int    `json:"pids"`
	NoFile         int    `json:"nofile"`
	FileSizeBytes  uint64 `json:"fileSizeBytes"`
	TmpfsSizeBytes int64  `json:"tmpfsSizeBytes"`
	CPUTime        string `json:"cpuTime"`
	Timeout        string `json:"timeout"`
}

// Network is the run's network policy.
type Network struct {
	Mode    string   `json:"mode"`
	Allow   []string `json:"allow"`
	Publish []string `json:"publish"`
}

// Usage is what the run used.
type Usage struct {
	// CPUNanos is the guests' CPU time; LiteboxCPUNanos litebox's own
	// serving them.
	CPUNanos        int64 `json:"cpuNanos"`
	LiteboxCPUNanos int64 `json:"liteboxCpuNanos"`
	// PeakMemoryBytes is the most memory charged to --memory at once.
	PeakMemoryBytes uint64 `json:"peakMemoryBytes"`
}

// File is a file mapped executable.
type File struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

// New returns the statement of run: its subjects are run's executables.
// A run that mapped nothing (its program was refused) has its command as
// the one subject, named "command" with the SHA-256 of its JSON array,
// since in-toto wants at least one.
func New(run Run) (*Statement, error) {
	st := &Statement{Type: StatementType, PredicateType: PredicateType, Predicate: run}
	if st.Predicate.Executables == nil {
		st.Predicate.Executables = []File{}
	}
	for _, f := range run.Executables {
		st.Subject = append(st.Subject, Subject{Name: f.Path, Digest: map[string]string{"sha256": f.SHA256}})
	}
	if len(st.Subject) == 0 {
		c, err := json.Marshal(run.Command)
		if err != nil {
			return nil, err
		}
		s := sha256.Sum256(c)
		st.Subject = []Subject{{Name: "command", Digest: map[string]string{"sha256": hex.EncodeToString(s[:])}}}
	}
	st.normalize()
	return st, nil
}

// normalize replaces nil slices and maps by empty ones, so that the
// encoding has [] and {} where Verify expects them.
func (st *Statement) normalize() {
	r := &st.Predicate
	if r.Command == nil {
		r.Command = []string{}
	}
	if r.Network.Allow == nil {
		r.Network.Allow = []string{}
	}
	if r.Network.Publish == nil {
		r.Network.Publish = []string{}
	}
	if r.AuditEvents == nil {
		r.AuditEvents = map[string]int64{}
	}
	if r.Executables == nil {
		r.Executables = []File{}
	}
	r.StartTime, r.EndTime = r.StartTime.UTC(), r.EndTime.UTC()
}

// noNulls refuses a null where a list or an object is: encoding/json
// reads and writes it as nil, so the form check alone would let it be.
func (st *Statement) noNulls() error {
	r := &st.Predicate
	for _, s := range st.Subject {
		if s.Digest == nil {
			return errors.New("statement: a subject's digest is null")
		}
	}
	if r.Command == nil || r.Network.Allow == nil || r.Network.Publish == nil || r.AuditEvents == nil || r.Executables == nil {
		return errors.New("statement: null where the predicate has a list or an object")
	}
	return nil
}

// Encode returns the statement's signed bytes.
func (st *Statement) Encode() ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(st); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Sign returns the DSSE envelope (JSON) of st signed with priv.
func Sign(st *Statement, priv ed25519.PrivateKey) ([]byte, error) {
	payload, err := st.Encode()
	if err != nil {
		return nil, err
	}
	env, err := dsse.Sign(PayloadType, payload, priv)
	if err != nil {
		return nil, err
	}
	return env.Marshal()
}

// ErrMalformed marks a record that is not a well-formed signed record
// (as opposed to one whose signature does not verify, dsse's
// SignatureError).
var ErrMalformed = errors.New("malformed record")

// Verify parses a signed record and returns its statement if it is
// signed by pub. A signature that does not verify is a
// *dsse.SignatureError; anything else wrong wraps ErrMalformed.
func Verify(data []byte, pub ed25519.PublicKey) (*Statement, error) {
	env, err := dsse.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	payload, err := env.Verify(PayloadType, pub)
	if err != nil {
		var se *dsse.SignatureError
		if errors.As(err, &se) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	st, err := Parse(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: signed %w", ErrMalformed, err)
	}
	return st, nil
}

// Parse reads a statement's bytes strictly: valid UTF-8, the known
// fields only, a litebox run predicate, and exactly the bytes Encode
// would write for it.
func Parse(payload []byte) (*Statement, error) {
	if err := strictjson.Valid(payload); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	var st Statement
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("statement: %w", err)
	}
	if dec.More() {
		return nil, errors.New("statement: data after the statement")
	}
	switch {
	case st.Type != StatementType:
		return nil, fmt.Errorf("statement: _type %q, want %q", strictjson.Clip(st.Type), StatementType)
	case st.PredicateType != PredicateType:
		return nil, fmt.Errorf("statement: predicateType %q, want %q", strictjson.Clip(st.PredicateType), PredicateType)
	case len(st.Subject) == 0:
		return nil, errors.New("statement: no subject")
	}
	if err := st.noNulls(); err != nil {
		return nil, err
	}
	again, err := st.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, payload) {
		return nil, errors.New("statement: not in the form litebox signs (a field is repeated, null, reordered or respelled)")
	}
	return &st, nil
}

// ReadVerified reads the signed record file path and verifies it against
// the public key file trust (PKIX PEM): what `litebox record verify`
// does. Errors are one line naming the file at fault; a key or file that
// cannot be read, or is not a key, wraps ErrMalformed too.
func ReadVerified(path, trust string) (*Statement, error) {
	pub, err := keys.ReadPublic(trust)
	if err != nil {
		return nil, fmt.Errorf("%w: --trust: %w", ErrMalformed, err)
	}
	data, err := hostfile.Read(path, dsse.MaxEnvelope)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	st, err := Verify(data, pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}
