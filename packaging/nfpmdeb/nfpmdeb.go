// Package nfpmdeb writes the .deb of a packaging.Package with
// goreleaser/nfpm. Only cmd/cronguard-package imports it: nfpm costs every
// process that links it about 1.3 ms of package init and 6 MB, which cron
// runs must not pay.
package nfpmdeb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/cronguard/cronguard/packaging"
)

// ErrBuild is wrapped by the errors of Build.
var ErrBuild = errors.New("nfpmdeb: build failed")

// FileName is the conventional name of p's .deb: name_version_arch.deb,
// without the epoch.
func FileName(p *packaging.Package) string {
	v := p.Version
	if _, after, ok := strings.Cut(v, ":"); ok {
		v = after
	}
	return fmt.Sprintf("%s_%s_%s.deb", p.Name, v, p.Arch)
}

// Build writes p's .deb into outDir (atomically: a temporary file renamed)
// and returns its path. The package also gets the copyright file and the
// changelog Debian requires.
func Build(p *packaging.Package, outDir string) (string, error) {
	if err := p.Validate(); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp("", "cronguard-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	docs := []struct {
		name string
		data []byte
	}{
		{"copyright", p.CopyrightText()},
		{p.ChangelogName(), p.Changelog()},
	}
	all := append([]packaging.File(nil), p.Files...)
	for _, d := range docs {
		src := filepath.Join(tmp, d.name)
		if err := os.WriteFile(src, d.data, 0o644); err != nil {
			return "", err
		}
		all = append(all, packaging.File{Src: src, Dst: p.DocDir() + "/" + d.name, Mode: 0o644})
	}
	packaging.SortFiles(all)
	var contents files.Contents
	for _, f := range all {
		typ := files.TypeFile
		if f.Conffile {
			typ = files.TypeConfig
		}
		contents = append(contents, &files.Content{
			Source: f.Src, Destination: f.Dst, Type: typ,
			FileInfo: &files.ContentFileInfo{Owner: "root", Group: "root", Mode: f.Mode, MTime: p.Date},
		})
	}
	scripts, err := writeScripts(p, tmp)
	if err != nil {
		return "", err
	}
	epoch, version := "", p.Version
	if e, v, ok := strings.Cut(p.Version, ":"); ok {
		epoch, version = e, v
	}
	info := &nfpm.Info{
		Name:     p.Name,
		Arch:     p.Arch,
		Platform: "linux",
		Epoch:    epoch,
		Version:  version,
		// "none": nfpm would otherwise rewrite versions as semver (1.2 -> 1.2.0).
		VersionSchema: "none",
		Section:       or(p.Section, "admin"),
		Priority:      or(p.Priority, "optional"),
		Maintainer:    p.Maintainer,
		Description:   p.LongDescription(),
		Homepage:      p.Homepage,
		// Modes are given exactly; nfpm must not mask them.
		Overridables: nfpm.Overridables{Depends: p.Depends, Recommends: p.Recommends, Contents: contents, Umask: 0o022, Scripts: scripts},
		MTime:        p.Date,
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(outDir, FileName(p))
	f, err := os.CreateTemp(outDir, "."+p.Name+".deb-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		return "", fmt.Errorf("%w: %s: %v", ErrBuild, p.Name, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
