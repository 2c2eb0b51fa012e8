package spec

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/hostnet"
	"github.com/litebox-go/litebox/sandbox"
)

// The annotations litebox reads (others are kept in the state only).
const (
	AnnotationPlatform = "dev.litebox.platform"   // systrap|ptrace|auto
	AnnotationNet      = "dev.litebox.net"        // none|egress
	AnnotationAllow    = "dev.litebox.allow"      // --allow rules, comma or space separated
	AnnotationAudit    = "dev.litebox.audit"      // a host file the audit log is appended to
	AnnotationTmpSize  = "dev.litebox.tmpfs-size" // --tmpfs-size: bytes (K, M, G) of the unsized tmpfs mounts and /dev/shm; 0: unlimited
)

// The limits a spec does not set are the CLI's defaults (`litebox run`),
// not "unlimited": the guest's memory, files and writes are litebox's
// memory, whatever the engine's cgroups would have said.
const (
	DefaultMemory   = 4 << 30  // --memory
	DefaultTasks    = 512      // --pids
	DefaultFileSize = 4 << 30  // --fsize (the initial RLIMIT_FSIZE)
	DefaultTmpSize  = 1 << 30  // --tmpfs-size
	DefaultAuditMax = 64 << 20 // --audit-max-size
)

// Translate turns a spec into a Plan. bundle is the bundle directory:
// relative root.path and bind sources are relative to it. The Plan holds
// the rootfs open: Close it after the sandbox.
func Translate(s *specs.Spec, bundle string) (_ *Plan, err error) {
	if s == nil {
		return nil, fmt.Errorf("%w: no spec", ErrInvalid)
	}
	if err := checkVersion(s.Version); err != nil {
		return nil, err
	}
	if s.Windows != nil || s.Solaris != nil || s.VM != nil || s.ZOS != nil {
		return nil, fmt.Errorf("%w: only a Linux container spec is supported", ErrInvalid)
	}
	bundle, err = filepath.Abs(bundle)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	proc, err := TranslateProcess(s.Process)
	if err != nil {
		return nil, err
	}
	p := &Plan{Process: proc}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	cfg := &p.Config
	cfg.Limits = sandbox.Limits{Memory: DefaultMemory, Tasks: DefaultTasks, FileSize: DefaultFileSize}
	cfg.TmpSize = DefaultTmpSize
	// The container's first process is its init, as under runc: signals
	// reach it only if it handles them (docs/oci.md, "Signals").
	cfg.ContainerInit = true
	cfg.Unapplied = append(cfg.Unapplied, proc.Unapplied...)
	u := proc.User
	cfg.User = &u
	// The bundle's binds keep their host owners (litebox's own files as
	// litebox's ids, not as the container user's, which --mount does).
	cfg.MountOwner = &sandbox.User{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())}
	for _, r := range proc.Rlimits {
		if r.Resource == unix.RLIMIT_NOFILE {
			// The sandbox's descriptor cap is what the spec allows: a
			// guest told it may hold this many must be able to.
			cfg.Limits.NoFile = int(min(r.Hard, 1<<20))
		}
	}
	if err := p.root(s.Root, bundle); err != nil {
		return nil, err
	}
	if s.Hostname != "" {
		if err := checkHostname(s.Hostname); err != nil {
			return nil, err
		}
		cfg.Hostname = s.Hostname
	}
	if s.Domainname != "" {
		p.unapplied("domainname", s.Domainname, "no NIS domain name in litebox's uname")
	}
	for i, m := range s.Mounts {
		if err := p.mount(i, m, bundle); err != nil {
			return nil, err
		}
	}
	if s.Hooks != nil && hasHooks(s.Hooks) {
		// Hooks are the engine's programs run by the runtime on the host:
		// a host effect litebox does not make on a config's word.
		p.unapplied("hooks", "", "hooks are not run by litebox")
	}
	if err := p.linux(s.Linux); err != nil {
		return nil, err
	}
	if err := p.annotations(s.Annotations); err != nil {
		return nil, err
	}
	if p.NetNS != "" {
		// The engine's network namespace: the guest's stack takes its
		// interface over (hostnet/netns), and the engine owns the network.
		n := &p.Config.Network
		if n.Egress || len(n.Allow) > 0 {
			return nil, fmt.Errorf("%w: annotation %s with the engine's network namespace %s: the engine owns the network", ErrInvalid, AnnotationNet, p.NetNS)
		}
		n.NetNS = p.NetNS
	}
	p.SetHome(&p.Process)
	return p, nil
}

