package tests

// TestJVM runs the host's OpenJDK (openjdk-17-jdk-headless, in .ci/run's
// package list) as a new user would: `java -version`, then javac compiling
// a program in /tmp and java running it. The JVM asks for the affinity of
// each of its threads by tid (pthread_getattr_np) and starts a dozen
// threads; output and exit code must equal the native run's.

import (
	"os"
	"testing"

	"github.com/litebox-go/litebox/tests/harness"
)

const (
	javaPath  = "/usr/bin/java"
	javacPath = "/usr/bin/javac"
)

// helloJava starts threads (each asks for its own attributes by tid, as the
// JVM's own threads do), uses collections and string formatting, and reads
// properties that do not depend on the host.
const helloJava = `import java.util.*;
public class Hello {
    public static void main(String[] args) throws Exception {
        int[] sums = new int[4];
        Thread[] ts = new Thread[sums.length];
        for (int i = 0; i < ts.length; i++) {
            final int n = i;
            ts[i] = new Thread(() -> { for (int j = 0; j <= 1000 * (n + 1); j++) sums[n] += j; });
            ts[i].start();
        }
        for (Thread t : ts) t.join();
        TreeMap<String, Integer> m = new TreeMap<>();
        for (String w : "the quick brown fox jumps over the lazy dog the end".split(" ")) m.merge(w, 1, Integer::sum);
        System.out.println("Hello from Java " + System.getProperty("java.specification.version") + " on " + System.getProperty("os.name"));
        System.out.println("thread sums " + Arrays.toString(sums));
        System.out.println("words " + m);
        System.out.println(String.format("%08.3f|%x|%s", Math.PI, 48879, Integer.toBinaryString(42)));
    }
}
`

// javaScript writes Hello.java in $WORK, compiles and runs it.
const javaScript = `set -e
cd "$WORK"
cat > Hello.java <<'EOF'
` + helloJava + `EOF
` + javacPath + ` Hello.java
ls Hello.class
` + javaPath + ` Hello
`

func TestJVM(t *testing.T) {
	for _, p := range []string{javaPath, javacPath} {
		if _, err := os.Stat(p); err != nil {
			skipOrFail(t, "%s is not installed (openjdk-17-jdk-headless, see .ci/run): %v", p, err)
		}
	}
	t.Run("version", func(t *testing.T) {
		t.Parallel()
		native := runNative(t, "", nil, nil, javaPath, "-version")
		if native.ExitCode != 0 || len(native.Stderr) == 0 {
			t.Fatalf("native java -version: %s", native)
		}
		got := runGuest(t, harness.Guest{}, nil, javaPath, "-version")
		checkExitedNormally(t, got)
		checkResult(t, got, native, true)
	})
	t.Run("javac-and-run", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		native := runNative(t, dir, []string{"WORK=" + dir}, nil, "/bin/sh", "-c", javaScript)
		if native.ExitCode != 0 {
			t.Fatalf("native javac/java: %s", native)
		}
		got := runGuest(t, harness.Guest{Env: []string{"WORK=/tmp"}}, nil, "/bin/sh", "-c", javaScript)
		checkExitedNormally(t, got)
		checkResult(t, got, native, true)
	})
}
