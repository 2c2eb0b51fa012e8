package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/litebox-go/litebox/image"
	"github.com/litebox-go/litebox/image/ref"
	"github.com/litebox-go/litebox/image/store"
	"github.com/litebox-go/litebox/sandbox"
)

// imageFlags are run's flags that give the guest a root of its own.
type imageFlags struct {
	image      string
	rootfs     string
	readOnly   bool
	store      string
	entrypoint string
	fs         *pflag.FlagSet
}

const imageHelp = "run the image `REF` as the root file system, with nothing of the host visible: oci:DIR[:TAG] (an OCI image layout), " +
	"docker-archive:FILE[:NAME] (docker/podman save), or a NAME[:TAG] that litebox pull stored; its Entrypoint, Cmd, Env, WorkingDir and User apply"

func (f *imageFlags) add(fs *pflag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.image, "image", "", imageHelp)
	fs.StringVar(&f.entrypoint, "entrypoint", "", "replace the image's Entrypoint with `PROGRAM` (\"\": none) and drop its Cmd, as docker run --entrypoint")
	fs.StringVar(&f.rootfs, "rootfs", "", "use `PATH`, a host directory (read-only) or a root file system tar (.tar, .tar.gz, .tar.zst), as the root file system, with nothing else of the host visible")
	fs.BoolVar(&f.readOnly, "read-only", false, "make the --image or --rootfs root read-only (EROFS); /tmp, /dev/shm and --mount directories stay as they are")
	addStoreFlag(fs, &f.store)
}

func addStoreFlag(fs *pflag.FlagSet, dst *string) {
	fs.StringVar(dst, "store", "", "the image store and cache `DIR` (default $LITEBOX_STORE, else $XDG_DATA_HOME/litebox or ~/.local/share/litebox)")
}

func (f *imageFlags) any() bool { return f.image != "" || f.rootfs != "" }

