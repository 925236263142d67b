package supervise

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestShimEnvRoundTrip(t *testing.T) {
	for _, env := range [][]string{
		{"A=1", "B=2"},
		{"A=1", "GOMAXPROCS=3", "B=2"},
		{"GOMAXPROCS="},
	} {
		sh := shimEnv(env)
		if n := slices.Index(sh, "GOMAXPROCS=1"); n < 0 || slices.ContainsFunc(sh[:n], func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") }) {
			t.Errorf("shimEnv(%q) = %q: want GOMAXPROCS=1 only", env, sh)
		}
		got := jobEnv(sh)
		slices.Sort(got)
		want := slices.Clone(env)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("jobEnv(shimEnv(%q)) = %q", env, got)
		}
	}
}

// The shim runs with GOMAXPROCS=1; the job gets its own environment's
// GOMAXPROCS, or none, never the shim's.
func TestJobDoesNotInheritShimGOMAXPROCS(t *testing.T) {
	base := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "GOMAXPROCS=") })
	for _, c := range []struct {
		name, want string
		env        []string
	}{
		{"unset", "unset", base},
		{"set by the caller", "3", append(slices.Clone(base), "GOMAXPROCS=3")},
	} {
		for _, prepared := range []bool{false, true} {
			t.Run(c.name+map[bool]string{true: ", prepared", false: ""}[prepared], func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out")
				// The job prints its GOMAXPROCS and its parent's (the shim's).
				script := `echo "${GOMAXPROCS-unset} $(tr '\0' '\n' < /proc/$PPID/environ | grep '^GOMAXPROCS=')" > ` + out
				spec := Spec{Path: "/bin/sh", Args: []string{"sh", "-c", script}, Env: c.env}
				var ch *Child
				var err error
				if prepared {
					var p *Pending
					if p, err = Prepare(spec, WithShim(testExe)); err == nil {
						ch, err = p.Go(nil)
					}
				} else {
					ch, err = Start(spec, WithShim(testExe))
				}
				if err != nil {
					t.Fatal(err)
				}
				select {
				case <-ch.Done():
				case <-time.After(5 * time.Second):
					t.Fatal("not done")
				}
				if r := ch.Result(); r.ExitCode != 0 {
					t.Fatalf("result %+v", r)
				}
				b, _ := os.ReadFile(out)
				if got, want := strings.TrimSpace(string(b)), c.want+" GOMAXPROCS=1"; got != want {
					t.Errorf("job and shim saw %q, want %q", got, want)
				}
			})
		}
	}
}
