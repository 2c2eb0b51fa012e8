package seccomp

import (
	"math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

const (
	codePage = 0x7ff000000000
	vsyscall = 0xffffffffff600000
)

// sample is a filter with every kind of rule: instruction-pointer rules
// inside and outside a range, plain rules, and each argument condition.
var sample = Filter{
	PC: []PCRule{
		{Start: vsyscall, End: vsyscall + 0x1000, Action: Trap},
		{Start: codePage, End: codePage + 0x1000, Outside: true, Action: Errno(unix.ENOSYS)},
	},
	Rules: []Rule{
		{Name: "read", Nr: unix.SYS_READ},
		{Name: "write", Nr: unix.SYS_WRITE, Args: []Cond{ArgEq(0, 6)}},
		{Name: "futex", Nr: unix.SYS_FUTEX, Args: []Cond{ArgIn(1, 0, 1)}},
		{Name: "clone", Nr: unix.SYS_CLONE, Args: []Cond{ArgIn(0, unix.CLONE_PARENT, 17, 1<<33)}},
		{Name: "mmap", Nr: unix.SYS_MMAP, Args: []Cond{ArgMaskedEq(3, unix.MAP_SHARED|unix.MAP_PRIVATE, unix.MAP_PRIVATE), ArgEq(4, ^uint64(0))}},
		{Name: "madvise", Nr: unix.SYS_MADVISE, Args: []Cond{ArgMaskedEq(2, 0xff<<32, 0)}},
		{Name: "getpid", Nr: unix.SYS_GETPID, Action: Errno(unix.EPERM)},
	},
	Mismatch: KillProcess,
	Default:  Errno(unix.EACCES),
}

func at(nr uint32, args ...uint64) Data {
	d := Data{Nr: nr, Arch: AuditArchX86_64, IP: codePage + 0x100}
	copy(d.Args[:], args)
	return d
}

func TestCompiledFilter(t *testing.T) {
	prog, err := sample.Compile()
	if err != nil {
		t.Fatal(err)
	}
	withIP := func(d Data, ip uint64) Data { d.IP = ip; return d }
	withArch := func(d Data, arch uint32) Data { d.Arch = arch; return d }
	cases := []struct {
		name string
		d    Data
		want Action
	}{
		{"i386", withArch(at(unix.SYS_READ), 0x40000003), KillProcess},
		{"arch 0", withArch(at(unix.SYS_READ), 0), KillProcess},
		{"x32 read", at(x32Bit | unix.SYS_READ), Errno(unix.EACCES)},
		{"read", at(unix.SYS_READ), Allow},
		{"unlisted", at(unix.SYS_EXECVE), Errno(unix.EACCES)},
		{"number past the table", at(1000), Errno(unix.EACCES)},
		{"own action", at(unix.SYS_GETPID), Errno(unix.EPERM)},
		{"write fd 6", at(unix.SYS_WRITE, 6), Allow},
		{"write fd 1", at(unix.SYS_WRITE, 1), KillProcess},
		{"write fd 6 + 2^32", at(unix.SYS_WRITE, 1<<32|6), KillProcess},
		{"futex wait", at(unix.SYS_FUTEX, 0, 0), Allow},
		{"futex wake", at(unix.SYS_FUTEX, 0, 1), Allow},
		{"futex requeue", at(unix.SYS_FUTEX, 0, 3), KillProcess},
		{"futex wake + 2^32", at(unix.SYS_FUTEX, 0, 1<<32|1), KillProcess},
		{"clone parent", at(unix.SYS_CLONE, unix.CLONE_PARENT), Allow},
		{"clone sigchld", at(unix.SYS_CLONE, 17), Allow},
		{"clone high value", at(unix.SYS_CLONE, 1<<33), Allow},
		{"clone high value's low word", at(unix.SYS_CLONE, 0), KillProcess},
		{"clone other", at(unix.SYS_CLONE, unix.CLONE_VM), KillProcess},
		{"mmap private anon", at(unix.SYS_MMAP, 0, 4096, 3, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS, ^uint64(0)), Allow},
		{"mmap shared", at(unix.SYS_MMAP, 0, 4096, 3, unix.MAP_SHARED|unix.MAP_ANONYMOUS, ^uint64(0)), KillProcess},
		{"mmap private fd 3", at(unix.SYS_MMAP, 0, 4096, 3, unix.MAP_PRIVATE, 3), KillProcess},
		{"madvise high byte clear", at(unix.SYS_MADVISE, 0, 0, 0xffffffff|1<<40), Allow},
		{"madvise high byte set", at(unix.SYS_MADVISE, 0, 0, 1<<32), KillProcess},
		{"from the vsyscall page", withIP(at(unix.SYS_READ), vsyscall+0x400), Trap},
		{"from the vsyscall page's end", withIP(at(unix.SYS_READ), vsyscall+0xfff), Trap},
		{"just past the vsyscall page", withIP(at(unix.SYS_READ), vsyscall+0x1000), Errno(unix.ENOSYS)},
		{"outside the code page", withIP(at(unix.SYS_READ), 0x400000), Errno(unix.ENOSYS)},
		{"just below the code page", withIP(at(unix.SYS_READ), codePage-1), Errno(unix.ENOSYS)},
		{"just above the code page", withIP(at(unix.SYS_READ), codePage+0x1000), Errno(unix.ENOSYS)},
		{"code page, other 4 GiB", withIP(at(unix.SYS_READ), codePage+1<<32), Errno(unix.ENOSYS)},
		{"code page start", withIP(at(unix.SYS_READ), codePage), Allow},
		{"x32 outside the code page", withIP(at(x32Bit|unix.SYS_READ), 0x400000), Errno(unix.ENOSYS)},
	}
	for _, c := range cases {
		got, err := Run(prog, c.d)
		if err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, got, c.want)
		}
		if ref := sample.reference(c.d); ref != c.want {
			t.Errorf("%s: the reference says %#x, the table %#x", c.name, ref, c.want)
		}
	}
}

