package linux

import (
	"slices"
	"sync"
	"testing"
)

func TestUsageRecord(t *testing.T) {
	var u Usage
	// Concurrent records, as from the tasks of one guest (run with -race).
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				u.record(1) // write
				u.record(0) // read
			}
		})
	}
	wg.Wait()
	u.record(100000) // beyond the table: ignored, not a panic
	u.record(400)    // unnamed number inside the table

	if got := u.Count(1); got != 400 {
		t.Errorf("Count(write) = %d, want 400", got)
	}
	if got := u.Count(2); got != 0 {
		t.Errorf("Count(open) = %d, want 0", got)
	}
	want := []string{"read", "syscall_400", "write"}
	if got := u.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

func TestUsageNil(t *testing.T) {
	var u *Usage
	u.record(1) // Dispatch relies on this being a no-op
	if got := u.Count(1); got != 0 {
		t.Errorf("nil Count = %d, want 0", got)
	}
	if got := u.Names(); got != nil {
		t.Errorf("nil Names = %q, want nil", got)
	}
}
