package netns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
)

func ipnet(s string) *net.IPNet {
	ip, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	n.IP = ip
	return n
}

func TestPrefix(t *testing.T) {
	for _, tc := range []struct {
		in   *net.IPNet
		want string // "" = refused
	}{
		{ipnet("10.199.3.2/24"), "10.199.3.2/24"},
		{ipnet("fd00::5/64"), "fd00::5/64"},
		{&net.IPNet{IP: net.ParseIP("10.1.2.3"), Mask: net.CIDRMask(8, 32)}, "10.1.2.3/8"}, // 16-byte form of an IPv4 address
		{&net.IPNet{IP: net.ParseIP("10.1.2.3").To4(), Mask: net.CIDRMask(64, 128)}, ""},   // mask of the other family
		{&net.IPNet{IP: net.IP{1, 2, 3}, Mask: net.CIDRMask(8, 32)}, ""},
		{nil, ""},
	} {
		p, ok := prefix(tc.in)
		got := ""
		if ok {
			got = p.String()
		}
		if got != tc.want {
			t.Errorf("prefix(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestConvertRoutes(t *testing.T) {
	routes := []netlink.Route{
		{Family: netlink.FAMILY_V4, Gw: net.ParseIP("10.199.3.1"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
		{Family: netlink.FAMILY_V4, Dst: ipnet("10.199.3.0/24"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
		{Family: netlink.FAMILY_V6, Dst: ipnet("fe80::/64"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
		{Family: netlink.FAMILY_V6, Gw: net.ParseIP("fe80::1")},
		// Not the guest's: another table, a multicast route, a
		// broadcast or local route, a default of no known family.
		{Family: netlink.FAMILY_V4, Dst: ipnet("192.168.0.0/16"), Table: 100, Type: unix.RTN_UNICAST},
		{Family: netlink.FAMILY_V6, Dst: ipnet("ff00::/8"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_UNICAST},
		{Family: netlink.FAMILY_V4, Dst: ipnet("10.199.3.255/32"), Table: unix.RT_TABLE_MAIN, Type: unix.RTN_BROADCAST},
		{Family: 99},
		// A host-bits-set destination is masked (netstack wants subnets).
		{Family: netlink.FAMILY_V4, Dst: ipnet("172.16.5.9/12"), Gw: net.ParseIP("10.199.3.7")},
	}
	want := []netstack.Route{
		{Dst: netip.MustParsePrefix("0.0.0.0/0"), Gateway: netip.MustParseAddr("10.199.3.1")},
		{Dst: netip.MustParsePrefix("10.199.3.0/24")},
		{Dst: netip.MustParsePrefix("fe80::/64")},
		{Dst: netip.MustParsePrefix("::/0"), Gateway: netip.MustParseAddr("fe80::1")},
		{Dst: netip.MustParsePrefix("172.16.0.0/12"), Gateway: netip.MustParseAddr("10.199.3.7")},
	}
	if got := convertRoutes(routes); !reflect.DeepEqual(got, want) {
		t.Errorf("convertRoutes:\n got %v\nwant %v", got, want)
	}
}

// TestOpenNotANamespace: files that are no namespace are refused before
// any thread changes namespace (the root-only cases are in tests/).
func TestOpenNotANamespace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{file, "not a namespace file"},
		{filepath.Join(t.TempDir(), "missing"), "no such file"},
		{"/proc/self/ns/uts", "not a network namespace"},
		{fifoPath(t), "not a namespace file"},
	} {
		l, err := Open(tc.path, nil)
		if err == nil {
			l.Close()
			t.Fatalf("Open(%s) succeeded", tc.path)
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Open(%s) = %q, want one line saying %q", tc.path, err, tc.want)
		}
	}
}

func TestHtons(t *testing.T) {
	if got := htons(unix.ETH_P_ALL); got != 0x0300 {
		t.Errorf("htons(ETH_P_ALL) = %#x", got)
	}
}

func TestAckErrno(t *testing.T) {
	ack := func(typ uint16, errno int32) []byte {
		b := make([]byte, unix.NLMSG_HDRLEN+4)
		binary.NativeEndian.PutUint16(b[4:], typ)
		binary.NativeEndian.PutUint32(b[unix.NLMSG_HDRLEN:], uint32(errno))
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want unix.Errno
	}{
		{"ok", ack(unix.NLMSG_ERROR, 0), 0},
		{"exists", ack(unix.NLMSG_ERROR, -int32(unix.EEXIST)), unix.EEXIST},
		{"not an ack", ack(unix.RTM_NEWADDR, 0), unix.EPROTO},
		{"short", []byte{1, 2, 3}, unix.EPROTO},
	} {
		if got := ackErrno(tc.in); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// fifoPath makes a named pipe, which a plain open for reading would wait
// on for a writer.
func fifoPath(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "fifo")
	if err := unix.Mkfifo(p, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
