package kernel

import (
	"log/slog"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/mm"
	"github.com/litebox-go/litebox/kernel/pipe"
)

// What the kernel objects a guest can create cost against the sandbox's
// memory budget (--memory, shared with the guest's own mappings, as a
// memory cgroup counts kernel memory). Each is at least what litebox holds
// for the object (TestKernelCostsCoverHeap measures the heap part; a task
// also has a goroutine stack and an OS thread).
const (
	// PipeCost is charged per pipe (the pipe, its two ends and their open
	// file descriptions); its buffered data is charged by the page
	// (pipe.PageCost). Sockets cost unixsock.SocketCost each.
	PipeCost = 1024
	// EventfdCost is charged per eventfd.
	EventfdCost = 512
	// EpollCost is charged per epoll instance, EpollItemCost per watched
	// descriptor.
	EpollCost     = 512
	EpollItemCost = 256
	// TaskCost is charged per thread: its kernel state, the goroutine
	// that runs it (with its stack) and the OS thread it is locked to.
	TaskCost = 64 << 10
)

// memory is the budget kernel objects are charged to; nil means unlimited.
func (k *Kernel) memory() *mm.Budget { return k.cfg.Memory }

// charge takes n bytes of the memory budget for a kernel object, or fails
// with ENOMEM.
func (k *Kernel) charge(n uint64) error { return k.memory().Charge(n) }

// uncharge gives back what charge took.
func (k *Kernel) uncharge(n uint64) { k.memory().Uncharge(n) }

// chargeSigned adapts charge/uncharge to the signed form the lock and pipe
// packages use: n > 0 takes, n < 0 gives back.
func (k *Kernel) chargeSigned(n int64) error {
	if n < 0 {
		k.uncharge(uint64(-n))
		return nil
	}
	return k.charge(uint64(n))
}

// newPipe makes a pipe charged to the memory budget. Without room for it
// the error is ENFILE, as pipe(2) and socketpair(2) fail on Linux when the
// pipe or socket inode cannot be allocated.
func (k *Kernel) newPipe() (*pipe.Pipe, error) {
	p, err := pipe.NewCharged(k.chargeSigned, PipeCost)
	if err != nil {
		return nil, unix.ENFILE
	}
	return p, nil
}

// maxEpollWatches is the sandbox-wide number of descriptors all epoll
// instances may watch together, like Linux's max_user_watches (4% of the
// memory divided by the cost of a watch): EPOLL_CTL_ADD beyond gives
// ENOSPC. 0 means no cap (no memory limit).
func (k *Kernel) maxEpollWatches() int64 {
	if k.cfg.Memory == nil || k.cfg.Memory.Limit() == 0 {
		return 0
	}
	return max(int64(k.cfg.Memory.Limit()/25/EpollItemCost), 1)
}

// addWatch accounts for one more epoll watch: ENOSPC past
// maxEpollWatches (as Linux past max_user_watches), ENOMEM when the budget
// has no room for it.
func (k *Kernel) addWatch(pid int) error {
	if limit := k.maxEpollWatches(); limit > 0 && k.epollWatches.Add(1) > limit {
		k.epollWatches.Add(-1)
		k.auditLimit("epoll_watches", pid)
		return unix.ENOSPC
	} else if limit <= 0 {
		k.epollWatches.Add(1)
	}
	if err := k.charge(EpollItemCost); err != nil {
		k.epollWatches.Add(-1)
		return err
	}
	return nil
}

// dropWatches gives back n watches.
func (k *Kernel) dropWatches(n int) {
	if n > 0 {
		k.epollWatches.Add(-int64(n))
		k.uncharge(uint64(n) * EpollItemCost)
	}
}

// defaultSigPending is RLIMIT_SIGPENDING as Linux sets it for a machine
// with the sandbox's memory (half its max_threads: one queued signal per
// 256 KiB), or the host's when the memory is unlimited.
func defaultSigPending(memory uint64) uint64 {
	if memory == 0 {
		var si unix.Sysinfo_t
		if unix.Sysinfo(&si) == nil {
			memory = uint64(si.Totalram) * uint64(si.Unit)
		}
	}
	return max(memory/(256<<10), 16)
}

// auditLimit records a limit_exceeded event for a kernel limit.
func (k *Kernel) auditLimit(limit string, pid int) {
	k.AuditEvent("limit_exceeded", slog.String("limit", limit), slog.Int("pid", pid))
}
