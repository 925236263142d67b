package shimtest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The tests build the C shim as `make build` ships it.
func TestCFlagsMatchMakefile(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^SHIM_CFLAGS := (.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Fatal("no SHIM_CFLAGS in the Makefile")
	}
	if got, want := string(m[1]), strings.Join(CFlags, " "); got != want {
		t.Errorf("Makefile SHIM_CFLAGS %q, shimtest.CFlags %q", got, want)
	}
}

func TestBuild(t *testing.T) {
	out := filepath.Join(t.TempDir(), "cronguard-shim")
	if err := Build(out); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(out); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("%s: %v", out, err)
	}
}
