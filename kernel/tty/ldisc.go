package tty

import "golang.org/x/sys/unix"

// The line discipline: Linux's N_TTY, for the slave side of a pty. Input
// (what the master writes) is processed by receive into in, the queue the
// slave reads; output (what the slave writes) and echoes are processed by
// opost into out, the queue the master reads. Every method here runs with
// p.mu held.

// Entries of in: the byte in the low 8 bits, and flags.
const (
	eofMark = 0x100 // an end-of-file (VEOF) line end: no byte is read
	lineEnd = 0x200 // ends a canonical line
)

// Buffer sizes: N_TTY_BUF_SIZE for the input queue and the room Linux's
// flip buffers give a pty's output.
const (
	inCap  = 4096
	outCap = 65536
)

// canonical reports ICANON.
func (p *Pty) canonical() bool { return p.tio.Lflag&ICANON != 0 }

// receive processes one input byte; it reports false when the input queue
// has no room (the writer waits and offers it again).
func (p *Pty) receive(c byte) bool {
	t := &p.tio
	if t.Iflag&ISTRIP != 0 {
		c &= 0x7f
	}
	if p.lnext {
		// The byte after VLNEXT is taken literally.
		if !p.room(false) {
			return false
		}
		p.lnext = false
		if t.Lflag&ECHO != 0 {
			p.echoChar(c) // over the "^" VLNEXT echoed
		}
		p.put(uint16(c))
		return true
	}
	if t.Iflag&IXON != 0 {
		switch {
		case t.is(c, VSTOP):
			p.stopped = true
			return true
		case t.is(c, VSTART):
			p.stopped = false
			return true
		case p.stopped && t.Iflag&IXANY != 0:
			p.stopped = false
		}
	}
	if t.Lflag&ISIG != 0 {
		for _, s := range []struct {
			idx int
			sig unix.Signal
		}{{VINTR, unix.SIGINT}, {VQUIT, unix.SIGQUIT}, {VSUSP, unix.SIGTSTP}} {
			if t.is(c, s.idx) {
				p.isig(c, s.sig)
				return true
			}
		}
	}
	switch {
	case c == '\r' && t.Iflag&IGNCR != 0:
		return true
	case c == '\r' && t.Iflag&ICRNL != 0:
		c = '\n'
	case c == '\n' && t.Iflag&INLCR != 0:
		c = '\r'
	}
	if !p.canonical() {
		if !p.room(false) {
			return false
		}
		if t.Lflag&ECHO != 0 {
			p.echoChar(c)
		} else if c == '\n' && t.Lflag&ECHONL != 0 {
			p.echoBytes([]byte{'\n'})
		}
		p.put(uint16(c))
		return true
	}
	return p.receiveCanon(c)
}

// receiveCanon is receive for ICANON: line editing and line ends.
func (p *Pty) receiveCanon(c byte) bool {
	t := &p.tio
	iext := t.Lflag&IEXTEN != 0
	if len(p.in) == p.canon {
		p.lineStartCol = p.col // where erasing a tab stops at most
	}
	switch {
	case t.is(c, VERASE), t.is(c, VKILL), iext && t.is(c, VWERASE):
		p.erase(c)
		return true
	case iext && t.is(c, VLNEXT):
		p.lnext = true
		if t.Lflag&ECHO != 0 {
			p.echoBytes([]byte{'^', '\b'})
		}
		return true
	case iext && t.is(c, VREPRINT) && t.Lflag&ECHO != 0:
		p.echoChar(c)
		p.echoBytes([]byte{'\n'})
		for _, e := range p.in[p.canon:] {
			p.echoChar(byte(e))
		}
		return true
	}
	end := c == '\n' || t.is(c, VEOF) || t.is(c, VEOL) || iext && t.is(c, VEOL2)
	if !p.room(end) {
		if !end && p.canon == 0 {
			return true // the line fills the queue: drop, as N_TTY
		}
		return false
	}
	switch {
	case c == '\n':
		if t.Lflag&(ECHO|ECHONL) != 0 {
			p.echoBytes([]byte{'\n'})
		}
		p.putLineEnd(uint16(c))
	case t.is(c, VEOF):
		p.putLineEnd(eofMark)
	case end:
		if t.Lflag&ECHO != 0 {
			p.echoChar(c)
		}
		p.putLineEnd(uint16(c))
	default:
		if t.Lflag&ECHO != 0 {
			p.echoChar(c)
		}
		p.put(uint16(c))
	}
	return true
}