func (p *Plan) unapplied(field, value, reason string) {
	p.Config.Unapplied = append(p.Config.Unapplied, sandbox.Unapplied{Field: field, Value: value, Reason: reason})
}

// root makes root.path, a host directory, the guest's root itself, as
// runc has it: the container's writes reach it (unless root.readonly), so
// a stopped container starts again with them and the engine sees them
// (podman commit, cp, diff).
func (p *Plan) root(r *specs.Root, bundle string) error {
	if r == nil || r.Path == "" {
		return fmt.Errorf("%w: no root.path", ErrInvalid)
	}
	dir := r.Path
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(bundle, dir)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: root.path %s is not a directory", ErrInvalid, dir)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("root.path: %w", err)
	}
	p.Config.Root = &sandbox.Root{Dir: abs, ReadOnly: r.Readonly}
	return nil
}

// checkHostname accepts what sethostname(2) would: 1 to 64 bytes, no NUL.
func checkHostname(h string) error {
	if len(h) > 64 || strings.IndexByte(h, 0) >= 0 {
		return fmt.Errorf("%w: hostname %q: at most 64 bytes, no NUL", ErrInvalid, h)
	}
	return nil
}

func hasHooks(h *specs.Hooks) bool {
	return len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer)+
		len(h.Poststart)+len(h.Poststop) > 0
}

// ourMounts are the guest paths litebox always mounts its own file system
// on, whatever the image has: a spec's mount there is what litebox
// provides already (with the kind a spec names for it).
var ourMounts = map[string][]string{
	"/proc":    {"proc"},
	"/dev":     {"tmpfs", "devtmpfs"},
	"/dev/pts": {"devpts"},
	"/dev/shm": {"tmpfs", "shm"},
}

// ourLabels are the types a config may name litebox's own mount at a path
// with, beyond the one litebox's file system has: its /dev is an
// in-memory file system of device nodes, read-only, which the table
// shows as a read-only tmpfs (Linux's devtmpfs is one too; statfs says
// TMPFS_MAGIC for both).
var ourLabels = map[string][]string{
	"/dev": {"tmpfs", "devtmpfs"},
}

// label makes the guest's mount table show the mount at dest (litebox's
// own, or a tmpfs of the config's) as the config named it: its type when
// litebox serves that kind there (ourLabels), its source when that is a
// word, not a path (the table never names a host path).
func (p *Plan) label(dest, kind, source string) {
	l := sandbox.MountLabel{GuestPath: dest}
	if slices.Contains(ourLabels[dest], kind) {
		l.Type = kind
	}
	if source != "" && len(source) <= 255 && !strings.ContainsAny(source, "/\x00") {
		l.Source = source
	}
	if l.Type == "" && l.Source == "" {
		return
	}
	p.Config.MountLabels = append(p.Config.MountLabels, l)
}

