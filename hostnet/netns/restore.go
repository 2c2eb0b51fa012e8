package netns

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// restorer puts a namespace interface's addresses and routes back, over
// a NETLINK_ROUTE socket made in the namespace before the seccomp filter:
// each request is one write(2), each acknowledgement one read(2) (both
// allowed in every mode), so the filter needs nothing for it.
type restorer struct {
	fd   int
	reqs [][]byte // RTM_NEWADDR, then RTM_NEWROUTE requests
	what []string // what each request restores, for errors
}

func newRestorer(index int, addrs []netlink.Addr, routes []netlink.Route) (*restorer, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	r := &restorer{fd: fd}
	const flags = unix.NLM_F_REQUEST | unix.NLM_F_ACK | unix.NLM_F_CREATE | unix.NLM_F_EXCL
	for _, a := range addrs {
		ip := a.IP.To4()
		family := unix.AF_INET
		if ip == nil {
			ip, family = a.IP.To16(), unix.AF_INET6
		}
		ones, _ := a.Mask.Size()
		req := nl.NewNetlinkRequest(unix.RTM_NEWADDR, flags)
		msg := nl.NewIfAddrmsg(family)
		msg.Index, msg.Prefixlen, msg.Scope = uint32(index), uint8(ones), uint8(a.Scope)
		req.AddData(msg)
		req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip))
		req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip))
		if b := a.Broadcast.To4(); family == unix.AF_INET && b != nil && !b.Equal(net.IPv4zero) {
			req.AddData(nl.NewRtAttr(unix.IFA_BROADCAST, b))
		}
		r.reqs, r.what = append(r.reqs, req.Serialize()), append(r.what, "address "+a.IPNet.String())
	}
	for _, rt := range routes {
		// The kernel makes the connected routes again with the
		// addresses; the others (gateways) are given back here.
		if rt.Protocol == unix.RTPROT_KERNEL || (rt.Table != 0 && rt.Table != unix.RT_TABLE_MAIN) ||
			(rt.Type != 0 && rt.Type != unix.RTN_UNICAST) {
			continue
		}
		req := nl.NewNetlinkRequest(unix.RTM_NEWROUTE, flags)
		msg := nl.NewRtMsg()
		msg.Family = uint8(rt.Family)
		msg.Protocol, msg.Scope = uint8(rt.Protocol), uint8(rt.Scope)
		req.AddData(msg)
		if rt.Dst != nil {
			ones, _ := rt.Dst.Mask.Size()
			msg.Dst_len = uint8(ones)
			dst := rt.Dst.IP.To4()
			if rt.Family == unix.AF_INET6 {
				dst = rt.Dst.IP.To16()
			}
			req.AddData(nl.NewRtAttr(unix.RTA_DST, dst))
		}
		if rt.Gw != nil {
			gw := rt.Gw.To4()
			if rt.Family == unix.AF_INET6 {
				gw = rt.Gw.To16()
			}
			req.AddData(nl.NewRtAttr(unix.RTA_GATEWAY, gw))
		}
		oif := make([]byte, 4)
		binary.NativeEndian.PutUint32(oif, uint32(index))
		req.AddData(nl.NewRtAttr(unix.RTA_OIF, oif))
		r.reqs, r.what = append(r.reqs, req.Serialize()), append(r.what, "route "+rt.String())
	}
	return r, nil
}

// restore sends every request and closes the socket.
func (r *restorer) restore() error {
	defer unix.Close(r.fd)
	var errs []error
	buf := make([]byte, 4096)
	for i, req := range r.reqs {
		if _, err := unix.Write(r.fd, req); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s: %w", r.what[i], err))
			continue
		}
		n, err := unix.Read(r.fd, buf)
		if err != nil {
			errs = append(errs, fmt.Errorf("restoring %s: %w", r.what[i], err))
			continue
		}
		switch errno := ackErrno(buf[:n]); errno {
		case 0, unix.EEXIST: // EEXIST: the engine or the kernel put it back already
		case unix.ENODEV:
			// The engine's teardown deleted the interface first: there
			// is nothing left to give anything back to.
			return errors.Join(errs...)
		default:
			errs = append(errs, fmt.Errorf("restoring %s: %w", r.what[i], errno))
		}
	}
	return errors.Join(errs...)
}

// ackErrno is the error of a netlink acknowledgement (0: success).
func ackErrno(b []byte) unix.Errno {
	if len(b) < unix.NLMSG_HDRLEN+4 {
		return unix.EPROTO
	}
	if binary.NativeEndian.Uint16(b[4:6]) != unix.NLMSG_ERROR {
		return unix.EPROTO
	}
	return unix.Errno(-int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN:])))
}
