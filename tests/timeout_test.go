package tests

// Programs that time themselves out with POSIX timers: coreutils' timeout
// (timer_create on CLOCK_REALTIME with SIGALRM; it falls back to alarm(2)
// where timer_create fails) and Ruby's Timeout (its timer thread arms a
// SIGEV_THREAD_ID timer, and warns "signals racy" without one). Each runs
// natively and in the sandbox with --log: the exit code and stdout must
// match, and litebox must have reported no timer call as unsupported (the
// guest used its POSIX timers, not a fallback).

import (
	"bytes"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

func TestTimeoutTools(t *testing.T) {
	needTools(t, "/usr/bin/timeout", "/bin/sleep")
	const ruby = `require "timeout"
begin
  Timeout.timeout(0.3) { sleep 5 }
rescue Timeout::Error => e
  puts "timed out: #{e.class}: #{e.message}"
end
puts Timeout.timeout(5) { 6 * 7 }`
	cases := []struct {
		name string
		argv []string
		need string
	}{
		{"timeout", []string{"/usr/bin/timeout", "1", "/bin/sleep", "5"}, ""},
		{"timeout-kill", []string{"/usr/bin/timeout", "-s", "KILL", "1", "/bin/sleep", "5"}, ""},
		{"timeout-fast-child", []string{"/usr/bin/timeout", "5", "/bin/sh", "-c", "exit 3"}, ""},
		{"ruby-timeout", []string{"/usr/bin/ruby", "-e", ruby}, "/usr/bin/ruby"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.need != "" {
				needTools(t, tc.need)
			}
			want := runNative(t, "", nil, nil, tc.argv...)
			got := runGuest(t, harness.Guest{Flags: []string{"--log"}}, nil, tc.argv[0], tc.argv[1:]...)
			if got.ExitCode != want.ExitCode || !bytes.Equal(got.Stdout, want.Stdout) {
				t.Errorf("guest differs from native\nnative: %s\nguest: %s", want, got)
			}
			for _, line := range strings.Split(string(got.Stderr), "\n") {
				if strings.Contains(line, "unsupported") && strings.Contains(line, "timer") ||
					strings.Contains(line, "signals racy") {
					t.Errorf("the guest fell back from POSIX timers: %s", line)
				}
			}
		})
	}
}
