package cli

import (
	"os"
	"path/filepath"

	"github.com/cronguard/cronguard/metadata"
	"github.com/cronguard/cronguard/packaging"
)

// addUnits adds to p the units of its entries (package --systemd), in
// metadata.SystemdUnitDir, and the maintainer scripts that enable and
// start its timers on install and stop them on removal.
func addUnits(p *packaging.Package, timers []metadata.Timer, tmp string) error {
	var names []string
	for _, t := range timers {
		if t.Package != p.Name {
			continue
		}
		for _, u := range []metadata.Unit{t.Timer, t.Service} {
			src := filepath.Join(tmp, p.Name+"."+u.Name)
			if err := os.WriteFile(src, u.Data, 0o644); err != nil {
				return err
			}
			p.Files = append(p.Files, packaging.File{Src: src, Dst: metadata.SystemdUnitDir + "/" + u.Name, Mode: 0o644})
		}
		names = append(names, t.Timer.Name)
	}
	if len(names) == 0 {
		return nil
	}
	p.Scripts = packaging.SystemdScripts(names)
	// Essential, but deb-systemd-helper's update-state came later: the
	// version debhelper asks for.
	p.Depends = append(p.Depends, "init-system-helpers (>= 1.54~)")
	p.Description += " Its systemd timers (" + metadata.SystemdUnitDir + ") run the jobs on hosts booted with systemd; the cron lines then do nothing."
	return nil
}
