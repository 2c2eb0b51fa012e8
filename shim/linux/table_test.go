package linux

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestTableNames keeps the table's names equal to the generated list, so a
// row keyed by the wrong constant shows up.
func TestTableNames(t *testing.T) {
	for nr, e := range table {
		switch {
		case e.fn == nil && (e.name != "" || e.flags != 0 || e.blocks != nil || e.note != ""):
			t.Errorf("row %d (%q) has no handler but other fields", nr, e.name)
		case e.fn != nil && e.name != Name(uint64(nr)):
			t.Errorf("row %d is named %q, want %q", nr, e.name, Name(uint64(nr)))
		case strings.Contains(e.note, "|"):
			t.Errorf("row %d: the note %q would break the Markdown table", nr, e.note)
		case e.blocks != nil && e.flags&mayBlock == 0:
			t.Errorf("row %d (%s) refines mayBlock without the flag", nr, e.name)
		}
	}
}

// TestMayBlock checks the flags Dispatch reads for the park hint.
func TestMayBlock(t *testing.T) {
	blocks := func(nr uint64, a args) bool {
		e := &table[nr]
		return e.flags&mayBlock != 0 && (e.blocks == nil || e.blocks(a))
	}
	for _, tt := range []struct {
		name string
		nr   uint64
		a    args
		want bool
	}{
		{"futex wait", unix.SYS_FUTEX, args{0, futexWait}, true},
		{"futex wait private", unix.SYS_FUTEX, args{0, futexWait | 128}, true},
		{"futex wait bitset", unix.SYS_FUTEX, args{0, futexWaitBitset}, true},
		{"futex wake", unix.SYS_FUTEX, args{0, futexWake}, false},
		{"wait4", unix.SYS_WAIT4, args{}, true},
		{"ppoll", unix.SYS_PPOLL, args{}, true},
		{"vfork", unix.SYS_VFORK, args{}, true},
		{"read", unix.SYS_READ, args{}, false},
		{"getppid", unix.SYS_GETPPID, args{}, false},
	} {
		if got := blocks(tt.nr, tt.a); got != tt.want {
			t.Errorf("%s: may block = %v, want %v", tt.name, got, tt.want)
		}
	}
}
