//go:build linux

package supervise

import "strings"

// The shim runs with GOMAXPROCS=1: it only waits for the go, forks the job
// and reaps, and the Go runtime reads GOMAXPROCS from the environment when
// it starts, so one P spares it threads and CPU at every run (measured in
// BENCHMARKS.md, issue 16). The job must not inherit that setting: the
// shim's environment carries the job's own GOMAXPROCS, if it had one, in
// jobProcsVar, and the shim puts it back (or leaves GOMAXPROCS unset)
// before it starts the job.
const jobProcsVar = "CRONGUARD_JOB_GOMAXPROCS"

// shimEnv returns the shim's environment for a job environment env.
func shimEnv(env []string) []string {
	out := make([]string, 0, len(env)+2)
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GOMAXPROCS="):
			out = append(out, jobProcsVar+"="+kv[len("GOMAXPROCS="):])
		case strings.HasPrefix(kv, jobProcsVar+"="):
		default:
			out = append(out, kv)
		}
	}
	return append(out, "GOMAXPROCS=1")
}

// jobEnv undoes shimEnv: the environment the job gets from the shim's.
func jobEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GOMAXPROCS="):
		case strings.HasPrefix(kv, jobProcsVar+"="):
			out = append(out, "GOMAXPROCS="+kv[len(jobProcsVar+"="):])
		default:
			out = append(out, kv)
		}
	}
	return out
}
