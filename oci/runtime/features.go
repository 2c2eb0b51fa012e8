package runtime

// Features is `features`' answer (the runtime-spec's features.md shape):
// what litebox honours, not what runc does.
type Features struct {
	OCIVersionMin string            `json:"ociVersionMin"`
	OCIVersionMax string            `json:"ociVersionMax"`
	Hooks         []string          `json:"hooks"`
	MountOptions  []string          `json:"mountOptions"`
	Linux         *LinuxFeatures    `json:"linux"`
	Annotations   map[string]string `json:"annotations"`
}

// LinuxFeatures is features' "linux" object.
type LinuxFeatures struct {
	// Namespaces: every container is a sandbox of its own, with its own
	// kernel: all of them are separate, whatever config.json asks.
	Namespaces   []string         `json:"namespaces"`
	Capabilities []string         `json:"capabilities"`
	Cgroup       map[string]bool  `json:"cgroup"`
	Seccomp      *SeccompFeatures `json:"seccomp"`
	Apparmor     map[string]bool  `json:"apparmor"`
	Selinux      map[string]bool  `json:"selinux"`
}

// SeccompFeatures is linux.seccomp: a profile is accepted and reported,
// not applied (the guest's syscalls never reach the host kernel).
type SeccompFeatures struct {
	Enabled bool `json:"enabled"`
}

// capNames are the capabilities a guest can hold in litebox's kernel.
var capNames = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
	"CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
	"CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE"}

// GetFeatures describes this runtime; version and commit are the binary's.
func GetFeatures(version, commit string) Features {
	return Features{
		OCIVersionMin: "1.0.0",
		OCIVersionMax: OCIVersion,
		Hooks:         []string{},
		MountOptions:  []string{"bind", "rbind", "ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec"},
		Linux: &LinuxFeatures{
			Namespaces:   []string{"cgroup", "ipc", "mount", "network", "pid", "user", "uts"},
			Capabilities: capNames,
			Cgroup:       map[string]bool{"v1": false, "v2": false, "systemd": false, "systemdUser": false},
			Seccomp:      &SeccompFeatures{Enabled: false},
			Apparmor:     map[string]bool{"enabled": false},
			Selinux:      map[string]bool{"enabled": false},
		},
		Annotations: map[string]string{
			"dev.litebox.runtime.version": version,
			"dev.litebox.runtime.commit":  commit,
		},
	}
}
