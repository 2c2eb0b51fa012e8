// Package hostfile reads the host files of verified execution (keys,
// manifests, envelopes) for litebox itself, bounded: a file named by the
// operator may still be anything, a device or a huge log.
package hostfile

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrTooLarge is wrapped by Read's error for a file over its bound.
var ErrTooLarge = errors.New("too large")

// Read returns the content of the file path, at most max bytes: a larger
// file is an error ("PATH: larger than MAX bytes", wrapping ErrTooLarge).
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, &tooLarge{path: path, max: max}
	}
	return data, nil
}

type tooLarge struct {
	path string
	max  int64
}

func (e *tooLarge) Error() string { return fmt.Sprintf("%s: larger than %d bytes", e.path, e.max) }
func (e *tooLarge) Unwrap() error { return ErrTooLarge }
