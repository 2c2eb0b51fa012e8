package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/attest/keys"
	"github.com/litebox-go/litebox/attest/manifest"
	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/kernel/fsimpl/hostfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/fsimpl/overlay"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// manifestDirs are the host directories a manifest lists by default: the
// default view's, less /etc (configuration, not programs: give /etc as a
// DIR, or its files as --data, to list them).
var manifestDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib64"}

// maxWarnings is how many skipped files manifest create names on stderr;
// the rest are counted.
const maxWarnings = 20

func newManifestCmd(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "manifest",
		Short: "Make, sign and check manifests of the files a sandbox may run",
		Long: `A manifest lists the SHA-256 and size of every executable, shared library and
script of a file tree, by the path the guest sees it at, and any other files
named as verified data. Signed with an ed25519 key the operator keeps on the
host, it says which files may run: litebox run --verify MANIFEST --trust
PUBKEY refuses (EACCES to the guest, an exec_denied audit event) to execute,
or map as code, any file whose contents the manifest does not list.

The signature is a DSSE envelope over the manifest's canonical JSON. Keys are
PEM files as openssl writes them:

  openssl genpkey -algorithm ed25519 -out key.pem      # private: keep it
  openssl pkey -in key.pem -pubout -out key.pub        # public: give it out

A manifest promises the integrity of the listed files against a key you trust;
it is not hardware attestation (see docs/SECURITY.md).`,
		Example: `  litebox manifest create -o host.json                 # the default view's /usr /bin /sbin /lib /lib64
  litebox manifest sign --key key.pem host.json -o host.signed.json
  litebox manifest verify --trust key.pub host.signed.json
  litebox manifest create --image debian:bookworm-slim -o debian.json
  litebox manifest create --rootfs ./rootfs --data /app/config.toml -o app.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newManifestCreateCmd(stdout, stderr), newManifestSignCmd(stdout), newManifestVerifyCmd(stdout))
	return cmd
}

func newManifestCreateCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		img    imageFlags
		data   []string
		output string
		quiet  bool
	)
	cmd := &cobra.Command{
		Use:   "create [--image REF | --rootfs PATH | DIR[:GUEST]...] [--data PATH...] [-o FILE]",
		Short: "List the executables, libraries and scripts of a file tree",
		Long: `Walk a file tree and write its manifest (unsigned, indented JSON) to FILE or
stdout. The tree is one of:

  --image REF     an image, as 'litebox run --image' takes it (its whole tree)
  --rootfs PATH   a root file system directory or tar (its whole tree)
  DIR...          host directories, each at its own path as in litebox's
                  default view, or HOST:GUEST at GUEST as 'run --mount' puts
                  it; with none, the default view's /usr /bin /sbin /lib
                  /lib64 (not /etc: name it, or its files as --data)

Listed are every regular file that is an ELF executable or shared object (by
its ELF header, whatever its mode), has an exec bit, or starts with "#!".
Paths are the guest's canonical paths: a symbolic link is not listed, the
file it leads to (inside the tree) is; a linked directory is not walked.

--data PATH (a guest path; repeatable) also lists a file, or every file of a
directory, as verified data. In DIR mode a data path outside the DIRs is
read from the host at the same path.

Files litebox cannot read are skipped (named on stderr): a verified run then
refuses them. Progress goes to stderr every few seconds; -q silences it.`,
		Example: `  litebox manifest create -o host.json
  litebox manifest create /usr /opt/app --data /etc/app.conf -o app.json
  litebox manifest create /usr /bin /lib /lib64 "$PWD/out:/work" -o work.json
  litebox manifest create --image oci:./layout:v1 -o image.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if img.any() && len(args) > 0 {
				return usageError{errors.New("give --image, --rootfs or DIRs, not both")}
			}
			fs, opts, done, err := manifestTree(&img, args, data)
			if err != nil {
				return usageError{err}
			}
			defer done()
			opts.Data = data
			rep := &createReporter{w: stderr, quiet: quiet, start: time.Now()}
			opts.Progress, opts.Warn = rep.progress, rep.warn
			m, err := manifest.Create(fs, opts)
			if err != nil {
				return usageError{fmt.Errorf("manifest create: %w", err)}
			}
			out, err := m.Indented()
			if err != nil {
				return usageError{err}
			}
			if err := writeOutput(output, out, stdout); err != nil {
				return usageError{err}
			}
			rep.finish(m, output)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&img.image, "image", "", "list the image `REF` (oci:DIR[:TAG], docker-archive:FILE[:NAME], or a NAME[:TAG] litebox pull stored)")
	f.StringVar(&img.rootfs, "rootfs", "", "list the root file system `PATH` (a directory, or a .tar, .tar.gz or .tar.zst)")
	addStoreFlag(f, &img.store)
	f.StringArrayVar(&data, "data", nil, "also list the file or directory `PATH` (a guest path) as verified data (repeatable)")
	f.StringVarP(&output, "output", "o", "-", "write the manifest to `FILE` (- : stdout)")
	f.BoolVarP(&quiet, "quiet", "q", false, "print no progress, only errors")
	return cmd
}

