package sandbox

import (
	"sync"
	"time"

	"github.com/litebox-go/litebox/platform"
)

// spaceSet tracks the sandbox's live address spaces, so the CPU time of
// all guest processes can be summed for --cpu-time.
type spaceSet struct {
	mu       sync.Mutex
	live     map[*trackedSpace]bool
	released time.Duration // CPU time of address spaces already gone
}

// trackedSpace is a platform address space that reports its birth (Fork)
// and death (Release) to its set.
type trackedSpace struct {
	platform.AddressSpace
	set *spaceSet
}

// trackedPlatform makes address spaces that the set tracks.
type trackedPlatform struct {
	platform.Platform
	set *spaceSet
}

// platform returns p with every address space it makes tracked by s.
func (s *spaceSet) platform(p platform.Platform) platform.Platform {
	return &trackedPlatform{Platform: p, set: s}
}

func (p *trackedPlatform) NewAddressSpace() (platform.AddressSpace, error) {
	as, err := p.Platform.NewAddressSpace()
	if err != nil {
		return nil, err
	}
	return p.set.track(as), nil
}

func (s *spaceSet) track(as platform.AddressSpace) *trackedSpace {
	t := &trackedSpace{AddressSpace: as, set: s}
	s.mu.Lock()
	if s.live == nil {
		s.live = map[*trackedSpace]bool{}
	}
	s.live[t] = true
	s.mu.Unlock()
	return t
}

func (t *trackedSpace) Fork() (platform.AddressSpace, error) {
	as, err := t.AddressSpace.Fork()
	if err != nil {
		return nil, err
	}
	return t.set.track(as), nil
}

func (t *trackedSpace) Release() {
	cpu, _ := t.AddressSpace.CPUTime()
	t.set.mu.Lock()
	if t.set.live[t] {
		delete(t.set.live, t)
		t.set.released += cpu
	}
	t.set.mu.Unlock()
	t.AddressSpace.Release()
}

// cpuTime is the CPU time used by every guest process so far.
func (s *spaceSet) cpuTime() time.Duration {
	s.mu.Lock()
	live := make([]*trackedSpace, 0, len(s.live))
	for t := range s.live {
		live = append(live, t)
	}
	total := s.released
	s.mu.Unlock()
	for _, t := range live {
		if d, err := t.AddressSpace.CPUTime(); err == nil {
			total += d
		}
	}
	return total
}

// killer is implemented by address spaces that can be killed from any
// goroutine without being released (the ptrace platform: only a stub's
// tracer may release and reap it).
type killer interface{ Kill() }

// killAll kills every live address space at once (the host kills the
// stubs), so that no goroutine serving a guest thread waits on a stub any
// longer: the sandbox's end never depends on a guest thread. Each is
// released as usual by the goroutine that sees its stub gone.
func (s *spaceSet) killAll() {
	s.mu.Lock()
	live := make([]*trackedSpace, 0, len(s.live))
	for t := range s.live {
		live = append(live, t)
	}
	s.mu.Unlock()
	for _, t := range live {
		if k, ok := t.AddressSpace.(killer); ok {
			k.Kill()
		}
	}
}
