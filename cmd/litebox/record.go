package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/litebox-go/litebox/attest/dsse"
	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/attest/record"
	"github.com/litebox-go/litebox/image"
	"github.com/litebox-go/litebox/sandbox"
)

// exitUnverified is the exit status of a verify command whose input is
// well formed but not signed by the trusted key (as gpg and cosign do);
// 125 stays for input that cannot be read or is not a signed document.
const exitUnverified = 1

// unverified marks a signature that does not verify (exit 1).
type unverified struct{ err error }

func (e unverified) Error() string { return e.err.Error() }
func (e unverified) Unwrap() error { return e.err }

// verifyError is err as a verify command's result: unverified for a bad
// signature, else a usage error.
func verifyError(err error) error {
	var se *dsse.SignatureError
	if errors.As(err, &se) {
		return unverified{err}
	}
	return usageError{err}
}

// recordFlags are litebox run's --record flags.
type recordFlags struct {
	path, key string
}

func (r *recordFlags) add(f *pflag.FlagSet) {
	f.StringVar(&r.path, "record", "", "at the end of the run write to `FILE` a signed record of it (in-toto Statement v1 in a DSSE envelope): the command, image and manifest digests, limits, network, start and end, exit status, CPU and memory used, the SHA-256 of every file mapped executable, audit events by kind (needs --record-key; check with litebox record verify)")
	f.StringVar(&r.key, "record-key", "", "the ed25519 private key `KEY` (PKCS#8 PEM) that signs the --record")
}

// recorder is a run's record in the making: opened before the run, so
// that a bad key or an unwritable FILE is a usage error before anything
// runs, and written after it.
type recorder struct {
	verify *verifyFlags
	f      *os.File
	priv   ed25519.PrivateKey
	run    record.Run
	start  time.Time
}

// abandon removes FILE of a run that did not start (a usage error).
func (rc *recorder) abandon() {
	if rc != nil && rc.f != nil {
		rc.f.Close()
		os.Remove(rc.f.Name())
		rc.f = nil
	}
}

// open checks the flags and opens FILE; nil when there is no --record.
func (r *recordFlags) open() (*recorder, error) {
	switch {
	case r.path == "" && r.key == "":
		return nil, nil
	case r.path == "":
		return nil, errors.New("--record-key needs --record FILE")
	case r.key == "":
		return nil, errors.New("--record needs --record-key KEY, the key that signs it")
	}
	priv, err := keys.ReadPrivate(r.key)
	if err != nil {
		return nil, fmt.Errorf("--record-key: %w", err)
	}
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	return &recorder{f: f, priv: priv}, nil
}

// configure notes how the run is set up.
func (rc *recorder) configure(cfg *sandbox.Config, args []string, im *image.Image, imgRef string, v *verifyFlags, network string, allow, publish []string) {
	r := &rc.run
	r.Command = append([]string{}, args...)
	if im != nil {
		r.Image = &record.Image{Ref: imgRef, Digest: im.Digest}
	}
	if cfg.Verify != nil {
		r.NoExecAnon = cfg.Verify.NoExecAnon
	}
	rc.verify = v
	l := cfg.Limits
	r.Limits = record.Limits{MemoryBytes: l.Memory, Pids: l.Tasks, NoFile: l.NoFile, FileSizeBytes: l.FileSize,
		TmpfsSizeBytes: cfg.TmpSize, CPUTime: durationOrNone(l.CPUTime), Timeout: durationOrNone(l.Timeout)}
	r.Network = record.Network{Mode: network, Allow: append([]string{}, allow...),
		Publish: append([]string{}, publish...)}
	rc.start = time.Now()
}

func durationOrNone(d time.Duration) string {
	if d == 0 {
		return "none"
	}
	return d.String()
}

// finish writes the signed record of the ended run: sb has been closed,
// err is what the run returned.
func (rc *recorder) finish(sb *sandbox.Sandbox, err error) error {
	f := rc.f
	rc.f = nil // written: no longer abandoned
	defer f.Close()
	r := &rc.run
	r.StartTime, r.EndTime = rc.start, time.Now()
	r.ExitStatus = exitStatus(err)
	if rc.verify != nil && rc.verify.load != nil {
		if m, keyID, err := rc.verify.load(); err == nil {
			d, err := m.Digest()
			if err != nil {
				return fmt.Errorf("--record: %w", err)
			}
			r.Manifest = &record.Manifest{Digest: "sha256:" + d.String(), KeyID: keyID}
		}
	}
	if sb != nil {
		r.Platform = sb.PlatformName()
		u := sb.Usage()
		r.Usage = record.Usage{CPUNanos: int64(u.CPU), LiteboxCPUNanos: int64(u.LiteboxCPU), PeakMemoryBytes: u.PeakMemory}
		mapped, dropped := sb.Mapped()
		for _, m := range mapped {
			r.Executables = append(r.Executables, record.File{Path: m.Path, SHA256: m.SHA256.String(), Size: m.Size})
		}
		r.ExecutablesDropped = dropped
		r.AuditEvents = sb.AuditCounts()
	}
	st, serr := record.New(*r)
	if serr != nil {
		return fmt.Errorf("--record: %w", serr)
	}
	out, serr := record.Sign(st, rc.priv)
	if serr != nil {
		return fmt.Errorf("--record: %w", serr)
	}
	if _, werr := f.Write(out); werr != nil {
		return fmt.Errorf("--record: %w", werr)
	}
	if cerr := f.Close(); cerr != nil {
		return fmt.Errorf("--record: %w", cerr)
	}
	return nil
}

