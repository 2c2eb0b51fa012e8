// Package imagefixture builds the container images the issue-13 tests and
// benchmarks run (litebox run --image / --rootfs), with the real tools a
// user would use: a Debian bookworm minbase with python3 made by mmdebstrap
// (or, without network, a root file system from the host's own files),
// turned into a layered OCI image layout by umoci and into a docker archive
// by skopeo; and a small hand-made layered image whose whiteouts, opaque
// directories, hard links and symlinks pin the overlay semantics, plus the
// broken images every bad-input case needs.
//
// Building the Debian image takes tens of seconds, so every fixture is built
// once per machine into a cache directory ($LITEBOX_TEST_CACHE, default
// /var/cache/litebox-tests), under an flock so that the test binaries of
// tests/ and bench/ running at the same time build it once, and marked
// complete by a stamp file that names the fixture version: a fixture whose
// stamp is missing (an interrupted build) or older is rebuilt. Like package
// harness it is shared with bench/, so it returns errors instead of
// depending on package testing.
package imagefixture

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// CacheEnv names the environment variable overriding the cache directory.
const CacheEnv = "LITEBOX_TEST_CACHE"

// DefaultCache is the cache directory when CacheEnv is not set: per machine,
// so that CI runs from clean checkouts on one machine share it.
const DefaultCache = "/var/cache/litebox-tests"

// CacheDir returns the cache directory, creating it.
func CacheDir() (string, error) {
	dir := os.Getenv(CacheEnv)
	if dir == "" {
		dir = DefaultCache
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("imagefixture: cache directory: %w", err)
	}
	return dir, nil
}

// stamp is written last into a built fixture directory: its presence with
// the expected version says the build completed.
type stamp struct {
	Version string `json:"version"`
	// Source says how the root file system was made ("mmdebstrap",
	// "host"); empty for fixtures that have only one way.
	Source string `json:"source,omitempty"`
	// BuildSeconds is how long the whole build took, per step.
	Steps map[string]float64 `json:"steps_seconds"`
	Built time.Time          `json:"built"`
}

const stampName = "STAMP.json"

// cached returns CACHE/name, building it with build into a fresh directory
// first unless it already holds a stamp of the given version. build gets
// the directory to fill and a recorder for the duration of its steps; it
// returns the source it used. The build runs under an exclusive flock of
// CACHE/name.lock, so a concurrent caller waits for it and then uses the
// result.
func cached(name, version string, build func(dir string, step func(string, time.Time)) (string, error)) (string, stamp, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", stamp{}, err
	}
	dir := filepath.Join(cache, name)
	if st, err := readStamp(dir); err == nil && st.Version == version {
		return dir, st, nil // the fast path takes no lock: a stamped directory is never rewritten in place
	}

	unlock, err := lock(filepath.Join(cache, name+".lock"))
	if err != nil {
		return "", stamp{}, err
	}
	defer unlock()
	if st, err := readStamp(dir); err == nil && st.Version == version {
		return dir, st, nil // built by whoever held the lock before us
	}

	// Build beside the final place and rename it there, so that the
	// directory other processes see is either the old one or complete.
	tmp := dir + ".building"
	if err := os.RemoveAll(tmp); err != nil {
		return "", stamp{}, fmt.Errorf("imagefixture: removing a stale %s: %w", tmp, err)
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return "", stamp{}, fmt.Errorf("imagefixture: %w", err)
	}
	st := stamp{Version: version, Steps: map[string]float64{}}
	start := time.Now()
	step := func(what string, since time.Time) { st.Steps[what] = time.Since(since).Seconds() }
	st.Source, err = build(tmp, step)
	if err != nil {
		os.RemoveAll(tmp)
		return "", stamp{}, fmt.Errorf("imagefixture: building %s: %w", name, err)
	}
	st.Steps["total"] = time.Since(start).Seconds()
	st.Built = time.Now().UTC()
	b, _ := json.MarshalIndent(st, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, stampName), append(b, '\n'), 0o644); err != nil {
		os.RemoveAll(tmp)
		return "", stamp{}, fmt.Errorf("imagefixture: %w", err)
	}
	// An older version goes: a test binary still reading it would see it
	// vanish, which happens only when the fixture version changes (a new
	// checkout), never between the runs of one.
	if err := os.RemoveAll(dir); err != nil {
		return "", stamp{}, fmt.Errorf("imagefixture: removing the old %s: %w", dir, err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", stamp{}, fmt.Errorf("imagefixture: %w", err)
	}
	return dir, st, nil
}

func readStamp(dir string) (stamp, error) {
	var st stamp
	b, err := os.ReadFile(filepath.Join(dir, stampName))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

// lock takes an exclusive flock of path (created if needed), waiting for
// it, and returns the function releasing it.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("imagefixture: lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("imagefixture: flock %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}

// run runs a tool, returning its combined output in the error when it
// fails.
func run(dir string, argv ...string) error {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(argv, " "), err, tail(out, 2000))
	}
	return nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// HaveTools returns an error naming the first of the given programs that is
// not in PATH.
func HaveTools(names ...string) error {
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			return fmt.Errorf("%s is not installed (Debian package %s): %w", n, debianPackage(n), err)
		}
	}
	return nil
}

func debianPackage(tool string) string {
	switch tool {
	case "busybox":
		return "busybox-static"
	}
	return tool
}

// Snapshot describes every file under dir (path, type, mode, owner, size,
// mtime, and a content hash of regular files when hash is set), so that a
// test can check that a run did not modify an image: compare the snapshots
// before and after. Without hash it still catches any write (mtime and size
// change); with it, even a write that restored the mtime.
func Snapshot(dir string, hash bool) (string, error) {
	var b strings.Builder
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		st, _ := fi.Sys().(*syscall.Stat_t)
		var uid, gid uint32
		if st != nil {
			uid, gid = st.Uid, st.Gid
		}
		fmt.Fprintf(&b, "%s %v %d:%d", rel, fi.Mode(), uid, gid)
		if fi.Mode().IsRegular() {
			fmt.Fprintf(&b, " %d %d", fi.Size(), fi.ModTime().UnixNano())
			if hash {
				sum, err := fileSHA256(path)
				if err != nil {
					return err
				}
				b.WriteString(" " + sum)
			}
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(path)
			b.WriteString(" -> " + target)
		}
		b.WriteByte('\n')
		return nil
	})
	return b.String(), err
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
