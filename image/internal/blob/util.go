package blob

import (
	"bytes"
	"io"
	"strings"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