// room reports whether the input queue can take one more entry; a line
// end may use the last slot, so that a full line can still be ended.
func (p *Pty) room(end bool) bool {
	if end {
		return len(p.in) < inCap
	}
	return len(p.in) < inCap-1
}

func (p *Pty) put(e uint16) {
	if p.in == nil {
		p.in = make([]uint16, 0, inCap)
	}
	p.in = append(p.in, e)
	if !p.canonical() {
		p.canon = len(p.in)
	}
}

func (p *Pty) putLineEnd(e uint16) {
	p.put(e | lineEnd)
	p.canon = len(p.in)
}

// isig handles a signal character: the queues are flushed (unless
// NOFLSH), the character is echoed and the foreground group signalled.
func (p *Pty) isig(c byte, sig unix.Signal) {
	if p.tio.Lflag&NOFLSH == 0 {
		// The input is flushed; the output a pty's driver "flushes"
		// (pty_flush_buffer) stays in the master's queue.
		p.in, p.canon, p.lnext = p.in[:0], 0, false
	}
	if p.tio.Iflag&IXON != 0 {
		p.stopped = false
	}
	if p.tio.Lflag&ECHO != 0 {
		p.echoChar(c)
	}
	if p.pgrp != 0 {
		p.sigs = append(p.sigs, signal{pgid: p.pgrp, sig: sig})
	}
}

// erase handles VERASE, VWERASE and VKILL on the line being edited.
func (p *Pty) erase(c byte) {
	t := &p.tio
	if len(p.in) == p.canon {
		return
	}
	kill := t.is(c, VKILL)
	echo := t.Lflag&ECHO != 0
	if kill && (!echo || t.Lflag&ECHOKE == 0 || t.Lflag&ECHOE == 0) {
		p.in = p.in[:p.canon]
		if echo {
			p.echoChar(c)
			if t.Lflag&ECHOK != 0 {
				p.echoBytes([]byte{'\n'})
			}
		}
		return
	}
	word := !kill && !t.is(c, VERASE)
	seenAlnum := false
	for len(p.in) > p.canon {
		last := byte(p.in[len(p.in)-1])
		if word {
			isSpace := last == ' ' || last == '\t'
			if isSpace && seenAlnum {
				break
			}
			seenAlnum = seenAlnum || !isSpace
		}
		n := 1
		if t.Iflag&IUTF8 != 0 {
			// A UTF-8 character goes whole: its continuation bytes
			// and the byte that starts it.
			for n < len(p.in)-p.canon && byte(p.in[len(p.in)-n])&0xc0 == 0x80 {
				n++
			}
		}
		p.in = p.in[:len(p.in)-n]
		if echo {
			switch {
			case !kill && t.Lflag&ECHOE == 0:
				p.echoChar(t.CC[VERASE])
			case last == '\t':
				p.eraseTab()
			default:
				p.echoBytes([]byte("\b \b"))
				if last < 0x20 && t.Lflag&ECHOCTL != 0 || last == 0x7f && t.Lflag&ECHOCTL != 0 {
					p.echoBytes([]byte("\b \b"))
				}
			}
		}
		if !kill && !word {
			break
		}
	}
}

// eraseTab moves back over a tab: to the column the rest of the line
// ends at.
func (p *Pty) eraseTab() {
	col := p.lineStartCol
	for _, e := range p.in[p.canon:] {
		b := byte(e)
		switch {
		case b == '\t':
			col = (col | 7) + 1
		case b < 0x20 || b == 0x7f:
			if p.tio.Lflag&ECHOCTL != 0 {
				col += 2
			}
		default:
			col++
		}
	}
	for n := p.col - col; n > 0; n-- {
		p.echoBytes([]byte{'\b'})
	}
}

// echoChar echoes a received byte: control characters as ^X with
// ECHOCTL (tab and newline as themselves).
func (p *Pty) echoChar(c byte) {
	if p.tio.Lflag&ECHOCTL != 0 && (c < 0x20 && c != '\t' && c != '\n' || c == 0x7f) {
		p.echoBytes([]byte{'^', c ^ 0o100})
		return
	}
	p.echoBytes([]byte{c})
}

