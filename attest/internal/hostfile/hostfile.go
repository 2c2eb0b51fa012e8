// Package hostfile reads the host files of verified execution (keys,
// manifests, envelopes) for litebox itself, bounded: a file named by the
// operator may still be anything, a device or a huge log.
package hostfile

import (
	"bytes"
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
	// One buffer of the file's size (and a byte more, to see one that
	// grew) rather than ReadAll's doublings: a manifest is read at every
	// start of a verified run.
	size := int64(512)
	if st, err := f.Stat(); err == nil && st.Size() >= 0 && st.Size() <= max {
		size = st.Size() + 1
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead)) // ReadFrom grows below MinRead free
	_, err = buf.ReadFrom(io.LimitReader(f, max+1))
	data := buf.Bytes()
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
