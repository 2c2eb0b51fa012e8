package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/litebox-go/litebox/sandbox"
)

// A sandbox runs commands like os/exec; they share its file systems.
func Example() {
	sb, err := sandbox.New(sandbox.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	if err := sb.Command("/bin/sh", "-c", "echo hi > /tmp/x").Run(); err != nil {
		fmt.Println(err)
		return
	}
	cmd := sb.CommandContext(ctx, "/bin/cat", "/tmp/x")
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := cmd.Start(); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := io.ReadAll(out)
	fmt.Printf("%s", data)
	fmt.Println(cmd.Wait())

	err = sb.Command("/bin/sh", "-c", "exit 3").Run()
	fmt.Println(err.(*sandbox.ExitError).ExitCode())
	// Output:
	// hi
	// <nil>
	// 3
}
