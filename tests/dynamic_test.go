package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

// The dynamic tests run ordinary, dynamically linked Debian programs: the
// guest loads ld-linux and the shared libraries from the host's /usr and /lib
// (read-only), exactly as the native run does. Programs are always named by
// absolute path, the same natively and in the guest; a PATH lookup of e.g.
// python3 could find a host-only shim (pyenv) that the sandbox rightly hides.
const (
	pythonPath  = "/usr/bin/python3"
	sqlitePath  = "/usr/bin/sqlite3"
	perlPath    = "/usr/bin/perl"
	gzipPath    = "/bin/gzip"
	gunzipPath  = "/bin/gunzip"
	envPath     = "/usr/bin/env"
	sortPath    = "/usr/bin/sort"
	sha256Path  = "/usr/bin/sha256sum"
	lsPath      = "/bin/ls"
	echoPath    = "/bin/echo"
	pyGuestDir  = "/py"   // testdata/python, mounted read-only
	dataGuestMP = "/data" // the dynamic fixture directory, mounted read-only
)

// Contents of the fixture directory (dynFixture).
const (
	dynWords   = "pear\nApple\nbanana\napple\ncherry\nBanana\n\nzebra\nmango\n"
	dynNumbers = "10\n9\n100\n-3\n2.5\n0\n1e3\n007\n-20\n10\n"
)

// perlScript exercises strings, hashes and regular expressions. Hash
// iteration order is randomised per process in perl, so every listing of a
// hash is sorted.
const perlScript = `use strict; use warnings;
my $s = "The quick brown fox jumps over the lazy dog";
my %count; $count{lc $_}++ for $s =~ /(\w)/g;
print join(" ", map { "$_=$count{$_}" } grep { $count{$_} > 1 } sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count), "\n";
(my $t = $s) =~ s/(\w+)/\u\L$1/g; print "$t\n";
print scalar reverse($s), "\n";
print join(",", sort { length($a) <=> length($b) or $a cmp $b } split / /, $s), "\n";
printf "%s|%5.2f|%x|%o|%.3e|%-6s|\n", uc "perl", 3.14159, 255, 8, 12345.678, "pad";
if ("2024-03-14" =~ /^(\d{4})-(\d\d)-(\d\d)$/) { print "y=$1 m=$2 d=$3\n" }
my @nums = ("a1b22c333d4444" =~ /(\d+)/g); print "@nums\n";
my %h = (apple => 3, banana => 7, cherry => 5, date => 1);
$h{$_} *= 2 for grep { /an/ } keys %h;
delete $h{date};
print join(";", map { "$_:$h{$_}" } sort keys %h), "\n";
my %inv = reverse %h; print join(",", map { "$_=>$inv{$_}" } sort { $a <=> $b } keys %inv), "\n";
(my $u = $s) =~ tr/a-z/A-Z/; print "$u\n";
print "index=", index($s, "fox"), " substr=", substr($s, 4, 5), " len=", length $s, "\n";
my $sum = 0; $sum += $_ for 1..100; print "sum=$sum\n";
print join("|", map { sprintf "%s:%d", $_, length } qw(x yy zzz)), "\n";
my $csv = "a, b ,c,,d"; print join("/", map { s/^\s+|\s+$//gr } split /,/, $csv), "\n";
`

// sqliteScript runs in an in-memory database.
const sqliteScript = `CREATE TABLE sales (region TEXT, item TEXT, qty INTEGER, price REAL);
INSERT INTO sales VALUES ('north', 'apple', 10, 0.5), ('south', 'apple', 4, 0.55),
  ('north', 'pear', 3, 0.8), ('east', 'plum', 12, 0.3), ('south', 'fig', 7, 1.25),
  ('east', 'apple', 1, 0.5), ('north', 'fig', 2, 1.2);
SELECT region, COUNT(*), SUM(qty), printf('%.2f', SUM(qty * price)), MAX(qty) FROM sales GROUP BY region ORDER BY region;
SELECT item, SUM(qty) AS total FROM sales GROUP BY item HAVING total > 5 ORDER BY total DESC, item;
SELECT group_concat(item, ',') FROM (SELECT DISTINCT item FROM sales ORDER BY item);
SELECT region, item, qty FROM sales ORDER BY qty DESC, region LIMIT 3;
UPDATE sales SET qty = qty * 2 WHERE region = 'east';
SELECT SUM(qty), AVG(price), COUNT(DISTINCT region) FROM sales;
`

// sqliteFileScript is sqliteScript's little brother on a database file: it
// needs sqlite's file locking (fcntl F_SETLK) and its rollback journal.
const sqliteFileScript = `CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT);
INSERT INTO t (v) VALUES ('one'), ('two'), ('three');
BEGIN; UPDATE t SET v = upper(v) WHERE k > 1; COMMIT;
SELECT k, v FROM t ORDER BY k;
SELECT COUNT(*), group_concat(v, '+') FROM t;
`

