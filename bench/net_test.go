package bench

import (
	"math"
	"slices"
	"testing"
)

// benchNet runs a network measurement on each system that can run the
// row (kind as for RowUnavailable) and reports its mean in unit, converted
// from the sample's nanoseconds by toUnit.
func benchNet(b *testing.B, kind, unit string, toUnit func(ns float64) float64, measure func(e *Env, s *System) (Sample, error)) {
	eachSystem(b, func(b *testing.B, e *Env, s *System) {
		if why := e.RowUnavailable(s, kind); why != "" {
			b.Skipf("%s: %s", s.Name, why)
		}
		var total float64
		n := 0
		for b.Loop() {
			sample, err := measure(e, s)
			if err != nil {
				b.Fatal(err)
			}
			total += toUnit(sample.Ns)
			n++
		}
		b.ReportMetric(total/float64(n), unit)
	})
}

func perSecond(ns float64) float64 { return 1e9 / ns }

func BenchmarkIperfLoopback(b *testing.B) {
	benchNet(b, "loopback-iperf3", "Gbit/s", perSecond, func(e *Env, s *System) (Sample, error) {
		return e.IperfLoopback(s, IperfSeconds, IperfOmitSeconds)
	})
}

func BenchmarkIperfToHost(b *testing.B) {
	benchNet(b, "egress", "Gbit/s", perSecond, func(e *Env, s *System) (Sample, error) {
		return e.IperfToHost(s, IperfSeconds, IperfOmitSeconds)
	})
}

func BenchmarkHTTP(b *testing.B) {
	benchNet(b, "publish", "requests/s", perSecond, func(e *Env, s *System) (Sample, error) {
		return e.HTTPRequests(s, WrkSeconds, WrkConnections)
	})
}

func BenchmarkConnect(b *testing.B) {
	benchNet(b, "loopback", "connections/s", perSecond, func(e *Env, s *System) (Sample, error) {
		return e.ConnectCost(s, ConnectIterations)
	})
}

func TestParseIperf(t *testing.T) {
	out := []byte(`{"start": {}, "intervals": [], "end": {"sum_sent": {"bytes": 9, "bits_per_second": 1e9},
		"sum_received": {"bytes": 1250000000, "seconds": 1.0, "bits_per_second": 1.0e10}}}`)
	bps, err := parseIperf(out)
	if err != nil || bps != 1e10 {
		t.Errorf("parseIperf = %v, %v; want 1e10 (the receiver's)", bps, err)
	}
	if ns := nsPerGbit(bps); math.Abs(ns-1e8) > 1e-3 {
		t.Errorf("nsPerGbit(1e10) = %v, want 1e8 (a tenth of a second per Gbit)", ns)
	}
	for _, bad := range []string{
		``,
		`not json`,
		`{"error": "unable to connect to server: Connection refused"}`,
		`{"end": {"sum_received": {"bytes": 0, "bits_per_second": 0}}}`,
	} {
		if _, err := parseIperf([]byte(bad)); err == nil {
			t.Errorf("parseIperf(%q) succeeded", bad)
		}
	}
}

func TestParseWrk(t *testing.T) {
	out := []byte(`Running 2s test @ http://127.0.0.1:1/index.html
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.12ms  627.74us  10.41ms   81.09%
    Req/Sec     6.89k     1.05k    8.73k    73.33%
  20581 requests in 3.00s, 24.26MB read
Requests/sec:   6858.02
Transfer/sec:      8.08MB
`)
	if rate, err := parseWrk(out); err != nil || rate != 6858.02 {
		t.Errorf("parseWrk = %v, %v; want 6858.02", rate, err)
	}
	for _, bad := range []string{
		"",
		"Requests/sec: 0.00\n",
		"  Non-2xx or 3xx responses: 12\nRequests/sec:   6858.02\n",
	} {
		if _, err := parseWrk([]byte(bad)); err == nil {
			t.Errorf("parseWrk(%q) succeeded", bad)
		}
	}
}

func TestDefaultGateway(t *testing.T) {
	route := []byte("Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"ve-runsc-1\t000AA8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"ve-runsc-1\t00000000\t030AA8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n")
	if gw, err := defaultGateway(route); err != nil || gw != "192.168.10.3" {
		t.Errorf("defaultGateway = %q, %v; want 192.168.10.3", gw, err)
	}
	if gw, err := defaultGateway(route[:60]); err == nil {
		t.Errorf("defaultGateway without a default route = %q", gw)
	}
}

func TestInsertBefore(t *testing.T) {
	for _, c := range []struct{ cmd, want []string }{
		{[]string{"litebox", "run", "--platform", "ptrace", "--"}, []string{"litebox", "run", "--platform", "ptrace", "-p", "x", "--"}},
		{[]string{"bwrap", "--ro-bind", "/", "/", "--", "prog", "--"}, []string{"bwrap", "--ro-bind", "/", "/", "--", "prog", "-p", "x", "--"}},
		{[]string{"runsc", "do"}, []string{"runsc", "do", "-p", "x"}},
	} {
		if got := insertBefore(c.cmd, "-p", "x"); !slices.Equal(got, c.want) {
			t.Errorf("insertBefore(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
}