func newRecordCmd(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "record",
		Short: "Check the signed records of runs (litebox run --record)",
		Long: `litebox run --record FILE --record-key KEY writes, when the run ends, a record
of it signed with the ed25519 key KEY: an in-toto Statement v1 (predicate type
` + record.PredicateType + `) in a DSSE envelope. Its subjects are the files
mapped executable during the run (programs, interpreters, shared libraries,
dlopened modules) with their SHA-256; its predicate the command, the image and
manifest digests, limits, network policy, start and end time, exit status, CPU
and memory used, and the audit events by kind.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newRecordVerifyCmd(stdout))
	return cmd
}

func newRecordVerifyCmd(stdout io.Writer) *cobra.Command {
	var trust string
	cmd := &cobra.Command{
		Use:   "verify --trust PUBKEY FILE",
		Short: "Check a run record against a public key and summarize it",
		Long: `Check that FILE is a run record signed by the ed25519 public key PUBKEY (PKIX
PEM, as 'openssl pkey -pubout' writes it) and print a short summary of the run.
Exit status: 0 verified, 1 the signature does not verify (another key, or the
record changed after it was signed), 125 anything else (a file that cannot be
read, is not a signed record, or not in the form litebox signs).`,
		Example: `  litebox run --record run.json --record-key key.pem -- /usr/bin/python3 -c pass
  litebox record verify --trust key.pub run.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := record.ReadVerified(args[0], trust)
			if err != nil {
				return verifyError(err)
			}
			pub, err := keys.ReadPublic(trust)
			if err != nil {
				return usageError{fmt.Errorf("--trust: %w", err)}
			}
			printRecord(stdout, args[0], keys.KeyID(pub), st)
			return nil
		},
	}
	cmd.Flags().StringVar(&trust, "trust", "", "the trusted ed25519 public key `PUBKEY` (PKIX PEM)")
	cmd.MarkFlagRequired("trust")
	return cmd
}

// printRecord writes the summary of a verified record.
func printRecord(w io.Writer, name, keyID string, st *record.Statement) {
	r := st.Predicate
	fmt.Fprintf(w, "%s: verified: signed by key %s\n", name, keyID[:16])
	fmt.Fprintf(w, "command: %s\n", strings.Join(r.Command, " "))
	fmt.Fprintf(w, "ran: %s to %s (%s) on %s, exit status %d\n", r.StartTime.Format(time.RFC3339), r.EndTime.Format(time.RFC3339),
		r.EndTime.Sub(r.StartTime).Round(time.Millisecond), r.Platform, r.ExitStatus)
	if r.Image != nil {
		fmt.Fprintf(w, "image: %s %s\n", r.Image.Ref, r.Image.Digest)
	}
	if r.Manifest != nil {
		fmt.Fprintf(w, "manifest: %s (enforced)\n", r.Manifest.Digest)
	} else {
		fmt.Fprintln(w, "manifest: none (nothing was refused for its content)")
	}
	fmt.Fprintf(w, "used: %s CPU, %s by litebox, %d bytes of memory at most\n",
		time.Duration(r.Usage.CPUNanos).Round(time.Microsecond), time.Duration(r.Usage.LiteboxCPUNanos).Round(time.Microsecond), r.Usage.PeakMemoryBytes)
	fmt.Fprintf(w, "executables mapped: %d", len(r.Executables))
	if r.ExecutablesDropped > 0 {
		fmt.Fprintf(w, " (and %d not listed)", r.ExecutablesDropped)
	}
	fmt.Fprintln(w)
	for _, f := range r.Executables {
		fmt.Fprintf(w, "  %s %s\n", f.SHA256, f.Path)
	}
	if n := r.AuditEvents["exec_denied"]; n > 0 {
		fmt.Fprintf(w, "refused: %d exec_denied events\n", n)
	}
}

// exitStatus is the status litebox exits with for a run's err (run's
// mapping, without its printing).
func exitStatus(err error) int {
	var exit *sandbox.ExitError
	var prog *sandbox.ProgramError
	var internal *sandbox.InternalError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &internal):
		return exitInternal
	case errors.As(err, &exit):
		if exit.Signaled() {
			return 128 + int(exit.Signal())
		}
		return exit.ExitStatus()
	case errors.As(err, &prog):
		if errors.Is(err, sandbox.ErrNotFound) {
			return exitMissing
		}
		return exitCannot
	default:
		return exitUsage
	}
}
