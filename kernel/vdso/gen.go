//go:build ignore

// gen builds the guest's vDSO (vdso.S linked with vdso.lds and vdso.ver)
// with the machine's gcc and writes vdso.so, which litebox embeds. Run it with
// `go generate ./kernel/vdso`.
package main

import (
	"log"
	"os"

	"github.com/litebox-go/litebox/kernel/vdso/internal/vdsogen"
)

func main() {
	so, err := vdsogen.Generate(".")
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("vdso.so", so, 0o644); err != nil {
		log.Fatal(err)
	}
}