// reference is the filter's meaning written as plain Go.
func (f *Filter) reference(d Data) Action {
	if d.Arch != AuditArchX86_64 {
		return KillProcess
	}
	for _, r := range f.PC {
		if in := d.IP >= r.Start && d.IP < r.End; in != r.Outside {
			return r.Action
		}
	}
	if d.Nr&x32Bit != 0 {
		return f.Default
	}
	for _, r := range f.Rules {
		if r.Nr != d.Nr {
			continue
		}
		for _, c := range r.Args {
			ok := false
			for _, v := range c.Values {
				ok = ok || d.Args[c.Arg]&c.Mask == v
			}
			if !ok {
				return f.Mismatch
			}
		}
		return actionOf(r)
	}
	return f.Default
}

// TestCompiledMatchesReference runs random seccomp_data, biased towards
// the values the rules name, through the program and the reference.
func TestCompiledMatchesReference(t *testing.T) {
	prog := sample.MustCompile()
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(vs ...uint64) uint64 { return vs[rng.IntN(len(vs))] }
	for i := 0; i < 20000; i++ {
		d := Data{
			Nr:   uint32(pick(0, 1, 9, 28, 39, 56, 202, x32Bit|1, uint64(rng.Uint32()))),
			Arch: uint32(pick(AuditArchX86_64, AuditArchX86_64, AuditArchX86_64, 0x40000003)),
			IP:   pick(codePage, codePage+0xfff, codePage+0x1000, codePage-1, vsyscall, vsyscall+0x1000, rng.Uint64()),
		}
		for j := range d.Args {
			d.Args[j] = pick(0, 1, 3, 6, 1<<32|1, 1<<33, ^uint64(0), unix.MAP_PRIVATE, unix.MAP_SHARED, rng.Uint64())
		}
		got, err := Run(prog, d)
		if err != nil {
			t.Fatal(err)
		}
		if want := sample.reference(d); got != want {
			t.Fatalf("%+v: program %#x, reference %#x", d, got, want)
		}
	}
}

// TestLongFilter: a list far longer than a jump can span still compiles,
// and its last rule still matches.
func TestLongFilter(t *testing.T) {
	f := Filter{Mismatch: KillProcess, Default: Errno(unix.EPERM)}
	for nr := uint32(0); nr < 300; nr++ {
		f.Rules = append(f.Rules, Rule{Name: "n", Nr: nr, Args: []Cond{ArgIn(0, 1, 2, 3)}})
		if nr%3 == 0 {
			f.Rules[nr].Args = nil
		}
	}
	prog, err := f.Compile()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		d    Data
		want Action
	}{{at(299, 3), Allow}, {at(299, 4), KillProcess}, {at(300, 3), Errno(unix.EPERM)}} {
		if got, err := Run(prog, c.d); err != nil || got != c.want {
			t.Errorf("%+v: %#x, %v; want %#x", c.d, got, err, c.want)
		}
	}
}

func TestBadFilters(t *testing.T) {
	cases := map[string]Filter{
		"no default":          {Rules: []Rule{{Name: "read", Nr: 0}}},
		"duplicate":           {Default: Allow, Rules: []Rule{{Name: "a", Nr: 1}, {Name: "b", Nr: 1}}},
		"x32 number":          {Default: Allow, Rules: []Rule{{Name: "a", Nr: x32Bit | 1}}},
		"args, no mismatch":   {Default: Allow, Rules: []Rule{{Name: "a", Nr: 1, Args: []Cond{ArgEq(0, 1)}}}},
		"argument 6":          {Default: Allow, Mismatch: KillProcess, Rules: []Rule{{Name: "a", Nr: 1, Args: []Cond{ArgEq(6, 1)}}}},
		"no values":           {Default: Allow, Mismatch: KillProcess, Rules: []Rule{{Name: "a", Nr: 1, Args: []Cond{ArgIn(0)}}}},
		"value outside mask":  {Default: Allow, Mismatch: KillProcess, Rules: []Rule{{Name: "a", Nr: 1, Args: []Cond{ArgMaskedEq(0, 1, 2)}}}},
		"empty pc range":      {Default: Allow, PC: []PCRule{{Start: 5, End: 5, Action: Trap}}},
		"pc range across 4 G": {Default: Allow, PC: []PCRule{{Start: 1<<32 - 1, End: 1<<32 + 1, Action: Trap}}},
		"pc rule, no action":  {Default: Allow, PC: []PCRule{{Start: 0, End: 1}}},
	}
	for name, f := range cases {
		if _, err := f.Compile(); err == nil || !strings.HasPrefix(err.Error(), "seccomp: ") {
			t.Errorf("%s: err = %v, want a seccomp error", name, err)
		}
	}
}

// TestPCRangeToBoundary: a range ending on a 4 GiB boundary needs no upper
// check, and one starting at one no lower check; both stay exact.
func TestPCRangeToBoundary(t *testing.T) {
	f := Filter{Default: Allow, PC: []PCRule{{Start: 3<<32 - 0x1000, End: 3 << 32, Action: Trap}}}
	prog := f.MustCompile()
	for ip, want := range map[uint64]Action{3<<32 - 0x1000: Trap, 3<<32 - 1: Trap, 3 << 32: Allow, 3<<32 - 0x1001: Allow, 2<<32 - 1: Allow} {
		d := at(0)
		d.IP = ip
		if got, _ := Run(prog, d); got != want {
			t.Errorf("ip %#x: %#x, want %#x", ip, got, want)
		}
	}
}
