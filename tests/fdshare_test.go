package tests

// Descriptor tables shared between processes with clone(CLONE_FILES)
// (testdata/fdshare.c): the sibling's exit keeps the caller's descriptors,
// close_range(CLOSE_RANGE_UNSHARE) and execve unshare the table.

import "testing"

var fdshareCases = []modeCase{
	{name: "fdshare", prog: "fdshare", want: fdshareWant},
}

func TestFDShare(t *testing.T) { runModeCases(t, fdshareCases) }

const fdshareWant = `child: close_range UNSHARE 0, fd 10 closed, fd 11 open
unshare: exit 0; parent: fd 1 open, fd 10 open, fd 11 closed, fd 12 closed, fd 13 closed
shared: exit 0; parent: fd 1 open, fd 10 closed, fd 11 closed, fd 12 open, fd 13 closed
exec child: fd 12 open, fd 13 closed
exec: exit 0; parent: fd 1 open, fd 10 open, fd 11 closed, fd 12 open, fd 13 open cloexec
unshared table: close_range 0 0: fds closed, closed, open cloexec, open cloexec
`