// manifestTree opens the tree create walks, and says what to walk in it.
func manifestTree(img *imageFlags, dirs, data []string) (*vfs.VFS, manifest.Options, func(), error) {
	if img.any() {
		im, err := img.open(nil)
		if err != nil {
			return nil, manifest.Options{}, nil, err
		}
		top := make([]vfs.FileSystem, len(im.Layers))
		for i, l := range im.Layers {
			top[len(top)-1-i] = l
		}
		ovl, err := overlay.New(memfs.New(0), top, overlay.Options{ReadOnly: true})
		if err != nil {
			im.Close()
			return nil, manifest.Options{}, nil, err
		}
		fs := vfs.New(ovl)
		fs.SetCred(cred.New(0, 0, nil)) // read as the image's root, as litebox reads an image
		src := manifest.Source{Type: manifest.SourceImage, Ref: img.image, Digest: im.Digest}
		if img.rootfs != "" {
			abs, _ := filepath.Abs(img.rootfs)
			src = manifest.Source{Type: manifest.SourceRootfs, Ref: abs}
		}
		return fs, manifest.Options{Roots: []string{"/"}, Source: src}, func() { im.Close() }, nil
	}
	return hostTree(dirs, data)
}

// hostTree mounts the host directories dirs (the default ones when
// empty) at their own paths under an empty root, as the default view
// does: a directory that is a symbolic link on the host (/bin -> usr/bin)
// is the same link in the tree. Data paths outside them are mounted too
// (a file's directory, or the directory itself), so that they can be
// listed.
func hostTree(dirs, data []string) (*vfs.VFS, manifest.Options, func(), error) {
	explicit := len(dirs) > 0
	if !explicit {
		dirs = manifestDirs
	}
	fs := vfs.New(memfs.New(0))
	fs.SetCred(cred.New(0, 0, nil))
	var hfss []*hostfs.FS
	done := func() {
		for _, h := range hfss {
			h.Close()
		}
	}
	var mounted, roots []string
	var mount func(dir string, root bool) error
	mount = func(dir string, root bool) error {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if abs == "/" {
			// No view shows the host's / (with its /proc, /sys, /home).
			return errors.New("/: the host's root is not a tree litebox shows a guest: name its directories (/usr /opt ...)")
		}
		if !root && slices.ContainsFunc(mounted, func(m string) bool { return under(abs, m) }) {
			return nil
		}
		fi, err := os.Lstat(abs)
		if err != nil {
			if !explicit && root && errors.Is(err, os.ErrNotExist) {
				return nil // a default directory this host lacks
			}
			return err
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(abs)
			if err != nil {
				return err
			}
			if err := mkdirAllVFS(fs, filepath.Dir(abs)); err != nil {
				return err
			}
			if err := fs.Symlink(target, abs); err != nil {
				return fmt.Errorf("%s: %w", abs, err)
			}
			// What it leads to is walked, so it must be in the tree too
			// (/bin alone is /usr/bin on a merged-/usr host).
			real, err := filepath.EvalSymlinks(abs)
			if err != nil {
				return err
			}
			return mount(real, root)
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s: not a directory", abs)
		}
		if slices.ContainsFunc(mounted, func(m string) bool { return under(abs, m) }) {
			roots = append(roots, abs) // inside a mounted one already
			return nil
		}
		h, err := hostfs.New(abs, hostfs.Options{ReadOnly: true})
		if err != nil {
			return err
		}
		hfss = append(hfss, h)
		if err := mkdirAllVFS(fs, abs); err != nil {
			return err
		}
		if err := fs.Mount(abs, h); err != nil {
			return fmt.Errorf("%s: %w", abs, err)
		}
		mounted = append(mounted, abs)
		if root {
			roots = append(roots, abs)
		}
		return nil
	}
	// HOST:GUEST pairs are mounted after the plain directories, as
	// run's --mount directories are mounted over the default view.
	var plain []string
	var binds [][2]string
	for _, d := range dirs {
		if host, guest, ok := strings.Cut(d, ":"); ok {
			binds = append(binds, [2]string{host, guest})
		} else {
			plain = append(plain, d)
		}
	}
	// Outermost first, so that /usr and /usr/lib are one mount.
	byLen := func(a, b string) int { return len(filepath.Clean(a)) - len(filepath.Clean(b)) }
	slices.SortFunc(plain, byLen)
	for _, d := range plain {
		if err := mount(d, true); err != nil {
			done()
			return nil, manifest.Options{}, nil, err
		}
	}
	slices.SortFunc(binds, func(a, b [2]string) int { return byLen(a[1], b[1]) })
	for _, b := range binds {
		guest, err := bindDir(fs, b[0], b[1], &hfss)
		if err != nil {
			done()
			return nil, manifest.Options{}, nil, err
		}
		mounted = append(mounted, guest)
		roots = append(roots, guest)
	}
	for _, d := range data {
		if !filepath.IsAbs(d) {
			done()
			return nil, manifest.Options{}, nil, fmt.Errorf("--data %s: not an absolute path", d)
		}
		if slices.ContainsFunc(mounted, func(m string) bool { return under(filepath.Clean(d), m) }) {
			continue // in the tree already (Create says if it is missing)
		}
		dir := d
		if fi, err := os.Stat(d); err == nil && !fi.IsDir() {
			dir = filepath.Dir(d)
		} else if err != nil {
			done()
			return nil, manifest.Options{}, nil, fmt.Errorf("--data %s: %w", d, errors.Unwrap(err))
		}
		if err := mount(dir, false); err != nil {
			done()
			return nil, manifest.Options{}, nil, fmt.Errorf("--data %s: %w", d, err)
		}
	}
	if len(roots) == 0 {
		done()
		return nil, manifest.Options{}, nil, errors.New("none of the default directories exists on this host: name DIRs")
	}
	// The source names the directories as given (those that exist), not
	// the links' targets the walk starts from.
	var given []string
	for _, d := range dirs {
		if _, guest, ok := strings.Cut(d, ":"); ok {
			given = append(given, filepath.Clean(guest))
			continue
		}
		if abs, err := filepath.Abs(d); err == nil {
			if _, err := os.Lstat(abs); err == nil {
				given = append(given, abs)
			}
		}
	}
	src := manifest.Source{Type: manifest.SourceDirs, Paths: given}
	return fs, manifest.Options{Roots: roots, Source: src}, done, nil
}

