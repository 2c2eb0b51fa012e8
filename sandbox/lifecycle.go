package sandbox

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
)

// ErrClosed is returned by Start once the sandbox is closed, or ended by
// its --timeout or --cpu-time limit.
var ErrClosed = errors.New("sandbox: closed")

// addRun counts a command about to start; false once the sandbox is closed.
func (s *Sandbox) addRun() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.runs.Add(1)
	return true
}

// admit registers a running command, whose first process exists, so that
// Close and the limits can end it; false once the sandbox is closed. The
// process was made before, and Close sets closed before it kills: either
// this refuses or Close's kill finds the process.
func (s *Sandbox) admit(c *Cmd) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.running == nil {
		s.running = map[*Cmd]bool{}
	}
	s.running[c] = true
	return true
}

// leave unregisters a command that ended.
func (s *Sandbox) leave(c *Cmd) {
	s.mu.Lock()
	delete(s.running, c)
	s.mu.Unlock()
}

// killAllCmds marks every running command as killed from outside (its
// output is no longer waited for) and ends the sandbox for new ones.
func (s *Sandbox) killAllCmds() {
	s.mu.Lock()
	s.closed = true
	cmds := make([]*Cmd, 0, len(s.running))
	for c := range s.running {
		cmds = append(cmds, c)
	}
	s.mu.Unlock()
	for _, c := range cmds {
		c.markKilled()
	}
}

// image loads a command's program. The first command picks the platform
// (firstImage) and the sandbox keeps it until Close: every command's
// address spaces are stubs of that one platform, made after Harden has
// confined litebox, which would no longer allow a new holder. Commands
// starting meanwhile wait for the first load.
func (s *Sandbox) image(leader *kernel.Task, abi kernel.ABI, path string, argv, envp []string) error {
	s.platMu.Lock()
	if plat := s.plat; plat != nil {
		s.platMu.Unlock()
		return leader.Load(s.spaces.platform(plat), abi, path, argv, envp)
	}
	defer s.platMu.Unlock()
	plat, err := s.firstImage(leader, abi, path, argv, envp)
	var pe *kernel.PlatformError
	if plat != nil && errors.As(err, &pe) {
		plat.Close() // it cannot make address spaces: the next command tries again
		return err
	}
	s.plat = plat
	return err
}

// harden calls Config.Harden once, when the first command's address space
// exists; its failure is every later command's too.
func (s *Sandbox) harden() error {
	s.hardenOnce.Do(func() {
		if s.cfg.Harden != nil {
			if err := s.cfg.Harden(); err != nil {
				s.hardenErr = fmt.Errorf("confining litebox itself: %w", err)
			}
		}
	})
	return s.hardenErr
}

// startLimits starts the --timeout and --cpu-time watchers when the first
// command starts (they count for the whole sandbox) and returns the
// command's start time.
func (s *Sandbox) startLimits() time.Time {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.firstStart.IsZero() {
		s.firstStart = now
		s.stopLimits = s.watchLimits(func(reason string) {
			s.mu.Lock()
			s.limitHit = reason
			s.mu.Unlock()
		}, s.killAllCmds)
	}
	return now
}

// limitReason says which limit ended the sandbox, if one did.
func (s *Sandbox) limitReason() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.limitHit
}

// commandEnded records the status of the latest command to end, which the
// sandbox_exit audit event reports.
func (s *Sandbox) commandEnded(status int) {
	s.mu.Lock()
	s.lastStatus = status
	s.mu.Unlock()
}

// finishAudit writes the sandbox_exit audit event, the log's last line
// after every pending event and count, and closes the log (without it when
// no command ever ran).
func (s *Sandbox) finishAudit() error {
	s.finishOnce.Do(func() {
		s.mu.Lock()
		status, first := s.lastStatus, s.firstStart
		s.mu.Unlock()
		var err error
		if first.IsZero() {
			err = s.audit.Close() // no command ever ran: nothing to report
		} else {
			err = s.audit.Finish("sandbox_exit", slog.Int("wait_status", status),
				slog.Duration("wall", time.Since(first)), slog.Duration("cpu", s.spaces.cpuTime()),
				slog.Duration("litebox_cpu", s.serve.total()), slog.Uint64("peak_mapped_bytes", s.budget.Peak()))
		}
		if err != nil {
			s.finishErr = fmt.Errorf("writing the audit log: %w", err)
		}
	})
	return s.finishErr
}

// Close ends the sandbox: every command still running is killed (Wait
// reports SIGKILL), its threads get endGrace to go, the platform is torn
// down (no stub is left on the host) and the audit log is finished with
// sandbox_exit. Start fails with ErrClosed afterwards. Close is safe to
// call more than once and returns the audit log's write error, if any.
// Threads that do not leave in time (only a kernel bug can keep one) are
// left behind, as is the platform they may still touch.
func (s *Sandbox) Close() error {
	s.closeOnce.Do(func() {
		defer s.kernel.Recover()
		s.killAllCmds()
		s.kernel.KillEverything(unix.SIGKILL)
		s.spaces.killAll()
		ended := make(chan struct{})
		go func() {
			s.runs.Wait()
			s.kernel.WaitTasks()
			close(ended)
		}()
		t := time.NewTimer(endGrace)
		defer t.Stop()
		s.mu.Lock()
		stop := s.stopLimits
		s.mu.Unlock()
		if stop != nil {
			stop()
		}
		s.kernel.StopClock() // before the platform's memory (the vDSO's data page) goes
		select {
		case <-ended:
			s.kernel.CloseNet() // the guest's sockets and the stack's goroutines
			s.platMu.Lock()
			if s.plat != nil {
				s.plat.Close()
			}
			s.platMu.Unlock()
			s.closeNetwork()
			s.hostFDs.Close() // nothing walks the view any more
		case <-t.C:
			if s.gw != nil {
				s.gw.Close() // the host's side goes; the guest's stack stays with its threads
			}
			s.log.Error("guest threads did not end when the sandbox closed: leaving them behind", "grace", endGrace)
			s.kernel.AuditEvent("kernel_error", slog.String("error", "guest threads did not end when the sandbox closed"),
				slog.Duration("grace", endGrace))
		}
	})
	return s.finishAudit()
}

// SignalAll sends sig to every process of the sandbox, of every command:
// what `runc kill --all` does to every process of a container's cgroup.
// Processes that handle, block or ignore sig do so as usual; pid 1 as
// Config.ContainerInit says.
func (s *Sandbox) SignalAll(sig unix.Signal) { s.kernel.SignalEverything(sig, s.outside()) }
