package pipe

import (
	"context"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPeekDiscardTransfer(t *testing.T) {
	ctx := context.Background()
	a, b := New(), New()
	big := make([]byte, pageSize+10) // spans two pages
	for i := range big {
		big[i] = byte(i)
	}
	if _, err := a.Write(big, true, ctx); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, pageSize+5)
	if n := a.Peek(buf); n != len(buf) || buf[pageSize+4] != big[pageSize+4] {
		t.Fatalf("Peek = %d, byte %d", n, buf[pageSize+4])
	}
	a.Discard(pageSize + 5)
	if got := a.Buffered(); got != 5 {
		t.Fatalf("after Discard: %d buffered, want 5", got)
	}
	tests := []struct {
		name       string
		keep       bool
		n          int
		wantN      int
		wantA      int
		wantB      int
		wantErr    unix.Errno
		closeWrite bool
	}{
		{name: "tee", keep: true, n: 3, wantN: 3, wantA: 5, wantB: 3},
		{name: "splice", n: 100, wantN: 5, wantA: 0, wantB: 8},
		{name: "empty, nonblocking", n: 1, wantErr: unix.EAGAIN, wantB: 8},
		{name: "no writers", n: 1, closeWrite: true, wantB: 8},
	}
	for _, tc := range tests {
		if tc.closeWrite {
			a.release(false, true, 0)
		}
		n, err := a.Transfer(b, tc.n, tc.keep, true, ctx)
		if n != tc.wantN || err != errOrNil(tc.wantErr) {
			t.Errorf("%s: Transfer = %d, %v; want %d, %v", tc.name, n, err, tc.wantN, tc.wantErr)
		}
		if a.Buffered() != tc.wantA || b.Buffered() != tc.wantB {
			t.Errorf("%s: buffered %d and %d, want %d and %d", tc.name, a.Buffered(), b.Buffered(), tc.wantA, tc.wantB)
		}
	}
	got := make([]byte, 8)
	if n, _ := b.Read(got, true, ctx); n != 8 || got[3] != big[pageSize+5] || got[0] != big[pageSize+5] {
		t.Errorf("destination holds %v", got[:n])
	}
}

func errOrNil(e unix.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}