// dynCase is one run of an installed program. In args, "@DATA@" stands for
// the fixture directory (its host path natively, /data in the guest), "@PY@"
// for testdata/python (/py in the guest) and "@TMP@" for an empty writable
// directory (a fresh host directory natively, the guest's in-memory /tmp).
type dynCase struct {
	name string
	prog string // absolute path, the same natively and in the guest
	args []string
	env  []string // KEY=VALUE, set natively and passed with -e
	// needs lists further programs the case needs (e.g. gzip to make the
	// fixture's .gz files).
	needs []string
	// inData runs natively in the fixture directory and in the guest with
	// --cwd /data, so that file names in the output are identical.
	inData bool
	// sortLines compares stdout as a sorted set of lines (the environment,
	// whose order is not specified).
	sortLines bool
	// digest replaces stdout, in both runs and in wantStdout, by its length
	// and SHA-256 before comparing: still an exact comparison, but a
	// mismatch of a megabyte of binary output is reported readably.
	digest bool

	wantExit   int
	wantStdout *string // exact stdout, checked natively and in the guest
	// check, if set, makes further assertions on the stdout of both runs.
	// data is the host fixture directory.
	check func(t *testing.T, data string, stdout []byte)
	// notNative is set when stdout legitimately differs from the native
	// run's (addresses, inherited descriptors); check then says what both
	// must satisfy. Exit code and stderr are still compared.
	notNative bool
}

