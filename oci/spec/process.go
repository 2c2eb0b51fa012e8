package spec

import (
	"fmt"
	"path"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/cred"
	"github.com/litebox-go/litebox/sandbox"
)

// maxGroups is setgroups(2)'s limit, which additionalGids obeys too.
const maxGroups = cred.NGroupsMax

// TranslateProcess translates a process object: the spec's own, or an
// exec's process.json.
func TranslateProcess(p *specs.Process) (Process, error) {
	if p == nil {
		return Process{}, fmt.Errorf("%w: no process", ErrInvalid)
	}
	if len(p.Args) == 0 || p.Args[0] == "" {
		return Process{}, fmt.Errorf("%w: process.args is empty", ErrInvalid)
	}
	if p.CommandLine != "" {
		return Process{}, fmt.Errorf("%w: process.commandLine is Windows-only", ErrInvalid)
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return Process{}, fmt.Errorf("%w: process.cwd %q is not absolute", ErrInvalid, p.Cwd)
	}
	for i, e := range p.Env {
		if !strings.Contains(e, "=") || strings.IndexByte(e, 0) >= 0 {
			return Process{}, fmt.Errorf("%w: process.env[%d] %q is not NAME=VALUE", ErrInvalid, i, e)
		}
	}
	out := Process{
		Args: p.Args, Env: p.Env, Cwd: path.Clean(cwd),
		Terminal: p.Terminal, ConsoleSize: p.ConsoleSize,
		NoNewPrivileges: p.NoNewPrivileges,
	}
	u, err := translateUser(p.User)
	if err != nil {
		return Process{}, err
	}
	out.User = u
	if p.User.Umask != nil {
		if *p.User.Umask > 0o777 {
			return Process{}, fmt.Errorf("%w: process.user.umask %#o out of range", ErrInvalid, *p.User.Umask)
		}
		m := *p.User.Umask
		out.Umask = &m
	}
	if out.Rlimits, err = translateRlimits(p.Rlimits); err != nil {
		return Process{}, err
	}
	if p.Capabilities != nil {
		caps, unknown, err := translateCaps(p.Capabilities)
		if err != nil {
			return Process{}, err
		}
		out.Capabilities = &caps
		for _, name := range unknown {
			out.Unapplied = append(out.Unapplied, sandbox.Unapplied{Field: "process.capabilities",
				Value: name, Reason: "unknown capability: not granted"})
		}
	}
	if !p.NoNewPrivileges {
		out.Unapplied = append(out.Unapplied, sandbox.Unapplied{Field: "process.noNewPrivileges", Value: "false",
			Reason: "always true in litebox: execve never raises privileges (set-id bits are not honoured)"})
	}
	out.Unapplied = append(out.Unapplied, unappliedProcess(p)...)
	return out, nil
}

// translateUser takes the numeric ids (the engine resolved any name
// against the image already: username is Windows-only).
func translateUser(u specs.User) (sandbox.User, error) {
	if u.Username != "" {
		return sandbox.User{}, fmt.Errorf("%w: process.user.username is Windows-only", ErrInvalid)
	}
	if u.UID == cred.NoID || u.GID == cred.NoID {
		return sandbox.User{}, fmt.Errorf("%w: process.user: %d is not an id", ErrInvalid, cred.NoID)
	}
	if len(u.AdditionalGids) > maxGroups {
		return sandbox.User{}, fmt.Errorf("%w: process.user.additionalGids: more than %d", ErrInvalid, maxGroups)
	}
	for _, g := range u.AdditionalGids {
		if g == cred.NoID {
			return sandbox.User{}, fmt.Errorf("%w: process.user.additionalGids: %d is not an id", ErrInvalid, cred.NoID)
		}
	}
	var groups []uint32
	if len(u.AdditionalGids) > 0 {
		groups = append(groups, u.AdditionalGids...)
	}
	return sandbox.User{UID: u.UID, GID: u.GID, Groups: groups}, nil
}

