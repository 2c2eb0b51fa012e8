package digests

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/litebox-go/litebox/platform/pagecache"
)

func hostKey(ino uint64, ctime int64) pagecache.Key {
	return pagecache.Key{Dev: 7, Ino: ino, FileSize: 100, Size: 40, Mtime: 5, Ctime: ctime}
}

func TestStoreFileRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	d1, d2 := Digest{1}, Digest{2}
	s.Add(hostKey(1, 10), d1)
	s.Add(hostKey(2, 10), d2)
	s.Add(pagecache.Key{Src: "sha256:layer/usr/lib/x", FileSize: 100, Size: 100}, d2) // memory only
	if got, ok := s.Lookup(pagecache.Key{Dev: 7, Ino: 1, FileSize: 100, Size: 100, Mtime: 5, Ctime: 10}); !ok || got != d1 {
		t.Fatalf("lookup of the whole file's version = %x, %v; want the digest added by a mapping's key", got, ok)
	}
	s.Close()

	again, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	for _, c := range []struct {
		k    pagecache.Key
		want Digest
		ok   bool
	}{
		{hostKey(1, 10), d1, true},
		{hostKey(2, 10), d2, true},
		{hostKey(2, 11), Digest{}, false}, // another version of the file
		{pagecache.Key{Src: "sha256:layer/usr/lib/x", FileSize: 100, Size: 100}, Digest{}, false},
	} {
		if got, ok := again.Lookup(c.k); ok != c.ok || got != c.want {
			t.Errorf("Lookup(%+v) after reopening = %x, %v; want %x, %v", c.k, got, ok, c.want, c.ok)
		}
	}
}

func TestStoreSkipsTornAndForeignFiles(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	s.Add(hostKey(1, 10), Digest{1})
	s.Add(hostKey(2, 10), Digest{2})
	s.Close()
	path := filepath.Join(dir, fileName)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[headerSize+recordSize+45] ^= 0xff // the second record's digest
	if err := os.WriteFile(path, append(b, 1, 2, 3), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Lookup(hostKey(1, 10)); !ok {
		t.Error("an intact record was lost")
	}
	if d, ok := s.Lookup(hostKey(2, 10)); ok {
		t.Errorf("a damaged record was used: %x", d)
	}
	s.Close()

	// Another boot's (or another format's) file is started afresh.
	b, _ = os.ReadFile(path)
	copy(b[len(magic):], "00000000-0000-0000-0000-000000000000")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Lookup(hostKey(1, 10)); ok {
		t.Error("a record of another boot was used")
	}
	if st, _ := os.Stat(path); st.Size() != headerSize {
		t.Errorf("the foreign file was not started afresh: %d bytes", st.Size())
	}
}

func TestStoreRefusesUntrustedFiles(t *testing.T) {
	open := t.TempDir()
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(open); err == nil {
		t.Error("a directory anyone may write was used")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, fileName), nil, 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, fileName), 0o666); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(dir); err == nil {
		t.Error("a record file anyone may write was used")
	}
	link := t.TempDir()
	if err := os.Symlink("/etc/passwd", filepath.Join(link, fileName)); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(link); err == nil {
		t.Error("a symbolic link was followed")
	}
}

func TestNilStore(t *testing.T) {
	var s *Store
	s.Add(hostKey(1, 1), Digest{1})
	if _, ok := s.Lookup(hostKey(1, 1)); ok {
		t.Fatal("a nil store remembered")
	}
}