// openStore opens the store named by --store or the default one.
func openStore(dir string) (*store.Store, error) {
	if dir == "" {
		d, err := store.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return store.Open(dir)
}

// open opens the image or rootfs the flags name; nil when there is none.
func (f *imageFlags) open(log *slog.Logger) (*image.Image, error) {
	switch {
	case f.image != "" && f.rootfs != "":
		return nil, errors.New("--image and --rootfs are two roots: give one")
	case f.readOnly && !f.any():
		return nil, errors.New("--read-only needs --image or --rootfs (the default view is read-only already)")
	case f.fs != nil && f.fs.Changed("entrypoint") && !f.any():
		return nil, errors.New("--entrypoint needs --image or --rootfs")
	case !f.any():
		return nil, nil
	}
	if f.rootfs != "" {
		if fi, err := os.Stat(f.rootfs); err == nil && fi.IsDir() {
			return image.OpenRootfs(f.rootfs, image.Options{Log: log}) // a directory needs no store
		}
	}
	st, err := openStore(f.store)
	if err != nil {
		return nil, err
	}
	opts := image.Options{Store: st, Log: log}
	if f.rootfs != "" {
		return image.OpenRootfs(f.rootfs, opts)
	}
	r, err := ref.Parse(f.image)
	if err == nil && r.Kind == ref.Store {
		_, err = st.Find(r.Name)
	}
	if err != nil {
		// A path where a reference was expected: say how to spell it.
		if fi, serr := os.Stat(f.image); serr == nil && r.Kind != ref.OCI && r.Kind != ref.DockerArchive {
			kind := "docker-archive:"
			if fi.IsDir() {
				kind = "oci:"
			}
			return nil, fmt.Errorf("--image %s: a path is written %s%s (or use --rootfs for a plain root file system)", f.image, kind, f.image)
		}
		return nil, fmt.Errorf("--image: %w", err)
	}
	return image.Open(r, opts)
}

// config is the image's config with --entrypoint applied: as Docker, it
// replaces the Entrypoint and drops the image's Cmd.
func (f *imageFlags) config(im *image.Image) image.Config {
	cfg := im.Config
	if f.fs != nil && f.fs.Changed("entrypoint") {
		cfg.Entrypoint, cfg.Cmd = nil, nil
		if f.entrypoint != "" {
			cfg.Entrypoint = []string{f.entrypoint}
		}
	}
	return cfg
}

// imageRun is what an image decides about a command: its program and
// arguments, environment, directory and user, each overridden by the
// command line as `docker run` does.
type imageRun struct {
	args []string
	env  []string
	dir  string
	user sandbox.User
}

// plan applies the image's config under the command line's: the command
// (CMD replaces the image's Cmd, after its Entrypoint), -e over the
// image's Env, --cwd over its WorkingDir, --user over its User (names
// resolved through the image's /etc/passwd and /etc/group, which readFile
// reads: sandbox.Root.ReadFile; empty is root).
func plan(cfg image.Config, cmdArgs, envSpecs []string, cwd, user string, readFile func(string) ([]byte, error)) (imageRun, error) {
	var r imageRun
	r.args = cfg.Args(cmdArgs)
	if len(r.args) == 0 {
		return r, errors.New("the image has no Entrypoint or Cmd: give a command after --")
	}
	spec := cfg.User
	if user != "" {
		spec = user
	}
	u, home, err := sandbox.LookupUser(spec, readFile)
	if err != nil {
		if user != "" {
			return r, fmt.Errorf("--user: %w", err)
		}
		return r, fmt.Errorf("the image's User: %w", err)
	}
	r.user = u
	base := append([]string(nil), cfg.Env...)
	if !hasKey(base, "PATH") {
		base = append(base, "PATH="+imagePath)
	}
	if !hasKey(base, "HOME") {
		base = append(base, "HOME="+home)
	}
	if r.env, err = applyEnv(base, envSpecs); err != nil {
		return r, err
	}
	r.dir = cfg.WorkingDir
	if cwd != "" {
		r.dir = cwd
	}
	return r, nil
}

// imagePath is the PATH of an image whose Env has none: Docker's, since
// images are built for it (their tools may live in /sbin too).
const imagePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func hasKey(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

// exposedHint tells the user what the image means to serve: litebox
// publishes nothing by itself.
func exposedHint(cfg image.Config) string {
	if len(cfg.ExposedPorts) == 0 {
		return ""
	}
	return fmt.Sprintf("the image exposes %s (publish with -p HOSTPORT:PORT)", strings.Join(cfg.ExposedPorts, ", "))
}

func newPullCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		insecure bool
		dir      string
	)
	cmd := &cobra.Command{
		Use:   "pull [flags] NAME[:TAG|@DIGEST]",
		Short: "Copy an image from a registry into litebox's store",
		Long: `Copy the linux/amd64 image NAME from its registry into litebox's local store,
replacing an image of the same name, so that 'litebox run --image NAME' runs it
without the network. The image is checked (every blob against its digest) and
its layers are decompressed into the cache at once. Names are Docker's: a missing registry is Docker Hub, a
missing tag "latest". litebox itself makes the requests (with the credentials
of ~/.docker/config.json, if any); no guest is involved.`,
		Example: `  litebox pull debian:bookworm-slim
  litebox pull --insecure registry.local:5000/team/app:1.2
  litebox run --image debian:bookworm-slim -- /bin/cat /etc/debian_version`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := ref.ParseName(args[0])
			if err != nil {
				return usageError{err}
			}
			st, err := openStore(dir)
			if err != nil {
				return usageError{err}
			}
			e, err := st.Pull(context.Background(), r, store.PullOptions{Insecure: insecure, Progress: stderr})
			if err != nil {
				return usageError{err}
			}
			// Open it once: every blob is checked and the layers decompressed
			// and indexed now, so a bad image fails here and the first run
			// starts as fast as the next ones.
			im, err := image.Open(r, image.Options{Store: st})
			if err != nil {
				return usageError{err}
			}
			im.Close()
			fmt.Fprintf(stdout, "%s %s\n", e.Name, e.Digest)
			return nil
		},
	}
	cmd.Flags().BoolVar(&insecure, "insecure", false, "allow plain HTTP and unverified TLS to the registry (loopback and private addresses use HTTP anyway)")
	addStoreFlag(cmd.Flags(), &dir)
	return cmd
}

func newImagesCmd(stdout io.Writer) *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "images [flags]",
		Short: "List the images of litebox's store",
		Long: `List the images 'litebox pull' stored: name, manifest digest, size as stored
(compressed), creation time and the ports the image exposes (a hint: publish
them with 'litebox run -p').`,
		Example: `  litebox images
  litebox images --store /srv/litebox`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openStore(dir)
			if err != nil {
				return usageError{err}
			}
			list, err := st.List()
			if err != nil {
				return usageError{err}
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tDIGEST\tSIZE\tCREATED\tPORTS")
			for _, e := range list {
				created := "-"
				if !e.Created.IsZero() {
					created = e.Created.UTC().Format(time.DateOnly)
				}
				ports := strings.Join(e.ExposedPorts, ",")
				if ports == "" {
					ports = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, shortDigest(e.Digest), humanSize(e.Size), created, ports)
			}
			return tw.Flush()
		},
	}
	addStoreFlag(cmd.Flags(), &dir)
	return cmd
}

func shortDigest(d string) string {
	if len(d) > 19 {
		return d[:19]
	}
	return d
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1fK", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%dB", n)
}
