// Command minshim is a measurement prop for `make bench`, not part of
// cronguard: the supervise shim alone in a binary of its own (no ZooKeeper
// client, cobra, zerolog sinks or config package to load and initialise),
// built with CGO_ENABLED=0. The bench compares the shim's per-run cost
// through it with the cost through cronguard's re-exec'd binary, to size
// what a dedicated shim binary would save.
package main

import (
	"os"

	"github.com/cronguard/cronguard/supervise"
)

func main() {
	if !supervise.IsShim(os.Args[1:]) {
		os.Stderr.WriteString("minshim: only runs as a shim (" + supervise.ShimArg + ")\n")
		os.Exit(2)
	}
	os.Exit(supervise.RunShim(os.Args[1:]))
}
