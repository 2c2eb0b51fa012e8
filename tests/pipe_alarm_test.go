package tests

import (
	"bytes"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// TestPipeWriteInterrupted: a blocking pipe write that SIGALRM interrupts
// while another thread (SIGALRM blocked) reads returns its partial count,
// the reader gets the first byte, and a write that put nothing in fails
// with EINTR (testdata/pipe_alarm.c, CPython's test_io
// check_interrupted_write in C). test_io's PySignalsTest hang was
// investigated with it: it was not the kernel (see docs/compatibility.md).
func TestPipeWriteInterrupted(t *testing.T) {
	prog := program(t, "pipe_alarm", staticVariant)
	want := runNative(t, "", nil, nil, prog)
	got := runGuest(t, harness.Guest{Mounts: []string{workMount(staticVariant)}}, nil, "/work/pipe_alarm")
	if got.ExitCode != want.ExitCode || !bytes.Equal(got.Stdout, want.Stdout) {
		t.Errorf("guest differs from native\nnative: %s\nguest: %s", want, got)
	}
}
