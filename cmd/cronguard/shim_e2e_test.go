package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2E_ShimChoice: the job's parent is the C shim when it sits next to
// cronguard (as make build and the .deb install it), and cronguard itself
// re-exec'd (the Go shim) when it is missing; with either, the job sees
// GOMAXPROCS as cronguard got it (the Go shim runs with GOMAXPROCS=1, the
// job must not inherit that).
func TestE2E_ShimChoice(t *testing.T) {
	e := newEnv(t)
	e.writeFleet(fleetAB)
	alone := filepath.Join(t.TempDir(), "cronguard")
	copyExecutable(t, binPath, alone)
	out := filepath.Join(e.dir, "out")
	job := e.script("job", `{ readlink /proc/$PPID/exe; echo "GOMAXPROCS=${GOMAXPROCS-unset}"; } > `+out)
	for _, tc := range []struct {
		name, bin, shim string
	}{
		{"C shim beside cronguard", binPath, filepath.Join(filepath.Dir(binPath), "cronguard-shim")},
		{"Go shim: cronguard alone", alone, alone},
	} {
		for _, procs := range []string{"", "3"} {
			e.bin = tc.bin
			e.extraEnv = nil
			want := "GOMAXPROCS=unset"
			if procs != "" {
				e.extraEnv = []string{"GOMAXPROCS=" + procs}
				want = "GOMAXPROCS=" + procs
			}
			p := e.run("hostA", "run", "--group", "g", "--", job)
			if p.code != 0 {
				t.Fatalf("%s: exit %d; stderr:\n%s", tc.name, p.code, p.stderr.String())
			}
			b, _ := os.ReadFile(out)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			if len(lines) != 2 || lines[0] != tc.shim || lines[1] != want {
				t.Errorf("%s, GOMAXPROCS %q: job saw %q, want parent %s and %s", tc.name, procs, lines, tc.shim, want)
			}
		}
	}
}

func copyExecutable(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, in); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}
