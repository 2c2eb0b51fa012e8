package sandbox

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"github.com/litebox-go/litebox/kernel"
)

// Process is a command's first guest process, as os.Process is a host one.
// Pid is its pid in the sandbox's pid space, never a host pid.
type Process struct {
	Pid int

	p   *kernel.Process
	cmd *Cmd
}

// Signal sends sig (a syscall.Signal) to the process, as kill(2) from
// outside the sandbox would (pid 1: see Config.ContainerInit). It returns
// os.ErrProcessDone once the process has ended.
func (p *Process) Signal(sig os.Signal) error {
	s, ok := sig.(syscall.Signal)
	if !ok {
		return errors.New("sandbox: unsupported signal type")
	}
	k := p.cmd.sb.kernel
	defer k.Recover()
	if p.p.Exiting() {
		return os.ErrProcessDone
	}
	if err := p.p.SendSignalFrom(kernel.SigInfo{Signo: s, Code: kernel.SIKernel}, p.cmd.sb.outside()); err != nil {
		return fmt.Errorf("sandbox: signal %d to pid %d: %w", int(s), p.Pid, err)
	}
	return nil
}

// Kill makes the process die of SIGKILL; as its command's first process,
// it takes the whole command with it (see Cmd.Kill).
func (p *Process) Kill() error { return p.Signal(syscall.SIGKILL) }

// ExitError reports a command whose first process did not exit with
// status 0. Its WaitStatus answers as syscall.WaitStatus does: Exited and
// ExitStatus, Signaled and Signal, CoreDump.
type ExitError struct {
	syscall.WaitStatus
	// Reason is set when litebox ended the guest (a --timeout or
	// --cpu-time limit).
	Reason string
	// ctxErr is the context's error when a CommandContext's end killed
	// the command.
	ctxErr error
}

func (e *ExitError) Error() string {
	if e.Signaled() {
		return fmt.Sprintf("guest killed by signal %d", int(e.Signal()))
	}
	return fmt.Sprintf("guest exited with status %d", e.ExitStatus())
}

// ExitCode is the exit status, or -1 for a guest killed by a signal, as
// os.ProcessState.ExitCode reports.
func (e *ExitError) ExitCode() int { return e.ExitStatus() }

// Unwrap returns the context's error when a cancelled or expired
// CommandContext killed the command, so errors.Is(err, context.Canceled)
// (or context.DeadlineExceeded) holds.
func (e *ExitError) Unwrap() error { return e.ctxErr }
