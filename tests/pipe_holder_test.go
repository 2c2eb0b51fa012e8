package tests

// TestPipeHolder: the state test_multiprocessing_fork ended in after its
// last case, in C (testdata/pipe_holder.c). A daemon child forked after a
// pipe's reader keeps the pipe's write end, so the reader gets no end of
// file when the parent closes its own; SIGTERM to the daemon, blocked in
// recv on a socketpair, kills it, and the reader then gets end of file and
// exits. Held to the expected text natively and to the native run in the
// guest: the hang was regrtest waiting for that reader (multiprocessing's
// resource tracker) while the daemon lived, natively too once its sibling's
// AF_INET socket fails (docs/compatibility.md).

import "testing"

var pipeHolderCases = []modeCase{
	{name: "pipe-holder", prog: "pipe_holder", want: `write to the tracker: ok
close the parent's write end: ok
tracker after 100 ms, the daemon holding a write end: still reading
tracker after 200 ms, the daemon holding a write end: still reading
tracker after 300 ms, the daemon holding a write end: still reading
daemon alive: yes
SIGTERM the daemon: ok
daemon: killed by SIGTERM
tracker: exited 3
no children left: ECHILD
`},
}

func TestPipeHolder(t *testing.T) { runModeCases(t, pipeHolderCases) }
