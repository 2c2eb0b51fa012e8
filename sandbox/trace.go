package sandbox

import (
	"fmt"
	"strings"
	"sync"

	"github.com/litebox-go/litebox/shim/linux"
)

// traceMu serialises writes to Config.SyscallTrace: guests of one sandbox
// may end concurrently and an io.Writer need not be safe for that. Trace
// writes happen once per guest run, so one lock for the package is plenty.
var traceMu sync.Mutex

// newSyscallUsage returns the record of a guest run's syscalls, or nil when
// nobody asked for it, which keeps Dispatch's cost at a nil check.
func (s *Sandbox) newSyscallUsage() *linux.Usage {
	if s.cfg.SyscallTrace == nil {
		return nil
	}
	return new(linux.Usage)
}

// writeSyscallTrace writes the names of the syscalls recorded in u to
// Config.SyscallTrace, one per line. It writes the whole list with a single
// Write, so that runs appending to one O_APPEND file (the CLI's
// --trace-syscalls from parallel tests) never interleave within a line.
func (s *Sandbox) writeSyscallTrace(u *linux.Usage) error {
	if u == nil {
		return nil
	}
	names := u.Names()
	if len(names) == 0 {
		return nil
	}
	traceMu.Lock()
	defer traceMu.Unlock()
	if _, err := s.cfg.SyscallTrace.Write([]byte(strings.Join(names, "\n") + "\n")); err != nil {
		return fmt.Errorf("writing the syscall trace: %w", err)
	}
	return nil
}
