package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/cronguard/cronguard/supervise"
)

// shimArg makes the bench binary measure what the supervise shim costs per
// run, in a process of its own that is a child subreaper, as cronguard is:
// supervise.Start of /bin/true through each given shim binary and directly
// (WithoutShim), interleaved. It prints the samples as JSON, the direct
// runs last.
//
//	bench __bench_shim N SHIM...
const shimArg = "__bench_shim"

func shimMain(args []string) {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: bench "+shimArg+" N SHIM...")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(args[0])
	shims := args[1:]
	if err := supervise.SetSubreaper(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	run := func(opts ...supervise.Option) time.Duration {
		t0 := time.Now()
		c, err := supervise.Start(supervise.Spec{Path: "/bin/true", Args: []string{"true"}}, opts...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		<-c.Done()
		d := time.Since(t0)
		if r := c.Result(); r.ExitCode != 0 {
			fmt.Fprintf(os.Stderr, "supervise: %+v\n", r)
			os.Exit(1)
		}
		return d
	}
	out := make([][]time.Duration, len(shims)+1)
	for i := range n + 10 {
		for j, s := range shims {
			d := run(supervise.WithShim(s))
			if i >= 10 { // warm-up
				out[j] = append(out[j], d)
			}
		}
		d := run(supervise.WithoutShim())
		if i >= 10 {
			out[len(shims)] = append(out[len(shims)], d)
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

// shimRow is one way of starting the job.
type shimRow struct {
	name string
	s    sample
}

// shimCost measures the shims (name -> binary) against a direct start.
func shimCost(self string, n int, names, bins []string) ([]shimRow, error) {
	args := append([]string{shimArg, strconv.Itoa(n)}, bins...)
	out, err := exec.Command(self, args...).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		return nil, err
	}
	var s [][]time.Duration
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, err
	}
	if len(s) != len(bins)+1 {
		return nil, fmt.Errorf("shim cost: %d samples for %d shims", len(s), len(bins))
	}
	var rows []shimRow
	for i, name := range names {
		rows = append(rows, shimRow{name, s[i]})
	}
	return append(rows, shimRow{"direct (supervise.WithoutShim)", s[len(bins)]}), nil
}
