package sandbox

import (
	"errors"
	"io"
	"sync"
	"syscall"
)

// cmdPipes are the pipes a Cmd made for its caller. Each is an io.Pipe
// with a parent end (the caller's) and a child end (the command's stdin
// feeder or output writer).
type cmdPipes struct {
	mu     sync.Mutex
	stdinW *io.PipeWriter // parent: the caller writes the guest's stdin
	stdinR *io.PipeReader // child: read by the stdin feeder
	outR   []*io.PipeReader
	outW   []*io.PipeWriter
}

// StdinPipe returns a pipe whose other end is the command's standard
// input. As in os/exec, it must be called before Start; Wait closes it
// once the command ended, and Close closes it earlier (the guest then
// reads end of file). Writes fail once the guest closed its stdin.
func (c *Cmd) StdinPipe() (io.WriteCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.Stdin != nil:
		return nil, errors.New("sandbox: Stdin already set")
	case c.started:
		return nil, errors.New("sandbox: StdinPipe after the command started")
	}
	r, w := io.Pipe()
	c.Stdin = r
	c.pipes.mu.Lock()
	c.pipes.stdinR, c.pipes.stdinW = r, w
	c.pipes.mu.Unlock()
	return w, nil
}

// StdoutPipe returns a pipe that carries the command's standard output. As
// in os/exec, it must be called before Start, and Wait closes it once the
// command ended: read everything (to end of file, which comes when every
// process of the command is gone) before calling Wait.
func (c *Cmd) StdoutPipe() (io.ReadCloser, error) {
	return c.outPipe(&c.Stdout, "Stdout")
}

// StderrPipe is StdoutPipe for standard error.
func (c *Cmd) StderrPipe() (io.ReadCloser, error) {
	return c.outPipe(&c.Stderr, "Stderr")
}

func (c *Cmd) outPipe(stream *io.Writer, name string) (io.ReadCloser, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case *stream != nil:
		return nil, errors.New("sandbox: " + name + " already set")
	case c.started:
		return nil, errors.New("sandbox: " + name + "Pipe after the command started")
	}
	r, w := io.Pipe()
	*stream = w
	c.pipes.mu.Lock()
	c.pipes.outR = append(c.pipes.outR, r)
	c.pipes.outW = append(c.pipes.outW, w)
	c.pipes.mu.Unlock()
	return r, nil
}

// closeParentEnds closes the caller's ends once the command ended (Wait):
// a writer into its stdin gets an error, and an output writer still
// blocked on a caller that stopped reading is let go.
func (p *cmdPipes) closeParentEnds() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdinW != nil {
		_ = p.stdinW.Close()
	}
	for _, r := range p.outR {
		_ = r.Close()
	}
}

// closeChildEnds closes the command's ends once its output was written:
// the caller reads end of file, and the stdin feeder stops.
func (p *cmdPipes) closeChildEnds() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdinR != nil {
		_ = p.stdinR.CloseWithError(syscall.EPIPE)
	}
	for _, w := range p.outW {
		_ = w.Close()
	}
}

// stdinGone is called when the guest closed its stdin: the caller's
// writes fail with EPIPE, as on a host pipe whose reader left.
func (p *cmdPipes) stdinGone() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stdinR != nil {
		_ = p.stdinR.CloseWithError(syscall.EPIPE)
	}
}

// closeAll closes every end when the command could not start.
func (p *cmdPipes) closeAll() {
	p.closeChildEnds()
	p.closeParentEnds()
}
