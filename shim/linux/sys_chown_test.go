package linux

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestChownIDs(t *testing.T) {
	task, _ := newProcTask(t, nil)
	const keep = uint64(^uint32(0))
	for _, tc := range []struct {
		name     string
		owner    uint32
		uid, gid uint64
		want     error
	}{
		{"own file to self", 1000, 1000, 1000, nil},
		{"own file, group only", 1000, keep, 1000, nil},
		{"both unchanged on a root file", 0, keep, keep, nil},
		{"own file to root", 1000, 0, keep, unix.EPERM},
		{"own file to another group", 1000, keep, 0, unix.EPERM},
		{"root file to self", 0, 1000, 1000, unix.EPERM},
	} {
		if err := chownIDs(task, tc.owner, tc.uid, tc.gid); err != tc.want {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
}
