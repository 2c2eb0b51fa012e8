// Package spec reads an OCI bundle's config.json (the runtime-spec, through
// github.com/opencontainers/runtime-spec's Go types) and translates it into
// what litebox runs: a sandbox.Config (the root, the mounts, the hostname,
// the limits, the LiteBox annotations) and a Process (the command, its
// user, rlimits, capabilities), applied inside litebox's kernel. Nothing
// here touches the host: no mount, no cgroup, no host rlimit.
//
// Every field that changes what the guest may do is either applied,
// refused with an error, or listed in the Config's Unapplied settings,
// which the sandbox reports in its audit log: nothing is silently ignored
// (docs/oci.md has the table).
package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/litebox-go/litebox/sandbox"
)

// MaxConfigSize bounds config.json: engines write a few KiB (a seccomp
// profile makes it some 100 KiB); anything far larger is not a config.
const MaxConfigSize = 8 << 20

// ErrInvalid is wrapped by every error about the spec's content (as opposed
// to a file that cannot be read).
var ErrInvalid = errors.New("invalid OCI spec")

// Load reads bundle/config.json. Errors are one line, naming the file.
func Load(bundle string) (*specs.Spec, error) {
	name := filepath.Join(bundle, "config.json")
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", bundle, unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxConfigSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, unwrapPath(err))
	}
	if len(data) > MaxConfigSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", name, ErrInvalid, MaxConfigSize)
	}
	s, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return s, nil
}

// Parse decodes a config.json's bytes and checks its version.
func Parse(data []byte) (*specs.Spec, error) {
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, jsonError(data, err))
	}
	if err := checkVersion(s.Version); err != nil {
		return nil, err
	}
	return &s, nil
}

// checkVersion accepts the 1.x specs: the Go types are 1.2's, and 1.x is
// backwards compatible.
func checkVersion(v string) error {
	if v == "" {
		return fmt.Errorf("%w: no ociVersion", ErrInvalid)
	}
	if !strings.HasPrefix(v, "1.") {
		return fmt.Errorf("%w: ociVersion %q: only 1.x is supported", ErrInvalid, v)
	}
	return nil
}

// jsonError says where a JSON error is, as line:column.
func jsonError(data []byte, err error) string {
	var off int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		off = syn.Offset
	case errors.As(err, &typ):
		off = typ.Offset
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	if off < 1 || off > int64(len(data)) {
		return msg
	}
	// Offset counts the bytes read, the last one the offending one.
	at := string(data[:off-1])
	line := 1 + strings.Count(at, "\n")
	col := int64(len(at) - strings.LastIndexByte(at, '\n'))
	return fmt.Sprintf("line %d, column %d: %s", line, col, msg)
}

// unwrapPath drops an *os.PathError's op and path when the message names
// the file already.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// Plan is what a bundle translates to: the sandbox to make and the process
// to run in it first.
type Plan struct {
	Config  sandbox.Config
	Process Process
	// NetNS is the path of the network namespace the engine made for the
	// container (linux.namespaces' network entry); "" when there is none
	// or it has no path (litebox's own network then, per Config.Network).
	NetNS string
	// closers are the root's host file systems and the audit file.
	closers []io.Closer
}

// Close releases what Translate opened (the rootfs, the audit file). Call
// it once the sandbox is closed.
func (p *Plan) Close() error {
	var errs []error
	for i := len(p.closers) - 1; i >= 0; i-- {
		errs = append(errs, p.closers[i].Close())
	}
	p.closers = nil
	return errors.Join(errs...)
}

// Process is one process of the spec (the container's, or an exec's
// process.json), as litebox runs it.
type Process struct {
	Args []string
	Env  []string
	Cwd  string
	User sandbox.User
	// Umask is the process's umask; nil: the kernel's default (022).
	Umask *uint32
	// Terminal asks for a pty (the engine's console socket gets its
	// master); ConsoleSize is its first size, if given.
	Terminal    bool
	ConsoleSize *specs.Box
	// Rlimits are guest limits (never host setrlimit).
	Rlimits []sandbox.Rlimit
	// NoNewPrivileges: litebox never lets a guest gain privileges by
	// execve (set-id bits are never honoured), so this holds whatever it
	// says; it is kept to report it.
	NoNewPrivileges bool
	// Capabilities are the guest's capability sets; nil: the kernel's
	// default (all for uid 0, none otherwise).
	Capabilities *sandbox.Caps
	// Unapplied are the process's settings litebox does not apply.
	Unapplied []sandbox.Unapplied
}

// Command returns the sandbox command that runs p in sb: its program,
// arguments, environment (empty when the spec gives none, not litebox's
// default), working directory, user, umask, rlimits and capabilities.
// Stdio and the terminal are the caller's to set.
func (p *Process) Command(sb *sandbox.Sandbox) *sandbox.Cmd {
	if len(p.Args) == 0 {
		return sb.Command("") // Start reports it: no program
	}
	c := sb.Command(p.Args[0], p.Args[1:]...)
	c.Env = p.Env
	if c.Env == nil {
		c.Env = []string{}
	}
	c.Dir = p.Cwd
	u := p.User
	c.User = &u
	c.Umask = p.Umask
	c.Rlimits = p.Rlimits
	c.Capabilities = p.Capabilities
	return c
}

// SetHome gives proc a HOME when its environment has none, as runc does:
// the home directory of its uid in the root's /etc/passwd, or "/". Translate
// does it for the spec's process; call it for an exec's.
func (p *Plan) SetHome(proc *Process) {
	for _, e := range proc.Env {
		if strings.HasPrefix(e, "HOME=") {
			return
		}
	}
	home := "/"
	if r := p.Config.Root; r != nil {
		spec := strconv.FormatUint(uint64(proc.User.UID), 10)
		if _, h, err := sandbox.LookupUser(spec, r.ReadFile); err == nil && h != "" {
			home = h
		}
	}
	proc.Env = append(slices.Clip(proc.Env), "HOME="+home)
}