// rlimitNames are the RLIMIT_* names of process.rlimits[].type.
var rlimitNames = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// translateRlimits checks the names (the spec: an unknown or repeated
// type is an error) and soft <= hard.
func translateRlimits(in []specs.POSIXRlimit) ([]sandbox.Rlimit, error) {
	var out []sandbox.Rlimit
	seen := map[int]bool{}
	for i, r := range in {
		res, ok := rlimitNames[r.Type]
		if !ok {
			return nil, fmt.Errorf("%w: process.rlimits[%d]: unknown type %q", ErrInvalid, i, r.Type)
		}
		if seen[res] {
			return nil, fmt.Errorf("%w: process.rlimits[%d]: %s given twice", ErrInvalid, i, r.Type)
		}
		seen[res] = true
		if r.Soft > r.Hard {
			return nil, fmt.Errorf("%w: process.rlimits[%d]: %s soft %d above hard %d", ErrInvalid, i, r.Type, r.Soft, r.Hard)
		}
		out = append(out, sandbox.Rlimit{Resource: res, Soft: r.Soft, Hard: r.Hard})
	}
	return out, nil
}

// capNames are Linux's capability names, by number (CAP_LAST_CAP 40).
var capNames = [...]string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// CapByName returns a capability's number ("CAP_KILL" or "kill", any case).
func CapByName(name string) (cred.Cap, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return cred.Cap(i), true
		}
	}
	return 0, false
}

// CapName returns a capability's name.
func CapName(c cred.Cap) string {
	if int(c) < len(capNames) {
		return capNames[c]
	}
	return fmt.Sprintf("CAP_%d", c)
}

// translateCaps maps the five lists to sets. The runtime-spec says an
// unknown capability should be warned about, not fail the container:
// those are returned to be reported.
func translateCaps(c *specs.LinuxCapabilities) (sandbox.Caps, []string, error) {
	var unknown []string
	set := func(names []string) cred.CapSet {
		var s cred.CapSet
		for _, n := range names {
			cp, ok := CapByName(n)
			if !ok {
				unknown = append(unknown, n)
				continue
			}
			s |= 1 << cp
		}
		return s
	}
	caps := sandbox.Caps{
		Bounding: set(c.Bounding), Effective: set(c.Effective), Permitted: set(c.Permitted),
		Inheritable: set(c.Inheritable), Ambient: set(c.Ambient),
	}
	return caps, unknown, nil
}

// unappliedProcess lists the process fields litebox accepts without
// applying them.
func unappliedProcess(p *specs.Process) []sandbox.Unapplied {
	var out []sandbox.Unapplied
	add := func(field, value, reason string) {
		out = append(out, sandbox.Unapplied{Field: field, Value: value, Reason: reason})
	}
	if p.ApparmorProfile != "" {
		add("process.apparmorProfile", p.ApparmorProfile, "no AppArmor in litebox's kernel; litebox's own confinement (host seccomp allowlist) applies")
	}
	if p.SelinuxLabel != "" {
		add("process.selinuxLabel", p.SelinuxLabel, "no SELinux in litebox's kernel")
	}
	if p.OOMScoreAdj != nil {
		add("process.oomScoreAdj", fmt.Sprint(*p.OOMScoreAdj), "the host's OOM killer sees litebox, not the guest; --memory bounds the guest")
	}
	if p.Scheduler != nil {
		add("process.scheduler", string(p.Scheduler.Policy), "guest threads are not host threads: no host scheduling policy")
	}
	if p.IOPriority != nil {
		add("process.ioPriority", string(p.IOPriority.Class), "no I/O priority for guest I/O")
	}
	if p.ExecCPUAffinity != nil {
		add("process.execCPUAffinity", p.ExecCPUAffinity.Initial+" "+p.ExecCPUAffinity.Final, "no host CPU affinity for guest threads")
	}
	return out
}
