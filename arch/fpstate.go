package arch

import (
	"encoding/binary"

	"golang.org/x/sys/unix"
)

// The FP state is an XSAVE image (the platforms return one): the legacy
// FXSAVE area, then the XSAVE header, then the extended components.
const (
	fxsaveSize   = 512 // the legacy area
	xsaveHdrEnd  = 576 // the legacy area and the XSAVE header
	fxRegsEnd    = 464 // x87/SSE registers; the rest is software-reserved
	offFCW       = 0
	offMXCSR     = 24
	offMXCSRMask = 28
	offXstateBV  = fxsaveSize
	initFCW      = 0x37f
	initMXCSR    = 0x1f80
	// xstate_bv of an initial image: x87 and SSE come from the legacy
	// area (so MXCSR is loaded, not kept), every other component is reset.
	initXstateBV = 0x3
)

// InitFPState returns the initial FP state (x87 control word 0x37f, MXCSR
// 0x1f80, every register zero, every other component in its init state) in
// the layout of cur, keeping cur's MXCSR mask and software-reserved bytes.
func InitFPState(cur []byte) []byte {
	b := make([]byte, len(cur))
	copy(b, cur)
	if len(b) < fxsaveSize {
		return b // not an FXSAVE image: platforms never return one
	}
	le := binary.LittleEndian
	mask := le.Uint32(cur[offMXCSRMask:])
	clear(b[:fxRegsEnd])
	le.PutUint16(b[offFCW:], initFCW)
	le.PutUint32(b[offMXCSR:], initMXCSR)
	le.PutUint32(b[offMXCSRMask:], mask)
	if len(b) >= xsaveHdrEnd {
		clear(b[fxsaveSize:xsaveHdrEnd])
		le.PutUint64(b[offXstateBV:], initXstateBV)
	}
	return b
}

// CheckFPState checks an FP image from the guest (fp) against the thread's
// current one (cur, same layout): XRSTOR faults on reserved MXCSR bits, but
// ptrace's SETREGSET checks them only when the image says the SSE state is
// in use, so they are checked here.
func CheckFPState(cur, fp []byte) error {
	if len(cur) < offMXCSRMask+4 || len(fp) < len(cur) {
		return nil
	}
	le := binary.LittleEndian
	if mask := le.Uint32(cur[offMXCSRMask:]); mask != 0 && le.Uint32(fp[offMXCSR:])&^mask != 0 {
		return unix.EINVAL
	}
	return nil
}

// LegacyFPSize is the size of the legacy FXSAVE area that begins every
// FP image: what a signal frame's image holds at least.
const LegacyFPSize = fxsaveSize

// offSWBytes is where the software-reserved part of the legacy area holds
// fpx_sw_bytes: magic1, then extended_size, which say that the XSAVE
// components follow and how long the image is.
const offSWBytes = fxRegsEnd

// FrameLayoutMatches reports whether the first fxsaveSize bytes of an FP
// image in a signal frame (head) announce the same layout as the thread's
// current image cur, so that all of len(cur) bytes belong to the frame. A
// frame built while the thread had only a legacy image (one that had not
// run yet) or one a guest wrote itself may not: Linux then restores only
// the legacy area ("fx_only"), and so must we, never reading past it.
func FrameLayoutMatches(cur, head []byte) bool {
	if len(cur) <= fxsaveSize {
		return true
	}
	if len(head) < fxsaveSize {
		return false
	}
	return string(head[offSWBytes:offSWBytes+8]) == string(cur[offSWBytes:offSWBytes+8])
}

// LegacyFPState is the image to restore from a frame that holds only a
// legacy FXSAVE area (head): its x87/SSE registers, every other component
// in its init state, in the layout of cur (whose MXCSR mask and
// software-reserved bytes it keeps), as Linux's fx_only restore.
func LegacyFPState(cur, head []byte) []byte {
	b := InitFPState(cur)
	if len(b) < fxsaveSize || len(head) < fxRegsEnd {
		return b
	}
	le := binary.LittleEndian
	mask := le.Uint32(cur[offMXCSRMask:])
	copy(b[:fxRegsEnd], head[:fxRegsEnd])
	le.PutUint32(b[offMXCSRMask:], mask)
	if len(b) >= xsaveHdrEnd {
		le.PutUint64(b[offXstateBV:], initXstateBV)
	}
	return b
}