// mount translates mounts[i].
func (p *Plan) mount(i int, m specs.Mount, bundle string) error {
	field := fmt.Sprintf("mounts[%d]", i)
	if !path.IsAbs(m.Destination) {
		return fmt.Errorf("%w: %s: destination %q is not absolute", ErrInvalid, field, m.Destination)
	}
	dest := path.Clean(m.Destination)
	if dest == "/" {
		return fmt.Errorf("%w: %s: a mount on / (the root is root.path)", ErrInvalid, field)
	}
	opts, err := parseOptions(m.Options)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, field, err)
	}
	what := m.Type + " " + dest
	if len(m.UIDMappings)+len(m.GIDMappings) > 0 {
		p.unapplied(field+".uidMappings", what, "id-mapped mounts are not supported: files show their host owner mapping")
	}
	kind := m.Type
	if opts.bind {
		kind = "bind"
	}
	if kinds, ours := ourMounts[dest]; ours {
		if !slices.Contains(kinds, kind) {
			p.unapplied(field, what, "litebox's own file system is at "+dest+": not mounted")
			return nil
		}
		if opts.size > 0 || opts.mode != nil || opts.copyUp {
			p.unapplied(field, what+" "+strings.Join(m.Options, ","), "litebox's own file system is there; its size, mode and content are litebox's")
		}
		p.label(dest, kind, m.Source)
		return nil
	}
	switch kind {
	case "bind":
		return p.bind(field, m, dest, opts, bundle)
	case "tmpfs":
		t := &sandbox.Tmpfs{Size: opts.size, ReadOnly: opts.ro, CopyUp: opts.copyUp}
		if opts.mode != nil {
			t.Mode = *opts.mode
		}
		p.Config.Mounts = append(p.Config.Mounts, sandbox.Mount{GuestPath: dest, Tmpfs: t, NoExec: opts.noexec})
		p.label(dest, "", m.Source)
		opts.noexec = false // applied
		p.unappliedOpts(field, what, opts)
		return nil
	case "proc", "sysfs", "devpts", "mqueue", "cgroup", "cgroup2", "devtmpfs", "securityfs", "debugfs":
		// Only litebox's own at their usual places (above); elsewhere, or
		// a kind litebox has none of, nothing is mounted.
		p.unapplied(field, what, "no "+kind+" file system at "+dest+" in litebox: not mounted")
		return nil
	case "":
		return fmt.Errorf("%w: %s: no type and no bind option", ErrInvalid, field)
	}
	p.unapplied(field, what, "mount type "+kind+" is not supported: not mounted")
	return nil
}

// bind mounts a host directory through hostfs.
func (p *Plan) bind(field string, m specs.Mount, dest string, opts mountOpts, bundle string) error {
	src := m.Source
	if src == "" {
		return fmt.Errorf("%w: %s: bind mount without a source", ErrInvalid, field)
	}
	if !filepath.IsAbs(src) {
		src = filepath.Join(bundle, src)
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("%s: bind source: %w", field, err)
	}
	if fi.Mode()&(os.ModeDevice|os.ModeCharDevice) != 0 {
		// Rootless engines bind the host's /dev/null, /dev/tty... as they
		// cannot mknod: litebox's /dev has its own, and no host device is
		// ever opened for the guest.
		p.unapplied(field, "bind "+src+" "+dest, "host devices are never exposed: the guest's /dev is litebox's")
		return nil
	}
	if kind := hostKernelFS(src); kind != "" {
		// runc's rootless default binds the host's /sys: a view of the
		// host's kernel, which a guest never gets.
		p.unapplied(field, "bind "+src+" "+dest, "a host "+kind+" is never exposed to the guest: not mounted")
		return nil
	}
	if fi.IsDir() {
		p.Config.Mounts = append(p.Config.Mounts, sandbox.Mount{HostPath: src, GuestPath: dest, Writable: !opts.ro, NoExec: opts.noexec})
		opts.noexec = false // applied
	} else {
		// A file mount covers a name of the root: noexec cannot be its own.
		p.Config.Mounts = append(p.Config.Mounts, sandbox.Mount{HostPath: src, GuestPath: dest, Writable: !opts.ro})
	}
	p.unappliedOpts(field, "bind "+src+" "+dest, opts)
	return nil
}

// hostKernelFS names the kind of a host kernel pseudo file system src is
// on (sysfs, proc, cgroup...), or "" for an ordinary one.
func hostKernelFS(src string) string {
	var st unix.Statfs_t
	if err := unix.Statfs(src, &st); err != nil {
		return "" // the bind itself will fail to open it
	}
	switch uint32(st.Type) {
	case unix.SYSFS_MAGIC:
		return "sysfs"
	case unix.PROC_SUPER_MAGIC:
		return "proc"
	case unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC:
		return "cgroup file system"
	case unix.DEVPTS_SUPER_MAGIC:
		return "devpts"
	case unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.SECURITYFS_MAGIC, unix.BPF_FS_MAGIC,
		unix.SELINUX_MAGIC, unix.SMACK_MAGIC, unix.PSTOREFS_MAGIC, unix.EFIVARFS_MAGIC:
		return "kernel file system"
	}
	return ""
}

