//go:build ignore

// gen assembles stub.S with the machine's GNU assembler (through gcc) and
// writes stub_amd64.go: the code bytes and the offsets of its entry points.
// Run it with `go generate ./platform/systrap`.
package main

import (
	"log"
	"os"

	"github.com/litebox-go/litebox/platform/systrap/internal/stubgen"
)

func main() {
	src, err := stubgen.Generate("stub.S")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("stub_amd64.go", src, 0o644); err != nil {
		log.Fatal(err)
	}
}
