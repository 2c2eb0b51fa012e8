// Command multibox is the litebox-multi column of the bench's density rows:
// one litebox process hosting many sandboxes through the embedding API
// (package sandbox), so that the Go runtime, litebox's code and the page
// cache of read-only host files (platform/pagecache) are paid once for all
// of them rather than once per sandbox.
//
//	multibox -n N [-inflight 8] [-platform systrap] -- PROGRAM [ARGS...]
//
// It makes N sandboxes, each its own sandbox.New with the default host
// view and the limits of `litebox run`'s defaults (its own kernel, stubs,
// limits and audit stream), and runs PROGRAM ARGS in each, at most
// -inflight starts at a time. A start ends when the guest prints its first
// line, which must be "ready". For each sandbox, as it becomes ready, it
// prints
//
//	start INDEX NANOSECONDS
//
// the time from the call of sandbox.New to the guest's "ready", then, when
// all are ready,
//
//	ready N
//
// It then waits until its own standard input closes, closes each guest's
// standard input, waits for every command and closes every sandbox. Any
// failure prints one line starting with "multibox:" on standard error and
// exits 1 (the sandboxes already made are closed first).
//
// Unlike `litebox run`, multibox does not confine itself with litebox's
// host seccomp allowlist (hostpolicy): a filter is per process, and the
// embedding API leaves that choice to the embedder.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/litebox-go/litebox/sandbox"
)

// The limits of `litebox run`'s defaults (cmd/litebox): each sandbox gets
// its own.
var defaultConfig = sandbox.Config{
	TmpSize: 1 << 30,
	Limits: sandbox.Limits{
		Memory:   4 << 30,
		FileSize: 4 << 30,
		Tasks:    512,
		NoFile:   1024,
	},
}

func main() {
	n := flag.Int("n", 1, "how many sandboxes to run at once")
	inflight := flag.Int("inflight", 8, "most sandboxes starting at the same time")
	platform := flag.String("platform", "auto", "the platform of every sandbox: systrap, ptrace or auto")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: multibox -n N [-inflight 8] [-platform systrap] -- PROGRAM [ARGS...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 || *n < 1 || *inflight < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*n, *inflight, *platform, flag.Args(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "multibox:", err)
		os.Exit(1)
	}
}

// box is one sandbox and the command running in it.
type box struct {
	sb    *sandbox.Sandbox
	cmd   *sandbox.Cmd
	stdin io.WriteCloser
}

func run(n, inflight int, platform string, argv []string, stdin io.Reader, stdout io.Writer) error {
	boxes := make([]*box, n)
	defer func() {
		for _, b := range boxes {
			if b != nil && b.stdin != nil {
				b.stdin.Close()
			}
		}
		for _, b := range boxes {
			if b == nil {
				continue
			}
			if b.cmd != nil {
				b.cmd.Wait() // the guest's end after its stdin closed; its error is of no interest
			}
			b.sb.Close()
		}
	}()

	var outMu sync.Mutex
	sem := make(chan struct{}, inflight)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			b, d, err := start(platform, argv)
			boxes[i] = b // each goroutine writes its own element
			if err != nil {
				errs <- fmt.Errorf("sandbox %d of %d: %w", i+1, n, err)
				return
			}
			outMu.Lock()
			fmt.Fprintf(stdout, "start %d %d\n", i, d.Nanoseconds())
			outMu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(stdout, "ready %d\n", n)
	if _, err := io.Copy(io.Discard, stdin); err != nil {
		return fmt.Errorf("reading standard input: %w", err)
	}
	return nil
}

// readyTimeout bounds one start: python3 takes well under a second
// natively, a few under ptrace on a loaded machine.
const readyTimeout = 2 * time.Minute

// start makes a sandbox, starts argv in it and waits for its "ready" line.
// It returns the box made so far (nil if none) even on failure, for the
// caller to close.
func start(platform string, argv []string) (*box, time.Duration, error) {
	t0 := time.Now()
	cfg := defaultConfig
	cfg.Platform = platform
	sb, err := sandbox.New(cfg)
	if err != nil {
		return nil, 0, err
	}
	b := &box{sb: sb}
	cmd := sb.Command(argv[0], argv[1:]...)
	if b.stdin, err = cmd.StdinPipe(); err != nil {
		return b, 0, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return b, 0, err
	}
	if err := cmd.Start(); err != nil {
		return b, 0, err
	}
	b.cmd = cmd
	ready := make(chan error, 1)
	go func() {
		r := bufio.NewReader(out)
		line, err := r.ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("the guest printed %q, want \"ready\"", line)
		} else if errors.Is(err, io.EOF) {
			err = errors.New("the guest ended without printing \"ready\"")
		}
		ready <- err
		io.Copy(io.Discard, r)
	}()
	select {
	case err := <-ready:
		if err != nil {
			return b, 0, err
		}
	case <-time.After(readyTimeout):
		return b, 0, fmt.Errorf("not ready after %v", readyTimeout)
	}
	return b, time.Since(t0), nil
}
