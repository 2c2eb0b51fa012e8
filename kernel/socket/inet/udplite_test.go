package inet

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// TestUDPLiteCoverage: the sender's coverage and the receiver's drop as
// Linux's udplite_sender_cscov and udp_queue_rcv_one_skb.
func TestUDPLiteCoverage(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pcslen   int
		sendCC   bool
		n        int // payload bytes
		wantCov  uint16
		pcrlen   int
		recvCC   bool
		wantDrop bool
	}{
		{name: "defaults", n: 10, wantCov: 0},
		{name: "send 0 is full", sendCC: true, n: 10, wantCov: 0},
		{name: "partial", pcslen: 12, sendCC: true, n: 30, wantCov: 12},
		{name: "coverage beyond the datagram is full", pcslen: 9, sendCC: true, n: 1, wantCov: 0},
		{name: "coverage of exactly the datagram is full", pcslen: 38, sendCC: true, n: 30, wantCov: 0},
		{name: "receiver wants more", pcslen: 12, sendCC: true, n: 30, wantCov: 12, pcrlen: 20, recvCC: true, wantDrop: true},
		{name: "receiver wants less", pcslen: 30, sendCC: true, n: 30, wantCov: 30, pcrlen: 20, recvCC: true},
		{name: "receiver wants full", pcslen: 30, sendCC: true, n: 40, wantCov: 30, recvCC: true, wantDrop: true},
		{name: "full always passes", n: 40, wantCov: 0, pcrlen: 1000, recvCC: true},
		{name: "receiver unset takes partial", pcslen: 8, sendCC: true, n: 40, wantCov: 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			snd := &liteEP{pcslen: tc.pcslen, sendCC: tc.sendCC}
			cov := snd.sendCoverage(tc.n)
			if cov != tc.wantCov {
				t.Fatalf("sendCoverage(%d) = %d, want %d", tc.n, cov, tc.wantCov)
			}
			rcv := &liteEP{pcrlen: tc.pcrlen, recvCC: tc.recvCC}
			if got := rcv.drops(cov, tc.n); got != tc.wantDrop {
				t.Fatalf("drops(%d, %d) = %v, want %v", cov, tc.n, got, tc.wantDrop)
			}
		})
	}
}

// TestUDPLiteOptions: udp_lib_setsockopt's clamps and errnos.
func TestUDPLiteOptions(t *testing.T) {
	val := func(v int) []byte { return binary.LittleEndian.AppendUint32(nil, uint32(int32(v))) }
	for _, tc := range []struct {
		name    string
		opt     int
		val     []byte
		wantErr error
		want    int
	}{
		{name: "zero", opt: udpliteSendCscov, val: val(0), want: 0},
		{name: "below the header", opt: udpliteSendCscov, val: val(1), want: 8},
		{name: "negative", opt: udpliteRecvCscov, val: val(-7), want: 8},
		{name: "header", opt: udpliteRecvCscov, val: val(8), want: 8},
		{name: "capped", opt: udpliteSendCscov, val: val(70000), want: 0xffff},
		{name: "short value", opt: udpliteSendCscov, val: []byte{1}, wantErr: unix.EINVAL},
		{name: "unknown option", opt: 1, val: val(1), wantErr: unix.ENOPROTOOPT},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Socket{fam: &Family{unsupported: func(string) {}}, proto: unix.IPPROTO_UDPLITE}
			s.ep.Store(&epHolder{&liteEP{}})
			err := s.setUDPLiteOpt(tc.opt, tc.val)
			if err != tc.wantErr {
				t.Fatalf("setUDPLiteOpt = %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			got, err := s.getUDPLiteOpt(tc.opt)
			if err != nil || int(int32(binary.LittleEndian.Uint32(got))) != tc.want {
				t.Fatalf("getUDPLiteOpt = %v, %v; want %d", got, err, tc.want)
			}
		})
	}
}
