package pipe_test

import (
	"bytes"
	"context"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/pipe"
)

// account is a test Charge with a limit, recording what is held.
type account struct {
	limit, held int64
}

func (a *account) charge(n int64) error {
	if n > 0 && a.held+n > a.limit {
		return unix.ENOMEM
	}
	a.held += n
	return nil
}

// TestChargedPipe: a charged pipe holds its base charge while any end is
// open and pipe.PageCost per page of data it buffers (pages are freed as reads
// empty them); a write that cannot get a page fails with ENOMEM, or is
// shortened when part of it fit, and a write of at most PIPE_BUF bytes is
// all or nothing. Closing both ends gives everything back.
func TestChargedPipe(t *testing.T) {
	const base = 100
	for _, tc := range []struct {
		name  string
		limit int64
		steps func(t *testing.T, p *pipe.Pipe, a *account)
	}{
		{"pages follow the data", 1 << 20, func(t *testing.T, p *pipe.Pipe, a *account) {
			chWrite(t, p, 10000, 10000, nil)
			wantHeld(t, a, base+3*pipe.PageCost)
			chRead(t, p, 5000)
			wantHeld(t, a, base+2*pipe.PageCost)
			chRead(t, p, 5000)
			wantHeld(t, a, base)
		}},
		{"no page: ENOMEM", base, func(t *testing.T, p *pipe.Pipe, a *account) {
			chWrite(t, p, 1, 0, unix.ENOMEM)
			wantHeld(t, a, base)
		}},
		{"part fits: short write", base + 2*pipe.PageCost, func(t *testing.T, p *pipe.Pipe, a *account) {
			chWrite(t, p, 20000, 2*4096, nil)
			wantHeld(t, a, base+2*pipe.PageCost)
		}},
		{"PIPE_BUF write is all or nothing", base + pipe.PageCost, func(t *testing.T, p *pipe.Pipe, a *account) {
			chWrite(t, p, 100, 100, nil)
			chWrite(t, p, 4096, 0, unix.ENOMEM) // needs a second page
			wantHeld(t, a, base+pipe.PageCost)
			chWrite(t, p, 3996, 3996, nil) // fits in the first page
			wantHeld(t, a, base+pipe.PageCost)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &account{limit: tc.limit}
			p, err := pipe.NewCharged(a.charge, base)
			if err != nil {
				t.Fatal(err)
			}
			tc.steps(t, p, a)
			r, w := p.Ends()
			w.Close()
			if a.held == 0 {
				t.Fatal("charge given back while the read end is open")
			}
			r.Close()
			wantHeld(t, a, 0)
		})
	}
	a := &account{limit: base - 1}
	if _, err := pipe.NewCharged(a.charge, base); err != unix.ENOMEM {
		t.Fatalf("NewCharged beyond the limit = %v, want ENOMEM", err)
	}
}

func chWrite(t *testing.T, p *pipe.Pipe, n, want int, wantErr error) {
	t.Helper()
	got, err := p.Write(bytes.Repeat([]byte("w"), n), true, context.Background())
	if got != want || err != wantErr {
		t.Fatalf("write %d = %d, %v; want %d, %v", n, got, err, want, wantErr)
	}
}

func chRead(t *testing.T, p *pipe.Pipe, n int) {
	t.Helper()
	b := make([]byte, n)
	if got, err := p.Read(b, true, context.Background()); got != n || err != nil || !bytes.Equal(b, bytes.Repeat([]byte("w"), n)) {
		t.Fatalf("read %d = %d, %v", n, got, err)
	}
}

func wantHeld(t *testing.T, a *account, want int64) {
	t.Helper()
	if a.held != want {
		t.Fatalf("charged %d, want %d", a.held, want)
	}
}
