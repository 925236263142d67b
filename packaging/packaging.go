// Package packaging describes the Debian packages cronguard builds: what a
// package holds and what Debian asks of it (names, versions, the copyright
// file and changelog lintian requires). It has no packager in it: the
// .deb writer (nfpm, in packaging/nfpmdeb) is linked only into the
// separate cronguard-package binary, never into cronguard, which every
// cron run starts.
package packaging

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("packaging: invalid")

// The patterns compile on first use: cronguard links this package, and
// every cron run would pay for compiling them at init.
var (
	// nameRE is Debian policy 5.6.1.
	nameRE = lazyRE(`^[a-z0-9][a-z0-9+.-]+$`)
	// versionRE is Debian policy 5.6.12: [epoch:]upstream[-revision].
	versionRE    = lazyRE(`^(?:[0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`)
	maintainerRE = lazyRE(`^[^<>\n]+ <[^<>@\s]+@[^<>@\s]+\.[^<>@\s]+>$`)
)

func lazyRE(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// Spec is what `cronguard package` hands to cronguard-package: the
// packages to build, as JSON.
type Spec struct {
	Packages []Package `json:"packages"`
}

// Package is one .deb.
type Package struct {
	Name       string `json:"name"`
	Version    string `json:"version"`
	Arch       string `json:"arch"` // Debian's: all, amd64, arm64
	Maintainer string `json:"maintainer"`
	Synopsis   string `json:"synopsis"`
	// Description is the extended description: paragraphs separated by a
	// blank line.
	Description string   `json:"description"`
	Section     string   `json:"section,omitempty"`  // default admin
	Priority    string   `json:"priority,omitempty"` // default optional
	Homepage    string   `json:"homepage,omitempty"`
	Depends     []string `json:"depends,omitempty"`
	Recommends  []string `json:"recommends,omitempty"`
	// Copyright is /usr/share/doc/<name>/copyright; Changes is the text of
	// the changelog's one entry.
	Copyright string    `json:"copyright"`
	Changes   string    `json:"changes"`
	Date      time.Time `json:"date"` // changelog date and file times
	Files     []File    `json:"files"`
	// Scripts are the maintainer scripts, by name (postinst, prerm,
	// postrm): their whole text.
	Scripts map[string]string `json:"scripts,omitempty"`
}

// File is one file the package installs, owned by root.
type File struct {
	Src      string      `json:"src"`
	Dst      string      `json:"dst"`
	Mode     fs.FileMode `json:"mode"`
	Conffile bool        `json:"conffile,omitempty"`
}

// CheckName validates a Debian package name. Every name it accepts without
// '+' or '.' is also a valid /etc/cron.d file name.
func CheckName(name string) error {
	if !nameRE().MatchString(name) {
		return fmt.Errorf("%w: package name %q: Debian wants lowercase letters, digits, '+', '-', '.', at least 2 characters, starting with a letter or digit", ErrInvalid, name)
	}
	return nil
}

// CheckVersion validates a Debian version.
func CheckVersion(v string) error {
	if !versionRE().MatchString(v) || strings.HasSuffix(v, "-") {
		return fmt.Errorf("%w: version %q: Debian wants [epoch:]upstream[-revision], upstream starting with a digit, letters, digits and . + ~ - only", ErrInvalid, v)
	}
	return nil
}

// DebianVersion turns a build version (git describe: v1.2.0,
// v1.2.0-3-gabc1234-dirty, abc1234) into a Debian version: the leading v
// goes, '-' becomes '+' (so the result stays a native version that sorts
// after the tag), and a version not starting with a digit gets "0~".
func DebianVersion(v string) string {
	v = strings.TrimPrefix(v, "v")
	v = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '+', r == '~':
			return r
		default:
			return '+'
		}
	}, v)
	if v == "" || v[0] < '0' || v[0] > '9' {
		v = "0~" + v
	}
	return v
}

// DefaultVersion is the version of a package built without --version: the
// build time, so that every build upgrades the one before (a later
// explicit 1.0 still sorts above it). SOURCE_DATE_EPOCH, when set, makes it
// reproducible.
func DefaultVersion(t time.Time) string {
	return "0." + t.UTC().Format("20060102150405")
}

// BuildTime is SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func BuildTime(getenv func(string) string) time.Time {
	var sec int64
	if _, err := fmt.Sscan(getenv("SOURCE_DATE_EPOCH"), &sec); err == nil && sec > 0 {
		return time.Unix(sec, 0).UTC()
	}
	return time.Now().UTC().Truncate(time.Second)
}

// Validate checks what the builder and lintian would refuse, all at once.
func (p *Package) Validate() error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalid, p.Name, fmt.Sprintf(format, args...)))
	}
	if err := CheckName(p.Name); err != nil {
		errs = append(errs, err)
	}
	if err := CheckVersion(p.Version); err != nil {
		add("%v", strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": "))
	}
	if p.Arch == "" {
		add("no architecture")
	}
	if !maintainerRE().MatchString(p.Maintainer) {
		add("maintainer %q: want \"Full Name <user@domain.tld>\"", p.Maintainer)
	}
	switch {
	case p.Synopsis == "" || strings.ContainsAny(p.Synopsis, "\n\r"):
		add("synopsis: want one non-empty line")
	case len(p.Synopsis) > 80:
		add("synopsis: %d characters, Debian wants at most 80", len(p.Synopsis))
	}
	seen := map[string]bool{}
	for _, f := range p.Files {
		switch {
		case !path.IsAbs(f.Dst) || path.Clean(f.Dst) != f.Dst:
			add("file %q: want an absolute, clean destination", f.Dst)
		case strings.HasPrefix(f.Dst, "/usr/local/"):
			add("file %q: Debian packages must not install into /usr/local", f.Dst)
		case seen[f.Dst]:
			add("file %q: installed twice", f.Dst)
		case f.Mode&^0o777 != 0 || f.Mode == 0:
			add("file %q: mode %#o: want permission bits only", f.Dst, f.Mode)
		case strings.HasPrefix(f.Dst, "/etc/") && !f.Conffile:
			add("file %q: files in /etc must be conffiles", f.Dst)
		}
		seen[f.Dst] = true
	}
	return errors.Join(errs...)
}

