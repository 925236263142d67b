package nfpmdeb

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/goreleaser/nfpm/v2"

	"github.com/cronguard/cronguard/packaging"
)

// writeScripts writes p's maintainer scripts into dir, as nfpm takes them.
func writeScripts(p *packaging.Package, dir string) (nfpm.Scripts, error) {
	var s nfpm.Scripts
	for name, text := range p.Scripts {
		var dst *string
		switch name {
		case "postinst":
			dst = &s.PostInstall
		case "prerm":
			dst = &s.PreRemove
		case "postrm":
			dst = &s.PostRemove
		case "preinst":
			dst = &s.PreInstall
		default:
			return s, fmt.Errorf("%w: %s: unknown maintainer script %q", ErrBuild, p.Name, name)
		}
		*dst = filepath.Join(dir, "script."+name)
		if err := os.WriteFile(*dst, []byte(text), 0o755); err != nil {
			return s, err
		}
	}
	return s, nil
}
