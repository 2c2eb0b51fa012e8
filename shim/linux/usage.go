package linux

import (
	"slices"
	"sync/atomic"
)

// Usage records which syscalls a guest issued, implemented or not. It exists
// so that tests and tools can learn what a workload needs from the shim (see
// docs/syscalls.md); the sandbox creates one per guest run only when asked,
// so an ordinary run pays nothing but a nil check in Dispatch.
//
// The counters are atomic because every task of a guest shares one Usage and
// tasks may run on different OS threads. The zero value is ready to use.
type Usage struct {
	// One counter per table slot: numbers outside the table cannot be
	// served anyway and are not worth a map lookup on every syscall.
	counts [numSlots]atomic.Uint64
}

// record counts one issue of syscall nr. It is a no-op on a nil Usage, so
// Dispatch needs no check of its own.
func (u *Usage) record(nr uint64) {
	if u == nil || nr >= uint64(len(u.counts)) {
		return
	}
	u.counts[nr].Add(1)
}

// Count reports how often syscall nr was issued.
func (u *Usage) Count(nr uint64) uint64 {
	if u == nil || nr >= uint64(len(u.counts)) {
		return 0
	}
	return u.counts[nr].Load()
}

// Names returns the names (as Name reports them) of the syscalls issued at
// least once, sorted and without duplicates.
func (u *Usage) Names() []string {
	if u == nil {
		return nil
	}
	var names []string
	for nr := range u.counts {
		if u.counts[nr].Load() != 0 {
			names = append(names, Name(uint64(nr)))
		}
	}
	slices.Sort(names)
	return names
}
