package linux

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel/netstack"
)

var testIfs = []netstack.Interface{
	{Index: 1, Name: "lo", Flags: unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING, MTU: 65536,
		Addrs: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/8"), netip.MustParsePrefix("::1/128")}},
	{Index: 2, Name: "eth0", Flags: unix.IFF_UP | unix.IFF_BROADCAST | unix.IFF_RUNNING | unix.IFF_MULTICAST, MTU: 1500,
		HWAddr: netstack.GuestMAC, Addrs: []netip.Prefix{netstack.GuestAddr4, netstack.GuestAddr6}},
}

// TestIfconfEntries: SIOCGIFCONF with hostile ifc_len values writes only
// whole entries that fit, never more than exist, and allocates nothing
// by the guest's length.
func TestIfconfEntries(t *testing.T) {
	for _, tc := range []struct {
		room    int32
		haveBuf bool
		entries int
		total   int32
	}{
		{0, false, 0, 80}, {-1, false, 0, 80}, // no buffer: the size all would take
		{0, true, 0, 0}, {-1, true, 0, 0}, {-1 << 31, true, 0, 0}, {39, true, 0, 0},
		{40, true, 1, 40}, {79, true, 1, 40}, {80, true, 2, 80}, {1<<31 - 1, true, 2, 80},
	} {
		out, total := ifconfEntries(testIfs, tc.room, tc.haveBuf)
		if len(out) != tc.entries*ifreqSize || total != tc.total {
			t.Errorf("room %d buf %v: %d bytes, total %d; want %d entries, total %d", tc.room, tc.haveBuf, len(out),
				total, tc.entries, tc.total)
		}
	}
	out, _ := ifconfEntries(testIfs, 80, true)
	if ifreqName(out) != "lo" || ifreqName(out[40:]) != "eth0" || binary.LittleEndian.Uint16(out[56:]) != unix.AF_INET ||
		string(out[60:64]) != "\x0a\x00\x02\x0f" {
		t.Errorf("entries %x", out)
	}
}

func ifreq(name string) []byte {
	b := make([]byte, ifreqSize)
	copy(b, name)
	return b
}

func TestIfreqName(t *testing.T) {
	full := make([]byte, ifreqSize)
	for i := range full {
		full[i] = 'x'
	}
	if n := ifreqName(full); len(n) != ifNameSize-1 {
		t.Errorf("unterminated name read as %d bytes", len(n))
	}
	if n := ifreqName(ifreq("lo")); n != "lo" {
		t.Errorf("%q", n)
	}
	if err := devIfreq(unix.SIOCGIFFLAGS, full, testIfs); err != unix.ENODEV {
		t.Errorf("unterminated: %v", err)
	}
}

func TestDevIfreq(t *testing.T) {
	le := binary.LittleEndian
	for _, tc := range []struct {
		req  uint
		name string
		err  error
		at   int // offset of the answer in the ifreq
		want uint32
	}{
		{unix.SIOCGIFFLAGS, "lo", nil, 16, unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING},
		{unix.SIOCGIFFLAGS, "lo:1", nil, 16, unix.IFF_UP | unix.IFF_LOOPBACK | unix.IFF_RUNNING},
		{unix.SIOCGIFFLAGS, "nosuchif", unix.ENODEV, 0, 0},
		{unix.SIOCGIFFLAGS, "", unix.ENODEV, 0, 0},
		{unix.SIOCGIFMTU, "eth0", nil, 16, 1500},
		{unix.SIOCGIFINDEX, "eth0", nil, 16, 2},
		{unix.SIOCGIFTXQLEN, "lo", nil, 16, 1000},
		{unix.SIOCGIFHWADDR, "eth0", nil, 16, unix.ARPHRD_ETHER | 0x54520000},
		{unix.SIOCGIFHWADDR, "lo", nil, 16, unix.ARPHRD_LOOPBACK},
		{unix.SIOCGIFSLAVE, "lo", unix.EINVAL, 0, 0},
	} {
		ifr := ifreq(tc.name)
		err := devIfreq(tc.req, ifr, testIfs)
		if err != tc.err {
			t.Errorf("%#x %q: %v, want %v", tc.req, tc.name, err, tc.err)
			continue
		}
		if err == nil && le.Uint32(ifr[tc.at:]) != tc.want {
			t.Errorf("%#x %q: %#x, want %#x", tc.req, tc.name, le.Uint32(ifr[tc.at:]), tc.want)
		}
		if err == nil && ifreqName(ifr) != tc.name {
			t.Errorf("name changed to %q", ifreqName(ifr))
		}
	}
	ifr := ifreq("")
	le.PutUint32(ifr[16:], 2)
	if err := devIfreq(unix.SIOCGIFNAME, ifr, testIfs); err != nil || ifreqName(ifr) != "eth0" {
		t.Errorf("SIOCGIFNAME 2: %v %q", err, ifreqName(ifr))
	}
	le.PutUint32(ifr[16:], 0xffffffff)
	if err := devIfreq(unix.SIOCGIFNAME, ifr, testIfs); err != unix.ENODEV {
		t.Errorf("SIOCGIFNAME -1: %v", err)
	}
}

func TestInetIfreq(t *testing.T) {
	for _, tc := range []struct {
		req  uint
		name string
		err  error
		want string
	}{
		{unix.SIOCGIFADDR, "eth0", nil, "10.0.2.15"},
		{unix.SIOCGIFNETMASK, "eth0", nil, "255.255.255.0"},
		{unix.SIOCGIFBRDADDR, "eth0", nil, "10.0.2.255"},
		{unix.SIOCGIFBRDADDR, "lo", nil, "0.0.0.0"},
		{unix.SIOCGIFDSTADDR, "lo", nil, "127.0.0.1"},
		{unix.SIOCGIFNETMASK, "lo", nil, "255.0.0.0"},
		{unix.SIOCGIFADDR, "lo:1", unix.EADDRNOTAVAIL, ""},
		{unix.SIOCGIFADDR, "nosuchif", unix.ENODEV, ""},
	} {
		ifr := ifreq(tc.name)
		err := inetIfreq(tc.req, ifr, testIfs)
		if err != tc.err {
			t.Errorf("%#x %q: %v, want %v", tc.req, tc.name, err, tc.err)
			continue
		}
		if err != nil {
			continue
		}
		got := netip.AddrFrom4([4]byte(ifr[20:24]))
		if binary.LittleEndian.Uint16(ifr[16:]) != unix.AF_INET || got.String() != tc.want {
			t.Errorf("%#x %q: %s, want %s", tc.req, tc.name, got, tc.want)
		}
	}
}

// FuzzIfreq: no struct ifreq makes the decoders panic.
func FuzzIfreq(f *testing.F) {
	f.Add(ifreq("lo"), uint8(0))
	f.Add(ifreq("eth0:1"), uint8(3))
	reqs := []uint{unix.SIOCGIFNAME, unix.SIOCGIFFLAGS, unix.SIOCGIFMTU, unix.SIOCGIFHWADDR, unix.SIOCGIFINDEX,
		unix.SIOCGIFTXQLEN, unix.SIOCGIFMAP, unix.SIOCGIFADDR, unix.SIOCGIFNETMASK, unix.SIOCGIFBRDADDR}
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		ifr := make([]byte, ifreqSize)
		copy(ifr, raw)
		req := reqs[int(which)%len(reqs)]
		if netdevIoctls[req] == inetGet {
			_ = inetIfreq(req, ifr, testIfs)
		} else {
			_ = devIfreq(req, ifr, testIfs)
		}
		if len(ifr) != ifreqSize {
			t.Fatalf("ifreq resized to %d", len(ifr))
		}
	})
}
