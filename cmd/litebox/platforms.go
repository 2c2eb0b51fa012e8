package main

import (
	"fmt"
	"strings"

	"github.com/litebox-go/litebox/platform"
)

// platformHelp lists the registered platforms for --platform's help, most
// preferred (the one auto tries first) first.
func platformHelp() string {
	var names []string
	for _, p := range platform.Registered() {
		names = append(names, fmt.Sprintf("%s (%s)", p.Name, p.Summary))
	}
	return "how guest code runs: " + strings.Join(names, ", ") + " or auto (the first of those the host allows)"
}