// unappliedOpts reports the options of a mount litebox does not apply.
func (p *Plan) unappliedOpts(field, what string, opts mountOpts) {
	if len(opts.unknown) > 0 {
		p.unapplied(field+".options", what+" "+strings.Join(opts.unknown, ","), "mount options not supported: ignored")
	}
	if opts.noexec {
		p.unapplied(field+".options", what+" noexec", "noexec is not enforced on a file mount")
	}
}

// mountOpts are the options litebox understands.
type mountOpts struct {
	bind, ro, noexec, copyUp bool
	size                     int64
	mode                     *uint32
	unknown                  []string
}

// Options that need nothing of litebox: set-id bits are never honoured
// (nosuid always holds), device files of a host directory are never
// opened as devices (nodev always holds), propagation and atime are
// host-mount matters.
var noopOptions = map[string]bool{
	"nosuid": true, "suid": true, "nodev": true, "dev": true, "exec": true, "rw": true,
	"private": true, "rprivate": true, "shared": true, "rshared": true, "slave": true, "rslave": true,
	"unbindable": true, "runbindable": true, "relatime": true, "norelatime": true, "noatime": true,
	"atime": true, "strictatime": true, "nodiratime": true, "diratime": true, "sync": true, "async": true,
	"dirsync": true, "nostrictatime": true, "mand": true, "nomand": true, "lazytime": true,
	"nolazytime": true, "silent": true, "loud": true, "defaults": true, "iversion": true, "noiversion": true,
	"copy": true, "nocopy": true, "z": true, "Z": true,
}

func parseOptions(in []string) (mountOpts, error) {
	var o mountOpts
	for _, opt := range in {
		name, val, hasVal := strings.Cut(opt, "=")
		switch {
		case opt == "bind" || opt == "rbind":
			o.bind = true
		case opt == "ro" || opt == "rro":
			o.ro = true
		case opt == "rw":
			o.ro = false
		case opt == "noexec":
			o.noexec = true
		case opt == "tmpcopyup":
			o.copyUp = true
		case opt == "notmpcopyup":
			o.copyUp = false
		case name == "size" && hasVal:
			n, err := parseSize(val)
			if err != nil {
				return o, fmt.Errorf("option %q: %v", opt, err)
			}
			o.size = n
		case name == "mode" && hasVal:
			m, err := strconv.ParseUint(val, 8, 32)
			if err != nil || m > 0o7777 {
				return o, fmt.Errorf("option %q: not an octal mode", opt)
			}
			mm := uint32(m)
			o.mode = &mm
		case noopOptions[opt]:
		default:
			o.unknown = append(o.unknown, opt)
		}
	}
	return o, nil
}

// parseSize reads a tmpfs size= (bytes, or with a k, m or g suffix). A
// percentage of RAM has no meaning for a sandbox: refused.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "%"):
		return 0, fmt.Errorf("a share of RAM is not supported")
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1<<10, s[:len(s)-1]
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		mult, s = 1<<20, s[:len(s)-1]
	case strings.HasSuffix(s, "g"), strings.HasSuffix(s, "G"):
		mult, s = 1<<30, s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size")
	}
	return n * mult, nil
}