// echoBytes queues echoed output; what does not fit is dropped.
func (p *Pty) echoBytes(b []byte) {
	for _, c := range b {
		p.opost(c)
	}
}

// opost queues one output byte for the master with OPOST processing. It
// reports false when out has no room for the result.
func (p *Pty) opost(c byte) bool {
	t := &p.tio
	var buf [2]byte
	seq := buf[:1]
	buf[0] = c
	if t.Oflag&OPOST != 0 {
		switch c {
		case '\n':
			if t.Oflag&ONLRET != 0 {
				p.col = 0
			}
			if t.Oflag&ONLCR != 0 {
				seq = append(buf[:0], '\r', '\n')
				p.col = 0
			}
		case '\r':
			if t.Oflag&ONOCR != 0 && p.col == 0 {
				return true
			}
			if t.Oflag&OCRNL != 0 {
				buf[0] = '\n'
				if t.Oflag&ONLRET != 0 {
					p.col = 0
				}
			} else {
				p.col = 0
			}
		case '\t':
			p.col = (p.col | 7) + 1
		case '\b':
			if p.col > 0 {
				p.col--
			}
		default:
			if c >= 0x20 && c != 0x7f && (t.Iflag&IUTF8 == 0 || c&0xc0 != 0x80) {
				if t.Oflag&OLCUC != 0 && c >= 'a' && c <= 'z' {
					buf[0] = c - 'a' + 'A'
				}
				p.col++
			}
		}
	}
	if len(p.out)+len(seq) > outCap {
		return false
	}
	if len(p.out)+len(seq) > cap(p.out) {
		// Grown by hand so that it never holds more than outCap (what
		// Cost charges for it), which append's growth could.
		grown := make([]byte, len(p.out), min(max(2*cap(p.out), 4096), outCap))
		copy(grown, p.out)
		p.out = grown
	}
	p.out = append(p.out, seq...)
	return true
}

// setTermios changes the settings; a switch into canonical mode makes
// what is queued one line, a switch out of it makes everything readable,
// as N_TTY.
func (p *Pty) setTermios(t Termios) {
	wasCanon := p.canonical()
	p.tio = t
	switch {
	case wasCanon && !p.canonical():
		p.canon = len(p.in)
	case !wasCanon && p.canonical() && len(p.in) > 0:
		p.in[len(p.in)-1] |= lineEnd
		p.canon = len(p.in)
	}
	if p.tio.Iflag&IXON == 0 {
		p.stopped = false
	}
}

// readCanon takes at most one line into b. It reports whether a line was
// available (a read of an end-of-file line returns 0 bytes).
func (p *Pty) readCanon(b []byte) (int, bool) {
	if p.canon == 0 {
		return 0, false
	}
	n, used := 0, 0
	for used < p.canon && n < len(b) {
		e := p.in[used]
		used++
		if e&eofMark == 0 {
			b[n] = byte(e)
			n++
		}
		if e&lineEnd != 0 {
			break
		}
	}
	// An end-of-file mark right after the bytes taken ends this read.
	if n == len(b) && used < p.canon && p.in[used]&eofMark != 0 && used > 0 && p.in[used-1]&lineEnd == 0 {
		used++
	}
	p.consume(used)
	return n, true
}

// readRaw takes up to len(b) queued bytes.
func (p *Pty) readRaw(b []byte) int {
	n := min(len(b), len(p.in))
	for i := range n {
		b[i] = byte(p.in[i])
	}
	p.consume(n)
	return n
}

// consume drops the first n entries of in.
func (p *Pty) consume(n int) {
	rest := copy(p.in, p.in[n:])
	p.in = p.in[:rest]
	p.canon -= min(n, p.canon)
	if !p.canonical() {
		p.canon = len(p.in)
	}
}

// inqueue is FIONREAD on the slave: in canonical mode the bytes of
// complete lines (end-of-file marks are no bytes).
func (p *Pty) inqueue() int {
	if !p.canonical() {
		return len(p.in)
	}
	n := 0
	for _, e := range p.in[:p.canon] {
		if e&eofMark == 0 {
			n++
		}
	}
	return n
}
