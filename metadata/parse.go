package metadata

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

const (
	openTag  = "<crontab>"
	closeTag = "</crontab>"

	// switchman's form nests these in a <crontab> block.
	swOpenTag      = "<switchman>"
	swCloseTag     = "</switchman>"
	leasesOpenTag  = "<leases>"
	leasesCloseTag = "</leases>"
)

// commentMarkers are the line comments a block may sit in; "//" first, so
// that "//" is not read as an unknown marker.
var commentMarkers = []string{"//", "#"}

var (
	keyRE = lazyRE(`^[A-Za-z_]+$`)
	// tagRE is a line that opens or closes a block, such as <juggler>.
	tagRE = lazyRE(`^</?[A-Za-z_][A-Za-z0-9_.-]*>$`)
)

// rawBlock is a <crontab> block before validation.
type rawBlock struct {
	line   int
	marker string // "" in POD, else the comment marker every line carries
	keys   map[string]int
	values map[string]string
	bad    bool // a line of it had a problem
	sw     *rawSwitchman
}

// rawSwitchman is the <switchman> block nested in a <crontab> block.
type rawSwitchman struct {
	line       int
	keys       map[string]int
	values     map[string]string
	open       bool // </switchman> not read yet
	leasesLine int  // the line of <leases>, 0 if none
	inLeases   bool // </leases> not read yet
	leases     []SwitchmanLease
}

// SwitchmanKeys lists the keys a <switchman> block may hold, besides its
// <leases> block.
var SwitchmanKeys = []string{"group", "lockname"}

// Parse reads every METADATA block of one file. name is how errors and
// Entry.Source name the file; its base name is the script the entries run.
// It returns the valid entries and every problem found; callers must not
// use the entries of a file that has problems.
func Parse(name string, data []byte) ([]*Entry, Errors) {
	p := &parser{name: name}
	if r := badNameChar(name); r >= 0 {
		// The name goes into the cron.d file (comments, SCRIPT): a newline
		// in it would add a cron line of its own.
		p.errorf(0, "file name contains a control character (%q): a cron.d line cannot hold it; rename the file", r)
		return nil, p.errs
	}
	p.scan(data)
	// A file is in switchman's form when any of its entries nests a
	// <switchman> block (see switchman.go).
	swForm := false
	for _, b := range p.blocks {
		swForm = swForm || b.sw != nil
	}
	entries := make([]*Entry, 0, len(p.blocks))
	for _, b := range p.blocks {
		if e := p.entry(b, swForm); e != nil {
			entries = append(entries, e)
		}
	}
	if len(p.errs) == 0 {
		p.deriveLocks(entries)
	}
	p.errs.sort()
	return entries, p.errs
}

type parser struct {
	name   string
	blocks []*rawBlock
	errs   Errors
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.name, Line: line, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) scan(data []byte) {
	var (
		inPOD bool // inside a =head METADATA section
		cur   *rawBlock
	)
	unterminated := func() {
		p.errorf(cur.line, "unterminated block: %s has no %s", openTag, closeTag)
		cur = nil
	}
	n := 0
	for len(data) > 0 {
		n++
		var raw []byte
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			raw, data = data, nil
		}
		line := strings.TrimSuffix(string(raw), "\r") // CRLF files read the same
		if cur != nil {
			content, ok := blockContent(line, cur.marker)
			if !ok {
				// The block ended without its close tag; the line is read
				// again below as an ordinary line.
				unterminated()
			} else {
				switch content {
				case closeTag:
					p.closeNested(cur)
					p.blocks = append(p.blocks, cur)
					cur = nil
				case openTag:
					m := cur.marker
					unterminated()
					cur = p.newBlock(n, m)
				default:
					p.field(cur, n, content)
				}
				continue
			}
		}
		if inPOD {
			t := strings.TrimSpace(line)
			switch {
			case strings.HasPrefix(line, "="):
				inPOD = isMetadataHeading(line)
			case t == openTag:
				cur = p.newBlock(n, "")
			case t == closeTag:
				p.errorf(n, "%s without %s", closeTag, openTag)
			case t == swOpenTag || t == swCloseTag:
				p.errorf(n, "%s outside %s: switchman's form nests it in each entry", t, openTag)
			}
			continue
		}
		if isMetadataHeading(line) {
			inPOD = true
			continue
		}
		if marker, tag := openComment(line); tag == openTag {
			cur = p.newBlock(n, marker)
		} else if tag == closeTag {
			p.errorf(n, "%s without %s", closeTag, openTag)
		} else if tag == swOpenTag || tag == swCloseTag {
			p.errorf(n, "%s outside %s: switchman's form nests it in each entry", tag, openTag)
		}
	}
	if cur != nil {
		unterminated()
	}
}

func (p *parser) newBlock(line int, marker string) *rawBlock {
	return &rawBlock{line: line, marker: marker, keys: map[string]int{}, values: map[string]string{}}
}

// isMetadataHeading matches switchman's "=head1 METADATA" (any level).
func isMetadataHeading(line string) bool {
	f := strings.Fields(line)
	return len(f) == 2 && f[1] == "METADATA" && strings.HasPrefix(f[0], "=head")
}

