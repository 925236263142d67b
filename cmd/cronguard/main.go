// Command cronguard runs cron jobs on the hosts assigned to them, never
// twice at once; see the README.
package main

import (
	"os"
	"runtime"

	"github.com/cronguard/cronguard/internal/cli"
)

func main() {
	// One P, first thing: cronguard (and its shim, the same binary
	// re-exec'd) waits on ZooKeeper and on its job, and with one P the
	// runtime starts fewer threads and parks fewer idle Ps; at a minute
	// boundary, hundreds of wrappers share the box's cores. Measured in
	// BENCHMARKS.md (issue 16).
	runtime.GOMAXPROCS(1)
	os.Exit(cli.Main(os.Args))
}
