// Command shimbench measures what the supervise shim costs per run: it runs
// a command (default /usr/bin/true) N times through the shim (this binary,
// re-exec'd as /proc/self/exe, like cronguard) and N times directly
// (supervise.WithoutShim), interleaved, and prints the mean wall time of
// each and their difference.
//
//	go build -o /tmp/shimbench ./supervise/internal/shimbench && /tmp/shimbench -n 2000
//	/tmp/shimbench -n 2000 -shim /path/to/cronguard
package main

import (
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/cronguard/cronguard/supervise"
)

func main() {
	if supervise.IsShim(os.Args[1:]) {
		os.Exit(supervise.RunShim(os.Args[1:]))
	}
	n := flag.Int("n", 1000, "runs per mode")
	shimExe := flag.String("shim", "", "binary to run as the shim (default: this one); cronguard itself works")
	flag.Parse()
	if *n <= 0 {
		return // measures this binary's own start and exit
	}
	cmd := flag.Args()
	if len(cmd) == 0 {
		cmd = []string{"/usr/bin/true"}
	}
	if err := supervise.SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	run := func(opts ...supervise.Option) time.Duration {
		t0 := time.Now()
		c, err := supervise.Start(supervise.Spec{Path: cmd[0], Args: cmd}, opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		<-c.Done()
		if r := c.Result(); r.ExitCode != 0 {
			fmt.Fprintf(os.Stderr, "%+v\n", r)
			os.Exit(1)
		}
		return time.Since(t0)
	}
	var shimOpts []supervise.Option
	if *shimExe != "" {
		shimOpts = append(shimOpts, supervise.WithShim(*shimExe))
	}
	var shim, direct []time.Duration
	for i := 0; i < *n; i++ {
		shim = append(shim, run(shimOpts...))
		direct = append(direct, run(supervise.WithoutShim()))
	}
	s, d := stats(shim), stats(direct)
	fmt.Printf("shim   mean %v median %v\ndirect mean %v median %v\nshim costs %v per run (mean), %v (median)\n",
		s[0], s[1], d[0], d[1], s[0]-d[0], s[1]-d[1])
}

func stats(ds []time.Duration) [2]time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return [2]time.Duration{sum / time.Duration(len(ds)), ds[len(ds)/2]}
}
