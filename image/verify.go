package image

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// verifyInPlace checks an uncompressed layer read in place against its
// diffID (and its descriptor's digest), once: a stamp in the cache records
// that the bytes at that place were checked. The stamp's name covers the
// file's identity and change times (device, inode, size, mtime, ctime),
// the layer's place in it and the digest, so any write to the file (which
// moves ctime, whatever is done to mtime) makes litebox hash it again.
func (o *Options) verifyInPlace(l layerSpec) error {
	if l.digest.Hex != "" && l.digest != l.diffID {
		// An uncompressed blob is its own tar: both name the same bytes.
		return fmt.Errorf("%s: uncompressed, but its digest is not its diff_id %s", l.name(), l.diffID)
	}
	stamp, err := stampName(l.src, l.diffID.String())
	if err != nil {
		return fmt.Errorf("%s: %w", l.name(), err)
	}
	stampPath := filepath.Join(o.Store.VerifiedCache(), stamp)
	if _, err := os.Lstat(stampPath); err == nil {
		return nil
	}
	start := time.Now()
	h := sha256.New()
	if _, err := io.Copy(h, l.src.reader()); err != nil {
		return fmt.Errorf("%s: reading %s: %w", l.name(), l.src.path, err)
	}
	if err := mismatch(h, l.diffID); err != nil {
		return fmt.Errorf("%s: %w", l.name(), err)
	}
	f, err := os.OpenFile(stampPath, os.O_WRONLY|os.O_CREATE, 0o600)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		// Not fatal: the next start hashes the layer again.
		o.log().Warn("image: cannot record a verified layer", "err", err)
	}
	o.log().Info("image layer verified in place", "layer", l.diffID.String(), "bytes", l.src.size, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// stampName names what was verified: the file (identity and change
// times), the range and the digest, hashed into a file name.
func stampName(s section, what string) (string, error) {
	fi, err := s.f.Stat()
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", errors.New("no file identity to remember a verification by")
	}
	abs, err := filepath.Abs(s.path)
	if err != nil {
		return "", err
	}
	key := fmt.Sprintf("%s\x00%d %d %d %d.%d %d.%d %d %d\x00%s", abs, st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec, s.off, s.size, what)
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]), nil
}
