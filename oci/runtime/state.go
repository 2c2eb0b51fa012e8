// Package runtime is litebox's OCI runtime: the runc command-line contract
// (create, start, state, kill, delete, exec, ps, list) over sandboxes that
// each live in a detached supervisor process.
//
// A container is a directory under the runtime's root (--root, default
// /run/litebox-runtime): ROOT/ID/state.json (the OCI state plus what the
// runtime needs to find the supervisor), ROOT/ID/lock (a flock held by
// every call that reads or changes the container, so concurrent calls on
// one container are serialized) and ROOT/ID/ctl.sock, the supervisor's
// control socket. The supervisor is the container's pid: engines
// (conmon, containerd-shim) wait on it as a subreaper, so it exits with the
// status of the container's first process.
package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// OCIVersion is the runtime-spec version the state and features report.
const OCIVersion = "1.2.1"

// DefaultRoot is where container state lives unless --root says otherwise.
const DefaultRoot = "/run/litebox-runtime"

// Status is a container's OCI status.
type Status string

// The statuses of the OCI runtime spec (litebox has no "paused").
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Stopped  Status = "stopped"
)

// State is a container's state.json: the OCI state fields, as `runc
// state` prints them, and the runtime's own (not printed).
type State struct {
	OCIState

	// Supervisor is the supervisor's host pid and StartTime its start time
	// in clock ticks since boot (/proc/PID/stat field 22): together they
	// name the process even once the pid is reused.
	Supervisor int    `json:"litebox.supervisor,omitempty"`
	StartTime  uint64 `json:"litebox.startTime,omitempty"`
	// ExitStatus is the wait status of the first process once stopped.
	ExitStatus *int `json:"litebox.exitStatus,omitempty"`
}

// OCIState is the state as the OCI spec (and `runc state`) shows it; in
// state.json its fields sit beside the runtime's own.
type OCIState struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Pid         int               `json:"pid"`
	Status      Status            `json:"status"`
	Bundle      string            `json:"bundle"`
	Rootfs      string            `json:"rootfs"`
	Created     time.Time         `json:"created"`
	Owner       string            `json:"owner"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ErrNotExist is a container that does not exist, in runc's words.
var ErrNotExist = errors.New("container does not exist")

// idRE is what runc accepts as a container id.
var idRE = regexp.MustCompile(`^[\w+\-.]+$`)

// CheckID refuses ids that could name something outside the root.
func CheckID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if len(id) > 1024 || !idRE.MatchString(id) || id == "." || id == ".." {
		return fmt.Errorf("invalid container id format: %s", id)
	}
	return nil
}

// Root is a runtime's state directory.
type Root struct{ Dir string }

func (r Root) dir(id string) string       { return filepath.Join(r.Dir, id) }
func (r Root) statePath(id string) string { return filepath.Join(r.Dir, id, "state.json") }

// CtlPath is the supervisor's control socket of container id.
func (r Root) CtlPath(id string) string { return filepath.Join(r.Dir, id, "ctl.sock") }

// Lock takes the container's flock (exclusive), waiting for other calls on
// it. It fails with ErrNotExist when the container does not exist, or
// stopped existing while waiting (a concurrent delete).
func (r Root) Lock(id string) (unlock func(), err error) {
	if err := CheckID(id); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(r.dir(id), "lock"), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, fmt.Errorf("locking container %s: %w", id, err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking container %s: %w", id, err)
	}
	if _, err := os.Stat(r.statePath(id)); err != nil {
		f.Close()
		return nil, ErrNotExist // deleted while we waited
	}
	return func() { f.Close() }, nil
}

// create makes the container's directory and takes its lock; it fails if
// the id exists. The directory is made under a temporary name and renamed
// into place, so that no other call sees a container without its lock
// file and state.
func (r Root) create(st *State) (unlock func(), err error) {
	if err := os.MkdirAll(r.Dir, 0o711); err != nil {
		return nil, fmt.Errorf("making the runtime root: %w", err)
	}
	tmp, err := os.MkdirTemp(r.Dir, ".new-"+st.ID+"-")
	if err != nil {
		return nil, fmt.Errorf("making the runtime root: %w", err)
	}
	defer os.RemoveAll(tmp) // gone once renamed
	f, err := os.OpenFile(filepath.Join(tmp, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	if err := writeJSON(filepath.Join(tmp, "state.json"), st); err != nil {
		f.Close()
		return nil, err
	}
	// rename(2) of a directory onto an existing non-empty one fails with
	// EEXIST/ENOTEMPTY: the id's uniqueness is the file system's.
	if err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, r.dir(st.ID), unix.RENAME_NOREPLACE); err != nil {
		f.Close()
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
			return nil, errors.New("container with given ID already exists")
		}
		return nil, fmt.Errorf("making the container's directory: %w", err)
	}
	return func() { f.Close() }, nil
}

// Load reads the state of container id (call with its lock held). Status
// is brought up to date: a container whose supervisor is gone is stopped.
func (r Root) Load(id string) (*State, error) {
	b, err := os.ReadFile(r.statePath(id))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("container %s: corrupt state: %w", id, err)
	}
	if st.Status != Stopped && !st.alive() {
		st.Status, st.Pid = Stopped, 0
	}
	if st.Status == Stopped {
		st.Pid = 0
	}
	return &st, nil
}

// Save writes the state atomically (call with the lock held).
func (r Root) Save(st *State) error { return writeJSON(r.statePath(st.ID), st) }

// remove deletes the container's directory (call with the lock held).
func (r Root) remove(id string) error { return os.RemoveAll(r.dir(id)) }

// List returns the ids under the root, sorted.
func (r Root) List() ([]string, error) {
	ents, err := os.ReadDir(r.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// alive reports whether the supervisor of the state still runs: its pid
// exists with the start time it had (a reused pid is another process).
func (st *State) alive() bool {
	if st.Supervisor <= 0 {
		return false
	}
	t, err := startTime(st.Supervisor)
	if err != nil {
		return false
	}
	if t != st.StartTime {
		return false
	}
	// A zombie (exited, not yet reaped by the subreaper) is stopped.
	state, _ := procState(st.Supervisor)
	return state != 'Z' && state != 'X'
}

// startTime is /proc/PID/stat's starttime field.
func startTime(pid int) (uint64, error) {
	f, err := statFields(pid)
	if err != nil {
		return 0, err
	}
	if len(f) < 20 {
		return 0, errors.New("short /proc stat")
	}
	return strconv.ParseUint(f[19], 10, 64) // field 22, counted after the comm
}

func procState(pid int) (byte, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 1 || f[0] == "" {
		return 0, err
	}
	return f[0][0], nil
}

// statFields are /proc/PID/stat's fields after "(comm)": state first.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, err
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil, errors.New("bad /proc stat")
	}
	return strings.Fields(string(b[i+1:])), nil
}

// writeJSON writes v to path atomically (temp file, then rename).
func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b, 0o600)
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// WritePidFile writes pid to path as runc does (the number, no newline),
// atomically: an engine polling for it never reads a partial file.
func WritePidFile(path string, pid int) error {
	if path == "" {
		return nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	return writeFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644)
}
