// Command cronguard runs cron jobs on the hosts assigned to them, never
// twice at once; see the README.
package main

import (
	"os"

	"github.com/cronguard/cronguard/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