// Native reports whether the version has no Debian revision: such a
// package's changelog is changelog.gz, else changelog.Debian.gz.
func (p *Package) Native() bool {
	_, upstream, ok := strings.Cut(p.Version, ":")
	if !ok {
		upstream = p.Version
	}
	return !strings.Contains(upstream, "-")
}

// DocDir is /usr/share/doc/<name>.
func (p *Package) DocDir() string { return "/usr/share/doc/" + p.Name }

// ChangelogName is the changelog's installed name.
func (p *Package) ChangelogName() string {
	if p.Native() {
		return "changelog.gz"
	}
	return "changelog.Debian.gz"
}

// Changelog is the package's one-entry Debian changelog, gzipped.
func (p *Package) Changelog() []byte {
	changes := p.Changes
	if changes == "" {
		changes = "Built by cronguard."
	}
	text := fmt.Sprintf("%s (%s) unstable; urgency=medium\n\n  * %s\n\n -- %s  %s\n",
		p.Name, p.Version, wrap(changes, 72, "    "), p.Maintainer, p.Date.UTC().Format(time.RFC1123Z))
	return Gzip([]byte(text))
}

// CopyrightText is the copyright file. When Copyright is empty it is
// generated, naming the maintainer: the scripts are the maintainer's, and
// a real notice can be passed instead.
func (p *Package) CopyrightText() []byte {
	if p.Copyright != "" {
		return []byte(strings.TrimRight(p.Copyright, "\n") + "\n")
	}
	holder, _, _ := strings.Cut(p.Maintainer, " <")
	return []byte(fmt.Sprintf("%s was built by cronguard from scripts and their METADATA blocks.\n\nCopyright %d %s\n",
		p.Name, p.Date.UTC().Year(), holder))
}

// LongDescription is the Description field as lines: the synopsis, then
// the extended description wrapped at 78 columns, paragraphs separated by
// an empty line (the writer adds Debian's leading space and " .").
func (p *Package) LongDescription() string {
	lines := []string{p.Synopsis}
	for _, para := range strings.Split(strings.TrimSpace(p.Description), "\n\n") {
		if words := strings.Fields(para); len(words) > 0 {
			if len(lines) > 1 {
				lines = append(lines, "")
			}
			lines = append(lines, wrap(strings.Join(words, " "), 78, ""))
		}
	}
	return strings.Join(lines, "\n")
}

// wrap fills text to width columns; lines after the first get indent.
func wrap(text string, width int, indent string) string {
	var (
		b   strings.Builder
		col int
	)
	for i, w := range strings.Fields(text) {
		if i > 0 && col+1+len(w) > width {
			b.WriteString("\n" + indent)
			col = len(indent)
		} else if i > 0 {
			b.WriteByte(' ')
			col++
		}
		b.WriteString(w)
		col += len(w)
	}
	return b.String()
}

// Gzip compresses at level 9 with no name or time in the header: what
// lintian expects of man pages and changelogs, and reproducible.
func Gzip(data []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	_, _ = zw.Write(data)
	_ = zw.Close()
	return buf.Bytes()
}

// ReadSpec reads a Spec from a file, "-" for stdin.
func ReadSpec(name string) (*Spec, error) {
	var (
		data []byte
		err  error
	)
	if name == "-" {
		data, err = readAll(os.Stdin)
	} else {
		data, err = os.ReadFile(name)
	}
	if err != nil {
		return nil, err
	}
	var s Spec
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%w: spec %s: %v", ErrInvalid, name, err)
	}
	return &s, nil
}

func readAll(f *os.File) ([]byte, error) {
	var buf bytes.Buffer
	_, err := buf.ReadFrom(f)
	return buf.Bytes(), err
}

// SortFiles orders files by destination, for stable package contents.
func SortFiles(files []File) {
	sort.Slice(files, func(i, j int) bool { return files[i].Dst < files[j].Dst })
}

// PlaceholderMaintainer is the maintainer of packages built without one:
// lintian-clean (no root, no bogus host), and plainly a placeholder.
const PlaceholderMaintainer = "cronguard package <cronguard@example.com>"

// DefaultMaintainer returns flag when set, else "$DEBFULLNAME <$DEBEMAIL>"
// (Debian's convention, as dch reads it; EMAIL also counts), else the
// placeholder, and tells whether it is the placeholder.
func DefaultMaintainer(flag string, getenv func(string) string) (string, bool) {
	if flag != "" {
		return flag, false
	}
	email := getenv("DEBEMAIL")
	if email == "" {
		email = getenv("EMAIL")
	}
	if email == "" {
		return PlaceholderMaintainer, true
	}
	if strings.Contains(email, "<") { // DEBEMAIL may hold "Name <email>"
		return email, false
	}
	name := getenv("DEBFULLNAME")
	if name == "" {
		name, _, _ = strings.Cut(email, "@")
	}
	return name + " <" + email + ">", false
}
