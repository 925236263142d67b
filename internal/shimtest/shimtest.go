// Package shimtest builds the C shim (supervise/cshim) for tests, with the
// flags the Makefile ships it with. Only tests import it.
package shimtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Source is the C shim's source, relative to the module root.
const Source = "supervise/cshim/cronguard-shim.c"

// CFlags are the C compiler flags of `make build` (SHIM_CFLAGS in the
// Makefile; a test keeps the two equal). Static: no ld.so and libc
// start-up at each run. The hardening flags are Debian's defaults.
var CFlags = []string{
	"-std=c11", "-O2", "-Wall", "-Wextra", "-Werror",
	"-fstack-protector-strong", "-D_FORTIFY_SOURCE=2",
	"-static", "-s", "-Wl,-z,relro,-z,now",
}

// ModuleRoot is the directory of go.mod above the working directory (a
// test's is its package's).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// Build compiles the C shim to out with cc.
func Build(out string) error {
	root, err := ModuleRoot()
	if err != nil {
		return err
	}
	args := append(append([]string(nil), CFlags...), "-o", out, filepath.Join(root, Source))
	if b, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("building the C shim (needs a C compiler and libc6-dev): cc %v: %v\n%s", args, err, b)
	}
	// As the Makefile: without the compiler's .comment from static libc.
	if b, err := exec.Command("strip", "--remove-section=.comment", out).CombinedOutput(); err != nil {
		return fmt.Errorf("strip %s: %v\n%s", out, err, b)
	}
	return nil
}