// dynamicCases is the table of TestDynamic.
var dynamicCases = []dynCase{
	{name: "echo", prog: echoPath, args: []string{"hello", "world"}, wantStdout: ptr("hello world\n")},

	// Owners come from st_uid/st_gid mapped through /etc/passwd and
	// /etc/group, sizes, link counts, blocks and times from stat: the guest
	// sees the host's /usr and /etc read-only with their real metadata, so
	// the listing must be identical. That the guest runs as uid 1000 does
	// not show: ls -la prints the files' owners, not the caller's. (Dates
	// print as "Mon DD HH:MM" for files younger than six months: both runs
	// happen within a second, so they agree.)
	{name: "ls-la-usr-lib", prog: lsPath, args: []string{"-la", "/usr/lib"}},

	{name: "env-sorted", prog: envPath, env: []string{"FOO=bar baz", "EMPTY="}, sortLines: true,
		wantStdout: ptr("EMPTY=\nFOO=bar baz\nHOME=/tmp\nPATH=/usr/local/bin:/usr/bin:/bin\n")},

	{name: "sha256sum-mounted", prog: sha256Path, args: []string{"big.bin", "words.txt"}, inData: true,
		wantStdout: ptr(sha256Line(bigInput(), "big.bin") + sha256Line([]byte(dynWords), "words.txt"))},

	{name: "sort-r", prog: sortPath, args: []string{"-r", "@DATA@/words.txt"},
		wantStdout: ptr("zebra\npear\nmango\ncherry\nbanana\napple\nBanana\nApple\n\n")},
	{name: "sort-n", prog: sortPath, args: []string{"-n", "@DATA@/numbers.txt"},
		wantStdout: ptr("-20\n-3\n0\n1e3\n2.5\n007\n9\n10\n10\n100\n")},
	{name: "sort-rn", prog: sortPath, args: []string{"-rn", "@DATA@/numbers.txt"},
		wantStdout: ptr("100\n10\n10\n9\n007\n2.5\n1e3\n0\n-3\n-20\n")},

	{name: "sqlite3-memory", prog: sqlitePath, args: []string{":memory:", sqliteScript},
		wantStdout: ptr("east|2|13|4.10|12\nnorth|3|15|9.80|10\nsouth|2|11|10.95|7\n" +
			"apple|15\nplum|12\nfig|9\n" +
			"apple,fig,pear,plum\n" +
			"east|plum|12\nnorth|apple|10\nsouth|fig|7\n" +
			"52|0.728571428571429|3\n")},
	// Not in the original list: the same on a database file in /tmp, which
	// needs POSIX record locks.
	{name: "sqlite3-tmp-file", prog: sqlitePath, args: []string{"@TMP@/t.db", sqliteFileScript},
		wantStdout: ptr("1|one\n2|TWO\n3|THREE\n3|one+TWO+THREE\n")},

	{name: "perl-e", prog: perlPath, args: []string{"-e", perlScript},
		wantStdout: ptr("o=4 e=3 h=2 r=2 t=2 u=2\n" +
			"The Quick Brown Fox Jumps Over The Lazy Dog\n" +
			"god yzal eht revo spmuj xof nworb kciuq ehT\n" +
			"The,dog,fox,the,lazy,over,brown,jumps,quick\n" +
			"PERL| 3.14|ff|10|1.235e+04|pad   |\n" +
			"y=2024 m=03 d=14\n" +
			"1 22 333 4444\n" +
			"apple:3;banana:14;cherry:5\n" +
			"3=>apple,5=>cherry,14=>banana\n" +
			"THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG\n" +
			"index=16 substr=quick len=43\n" +
			"sum=5050\n" +
			"x:1|yy:2|zzz:3\n" +
			"a/b/c//d\n")},

	// -n in both runs: no name and no timestamp in the header, so the
	// compressed bytes depend only on the input.
	{name: "gzip-c-n", prog: gzipPath, args: []string{"-c", "-n", "@DATA@/big.bin"}, digest: true,
		check: func(t *testing.T, data string, stdout []byte) {
			gz, err := os.ReadFile(filepath.Join(data, "big.bin.gz"))
			if err != nil {
				t.Fatal(err)
			}
			if want := digestOf(gz); string(stdout) != want {
				t.Errorf("gzip -c -n output is %q, want %q (the fixture's big.bin.gz)", stdout, want)
			}
		}},
	// Debian's /bin/gunzip is a #!/bin/sh script that execs "gzip -d".
	{name: "gunzip-c", prog: gunzipPath, args: []string{"-c", "@DATA@/big.bin.gz"}, needs: []string{gzipPath},
		digest: true, wantStdout: ptr(string(bigInput()))},
	// What gunzip runs, without the script.
	{name: "gzip-dc", prog: gzipPath, args: []string{"-d", "-c", "@DATA@/big.bin.gz"},
		digest: true, wantStdout: ptr(string(bigInput()))},

	{name: "python3-print", prog: pythonPath, args: []string{"-c", "print(1)"}, wantStdout: ptr("1\n")},
	{name: "python3-workload", prog: pythonPath,
		args: []string{"@PY@/workload.py", "@PY@/employees.csv", "@TMP@"},
		env:  []string{"PYTHONHASHSEED=0"},
		// The expected output is the native run's; check only that the
		// script got to the end.
		check: func(t *testing.T, data string, stdout []byte) {
			if !bytes.HasSuffix(stdout, []byte("\n== done\n")) {
				t.Errorf("workload.py did not finish:\n%s", stdout)
			}
		}},

	// /proc as these programs see it.
	{name: "proc-self-maps", prog: pythonPath,
		args:      []string{"-c", "import sys; sys.stdout.write(open('/proc/self/maps').read())"},
		notNative: true, // addresses and device numbers differ
		check: func(t *testing.T, data string, stdout []byte) {
			exe := pythonRealpath(t)
			var sawExe, sawStack bool
			for _, line := range strings.Split(string(stdout), "\n") {
				f := strings.Fields(line)
				if len(f) == 6 && f[5] == exe {
					sawExe = true
				}
				if len(f) == 6 && f[5] == "[stack]" {
					sawStack = true
				}
			}
			if !sawExe || !sawStack {
				t.Errorf("/proc/self/maps: mapping of %s: %v, [stack]: %v; want both\n%s", exe, sawExe, sawStack, stdout)
			}
		}},
	{name: "proc-self-exe", prog: pythonPath,
		args: []string{"-c", "import os; print(os.readlink('/proc/self/exe'))"},
		check: func(t *testing.T, data string, stdout []byte) {
			if want := pythonRealpath(t) + "\n"; string(stdout) != want {
				t.Errorf("readlink /proc/self/exe = %q, want %q (the realpath of %s)", stdout, want, pythonPath)
			}
		}},
	{name: "proc-self-fd", prog: pythonPath,
		args: []string{"-c", "import os; print(' '.join(sorted(os.listdir('/proc/self/fd'), key=int)))"},
		// Natively, python also inherits whatever descriptors the test
		// process has open without close-on-exec.
		notNative: true,
		check: func(t *testing.T, data string, stdout []byte) {
			fds := strings.Fields(string(stdout))
			for _, fd := range []string{"0", "1", "2"} {
				if !slices.Contains(fds, fd) {
					t.Errorf("/proc/self/fd = %q, want it to contain %s", fds, fd)
				}
			}
		}},
	{name: "proc-cpuinfo", prog: pythonPath,
		args: []string{"-c", "print(sum(1 for l in open('/proc/cpuinfo') if l.split(':')[0].strip() == 'processor'))"},
		check: func(t *testing.T, data string, stdout []byte) {
			if s := strings.TrimSpace(string(stdout)); s == "" || s == "0" {
				t.Errorf("/proc/cpuinfo has %q processor lines", s)
			}
		}},
	{name: "proc-meminfo", prog: pythonPath,
		args:       []string{"-c", "l = open('/proc/meminfo').readline().split(); print(l[0], l[2], int(l[1]) > 0)"},
		wantStdout: ptr("MemTotal: kB True\n")},
}

