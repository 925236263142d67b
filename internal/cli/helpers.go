package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/cronguard/cronguard/supervise"
)

// findHelper looks for one of cronguard's helper binaries (kept out of
// cronguard so that every cron run does not pay for what they link): next
// to the running cronguard (a build tree: bin/), then where cronguard's
// .deb puts it, then PATH.
func findHelper(name, installPath string) (string, error) {
	if p := findBesideOrInstalled(name, installPath); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to cronguard, in %s or in PATH: install cronguard's .deb or build it (go build ./cmd/%s)", name, path.Dir(installPath), name)
}

// findBesideOrInstalled is findHelper without PATH: the executable name
// next to the running cronguard, else installPath, else "".
func findBesideOrInstalled(name, installPath string) string {
	var candidates []string
	if exe, err := os.Executable(); err == nil {
		if exe, err := filepath.EvalSymlinks(exe); err == nil {
			candidates = append(candidates, filepath.Join(filepath.Dir(exe), name))
		}
	}
	for _, p := range append(candidates, installPath) {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	return ""
}

// shimName is the C shim (supervise/cshim), installed by the .deb at
// ShimInstallPath.
const shimName = "cronguard-shim"

// ShimInstallPath is where cronguard's .deb installs the C shim.
const ShimInstallPath = "/usr/lib/cronguard/" + shimName

// shimOption picks the job's shim: the C shim, next to cronguard or where
// the .deb puts it (never from PATH: it runs every job), which starts in a
// fraction of the Go shim's time; else cronguard itself re-exec'd (the Go
// shim, same protocol), so a binary built with `go build` alone works.
func shimOption(log zerolog.Logger) supervise.Option {
	if p := findBesideOrInstalled(shimName, ShimInstallPath); p != "" {
		return supervise.WithShim(p)
	}
	log.Debug().Msg("no " + shimName + " next to cronguard or at " + ShimInstallPath + ": the job's shim is cronguard itself")
	return supervise.WithShim("/proc/self/exe")
}
