package platform

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/litebox-go/litebox/platform/seccomp"
)

// Info describes a platform implementation. Each implementation registers
// itself from an init function; the sandbox imports the implementations in
// one place, and everything else (the choice of a platform, the CLI's
// --platform, litebox's own seccomp allowlist, `litebox policy show`) asks
// the registry, so a new platform touches neither the sandbox nor the
// allowlist.
type Info struct {
	// Name is the --platform value ("systrap").
	Name string
	// Summary is a few words for help texts ("fast").
	Summary string
	// Needs says what the platform needs from the host, for listings and
	// for the message when it cannot start.
	Needs string
	// Preference orders the automatic choice: the platform with the
	// highest preference that can make an address space on this host is
	// used.
	Preference int
	// New returns a new, unstarted instance; starting it (the first
	// NewAddressSpace) is what fails on a host that lacks its needs.
	New func() Platform
	// HostRules are the host syscalls the litebox process makes to drive
	// this platform, beyond what the Go runtime and the kernel need: litebox's
	// own seccomp allowlist includes them.
	HostRules []seccomp.Rule
	// StubFilters are the seccomp filters the platform's stubs run, for
	// listings.
	StubFilters []StubFilter
}

// StubFilter is one seccomp filter a platform installs in its stubs.
type StubFilter struct {
	Title  string // what it applies to and what happens to the rest
	Filter *seccomp.Filter
	Notes  []string // what the rules alone do not say
}

var registry struct {
	sync.Mutex
	infos []Info // in preference order
}

// Register adds a platform. It panics on a missing name or constructor,
// or a name already registered: both are bugs in an init function.
func Register(info Info) {
	if info.Name == "" || info.New == nil {
		panic("platform: Register needs a name and a constructor")
	}
	registry.Lock()
	defer registry.Unlock()
	if slices.ContainsFunc(registry.infos, func(i Info) bool { return i.Name == info.Name }) {
		panic(fmt.Sprintf("platform: %q registered twice", info.Name))
	}
	registry.infos = append(registry.infos, info)
	slices.SortStableFunc(registry.infos, func(a, b Info) int {
		return cmp.Or(cmp.Compare(b.Preference, a.Preference), cmp.Compare(a.Name, b.Name))
	})
}

// Lookup returns the platform registered under name.
func Lookup(name string) (Info, bool) {
	registry.Lock()
	defer registry.Unlock()
	for _, i := range registry.infos {
		if i.Name == name {
			return i, true
		}
	}
	return Info{}, false
}

// Registered returns every registered platform, most preferred first.
func Registered() []Info {
	registry.Lock()
	defer registry.Unlock()
	return slices.Clone(registry.infos)
}

// Names returns the names of the registered platforms, most preferred
// first.
func Names() []string {
	var names []string
	for _, i := range Registered() {
		names = append(names, i.Name)
	}
	return names
}
