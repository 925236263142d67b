package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
)

// fleetSource prefixes fleet config errors; the caller adds the znode path.
const fleetSource = "fleet config"

// Bounds on Cycles: enumerating every cycle is exponential in the worst
// case, and a validation must never hang on a pathological config.
const (
	maxCycles     = 1000
	maxCycleSteps = 1_000_000
)

// Fleet is the fleet config: the JSON in the <prefix> znode,
// {"groups": {"g1": "box1", "g2": ["box1", "g1"]}, "resources": [...]}.
//
// A group member that is itself a group name is a subgroup, anything else
// is a host (switchman's rule), so a host cannot share a name with a
// group. Nothing is cached: callers (assign, unassign) may edit Groups in
// place and every method sees the change.
type Fleet struct {
	Groups    map[string][]string        // group -> members; a string value is a 1-element list
	Resources []string                   // switchman lease resources, macros (FQDN, CPU, MEMMB) unexpanded
	Extra     map[string]json.RawMessage // other top-level keys, written back by Marshal as they were

	scalar       map[string]bool // groups written as a plain string, so Marshal keeps that form
	hasGroups    bool            // "groups" key was present (Marshal writes it even if empty)
	hasResources bool
}

// switchmanPlaceholder is what switchman writes into a prefix it creates
// ("FQDN PID"), which it then cannot parse itself.
// switchmanPlaceholder is compiled on first use, not at init, which every cron run would pay.
var switchmanPlaceholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\S+ [0-9]+$`) })

// ParseFleet parses the fleet config. Errors wrap ErrInvalid and are one
// line: "fleet config is empty", "fleet config: line 1, column 9: invalid
// JSON: ...", "fleet config: group \"g1\" must be ...". A config without
// "groups" (or with "groups": null) is valid and has no groups. Cycles
// and other semantic problems are not errors here (switchman tolerated
// them and Hosts is cycle-safe); Validate reports them.
func ParseFleet(data []byte) (*Fleet, error) {
	skipped := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		skipped = 3
	}
	body := data[skipped:]
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, &Error{Msg: "fleet config is empty"}
	}
	if trimmed[0] != '{' && len(trimmed) < 1024 && switchmanPlaceholder().Match(trimmed) {
		return nil, invalidf(fleetSource, "holds switchman's placeholder %q, not JSON (set a real config with `cronguard config set`)", trimmed)
	}
	if err := invalidUTF8(fleetSource, body, skipped); err != nil {
		return nil, err
	}
	// One decoding pass for the document and one for "groups": this runs
	// on every cron run, so no per-member json.Unmarshal calls.
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			return nil, invalidf(fleetSource, "must be a JSON object, got %s", jsonKind(body))
		}
		return nil, jsonError(fleetSource, data, skipped, err)
	}
	if doc == nil {
		return nil, invalidf(fleetSource, "must be a JSON object, got null")
	}

	f := &Fleet{Groups: map[string][]string{}}
	if raw, ok := doc["groups"]; ok {
		f.hasGroups = true
		if err := f.parseGroups(raw); err != nil {
			return nil, err
		}
	}
	if raw, ok := doc["resources"]; ok {
		f.hasResources = true
		if !isNull(raw) {
			var items []any
			if err := decodeUseNumber(raw, &items); err != nil {
				return nil, invalidf(fleetSource, `"resources" must be a list of strings, got %s`, describe(raw))
			}
			f.Resources = make([]string, 0, len(items))
			for i, it := range items {
				s, ok := it.(string)
				if !ok {
					return nil, invalidf(fleetSource, `"resources" must be a list of strings, but #%d is %s`, i+1, describeValue(it))
				}
				f.Resources = append(f.Resources, s)
			}
		}
	}
	for k, v := range doc {
		if k == "groups" || k == "resources" {
			continue
		}
		if f.Extra == nil {
			f.Extra = map[string]json.RawMessage{}
		}
		f.Extra[k] = v
	}
	return f, nil
}

func (f *Fleet) parseGroups(raw json.RawMessage) error {
	if isNull(raw) {
		return nil // switchman: a false "groups" means none
	}
	var groups map[string]any
	if err := decodeUseNumber(raw, &groups); err != nil || groups == nil {
		return invalidf(fleetSource, `"groups" must be an object of group -> hosts, got %s`, jsonKind(raw))
	}
	names := make([]string, 0, len(groups))
	for name := range groups {
		names = append(names, name)
	}
	sort.Strings(names) // the same config always reports the same error
	for _, name := range names {
		switch v := groups[name].(type) {
		case string:
			f.Groups[name] = []string{v}
			if f.scalar == nil {
				f.scalar = map[string]bool{}
			}
			f.scalar[name] = true
		case []any:
			members := make([]string, len(v))
			for i, it := range v {
				m, ok := it.(string)
				if !ok {
					return invalidf(fleetSource, "group %q: member #%d must be a string, got %s", name, i+1, describeValue(it))
				}
				members[i] = m
			}
			f.Groups[name] = members
		default:
			return invalidf(fleetSource, "group %q must be a host name or a list of host and group names, got %s", name, describeValue(v))
		}
	}
	return nil
}