// dynFixture creates the host directory mounted read-only at /data: inputs
// for sha256sum, sort and gzip, and big.bin.gz made by native `gzip -c -n`
// (if gzip is installed; the cases that use it need gzipPath).
func dynFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "words.txt"), dynWords)
	writeFile(t, filepath.Join(dir, "numbers.txt"), dynNumbers)
	writeFile(t, filepath.Join(dir, "big.bin"), string(bigInput()))
	if _, err := os.Stat(gzipPath); err == nil {
		res := runNative(t, dir, nil, nil, gzipPath, "-c", "-n", "big.bin")
		if res.ExitCode != 0 {
			t.Fatalf("native gzip -c -n big.bin:\n%s", res)
		}
		writeFile(t, filepath.Join(dir, "big.bin.gz"), string(res.Stdout))
	}
	return dir
}

// digestOf summarises b as its length and SHA-256, on one line.
func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return fmt.Sprintf("%d bytes, sha256 %s\n", len(b), hex.EncodeToString(sum[:]))
}

// pythonRealpath is what /usr/bin/python3 resolves to on the host (and so in
// the guest, which sees the host's /usr): /usr/bin/python3.11 on Debian 12.
func pythonRealpath(t *testing.T) string {
	t.Helper()
	p, err := filepath.EvalSymlinks(pythonPath)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// needProgram skips the test (or fails it with LITEBOX_REQUIRE_ALL=1) when
// an installed program it runs is missing.
func needProgram(t *testing.T, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		skipOrFail(t, "%s is not installed (see the package list in .ci/run): %v", path, err)
	}
}

// TestDynamic runs dynamically linked Debian programs natively and under
// litebox with the same environment, arguments and working directory. The
// native subtest validates the case's own expectations; the litebox subtest
// requires exactly the native stdout (unless notNative), exit code and stderr
// (empty in every case), plus the same expectations.
func TestDynamic(t *testing.T) {
	// Built once, shared read-only by the parallel subtests, removed when
	// they are all done.
	data := dynFixture(t)
	pyDir := filepath.Join(moduleRoot, "testdata", "python")
	for _, tc := range dynamicCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			needProgram(t, tc.prog)
			for _, p := range tc.needs {
				needProgram(t, p)
			}
			subst := func(dataDir, pyDir, tmpDir string) []string {
				r := strings.NewReplacer("@DATA@", dataDir, "@PY@", pyDir, "@TMP@", tmpDir)
				out := make([]string, len(tc.args))
				for i, a := range tc.args {
					out[i] = r.Replace(a)
				}
				return out
			}
			normalize := func(b []byte) []byte {
				switch {
				case tc.sortLines:
					return []byte(strings.Join(harness.SortedLines(b), "\n") + "\n")
				case tc.digest:
					return []byte(digestOf(b))
				}
				return b
			}
			expect := func(t *testing.T, res harness.Result) {
				t.Helper()
				if tc.wantStdout != nil {
					if want := normalize([]byte(*tc.wantStdout)); !bytes.Equal(res.Stdout, want) {
						t.Errorf("stdout differs from the expectation\n%s", lineDiff(want, res.Stdout))
					}
				}
				if tc.check != nil {
					tc.check(t, data, res.Stdout)
				}
			}

			nativeDir := ""
			g := harness.Guest{
				Mounts: []string{data + ":" + dataGuestMP + ":ro", pyDir + ":" + pyGuestDir + ":ro"},
				Env:    tc.env,
			}
			if tc.inData {
				nativeDir = data
				g.Cwd = dataGuestMP
			}
			native := runNative(t, nativeDir, tc.env, nil,
				append([]string{tc.prog}, subst(data, pyDir, t.TempDir())...)...)
			native.Stdout = normalize(native.Stdout)

			t.Run("native", func(t *testing.T) {
				if native.ExitCode != tc.wantExit || len(native.Stderr) != 0 {
					t.Fatalf("exit code = %d, want %d, and stderr must be empty\n%s", native.ExitCode, tc.wantExit, native)
				}
				expect(t, native)
			})
			t.Run("litebox", func(t *testing.T) {
				got := runGuest(t, g, nil, tc.prog, subst(dataGuestMP, pyGuestDir, "/tmp")...)
				got.Stdout = normalize(got.Stdout)
				checkExitedNormally(t, got)
				want := native
				if tc.notNative {
					want.Stdout = got.Stdout
				}
				checkResult(t, got, want, true)
				expect(t, got)
			})
		})
	}
}