// bindDir mounts the host directory host at the guest path guest (a
// DIR given as HOST:GUEST, as run's --mount HOST:GUEST shows it).
func bindDir(fs *vfs.VFS, host, guest string, hfss *[]*hostfs.FS) (string, error) {
	what := host + ":" + guest
	if !filepath.IsAbs(guest) || filepath.Clean(guest) == "/" {
		return "", fmt.Errorf("%s: the guest path must be absolute and not /", what)
	}
	guest = filepath.Clean(guest)
	real, err := filepath.EvalSymlinks(host)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, errors.Unwrap(err))
	}
	real, _ = filepath.Abs(real)
	if fi, err := os.Stat(real); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("%s: not a directory", what)
	}
	h, err := hostfs.New(real, hostfs.Options{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	*hfss = append(*hfss, h)
	// Inside a read-only mount the mount point may be missing: Mount
	// makes an implicit one, as for run's --mount.
	if err := mkdirAllVFS(fs, guest); err != nil && !errors.Is(err, unix.EROFS) {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if err := fs.Mount(guest, h); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return guest, nil
}

// under reports whether p is dir or below it.
func under(p, dir string) bool {
	return p == dir || dir == "/" || strings.HasPrefix(p, dir+"/")
}

func mkdirAllVFS(fs *vfs.VFS, dir string) error {
	cur := ""
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		cur += "/" + part
		if _, err := fs.Stat(cur, false); err == nil {
			continue
		}
		if err := fs.Mkdir(cur, 0o755); err != nil {
			return fmt.Errorf("%s: %w", cur, err)
		}
	}
	return nil
}

// createReporter prints create's progress and warnings to stderr.
type createReporter struct {
	w        io.Writer
	quiet    bool
	start    time.Time
	last     time.Time
	warnings int
	files    int
}

func (r *createReporter) progress(p manifest.Progress) {
	r.files = p.Files
	if r.quiet || p.Done || time.Since(r.last) < 2*time.Second || time.Since(r.start) < 2*time.Second {
		return
	}
	r.last = time.Now()
	fmt.Fprintf(r.w, "litebox: manifest: %d files examined, %d listed, %s hashed\n", p.Files, p.Listed, humanSize(p.Bytes))
}

func (r *createReporter) warn(p string, err error) {
	r.warnings++
	if r.warnings <= maxWarnings {
		fmt.Fprintf(r.w, "litebox: manifest: skipped %q: %v\n", p, err)
	}
}

func (r *createReporter) finish(m *manifest.Manifest, output string) {
	if r.warnings > maxWarnings {
		fmt.Fprintf(r.w, "litebox: manifest: %d more skipped\n", r.warnings-maxWarnings)
	}
	if r.quiet {
		return
	}
	where := output
	if output == "-" {
		where = "stdout"
	}
	fmt.Fprintf(r.w, "litebox: manifest: %s: %s of %d files examined in %s\n", where, counts(m), r.files, time.Since(r.start).Round(time.Millisecond))
}

// counts is "N entries (a executable, b library, c script, d data)".
func counts(m *manifest.Manifest) string {
	c := m.Counts()
	return fmt.Sprintf("%d entries (%d executable, %d library, %d script, %d data)", len(m.Entries),
		c[manifest.KindExecutable], c[manifest.KindLibrary], c[manifest.KindScript], c[manifest.KindData])
}

// writeOutput writes data to path ("-": stdout), through a temporary file
// renamed into place, so that a failed write leaves no half file.
func writeOutput(path string, data []byte, stdout io.Writer) error {
	if path == "-" {
		_, err := stdout.Write(data)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func newManifestSignCmd(stdout io.Writer) *cobra.Command {
	var key, output string
	cmd := &cobra.Command{
		Use:   "sign --key KEY FILE [-o OUT]",
		Short: "Sign a manifest with an ed25519 key",
		Long: `Check the manifest FILE (as 'litebox run --verify' does) and write a DSSE
envelope of its canonical JSON, signed with the ed25519 private key KEY
(PKCS#8 PEM, as 'openssl genpkey -algorithm ed25519' writes it), to OUT or
stdout. The key is read on the host and never enters a sandbox.`,
		Example: `  openssl genpkey -algorithm ed25519 -out key.pem
  litebox manifest sign --key key.pem host.json -o host.signed.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			priv, err := keys.ReadPrivate(key)
			if err != nil {
				return usageError{fmt.Errorf("--key: %w", err)}
			}
			m, err := manifest.ReadUnsigned(args[0])
			if err != nil {
				return usageError{err}
			}
			out, err := manifest.Sign(m, priv)
			if err != nil {
				return usageError{err}
			}
			if err := writeOutput(output, out, stdout); err != nil {
				return usageError{err}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&key, "key", "", "the ed25519 private key `KEY` (PKCS#8 PEM)")
	cmd.Flags().StringVarP(&output, "output", "o", "-", "write the signed manifest to `OUT` (- : stdout)")
	cmd.MarkFlagRequired("key")
	return cmd
}

func newManifestVerifyCmd(stdout io.Writer) *cobra.Command {
	var trust string
	cmd := &cobra.Command{
		Use:   "verify --trust PUBKEY FILE",
		Short: "Check a signed manifest against a public key",
		Long: `Check that FILE is a manifest signed by the ed25519 public key PUBKEY (PKIX
PEM, as 'openssl pkey -pubout' writes it): the envelope's signature, its
payload type, and the manifest itself, as 'litebox run --verify' checks them.
Prints one line on success; any failure is one line, and exit status 1 when
the signature does not verify (another key, or the manifest changed after it
was signed), 125 for anything else (a file that cannot be read, is not a
signed manifest, or not a valid one). litebox run --verify refuses all of
these alike, with 125.`,
		Example: `  openssl pkey -in key.pem -pubout -out key.pub
  litebox manifest verify --trust key.pub host.signed.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := manifest.ReadVerified(args[0], trust)
			if err != nil {
				return verifyError(err)
			}
			pub, err := keys.ReadPublic(trust)
			if err != nil {
				return usageError{fmt.Errorf("--trust: %w", err)}
			}
			src := m.Source.Type
			if m.Source.Ref != "" {
				src += " " + m.Source.Ref
			}
			if m.Source.Digest != "" {
				src += "@" + m.Source.Digest
			}
			if len(m.Source.Paths) > 0 && m.Source.Type == manifest.SourceDirs {
				src += " " + strings.Join(m.Source.Paths, " ")
			}
			fmt.Fprintf(stdout, "%s: verified: signed by key %s, %s, created %s from %s\n",
				args[0], keys.KeyID(pub)[:16], counts(m), m.Created.Format(time.RFC3339), src)
			return nil
		},
	}
	cmd.Flags().StringVar(&trust, "trust", "", "the trusted ed25519 public key `PUBKEY` (PKIX PEM)")
	cmd.MarkFlagRequired("trust")
	return cmd
}