// openComment returns the comment marker and the tag of a line that is a
// comment holding only <crontab>, </crontab>, <switchman> or </switchman>.
func openComment(line string) (marker, tag string) {
	lt := strings.TrimLeft(line, " \t")
	for _, m := range commentMarkers {
		if rest, ok := strings.CutPrefix(lt, m); ok {
			t := strings.TrimSpace(rest)
			if t == openTag || t == closeTag || t == swOpenTag || t == swCloseTag {
				return m, t
			}
			return "", ""
		}
	}
	return "", ""
}

// blockContent returns a block line without its comment marker; ok is false
// when the line cannot belong to the block (a POD command, or a line
// without the block's comment marker).
func blockContent(line, marker string) (string, bool) {
	if marker == "" {
		if strings.HasPrefix(line, "=") {
			return "", false
		}
		return strings.TrimSpace(line), true
	}
	rest, ok := strings.CutPrefix(strings.TrimLeft(line, " \t"), marker)
	if !ok {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// field records one line of a block.
func (p *parser) field(b *rawBlock, line int, content string) {
	if content == "" || strings.HasPrefix(content, "#") {
		return // blank lines and comments inside a block
	}
	if tagRE().MatchString(content) {
		p.nestedTag(b, line, content)
		return
	}
	if sw := b.sw; sw != nil && sw.inLeases {
		p.leaseField(b, line, content)
		return
	}
	if sw := b.sw; sw != nil && sw.open {
		p.switchmanField(b, line, content)
		return
	}
	k, v, ok := p.keyLine(b, line, content)
	if !ok {
		return
	}
	if !knownKey(k) {
		b.bad = true
		p.errorf(line, "unknown key %q (keys: %s)", k, strings.Join(Keys, ", "))
		return
	}
	if !p.record(b.keys, b.values, line, k, v) {
		b.bad = true
	}
}

// keyLine splits a "key: value" line of a <crontab> or <switchman> block
// into its key (lower case) and value; a line that is not one marks the
// block bad and is reported (ok false).
func (p *parser) keyLine(b *rawBlock, line int, content string) (k, v string, ok bool) {
	k, v, ok = strings.Cut(content, ":")
	k = strings.TrimSpace(k)
	if !ok || !keyRE().MatchString(k) {
		b.bad = true
		p.errorf(line, "want \"key: value\", got %q (a value must fit on one line)", content)
		return "", "", false
	}
	return strings.ToLower(k), v, true
}

// record keeps k's value and line, or reports k as a duplicate (false):
// a <crontab> block and a <switchman> block read their keys alike.
func (p *parser) record(keys map[string]int, values map[string]string, line int, k, v string) bool {
	if first, dup := keys[k]; dup {
		p.errorf(line, "duplicate key %q (first at line %d)", k, first)
		return false
	}
	keys[k] = line
	values[k] = strings.TrimSpace(v)
	return true
}

func knownKey(k string) bool {
	for _, known := range Keys {
		if k == known {
			return true
		}
	}
	return false
}

// entry validates a block; nil when it has problems (reported). swForm
// tells that the file is in switchman's form.
func (p *parser) entry(b *rawBlock, swForm bool) *Entry {
	before := len(p.errs)
	e := &Entry{Source: p.name, Line: b.line, Script: filepath.Base(p.name), User: "root"}
	for _, req := range []string{"time", "package"} {
		if _, ok := b.keys[req]; !ok {
			p.errorf(b.line, "block has no %q", req)
		}
	}
	// Keys in a fixed order, so that problems are reported in a stable one.
	for _, k := range Keys {
		line, ok := b.keys[k]
		if !ok {
			continue
		}
		if swForm && ((b.sw != nil && switchmanOwnKeys[k] != "") || (b.sw == nil && guardKeys[k])) {
			continue // refused by switchmanEntry
		}
		v := b.values[k]
		if msg := checkChars(v); msg != "" {
			p.errorf(line, "%s: %s", k, msg)
			continue
		}
		if msg := setField(e, k, v); msg != "" {
			p.errorf(line, "%s", msg)
		}
	}
	if swForm {
		p.switchmanEntry(e, b)
	} else if e.Group == "" {
		e.Group = e.Package
	}
	if b.bad || len(p.errs) > before {
		return nil
	}
	return e
}

// deriveLocks names the lock of every entry whose block names none: the
// script's name, plus a short hash of the params when the script runs with
// several different params, so that shards of one script (--rem 0,
// --rem 1) do not serialise each other. The same params always give the
// same name.
func (p *parser) deriveLocks(entries []*Entry) {
	distinct := map[string]bool{}
	for _, e := range entries {
		if e.Switchman || e.Plain {
			return // switchman's form: locks set by switchmanEntry
		}
		if !e.LockExplicit {
			distinct[paramsKey(e.Params)] = true
		}
	}
	for _, e := range entries {
		if e.LockExplicit {
			continue
		}
		e.Lock = e.Script
		if len(distinct) > 1 {
			e.Lock += "-" + ParamsHash(e.Params)
		}
		if msg := checkLock(e.Lock); msg != "" {
			p.errorf(e.Line, "lock name %q derived from the file name: %s; name a lock in the block", e.Lock, msg)
		}
	}
}

func paramsKey(params []string) string { return strings.Join(params, "\x00") }

// ParamsHash is the stable 8-hex-digit suffix of derived lock names. It
// hashes the words, not the text, so re-spacing params keeps the lock.
func ParamsHash(params []string) string {
	sum := sha256.Sum256([]byte(paramsKey(params)))
	return hex.EncodeToString(sum[:4])
}
