package linux

import (
	"bytes"
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// TestResourceCalls: the answers of the capability, clock-setting,
// rusage and scheduler calls an unprivileged Linux user gets, for good and
// bad arguments (the guest programs testdata/rusage.c and sched.c compare
// the same with a native run).
func TestResourceCalls(t *testing.T) {
	const (
		hdr  = memBase + 0x100 // a capability header
		data = memBase + 0x200 // capability data, a timespec, a rusage...
	)
	le := binary.LittleEndian
	header := func(version uint32, pid int32) []byte {
		b := le.AppendUint32(nil, version)
		return le.AppendUint32(b, uint32(pid))
	}
	ones := bytes.Repeat([]byte{0xff}, 24)
	for _, tc := range []struct {
		name    string
		nr      uint64
		poke    map[uint64][]byte
		args    func(tid int) []uint64
		want    unix.Errno
		peekAt  uint64
		peekOut []byte // what must be at peekAt afterwards
	}{
		{name: "capget v3", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(capVersion3, 0), data: ones},
			args: func(int) []uint64 { return []uint64{hdr, data} }, peekAt: data, peekOut: make([]byte, 24)},
		{name: "capget v1 writes one set", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(capVersion1, 0), data: ones},
			args: func(int) []uint64 { return []uint64{hdr, data} }, peekAt: data, peekOut: append(make([]byte, 12), ones[:12]...)},
		{name: "capget own tid", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: nil},
			args: func(int) []uint64 { return []uint64{hdr, data} }},
		{name: "capget bad version", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(1, 0)},
			args: func(int) []uint64 { return []uint64{hdr, data} }, want: unix.EINVAL,
			peekAt: hdr, peekOut: le.AppendUint32(nil, capVersion3)},
		{name: "capget version probe", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(1, 0)},
			args: func(int) []uint64 { return []uint64{hdr, 0} }, peekAt: hdr, peekOut: le.AppendUint32(nil, capVersion3)},
		{name: "capget no such pid", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(capVersion3, 999999)},
			args: func(int) []uint64 { return []uint64{hdr, data} }, want: unix.ESRCH},
		{name: "capget negative pid", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(capVersion3, -1)},
			args: func(int) []uint64 { return []uint64{hdr, data} }, want: unix.EINVAL},
		{name: "capget bad header", nr: unix.SYS_CAPGET,
			args: func(int) []uint64 { return []uint64{noAccess, data} }, want: unix.EFAULT},
		{name: "capget bad data", nr: unix.SYS_CAPGET, poke: map[uint64][]byte{hdr: header(capVersion3, 0)},
			args: func(int) []uint64 { return []uint64{hdr, noAccess} }, want: unix.EFAULT},
		{name: "capset nothing", nr: unix.SYS_CAPSET, poke: map[uint64][]byte{hdr: header(capVersion3, 0), data: make([]byte, 24)},
			args: func(int) []uint64 { return []uint64{hdr, data} }},
		{name: "capset a capability", nr: unix.SYS_CAPSET, poke: map[uint64][]byte{hdr: header(capVersion3, 0), data: ones},
			args: func(int) []uint64 { return []uint64{hdr, data} }, want: unix.EPERM},
		{name: "capset another pid", nr: unix.SYS_CAPSET, poke: map[uint64][]byte{hdr: header(capVersion3, 4242), data: make([]byte, 24)},
			args: func(int) []uint64 { return []uint64{hdr, data} }, want: unix.EPERM},
		{name: "capset bad version", nr: unix.SYS_CAPSET, poke: map[uint64][]byte{hdr: header(7, 0)},
			args: func(int) []uint64 { return []uint64{hdr, data} }, want: unix.EINVAL},

		{name: "clock_settime realtime", nr: unix.SYS_CLOCK_SETTIME, poke: map[uint64][]byte{data: make([]byte, 16)},
			args: func(int) []uint64 { return []uint64{unix.CLOCK_REALTIME, data} }, want: unix.EPERM},
		{name: "clock_settime realtime bad time", nr: unix.SYS_CLOCK_SETTIME,
			poke: map[uint64][]byte{data: le.AppendUint64(le.AppendUint64(nil, 1), 2e9)},
			args: func(int) []uint64 { return []uint64{unix.CLOCK_REALTIME, data} }, want: unix.EINVAL},
		{name: "clock_settime bad pointer", nr: unix.SYS_CLOCK_SETTIME,
			args: func(int) []uint64 { return []uint64{unix.CLOCK_REALTIME, noAccess} }, want: unix.EFAULT},
		{name: "clock_settime monotonic", nr: unix.SYS_CLOCK_SETTIME, poke: map[uint64][]byte{data: make([]byte, 16)},
			args: func(int) []uint64 { return []uint64{unix.CLOCK_MONOTONIC, data} }, want: unix.EINVAL},
		{name: "clock_settime unknown clock", nr: unix.SYS_CLOCK_SETTIME, poke: map[uint64][]byte{data: make([]byte, 16)},
			args: func(int) []uint64 { return []uint64{100, data} }, want: unix.EINVAL},
		{name: "settimeofday", nr: unix.SYS_SETTIMEOFDAY, poke: map[uint64][]byte{data: make([]byte, 16)},
			args: func(int) []uint64 { return []uint64{data, 0} }, want: unix.EPERM},
		{name: "settimeofday bad usec", nr: unix.SYS_SETTIMEOFDAY,
			poke: map[uint64][]byte{data: le.AppendUint64(le.AppendUint64(nil, 1), 1e6)},
			args: func(int) []uint64 { return []uint64{data, 0} }, want: unix.EINVAL},

		{name: "getrusage self", nr: unix.SYS_GETRUSAGE, poke: map[uint64][]byte{data: make([]byte, rusageSize)},
			args: func(int) []uint64 { return []uint64{0, data} }},
		{name: "getrusage children", nr: unix.SYS_GETRUSAGE, poke: map[uint64][]byte{data: bytes.Repeat([]byte{0xff}, rusageSize)},
			args: func(int) []uint64 { return []uint64{^uint64(0), data} }, peekAt: data, peekOut: make([]byte, rusageSize)},
		{name: "getrusage bad who", nr: unix.SYS_GETRUSAGE,
			args: func(int) []uint64 { return []uint64{42, data} }, want: unix.EINVAL},
		{name: "getrusage bad pointer", nr: unix.SYS_GETRUSAGE,
			args: func(int) []uint64 { return []uint64{0, noAccess} }, want: unix.EFAULT},
		{name: "times bad pointer", nr: unix.SYS_TIMES,
			args: func(int) []uint64 { return []uint64{noAccess} }, want: unix.EFAULT},

		{name: "sched_getaffinity own tid", nr: unix.SYS_SCHED_GETAFFINITY,
			args: func(tid int) []uint64 { return []uint64{uint64(tid), 128, data} }},
		{name: "sched_getaffinity no such tid", nr: unix.SYS_SCHED_GETAFFINITY,
			args: func(int) []uint64 { return []uint64{999999, 128, data} }, want: unix.ESRCH},
		{name: "sched_getaffinity odd size", nr: unix.SYS_SCHED_GETAFFINITY,
			args: func(int) []uint64 { return []uint64{0, 12, data} }, want: unix.EINVAL},
		{name: "sched_setaffinity empty", nr: unix.SYS_SCHED_SETAFFINITY, poke: map[uint64][]byte{data: make([]byte, 8)},
			args: func(int) []uint64 { return []uint64{0, 8, data} }, want: unix.EINVAL},
		{name: "sched_setscheduler FIFO", nr: unix.SYS_SCHED_SETSCHEDULER, poke: map[uint64][]byte{data: le.AppendUint32(nil, 10)},
			args: func(int) []uint64 { return []uint64{0, unix.SCHED_FIFO, data} }, want: unix.EPERM},
		{name: "sched_setscheduler OTHER with a priority", nr: unix.SYS_SCHED_SETSCHEDULER, poke: map[uint64][]byte{data: le.AppendUint32(nil, 5)},
			args: func(int) []uint64 { return []uint64{0, unix.SCHED_NORMAL, data} }, want: unix.EINVAL},
		{name: "sched_setscheduler NULL", nr: unix.SYS_SCHED_SETSCHEDULER,
			args: func(int) []uint64 { return []uint64{0, unix.SCHED_NORMAL, 0} }, want: unix.EINVAL},
		{name: "sched_getscheduler negative", nr: unix.SYS_SCHED_GETSCHEDULER,
			args: func(int) []uint64 { return []uint64{^uint64(0)} }, want: unix.EINVAL},
		{name: "sched_get_priority_max bad policy", nr: unix.SYS_SCHED_GET_PRIORITY_MAX,
			args: func(int) []uint64 { return []uint64{42} }, want: unix.EINVAL},
		{name: "setpriority lower", nr: unix.SYS_SETPRIORITY,
			args: func(int) []uint64 { return []uint64{unix.PRIO_PROCESS, 0, ^uint64(0)} }, want: unix.EACCES},
		{name: "getpriority bad which", nr: unix.SYS_GETPRIORITY,
			args: func(int) []uint64 { return []uint64{3, 0} }, want: unix.EINVAL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			task, mem := newProcTask(t, nil)
			for addr, b := range tc.poke {
				if b == nil {
					b = header(capVersion3, int32(task.TID))
				}
				mem.poke(t, addr, b)
			}
			rax := syscall(t, task, tc.nr, tc.args(task.TID)...)
			if got := errnoOf(rax); got != tc.want {
				t.Fatalf("%s = %#x (errno %v), want errno %v", Name(tc.nr), rax, got, tc.want)
			}
			if tc.peekOut != nil {
				if got := mem.peek(t, tc.peekAt, len(tc.peekOut)); string(got) != string(tc.peekOut) {
					t.Errorf("memory at %#x = %x, want %x", tc.peekAt, got, tc.peekOut)
				}
			}
		})
	}
}

