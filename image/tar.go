package image

import (
	"io"

	"github.com/litebox-go/litebox/kernel/fsimpl/tarfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// openTar makes the read-only file system of one uncompressed tar (size
// bytes at r), read in place; key, the layer's diffID, names its cached
// index in indexDir. The closer is closed with the image. A variable so
// that the tests of this package can see what reaches it.
var openTar = func(r io.ReaderAt, size int64, indexDir, key string) (vfs.FileSystem, io.Closer, error) {
	fs, err := tarfs.New(r, size, tarfs.Options{IndexDir: indexDir, Key: key})
	if err != nil {
		return nil, nil, err
	}
	return fs, fs, nil
}