// decodeUseNumber keeps numbers as written, so messages quote them exactly.
func decodeUseNumber(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	return dec.Decode(v)
}

// describeValue renders a decoded value for an error message.
func describeValue(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return describe(b)
}

// errEmptyHost: an empty identity is a caller bug; reporting it beats
// silently skipping every job as "not eligible".
var errEmptyHost = errors.New("config: host name is empty")

func unknownGroup(group string) error {
	return fmt.Errorf("%w %q", ErrUnknownGroup, group)
}

// Hosts returns the hosts of group with subgroups expanded in place,
// without duplicates, in order of first appearance. A subgroup already
// expanded (a cycle, or a diamond) is skipped, so it always terminates.
// Empty members are skipped: no host has an empty name.
func (f *Fleet) Hosts(group string) ([]string, error) {
	if _, ok := f.Groups[group]; !ok {
		return nil, unknownGroup(group)
	}
	var hosts []string
	seen := map[string]bool{}
	f.walk(group, func(h string) bool {
		if !seen[h] {
			seen[h] = true
			hosts = append(hosts, h)
		}
		return false
	})
	return hosts, nil
}

// Eligible reports whether host is in group, directly or through
// subgroups; match is exact (no case folding, no domain stripping), as in
// switchman. It stops at the first match.
func (f *Fleet) Eligible(group, host string) (bool, error) {
	if _, ok := f.Groups[group]; !ok {
		return false, unknownGroup(group)
	}
	if host == "" {
		return false, errEmptyHost
	}
	return f.walk(group, func(h string) bool { return h == host }), nil
}

// walk visits the hosts reachable from root depth-first in member order,
// each subgroup at most once, until visit returns true (walk then returns
// true). It is iterative so a long chain of groups cannot exhaust a stack.
func (f *Fleet) walk(root string, visit func(host string) bool) bool {
	type frame struct {
		members []string
		next    int
	}
	expanded := map[string]bool{root: true}
	stack := []frame{{members: f.Groups[root]}}
	for len(stack) > 0 {
		top := &stack[len(stack)-1]
		if top.next == len(top.members) {
			stack = stack[:len(stack)-1]
			continue
		}
		m := top.members[top.next]
		top.next++
		if sub, isGroup := f.Groups[m]; isGroup {
			if !expanded[m] {
				expanded[m] = true
				stack = append(stack, frame{members: sub})
			}
			continue
		}
		if m != "" && visit(m) {
			return true
		}
	}
	return false
}

// Explain returns the chain of groups from group down to one that lists
// host directly, e.g. ["g2", "g1"] when g2 contains g1 and g1 lists host.
// The chain is a shortest one (breadth-first, members in order). ok is
// false, with a nil chain, when host is not in group.
func (f *Fleet) Explain(group, host string) (chain []string, ok bool, err error) {
	if _, known := f.Groups[group]; !known {
		return nil, false, unknownGroup(group)
	}
	if host == "" {
		return nil, false, errEmptyHost
	}
	parent := map[string]string{group: ""}
	queue := []string{group}
	for len(queue) > 0 {
		g := queue[0]
		queue = queue[1:]
		for _, m := range f.Groups[g] {
			if _, isGroup := f.Groups[m]; isGroup {
				if _, seen := parent[m]; !seen {
					parent[m] = g
					queue = append(queue, m)
				}
				continue
			}
			if m == host {
				for at := g; at != ""; at = parent[at] {
					chain = append(chain, at)
				}
				slices.Reverse(chain)
				return chain, true, nil
			}
		}
	}
	return nil, false, nil
}

// Cycles returns every cycle of groups containing each other, once each,
// as a closed path starting at its alphabetically smallest group, e.g.
// [["a","b","a"]]; a group listing itself is [["a","a"]]. The result is
// sorted. On a pathological config it stops after 1000 cycles.
func (f *Fleet) Cycles() [][]string {
	c, _ := f.cycles()
	return c
}

