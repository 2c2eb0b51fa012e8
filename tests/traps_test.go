package tests

import "testing"

// The trap tests run testdata/traps.c natively and under litebox (see
// runModeCases): breakpoints reach a SIGTRAP handler, also once a thread
// was created (systrap used to kill the process there), and a trap flag
// set through a signal frame single-steps the code after sigreturn, with
// the SIGTRAP handler itself running unstepped; without a handler the
// process dies of SIGTRAP (128+5 from the CLI).
var trapCases = []modeCase{
	{name: "int3", prog: "traps", args: []string{"int3"}, want: "int3: 2 traps caught\n"},
	{name: "int3-thread", prog: "traps", args: []string{"int3-thread"}, want: "int3-thread: 2 traps caught\n"},
	{name: "tf-handled", prog: "traps", args: []string{"tf-handled"}, want: "tf-handled: steps seen\n"},
	{name: "tf-default", prog: "traps", args: []string{"tf-default"}, wantExit: 133},
}

// TestTraps runs every traps mode natively and under litebox.
func TestTraps(t *testing.T) { runModeCases(t, trapCases) }
