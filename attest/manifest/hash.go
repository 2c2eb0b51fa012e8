package manifest

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"github.com/litebox-go/litebox/kernel/vfs"
)

// hashBuf is the read size of the hashing helpers.
const hashBuf = 256 << 10

// Hash returns the SHA-256 and length of everything r yields.
func Hash(r io.Reader) (Digest, int64, error) {
	h := sha256.New()
	n, err := io.CopyBuffer(h, r, make([]byte, hashBuf))
	if err != nil {
		return Digest{}, n, err
	}
	var d Digest
	h.Sum(d[:0])
	return d, n, nil
}

// HashFile returns the SHA-256 and length of an open file's content, read
// from offset 0 with Pread (the file's offset is left alone, so the
// kernel can hash a file a guest holds open). Reading stops at the first
// zero-length read, the VFS's end of file.
func HashFile(f *vfs.File) (Digest, int64, error) {
	h := sha256.New()
	buf := make([]byte, hashBuf)
	var off int64
	for {
		n, err := f.Pread(buf, off)
		if n > 0 {
			h.Write(buf[:n])
			off += int64(n)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return Digest{}, off, fmt.Errorf("reading at %d: %w", off, err)
		}
		if n == 0 || err != nil {
			break
		}
	}
	var d Digest
	h.Sum(d[:0])
	return d, off, nil
}