// linux translates the linux object: namespaces (the network one's path),
// resources, and the security fields litebox reports.
func (p *Plan) linux(l *specs.Linux) error {
	if l == nil {
		return nil
	}
	hasNet := false
	for _, ns := range l.Namespaces {
		if _, ok := nsTypes[ns.Type]; !ok {
			return fmt.Errorf("%w: linux.namespaces: unknown namespace type %q", ErrInvalid, ns.Type)
		}
		if ns.Path != "" {
			if err := checkNamespacePath(ns.Type, ns.Path); err != nil {
				return fmt.Errorf("%w: linux.namespaces: %s namespace path: %v", ErrInvalid, ns.Type, err)
			}
		}
		if ns.Type == specs.NetworkNamespace {
			hasNet = true
			p.NetNS = ns.Path
		}
		if ns.Path != "" && ns.Type != specs.NetworkNamespace {
			p.unapplied("linux.namespaces", string(ns.Type)+" "+ns.Path,
				"litebox's kernel has its own namespaces; joining a host one is not supported")
		}
	}
	if !hasNet {
		// The container would share the host's network (--net=host): a
		// guest never gets the host's interfaces.
		p.unapplied("linux.namespaces", "no network namespace (the host's network)",
			"the host's network is never shared: litebox's own network (dev.litebox.net) instead")
	}
	if err := p.resources(l.Resources); err != nil {
		return err
	}
	if l.Seccomp != nil {
		p.unapplied("linux.seccomp", fmt.Sprintf("%s, %d rules", l.Seccomp.DefaultAction, len(l.Seccomp.Syscalls)),
			"guest syscalls never reach the host kernel; litebox's own host seccomp allowlist confines litebox")
	}
	if len(l.UIDMappings)+len(l.GIDMappings) > 0 {
		p.unapplied("linux.uidMappings", "", "guest ids are litebox's own: no host id mapping is needed")
	}
	if len(l.Sysctl) > 0 {
		keys := make([]string, 0, len(l.Sysctl))
		for k := range l.Sysctl {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		p.unapplied("linux.sysctl", strings.Join(keys, " "), "no host sysctl is set; the guest's kernel is litebox's")
	}
	if len(l.Devices) > 0 {
		names := make([]string, len(l.Devices))
		for i, d := range l.Devices {
			names[i] = d.Path
		}
		p.unapplied("linux.devices", strings.Join(names, " "), "no host device is made: the guest's /dev is litebox's")
	}
	if len(l.MaskedPaths) > 0 {
		p.unapplied("linux.maskedPaths", strings.Join(l.MaskedPaths, " "),
			"litebox's /proc and /sys expose none of the host's kernel files they mask")
	}
	if len(l.ReadonlyPaths) > 0 {
		p.unapplied("linux.readonlyPaths", strings.Join(l.ReadonlyPaths, " "),
			"litebox's /proc is read-only to the guest's writes that matter (no host sysctl)")
	}
	if l.MountLabel != "" {
		p.unapplied("linux.mountLabel", l.MountLabel, "no SELinux in litebox's kernel")
	}
	if l.IntelRdt != nil {
		p.unapplied("linux.intelRdt", l.IntelRdt.ClosID, "no RDT")
	}
	if l.Personality != nil {
		p.unapplied("linux.personality", string(l.Personality.Domain), "personality is not supported")
	}
	if len(l.TimeOffsets) > 0 {
		p.unapplied("linux.timeOffsets", "", "no time namespace offsets")
	}
	return nil
}

// resources maps cgroup limits to the sandbox's own limits.
func (p *Plan) resources(r *specs.LinuxResources) error {
	if r == nil {
		return nil
	}
	lim := &p.Config.Limits
	if m := r.Memory; m != nil {
		if m.Limit != nil && *m.Limit > 0 {
			lim.Memory = uint64(*m.Limit)
		}
		if m.Swap != nil && *m.Swap > 0 && (m.Limit == nil || *m.Swap != *m.Limit) {
			p.unapplied("linux.resources.memory.swap", strconv.FormatInt(*m.Swap, 10), "no swap: memory.limit bounds the guest")
		}
		if m.Reservation != nil && *m.Reservation > 0 {
			p.unapplied("linux.resources.memory.reservation", strconv.FormatInt(*m.Reservation, 10), "no soft memory limit")
		}
	}
	if r.Pids != nil && r.Pids.Limit > 0 {
		if r.Pids.Limit > 1<<22 {
			lim.Tasks = 1 << 22 // Linux's pid_max cap: as good as none
		} else {
			lim.Tasks = int(r.Pids.Limit)
		}
	}
	if r.CPU != nil {
		if err := p.cpu(r.CPU); err != nil {
			return err
		}
	}
	if r.BlockIO != nil {
		p.unapplied("linux.resources.blockIO", "", "no block I/O weights or throttles")
	}
	if len(r.HugepageLimits) > 0 {
		p.unapplied("linux.resources.hugepageLimits", "", "no huge pages for the guest")
	}
	if r.Network != nil {
		p.unapplied("linux.resources.network", "", "no net_cls/net_prio")
	}
	if len(r.Rdma) > 0 {
		p.unapplied("linux.resources.rdma", "", "no RDMA")
	}
	if len(r.Unified) > 0 {
		keys := make([]string, 0, len(r.Unified))
		for k := range r.Unified {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		p.unapplied("linux.resources.unified", strings.Join(keys, " "), "no cgroup v2 files are written")
	}
	// linux.resources.devices is the device cgroup's allowlist: the guest
	// reaches no host device whatever it says.
	return nil
}

// cpu maps the CPU bandwidth limit (quota per period, cgroup's cpu.max)
// to the sandbox's CPU share (Limits.CPUs); the relative controls (shares,
// idle, realtime) and the cpuset are reported.
func (p *Plan) cpu(c *specs.LinuxCPU) error {
	if c.Quota != nil && *c.Quota > 0 {
		period := uint64(100000) // the cgroup default, in microseconds
		if c.Period != nil && *c.Period != 0 {
			period = *c.Period
		}
		// cgroup v2's bounds: 1 ms to 1 s.
		if period < 1000 || period > 1000000 {
			return fmt.Errorf("%w: linux.resources.cpu.period %d: want 1000 to 1000000 microseconds", ErrInvalid, period)
		}
		if *c.Quota < 1000 {
			return fmt.Errorf("%w: linux.resources.cpu.quota %d: want at least 1000 microseconds", ErrInvalid, *c.Quota)
		}
		p.Config.Limits.CPUs = float64(*c.Quota) / float64(period)
		p.Config.Limits.CPUPeriod = time.Duration(period) * time.Microsecond
	}
	var parts []string
	if c.Shares != nil {
		parts = append(parts, "shares="+strconv.FormatUint(*c.Shares, 10))
	}
	if c.Burst != nil {
		parts = append(parts, "burst="+strconv.FormatUint(*c.Burst, 10))
	}
	if c.RealtimeRuntime != nil || c.RealtimePeriod != nil {
		parts = append(parts, "realtime")
	}
	if c.Idle != nil {
		parts = append(parts, "idle="+strconv.FormatInt(*c.Idle, 10))
	}
	if c.Cpus != "" {
		parts = append(parts, "cpus="+c.Cpus)
	}
	if c.Mems != "" {
		parts = append(parts, "mems="+c.Mems)
	}
	if len(parts) > 0 {
		p.unapplied("linux.resources.cpu", strings.Join(parts, " "),
			"only quota/period is applied (a CPU share); relative weights, bursts, realtime and cpusets are not")
	}
	return nil
}

// annotations reads the dev.litebox.* options.
func (p *Plan) annotations(a map[string]string) error {
	cfg := &p.Config
	if v, ok := a[AnnotationPlatform]; ok {
		cfg.Platform = v
	}
	if v, ok := a[AnnotationNet]; ok {
		switch v {
		case "none", "":
		case "egress":
			cfg.Network.Egress = true
		default:
			return fmt.Errorf("%w: annotation %s=%q: want none or egress", ErrInvalid, AnnotationNet, v)
		}
	}
	if v, ok := a[AnnotationAllow]; ok {
		for _, r := range strings.FieldsFunc(v, func(c rune) bool { return c == ',' || c == ' ' }) {
			rule, err := hostnet.ParseRule(r)
			if err != nil {
				return fmt.Errorf("%w: annotation %s: %v", ErrInvalid, AnnotationAllow, err)
			}
			cfg.Network.Allow = append(cfg.Network.Allow, rule)
		}
		if len(cfg.Network.Allow) > 0 && !cfg.Network.Egress {
			return fmt.Errorf("%w: annotation %s needs %s=egress", ErrInvalid, AnnotationAllow, AnnotationNet)
		}
	}
	if v, ok := a[AnnotationAudit]; ok && v != "" {
		if !filepath.IsAbs(v) {
			return fmt.Errorf("%w: annotation %s=%q: want an absolute path", ErrInvalid, AnnotationAudit, v)
		}
		f, err := os.OpenFile(v, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("annotation %s: %w", AnnotationAudit, err)
		}
		p.closers = append(p.closers, f)
		cfg.Audit = f
		cfg.AuditMaxSize = DefaultAuditMax
	}
	if v, ok := a[AnnotationTmpSize]; ok {
		n, err := parseSize(strings.TrimSuffix(strings.ToLower(v), "b"))
		if err != nil {
			return fmt.Errorf("%w: annotation %s=%q: %v", ErrInvalid, AnnotationTmpSize, v, err)
		}
		cfg.TmpSize = n
	}
	return nil
}
