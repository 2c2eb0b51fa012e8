package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// roFixture creates a host directory with one file, for mounting at /data.
func roFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "existing.txt"), "original\n")
	return dir
}

// checkHostDir asserts that dir holds exactly the given files and contents.
func checkHostDir(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("host directory holds %q, want exactly %d entries", names, len(want))
	}
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Errorf("host file %s: %v", name, err)
		} else if string(b) != content {
			t.Errorf("host file %s = %q, want %q", name, b, content)
		}
	}
}

// TestReadOnlyMount checks that a mount without a mode, or with :ro, cannot
// be written: every write attempt fails with EROFS (as on a read-only Linux
// mount, whatever the permission bits say) and the host directory is
// unchanged. The same holds for the host system directories.
func TestReadOnlyMount(t *testing.T) {
	for _, mode := range []string{"", ":ro"} {
		t.Run("mode="+strings.TrimPrefix(mode, ":"), func(t *testing.T) {
			t.Parallel()
			program(t, "writefile", staticVariant)
			program(t, "errno", staticVariant)
			program(t, "files", staticVariant)
			dir := roFixture(t)
			g := harness.Guest{Mounts: []string{workMount(staticVariant), dir + ":/data" + mode}}
			eroFS := harness.Result{ExitCode: 1, Stdout: []byte("open: EROFS\n")}

			checkResult(t, runGuest(t, g, nil, "/work/writefile", "/data/existing.txt", "changed"), eroFS, true)
			checkResult(t, runGuest(t, g, nil, "/work/writefile", "/data/new.txt", "new"), eroFS, true)

			got := runGuest(t, g, nil, "/work/errno", "/data")
			if !strings.HasSuffix(string(got.Stdout), "\ncreate in rodir: EROFS\n") || got.ExitCode != 0 {
				t.Errorf("errno /data: want last line %q\n%s", "create in rodir: EROFS", got)
			}

			got = runGuest(t, g, nil, "/work/files", "/data")
			if !strings.HasPrefix(string(got.Stdout), "mkdir: EROFS\n") {
				t.Errorf("files /data: want first line %q\n%s", "mkdir: EROFS", got)
			}

			checkHostDir(t, dir, map[string]string{"existing.txt": "original\n"})
		})
	}

	// The host system directories are visible read-only.
	for _, dir := range []string{"/usr", "/etc", "/bin", "/work"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			program(t, "writefile", staticVariant)
			name := "litebox-ro-test-" + filepath.Base(t.TempDir())
			g := harness.Guest{Mounts: []string{workMount(staticVariant)}}
			got := runGuest(t, g, nil, "/work/writefile", dir+"/"+name, "x")
			checkResult(t, got, harness.Result{ExitCode: 1, Stdout: []byte("open: EROFS\n")}, true)
			hostPath := filepath.Join(dir, name)
			if dir == "/work" {
				hostPath = filepath.Join(programs.Dir(staticVariant), name)
			}
			if _, err := os.Lstat(hostPath); err == nil {
				os.Remove(hostPath)
				t.Errorf("guest write created host file %s", hostPath)
			}
		})
	}
}

// TestReadWriteMount checks that writes to a :rw mount land in the host
// directory, and that the full files.c sequence behaves exactly as it does
// natively on the same kind of host directory.
func TestReadWriteMount(t *testing.T) {
	t.Run("writefile", func(t *testing.T) {
		t.Parallel()
		program(t, "writefile", staticVariant)
		dir := roFixture(t)
		g := harness.Guest{Mounts: []string{workMount(staticVariant), dir + ":/data:rw"}}
		ok := harness.Result{Stdout: []byte("OK\n")}

		checkResult(t, runGuest(t, g, nil, "/work/writefile", "/data/new.txt", "new content"), ok, true)
		checkResult(t, runGuest(t, g, nil, "/work/writefile", "/data/existing.txt", "replaced"), ok, true)
		checkHostDir(t, dir, map[string]string{"new.txt": "new content", "existing.txt": "replaced"})

		// A file the host creates after a guest ran is visible to the next one.
		writeFile(t, filepath.Join(dir, "from-host.txt"), "hi\n")
		got := runListdir(t, "/data", dir+":/data:rw")
		checkResult(t, got, harness.Result{Stdout: []byte(listing("existing.txt", "from-host.txt", "new.txt"))}, true)
	})

	for _, v := range harness.Variants {
		t.Run("files-"+v.Name, func(t *testing.T) {
			t.Parallel()
			program(t, "files", v)
			want, err := os.ReadFile(goldenPath("files"))
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			g := harness.Guest{Mounts: []string{workMount(v), dir + ":/data:rw"}}
			got := runGuest(t, g, nil, "/work/files", "/data")
			checkResult(t, got, harness.Result{Stdout: want}, true)
			// files removes everything it created.
			checkHostDir(t, dir, map[string]string{})
		})
	}
}
