package kernel_test

import (
	"testing"

	"golang.org/x/sys/unix"

	"github.com/litebox-go/litebox/kernel"
	"github.com/litebox-go/litebox/kernel/fsimpl/memfs"
	"github.com/litebox-go/litebox/kernel/vfs"
)

// TestTruncateFileSizeLimit: ftruncate and truncate may grow a file to
// exactly RLIMIT_FSIZE; beyond it they fail with EFBIG and queue SIGXFSZ
// for the caller, and shrinking (or keeping the size) is never refused,
// as Linux's inode_newsize_ok.
func TestTruncateFileSizeLimit(t *testing.T) {
	const limit = 1 << 20
	for _, tc := range []struct {
		name      string
		from, to  int64
		wantErr   error
		wantXFSZ  bool
		wantSize  int64
		byPath    bool
		unlimited bool
	}{
		{name: "grow to the limit", to: limit, wantSize: limit},
		{name: "grow past the limit", to: limit + 1, wantErr: unix.EFBIG, wantXFSZ: true},
		{name: "grow to 1 TiB", to: 1 << 40, wantErr: unix.EFBIG, wantXFSZ: true},
		{name: "path: grow to 1 TiB", to: 1 << 40, wantErr: unix.EFBIG, wantXFSZ: true, byPath: true},
		{name: "path: grow to the limit", to: limit, wantSize: limit, byPath: true},
		{name: "shrink from the limit", from: limit, to: 10, wantSize: 10},
		{name: "unlimited: grow to 1 TiB", to: 1 << 40, wantSize: 1 << 40, unlimited: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fsize uint64 = limit
			if tc.unlimited {
				fsize = 0
			}
			k := kernel.New(kernel.Config{FS: vfs.New(memfs.New(0)), Limits: kernel.Limits{FileSize: fsize}})
			newInit(t, k) // which would drop its SIGXFSZ
			p, err := k.NewProcess(newMM(), [3]*vfs.File{}, "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.FDs.CloseAll() })
			task := p.Leader()
			fd, err := p.Openat(unix.AT_FDCWD, "/f", unix.O_RDWR|unix.O_CREAT, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			if tc.from > 0 {
				if err := task.Ftruncate(fd, tc.from); err != nil {
					t.Fatal(err)
				}
			}
			if tc.byPath {
				err = task.Truncate("/f", tc.to)
			} else {
				err = task.Ftruncate(fd, tc.to)
			}
			if err != tc.wantErr {
				t.Fatalf("truncate to %d = %v, want %v", tc.to, err, tc.wantErr)
			}
			if got := task.Pending()&bit(unix.SIGXFSZ) != 0; got != tc.wantXFSZ {
				t.Errorf("SIGXFSZ pending = %v, want %v", got, tc.wantXFSZ)
			}
			st, err := p.Fstat(fd)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.wantSize
			if tc.wantErr != nil {
				want = tc.from
			}
			if st.Size != want {
				t.Errorf("size = %d, want %d", st.Size, want)
			}
		})
	}
}
