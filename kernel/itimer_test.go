package kernel

import (
	"testing"
	"time"
)

func TestForwardExpiry(t *testing.T) {
	base := time.Unix(1000, 0)
	ms := time.Millisecond
	for _, tc := range []struct {
		name     string
		now      time.Duration // after base
		interval time.Duration
		want     time.Duration // after base
	}{
		{"still ahead", -5 * ms, 10 * ms, 0},
		{"just fired", 0, 10 * ms, 10 * ms},
		{"within the period", 3 * ms, 10 * ms, 10 * ms},
		{"exactly one period late", 10 * ms, 10 * ms, 20 * ms},
		{"many periods late", 95 * ms, 10 * ms, 100 * ms},
		{"nanosecond interval", 7, 1, 8},
		{"zero interval acts as one nanosecond", 7, 0, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := forwardExpiry(base, base.Add(tc.now), tc.interval)
			if d := got.Sub(base); d != tc.want {
				t.Fatalf("forwardExpiry = base+%v, want base+%v", d, tc.want)
			}
		})
	}
}
