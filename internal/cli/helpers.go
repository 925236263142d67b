package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
)

// findHelper looks for one of cronguard's helper binaries (kept out of
// cronguard so that every cron run does not pay for what they link): next
// to the running cronguard (a build tree: bin/), then where cronguard's
// .deb puts it, then PATH.
func findHelper(name, installPath string) (string, error) {
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), name))
		}
	}
	for _, p := range append(candidates, installPath) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to cronguard, in %s or in PATH: install cronguard's .deb or build it (go build ./cmd/%s)", name, path.Dir(installPath), name)
}
