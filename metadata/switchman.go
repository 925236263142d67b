package metadata

import (
	"fmt"
	"strings"
)

// switchman's form. switchman-era trees nest a <switchman> block in each
// <crontab> entry that switchman guarded:
//
//	<crontab>
//	    time: 17 3 * * *
//	    params: --export-all
//	    package: nightly-scripts
//	    <switchman>
//	        group: batch-nightly
//	        lockname: export        (optional; default the script's name)
//	        <leases>
//	            mem: 512
//	        </leases>
//	    </switchman>
//	</crontab>
//
// and an entry without <switchman> was a plain cron line. A file uses
// switchman's form when any <crontab> block of its METADATA holds a
// <switchman> block; then
//
//   - an entry with <switchman> runs under cronguard with the block's group
//     (none: any host, as switchman without -g), switchman's lock (lockname,
//     else the script's base name, for every entry: shards share it, so a
//     switchman host and a cronguard host exclude each other) and its
//     leases, mapped to resources by gen --lease-map;
//   - an entry without it is a plain cron line, TIME USER [ENV] SCRIPT
//     PARAMS, without cronguard;
//   - group, lock and lease belong in <switchman> (as group, lockname and
//     <leases>), and a plain entry takes none of the keys that only a
//     guarded run reads (group lock lease timeout wait splay).
//
// A file without any <switchman> block is read in cronguard's own form,
// unchanged. In both forms blocks of other tools beside <crontab>
// (<juggler>, <monrun>, <ubic>, anything) are not read.

// SwitchmanLease is one NAME: COUNT line of a <leases> block.
type SwitchmanLease struct {
	Name  string
	Count string
	Line  int
}

// guardKeys are the keys only a guarded run reads: a plain entry refuses
// them. switchmanOwnKeys are set in <switchman> in switchman's form.
var (
	guardKeys = map[string]bool{"group": true, "lock": true, "lease": true, "timeout": true, "wait": true, "splay": true,
		"output": true, "persistent": true, "nice": true, "ionice": true, "rlimit": true, "memory_max": true, "cpu_max": true}
	switchmanOwnKeys = map[string]string{"group": "group:", "lock": "lockname:", "lease": "a <leases> block"}
)

// nestedTag handles a tag line inside a <crontab> block.
func (p *parser) nestedTag(b *rawBlock, line int, tag string) {
	fail := func(line int, format string, args ...any) {
		b.bad = true
		p.errorf(line, format, args...)
	}
	sw := b.sw
	switch tag {
	case swOpenTag:
		if sw != nil {
			fail(line, "second %s in one %s (first at line %d)", swOpenTag, openTag, sw.line)
			return
		}
		b.sw = &rawSwitchman{line: line, keys: map[string]int{}, values: map[string]string{}, open: true}
	case swCloseTag:
		switch {
		case sw == nil || !sw.open:
			fail(line, "%s without %s", swCloseTag, swOpenTag)
		case sw.inLeases:
			fail(sw.leasesLine, "unterminated block: %s has no %s", leasesOpenTag, leasesCloseTag)
			sw.inLeases, sw.open = false, false
		default:
			sw.open = false
		}
	case leasesOpenTag:
		switch {
		case sw == nil || !sw.open:
			fail(line, "%s outside %s: leases are set in it", leasesOpenTag, swOpenTag)
		case sw.leasesLine != 0:
			fail(line, "second %s in one %s (first at line %d)", leasesOpenTag, swOpenTag, sw.leasesLine)
		default:
			sw.leasesLine, sw.inLeases = line, true
		}
	case leasesCloseTag:
		if sw == nil || !sw.inLeases {
			fail(line, "%s without %s", leasesCloseTag, leasesOpenTag)
			return
		}
		sw.inLeases = false
	default:
		fail(line, "block %s inside %s: only %s may be nested in an entry (blocks of other tools go beside %s)", tag, openTag, swOpenTag, openTag)
	}
}