// cycles enumerates elementary cycles: for each group s in sorted order,
// a depth-first search over groups after s in s's strongly connected
// component. Each cycle is found exactly once, from its smallest member.
func (f *Fleet) cycles() (found [][]string, truncated bool) {
	names := make([]string, 0, len(f.Groups))
	for g := range f.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	// Subgroup edges, deduplicated and sorted for a deterministic search.
	adj := make(map[string][]string, len(names))
	for _, g := range names {
		var out []string
		for _, m := range f.Groups[g] {
			if _, ok := f.Groups[m]; ok {
				out = append(out, m)
			}
		}
		sort.Strings(out)
		adj[g] = slices.Compact(out)
	}
	comp := sccs(names, adj)

	steps := 0
	for _, s := range names {
		onPath := map[string]bool{s: true}
		path := []string{s}
		var dfs func(v string) bool
		dfs = func(v string) bool {
			for _, w := range adj[v] {
				if steps++; steps > maxCycleSteps || len(found) >= maxCycles {
					return false
				}
				switch {
				case w == s:
					found = append(found, append(slices.Clone(path), s))
				case w > s && comp[w] == comp[s] && !onPath[w]:
					onPath[w] = true
					path = append(path, w)
					if !dfs(w) {
						return false
					}
					path = path[:len(path)-1]
					onPath[w] = false
				}
			}
			return true
		}
		if !dfs(s) {
			truncated = true
			break
		}
	}
	slices.SortFunc(found, slices.Compare)
	return found, truncated
}

// sccs labels each group with its strongly connected component (Tarjan).
func sccs(names []string, adj map[string][]string) map[string]int {
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	comp := map[string]int{}
	var stack []string
	next, ncomp := 0, 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range adj[v] {
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp[w] = ncomp
				if w == v {
					break
				}
			}
			ncomp++
		}
	}
	for _, v := range names {
		if _, seen := index[v]; !seen {
			visit(v)
		}
	}
	return comp
}

// Validate reports what `config validate` and `config set` must refuse:
// empty group names, empty members, members with spaces at either end
// (never equal to a host name), a group listing itself, cycles, and empty
// resource names. Each error is one line and wraps ErrInvalid; nil means
// valid. Order is deterministic.
func (f *Fleet) Validate() []error {
	var errs []error
	add := func(format string, args ...any) {
		errs = append(errs, invalidf(fleetSource, format, args...))
	}
	names := make([]string, 0, len(f.Groups))
	for g := range f.Groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		if g == "" {
			add("a group has an empty name")
		}
		for i, m := range f.Groups[g] {
			switch {
			case m == "":
				add("group %q has an empty member (#%d)", g, i+1)
			case m == g:
				add("group %q lists itself", g)
			case strings.TrimFunc(m, unicode.IsSpace) != m:
				add("group %q: member %q has spaces at its ends", g, m)
			}
		}
	}
	cycles, truncated := f.cycles()
	for _, c := range cycles {
		if len(c) > 2 { // a self-listing group is reported above
			add("groups form a cycle: %s", strings.Join(c, " -> "))
		}
	}
	if truncated {
		add("too many group cycles; only the first %d are shown", len(cycles))
	}
	for i, r := range f.Resources {
		if r == "" {
			add(`"resources" has an empty entry (#%d)`, i+1)
		}
	}
	return errs
}

// Clone returns a deep copy, for editing while keeping the original to
// diff against.
func (f *Fleet) Clone() *Fleet {
	c := &Fleet{
		Resources:    slices.Clone(f.Resources),
		hasGroups:    f.hasGroups,
		hasResources: f.hasResources,
	}
	if f.Groups != nil {
		c.Groups = make(map[string][]string, len(f.Groups))
		for g, m := range f.Groups {
			c.Groups[g] = slices.Clone(m)
		}
	}
	if f.Extra != nil {
		c.Extra = make(map[string]json.RawMessage, len(f.Extra))
		for k, v := range f.Extra {
			c.Extra[k] = slices.Clone(v)
		}
	}
	if f.scalar != nil {
		c.scalar = make(map[string]bool, len(f.scalar))
		for k, v := range f.scalar {
			c.scalar[k] = v
		}
	}
	return c
}

// Marshal writes the fleet config as stable, 2-space indented JSON with a
// trailing newline: keys sorted (top level and groups), member order kept,
// no HTML escaping, Extra keys kept. A group keeps the form it was parsed
// in: one that was a plain string is written as a string while it has
// exactly one member; everything else (lists, groups added since) is a
// list. "groups" and "resources" are written when they were present or
// are non-empty. ParseFleet(Marshal(f)) gives back f.
func (f *Fleet) Marshal() ([]byte, error) {
	top := map[string]any{}
	for k, v := range f.Extra {
		if k == "groups" || k == "resources" {
			return nil, fmt.Errorf("config: fleet Extra must not hold %q", k)
		}
		top[k] = v
	}
	if f.hasGroups || len(f.Groups) > 0 {
		groups := make(map[string]any, len(f.Groups))
		for g, m := range f.Groups {
			switch {
			case len(m) == 1 && f.scalar[g]:
				groups[g] = m[0]
			case m == nil:
				groups[g] = []string{}
			default:
				groups[g] = m
			}
		}
		top["groups"] = groups
	}
	if f.hasResources || len(f.Resources) > 0 {
		r := f.Resources
		if r == nil {
			r = []string{}
		}
		top["resources"] = r
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(top); err != nil {
		return nil, fmt.Errorf("config: marshal fleet config: %w", err)
	}
	return b.Bytes(), nil
}