// TestSchedState: what the setters record, the getters report, for the
// caller and by tid.
func TestSchedState(t *testing.T) {
	const buf = memBase + 0x100
	task, mem := newProcTask(t, nil)
	tid := uint64(task.TID)
	mem.poke(t, buf, make([]byte, 4))
	if rax := syscall(t, task, unix.SYS_SCHED_SETSCHEDULER, tid, unix.SCHED_BATCH, buf); rax != 0 {
		t.Fatalf("sched_setscheduler(BATCH) = %#x", rax)
	}
	if rax := syscall(t, task, unix.SYS_SCHED_GETSCHEDULER, 0); rax != unix.SCHED_BATCH {
		t.Errorf("sched_getscheduler = %#x, want SCHED_BATCH", rax)
	}
	if rax := syscall(t, task, unix.SYS_SETPRIORITY, unix.PRIO_PROCESS, tid, 7); rax != 0 {
		t.Fatalf("setpriority(7) = %#x", rax)
	}
	if rax := syscall(t, task, unix.SYS_GETPRIORITY, unix.PRIO_PROCESS, 0); rax != 20-7 {
		t.Errorf("getpriority = %d, want 13 (20 - nice)", rax)
	}
	if rax := syscall(t, task, unix.SYS_SETPRIORITY, unix.PRIO_PGRP, 0, 100); rax != 0 {
		t.Fatalf("setpriority(PGRP, 100) = %#x", rax)
	}
	if rax := syscall(t, task, unix.SYS_GETPRIORITY, unix.PRIO_USER, 0); rax != 1 {
		t.Errorf("getpriority(USER) = %d, want 1 (nice clamped to 19)", rax)
	}
	mem.poke(t, buf, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	if rax := syscall(t, task, unix.SYS_SCHED_SETAFFINITY, 0, 8, buf); rax != 0 {
		t.Fatalf("sched_setaffinity(CPU 0) = %#x", rax)
	}
	mem.poke(t, buf, make([]byte, 8))
	if rax := syscall(t, task, unix.SYS_SCHED_GETAFFINITY, tid, 8, buf); errnoOf(rax) != 0 {
		t.Fatalf("sched_getaffinity = %#x", rax)
	}
	if got := mem.peek(t, buf, 1)[0]; got != 1 {
		t.Errorf("affinity = %#x, want CPU 0 alone", got)
	}
	if rax := syscall(t, task, unix.SYS_GETCPU, buf, 0, 0); rax != 0 || mem.peek(t, buf, 1)[0] != 0 {
		t.Errorf("getcpu = %#x, cpu %d; want CPU 0", rax, mem.peek(t, buf, 1)[0])
	}
}