// closeNested reports the blocks left open at </crontab>.
func (p *parser) closeNested(b *rawBlock) {
	sw := b.sw
	if sw == nil || !sw.open {
		return
	}
	if sw.inLeases {
		p.errorf(sw.leasesLine, "unterminated block: %s has no %s", leasesOpenTag, leasesCloseTag)
	}
	p.errorf(sw.line, "unterminated block: %s has no %s", swOpenTag, swCloseTag)
	b.bad = true
}

// switchmanField records a key line of a <switchman> block.
func (p *parser) switchmanField(b *rawBlock, line int, content string) {
	sw := b.sw
	k, v, ok := p.keyLine(b, line, content)
	if !ok {
		return
	}
	if k != "group" && k != "lockname" {
		b.bad = true
		p.errorf(line, "unknown key %q in %s (keys: %s, and a %s block)", k, swOpenTag, strings.Join(SwitchmanKeys, ", "), leasesOpenTag)
		return
	}
	if !p.record(sw.keys, sw.values, line, k, v) {
		b.bad = true
	}
}

// leaseField records a NAME: COUNT line of a <leases> block.
func (p *parser) leaseField(b *rawBlock, line int, content string) {
	sw := b.sw
	name, count, ok := strings.Cut(content, ":")
	name, count = strings.TrimSpace(name), strings.TrimSpace(count)
	if !ok || !resourceRE().MatchString(name) {
		b.bad = true
		p.errorf(line, "%s: want \"NAME: COUNT\", got %q", leasesOpenTag, content)
		return
	}
	for _, l := range sw.leases {
		if l.Name == name {
			b.bad = true
			p.errorf(line, "%s: duplicate lease %q (first at line %d)", leasesOpenTag, name, l.Line)
			return
		}
	}
	if msg := checkChars(count); msg != "" {
		b.bad = true
		p.errorf(line, "%s: %s: %s", leasesOpenTag, name, msg)
		return
	}
	if _, valid := leaseNumber(count); !valid {
		b.bad = true
		p.errorf(line, "%s: %s: COUNT %q: want a positive whole number, CPU or MEMMB", leasesOpenTag, name, count)
		return
	}
	sw.leases = append(sw.leases, SwitchmanLease{Name: name, Count: count, Line: line})
}

// switchmanEntry fills what a file in switchman's form sets in e; it runs
// after the <crontab> keys have been read.
func (p *parser) switchmanEntry(e *Entry, b *rawBlock) {
	for _, k := range Keys {
		line, ok := b.keys[k]
		if !ok {
			continue
		}
		switch {
		case b.sw != nil && switchmanOwnKeys[k] != "":
			p.errorf(line, "%s: in switchman's form set it in %s (as %s)", k, swOpenTag, switchmanOwnKeys[k])
		case b.sw == nil && guardKeys[k]:
			p.errorf(line, "%s: this entry has no %s block, so it is a plain cron line that cronguard does not run; add a %s block or remove the key", k, swOpenTag, swOpenTag)
		}
	}
	if b.sw == nil {
		e.Plain, e.Group, e.Lock, e.Leases = true, "", "", nil
		e.Timeout, e.Wait, e.Splay, e.Output = "", "", "", ""
		return
	}
	sw := b.sw
	e.Switchman = true
	e.Group, e.Lock, e.Leases, e.LockExplicit = "", "", nil, false
	if line, ok := sw.keys["group"]; ok {
		v := sw.values["group"]
		if msg := checkChars(v); msg != "" {
			p.errorf(line, "group: %s", msg)
		} else if msg := setField(e, "group", v); msg != "" {
			p.errorf(line, "%s", msg)
		}
	}
	if line, ok := sw.keys["lockname"]; ok {
		v := sw.values["lockname"]
		switch {
		case checkChars(v) != "":
			p.errorf(line, "lockname: %s", checkChars(v))
		case v == "":
			p.errorf(line, "lockname: empty value")
		case checkLock(v) != "":
			p.errorf(line, "lockname: %s", checkLock(v))
		default:
			e.Lock, e.LockExplicit = v, true
		}
	} else {
		// switchman's lock: --lockname, else the command's base name.
		e.Lock = e.Script
		if msg := checkLock(e.Lock); msg != "" {
			p.errorf(e.Line, "lock name %q derived from the file name: %s; name one with lockname: in %s", e.Lock, msg, swOpenTag)
		}
	}
	e.SwitchmanLeases = append([]SwitchmanLease(nil), sw.leases...)
}

