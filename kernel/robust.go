package kernel

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// Robust futex lists (set_robust_list(2)): glibc registers, per thread,
// the head of a list of the robust mutexes it holds. When the thread dies
// (or execs), the kernel walks the list in the thread's memory and marks
// each futex the thread still owns FUTEX_OWNER_DIED, waking one waiter,
// so that the next locker gets EOWNERDEAD, as Linux's exit_robust_list.
// The list is the guest's: every pointer is checked by copying through
// the address space (a bad one ends the walk), and the walk stops after
// robustListLimit entries, so a cycle costs a bounded amount.

// RobustListHeadSize is sizeof(struct robust_list_head) on x86-64.
const RobustListHeadSize = 24

// robustListLimit is Linux's ROBUST_LIST_LIMIT.
const robustListLimit = 2048

// Futex word bits (linux/futex.h).
const (
	futexWaiters   = 0x80000000
	futexOwnerDied = 0x40000000
	futexTIDMask   = 0x3fffffff
)

// SetRobustList records the thread's robust list head.
func (t *Task) SetRobustList(head uint64) {
	t.mu.Lock()
	t.robustList = head
	t.mu.Unlock()
}

// RobustList returns the thread's robust list head (0: none).
func (t *Task) RobustList() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.robustList
}

// GetRobustList returns the robust list head of the thread tid of the
// sandbox (0: the caller), as get_robust_list(2): ESRCH for no such
// thread, EPERM for another user's thread without CAP_SYS_PTRACE.
func (t *Task) GetRobustList(tid int) (uint64, error) {
	if tid == 0 {
		return t.RobustList(), nil
	}
	if tid < 0 {
		return 0, unix.ESRCH
	}
	target, ok := t.Proc.k.Task(tid)
	if !ok {
		return 0, unix.ESRCH
	}
	if target.Proc != t.Proc {
		c, tc := t.Proc.Creds(), target.Proc.Creds()
		if !c.MayKill(tc) {
			return 0, unix.EPERM
		}
	}
	return target.RobustList(), nil
}

// exitRobustList walks the thread's robust list and forgets it (thread
// exit and execve, Linux's exit_robust_list).
func (t *Task) exitRobustList() {
	t.mu.Lock()
	head := t.robustList
	t.robustList = 0
	t.mu.Unlock()
	if head == 0 {
		return
	}
	entry, pi, ok := t.robustEntry(head)
	if !ok {
		return
	}
	offRaw, err := t.ReadU64(head + 8)
	if err != nil {
		return
	}
	off := int64(offRaw)
	pending, ppi, ok := t.robustEntry(head + 16)
	if !ok {
		return
	}
	for limit := robustListLimit; entry != head && limit > 0; limit-- {
		next, npi, nok := t.robustEntry(entry)
		if entry != pending && !t.futexDeath(entry+uint64(off), pi, false) {
			return
		}
		if !nok {
			return
		}
		entry, pi = next, npi
	}
	if pending != 0 {
		t.futexDeath(pending+uint64(off), ppi, true)
	}
}

// robustEntry reads the list pointer at addr: the entry and its PI bit.
func (t *Task) robustEntry(addr uint64) (entry uint64, pi, ok bool) {
	v, err := t.ReadU64(addr)
	if err != nil {
		return 0, false, false
	}
	return v &^ 1, v&1 != 0, true
}

// futexDeath handles one futex of a dying owner (Linux's
// handle_futex_death): a futex word the thread owns gets FUTEX_OWNER_DIED
// (keeping FUTEX_WAITERS) and one waiter is woken; a pending unlock of a
// free non-PI futex wakes one waiter. It reports false when the word
// cannot be read (the walk stops).
func (t *Task) futexDeath(addr uint64, pi, pending bool) bool {
	if addr%4 != 0 {
		return false
	}
	b, err := t.CopyIn(addr, 4)
	if err != nil {
		return false
	}
	uval := binary.LittleEndian.Uint32(b)
	if pending && !pi && uval == 0 {
		t.wakeRobust(addr)
		return true
	}
	if int(uval&futexTIDMask) != t.TID {
		return true
	}
	if err := t.WriteU32(addr, uval&futexWaiters|futexOwnerDied); err != nil {
		return false
	}
	// Linux wakes only when FUTEX_WAITERS was set; the word is not
	// changed atomically here (guest memory has no compare-and-swap from
	// the kernel), so a waiter that set the bit meanwhile is woken too:
	// always wake one, which a waiter handles as a spurious wake-up.
	if !pi {
		t.wakeRobust(addr)
	}
	return true
}

// wakeRobust wakes one waiter of the futex at addr, keyed as a shared
// futex is (Linux's handle_futex_death wakes with FLAGS_SHARED): by the
// memory for MAP_SHARED memory, by address space and address otherwise.
func (t *Task) wakeRobust(addr uint64) {
	key := FutexKey{Space: t.Proc.MM, Addr: addr}
	if obj, off, ok := t.Proc.MM.SharedKey(addr); ok {
		key = FutexKey{Space: obj, Addr: off}
	}
	_, _ = t.Proc.k.Futexes.FutexWake(key, 1, ^uint32(0))
}
