package sandbox_test

import (
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/hostnet"
	"github.com/litebox-go/litebox/sandbox"
)

// TestNetworkEgress: through the embedding API, a guest reaches a host
// loopback server at 10.0.2.2 when a rule allows its port, and is refused
// otherwise.
func TestNetworkEgress(t *testing.T) {
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skipf("python3 is needed: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hi from the host")
			c.Close()
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	client := fmt.Sprintf(`
import errno, socket
try:
    print(socket.create_connection(("10.0.2.2", %d), timeout=10).recv(100).decode())
except OSError as e:
    print(errno.errorcode[e.errno])
`, port)
	for _, tc := range []struct {
		rule, want string
	}{
		{fmt.Sprintf("127.0.0.1:%d", port), "hi from the host\n"},
		{fmt.Sprintf("127.0.0.1:%d", port+1), "ECONNREFUSED\n"},
	} {
		r, err := hostnet.ParseRule(tc.rule)
		if err != nil {
			t.Fatal(err)
		}
		sb, err := sandbox.New(sandbox.Config{Network: sandbox.Network{Egress: true, Allow: []hostnet.Rule{r}}})
		if err != nil {
			t.Fatal(err)
		}
		var out lockedBuf
		c := sb.Command("/usr/bin/python3", "-c", client)
		c.Stdout = &out
		err = c.Run()
		sb.Close()
		if err != nil || out.String() != tc.want {
			t.Errorf("rule %s: %q, %v; want %q", tc.rule, out.String(), err, tc.want)
		}
	}
}

// TestNetworkConfigErrors: New refuses rules without egress and a host
// port in use, with one-line errors.
func TestNetworkConfigErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	p, err := hostnet.ParsePort(fmt.Sprintf("%d:80", busy.Addr().(*net.TCPAddr).Port))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := hostnet.ParseRule("127.0.0.1")
	for _, tc := range []struct {
		name string
		net  sandbox.Network
		want string
	}{
		{"allow without egress", sandbox.Network{Allow: []hostnet.Rule{r}, Publish: []hostnet.Port{{HostIP: hostnet.DefaultHostIP, HostPort: 1, GuestPort: 1}}}, "--allow needs --net egress"},
		{"port in use", sandbox.Network{Publish: []hostnet.Port{p}}, "already in use"},
	} {
		_, err := sandbox.New(sandbox.Config{Network: tc.net})
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want one line with %q", tc.name, err, tc.want)
		}
	}
}