// LeaseTarget is what a lease name of <leases> stands for: the resource
// and its TOTAL, as in --lease RES=COUNT:TOTAL.
type LeaseTarget struct{ Resource, Total string }

// LeaseMap maps the lease names of <leases> blocks to resources.
type LeaseMap map[string]LeaseTarget

// ParseLeaseMap reads gen's --lease-map NAME=RES:TOTAL values.
func ParseLeaseMap(specs []string) (LeaseMap, error) {
	m := LeaseMap{}
	for _, s := range specs {
		name, rest, ok := strings.Cut(s, "=")
		res, total, ok2 := strings.Cut(rest, ":")
		switch {
		case !ok || !ok2 || name == "":
			return nil, fmt.Errorf("%w: --lease-map %q: want NAME=RES:TOTAL (e.g. mem=FQDN_mem:MEMMB)", ErrInvalid, s)
		case !resourceRE().MatchString(name):
			return nil, fmt.Errorf("%w: --lease-map %q: lease name %q: want letters, digits, '_', '.', '-'", ErrInvalid, s, name)
		}
		if msg := checkLease(res + "=1:" + total); msg != "" {
			return nil, fmt.Errorf("%w: --lease-map %q: %s", ErrInvalid, s, msg)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("%w: --lease-map: %s is mapped twice", ErrInvalid, name)
		}
		m[name] = LeaseTarget{Resource: res, Total: total}
	}
	return m, nil
}

// MapLeases turns the <leases> of switchman-form entries into their
// --lease RES=COUNT:TOTAL through m. The error, when not nil, is an Errors
// naming each lease that m does not map or that the mapping makes invalid.
func MapLeases(entries []*Entry, m LeaseMap) error {
	var errs Errors
	for _, e := range entries {
		if !e.Switchman {
			continue
		}
		e.Leases = nil
		seen := map[string]string{} // resource -> lease name
		for _, l := range e.SwitchmanLeases {
			t, ok := m[l.Name]
			if !ok {
				errs = append(errs, &Error{File: e.Source, Line: l.Line,
					Msg: fmt.Sprintf("lease %q has no resource: run gen with --lease-map %s=RES:TOTAL", l.Name, l.Name)})
				continue
			}
			lease := t.Resource + "=" + l.Count + ":" + t.Total
			if msg := checkLease(lease); msg != "" {
				errs = append(errs, &Error{File: e.Source, Line: l.Line,
					Msg: fmt.Sprintf("lease %q (--lease %s): %s", l.Name, lease, msg)})
				continue
			}
			if other, dup := seen[t.Resource]; dup {
				errs = append(errs, &Error{File: e.Source, Line: l.Line,
					Msg: fmt.Sprintf("leases %q and %q map to the same resource %s", other, l.Name, t.Resource)})
				continue
			}
			seen[t.Resource] = l.Name
			e.Leases = append(e.Leases, lease)
		}
		e.leasesMapped = true
	}
	if len(errs) > 0 {
		errs.sort()
		return errs
	}
	return nil
}

// unmappedLeases returns an entry whose <leases> MapLeases has not mapped.
func unmappedLeases(entries []*Entry) *Entry {
	for _, e := range entries {
		if len(e.SwitchmanLeases) > 0 && !e.leasesMapped {
			return e
		}
	}
	return nil
}
