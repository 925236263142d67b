package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// designSample is the example in the design doc.
const designSample = `{"groups": {"g1": "box1", "g2": ["box1", "box2", "g1"]}, "resources": ["mem", "FQDN_cpu"]}`

func mustFleet(t testing.TB, data string) *Fleet {
	t.Helper()
	f, err := ParseFleet([]byte(data))
	if err != nil {
		t.Fatalf("ParseFleet(%s): %v", data, err)
	}
	return f
}

func TestParseFleet(t *testing.T) {
	tests := []struct {
		name      string
		data      string
		groups    map[string][]string
		resources []string
		extra     []string
	}{
		{"design sample", designSample,
			map[string][]string{"g1": {"box1"}, "g2": {"box1", "box2", "g1"}}, []string{"mem", "FQDN_cpu"}, nil},
		{"string value becomes a 1-element list", `{"groups":{"g":"h"}}`, map[string][]string{"g": {"h"}}, nil, nil},
		{"list value", `{"groups":{"g":["h1","h2"]}}`, map[string][]string{"g": {"h1", "h2"}}, nil, nil},
		{"empty list", `{"groups":{"g":[]}}`, map[string][]string{"g": {}}, nil, nil},
		{"no groups key", `{}`, map[string][]string{}, nil, nil},
		{"groups null", `{"groups":null}`, map[string][]string{}, nil, nil},
		{"resources null", `{"resources":null}`, map[string][]string{}, nil, nil},
		{"extra keys kept", `{"groups":{},"comment":"x","owner":{"team":"ops"}}`, map[string][]string{}, nil, []string{"comment", "owner"}},
		{"BOM", "\xef\xbb\xbf{\"groups\": {\"g\": \"h\"}}", map[string][]string{"g": {"h"}}, nil, nil},
		{"surrounding whitespace", "\n  {\"groups\": {\"g\": \"h\"}}\n", map[string][]string{"g": {"h"}}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, tt.data)
			if !reflect.DeepEqual(f.Groups, tt.groups) {
				t.Errorf("Groups = %q, want %q", f.Groups, tt.groups)
			}
			if !reflect.DeepEqual(f.Resources, tt.resources) {
				t.Errorf("Resources = %q, want %q", f.Resources, tt.resources)
			}
			var extra []string
			for k := range f.Extra {
				extra = append(extra, k)
			}
			slices.Sort(extra)
			if !slices.Equal(extra, tt.extra) {
				t.Errorf("Extra keys = %q, want %q", extra, tt.extra)
			}
		})
	}
}

func TestParseFleetErrors(t *testing.T) {
	tests := []struct {
		name         string
		data         string
		want         string
		line, column int
	}{
		{"empty", ``, `fleet config is empty`, 0, 0},
		{"blank", " \n ", `fleet config is empty`, 0, 0},
		{"switchman placeholder", `box1.example.com 12345`, "fleet config: holds switchman's placeholder \"box1.example.com 12345\", not JSON (set a real config with `cronguard config set`)", 0, 0},
		{"bad JSON", "{\"groups\": {\n  \"g1\": box1\n}}", `fleet config: line 2, column 9: invalid JSON: invalid character 'b' looking for beginning of value`, 2, 9},
		{"truncated", `{"groups": {"g1": "box1"}`, `fleet config: line 1, column 26: invalid JSON: unexpected end of JSON input`, 1, 26},
		{"not an object", `["g1"]`, `fleet config: must be a JSON object, got an array`, 0, 0},
		{"groups not an object", `{"groups": ["g1"]}`, `fleet config: "groups" must be an object of group -> hosts, got an array`, 0, 0},
		{"groups a string", `{"groups": "g1"}`, `fleet config: "groups" must be an object of group -> hosts, got a string`, 0, 0},
		{"group value a number", `{"groups": {"ok": "h", "g1": 5}}`, `fleet config: group "g1" must be a host name or a list of host and group names, got 5`, 0, 0},
		{"group value null", `{"groups": {"g1": null}}`, `fleet config: group "g1" must be a host name or a list of host and group names, got null`, 0, 0},
		{"group value an object", `{"groups": {"g1": {"h": 1}}}`, `fleet config: group "g1" must be a host name or a list of host and group names, got {"h":1}`, 0, 0},
		{"member a number", `{"groups": {"g1": ["h", 5]}}`, `fleet config: group "g1": member #2 must be a string, got 5`, 0, 0},
		{"member a list", `{"groups": {"g1": [["h"]]}}`, `fleet config: group "g1": member #1 must be a string, got ["h"]`, 0, 0},
		{"member null", `{"groups": {"g1": [null]}}`, `fleet config: group "g1": member #1 must be a string, got null`, 0, 0},
		{"resources a string", `{"resources": "mem"}`, `fleet config: "resources" must be a list of strings, got "mem"`, 0, 0},
		{"invalid UTF-8", "{\"groups\": {\"g\": \"\xff\"}}", `fleet config: line 1, column 19: not valid UTF-8`, 1, 19},
		{"group value a bool", `{"groups": {"g1": true}}`, `fleet config: group "g1" must be a host name or a list of host and group names, got true`, 0, 0},
		{"number kept as written", `{"groups": {"g1": [1.50]}}`, `fleet config: group "g1": member #1 must be a string, got 1.50`, 0, 0},
		{"resources with a number", `{"resources": ["mem", 1]}`, `fleet config: "resources" must be a list of strings, but #2 is 1`, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFleet([]byte(tt.data))
			if err == nil {
				t.Fatalf("ParseFleet = %+v, want error", f)
			}
			if err.Error() != tt.want {
				t.Fatalf("error = %q\nwant    %q", err, tt.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatal("error does not wrap ErrInvalid")
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Line != tt.line || ce.Column != tt.column {
				t.Fatalf("position %d:%d, want %d:%d", ce.Line, ce.Column, tt.line, tt.column)
			}
		})
	}
}

// testFleet covers nesting, a diamond, a cycle, self-reference and a
// member shared by a host list and a subgroup.
const testFleet = `{"groups": {
	"g1": "box1",
	"g2": ["box1", "box2", "g1"],
	"g3": ["g2", "box3"],
	"diamond": ["g1", "g2", "g1"],
	"a": ["b", "ha"],
	"b": ["a", "hb"],
	"self": ["self", "hs"],
	"empty": [],
	"blank": ["", "hx"],
	"deep1": ["deep2"], "deep2": ["deep3"], "deep3": ["deep4"], "deep4": "hdeep"
}}`

func TestHosts(t *testing.T) {
	f := mustFleet(t, testFleet)
	tests := []struct {
		group string
		want  []string
	}{
		{"g1", []string{"box1"}},
		{"g2", []string{"box1", "box2"}},
		{"g3", []string{"box1", "box2", "box3"}}, // order of first appearance, subgroups in place
		{"diamond", []string{"box1", "box2"}},
		{"a", []string{"hb", "ha"}}, // cycle a->b->a: terminates, hosts of both
		{"b", []string{"ha", "hb"}},
		{"self", []string{"hs"}},
		{"empty", nil},
		{"blank", []string{"hx"}},
		{"deep1", []string{"hdeep"}},
	}
	for _, tt := range tests {
		t.Run(tt.group, func(t *testing.T) {
			got, err := f.Hosts(tt.group)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Hosts(%q) = %q, want %q", tt.group, got, tt.want)
			}
		})
	}
	t.Run("unknown group", func(t *testing.T) {
		_, err := f.Hosts("nope")
		if !errors.Is(err, ErrUnknownGroup) || err.Error() != `config: unknown group "nope"` {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("a host in the group list is not a group", func(t *testing.T) {
		if _, err := f.Hosts("box1"); !errors.Is(err, ErrUnknownGroup) {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestEligible(t *testing.T) {
	f := mustFleet(t, testFleet)
	tests := []struct {
		group, host string
		want        bool
		wantErr     error
	}{
		{"g1", "box1", true, nil},
		{"g1", "box2", false, nil},
		{"g2", "box1", true, nil},
		{"g3", "box1", true, nil},
		{"g3", "box4", false, nil},
		{"a", "hb", true, nil},
		{"a", "nobody", false, nil}, // a cycle does not hang
		{"self", "hs", true, nil},
		{"deep1", "hdeep", true, nil},
		{"g2", "g1", false, nil},               // a group name is never a host
		{"g1", "BOX1", false, nil},             // exact match, as switchman
		{"g1", "box1.example.com", false, nil}, // no domain games
		{"blank", "hx", true, nil},
		{"nope", "box1", false, ErrUnknownGroup},
		{"g1", "", false, errEmptyHost},
	}
	for _, tt := range tests {
		t.Run(tt.group+"/"+tt.host, func(t *testing.T) {
			got, err := f.Eligible(tt.group, tt.host)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Fatalf("Eligible(%q, %q) = %v, want %v", tt.group, tt.host, got, tt.want)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	f := mustFleet(t, testFleet)
	tests := []struct {
		group, host string
		chain       []string
		ok          bool
		wantErr     error
	}{
		{"g1", "box1", []string{"g1"}, true, nil},
		{"g2", "box1", []string{"g2"}, true, nil}, // listed directly beats via g1
		{"g2", "box2", []string{"g2"}, true, nil},
		{"g3", "box1", []string{"g3", "g2"}, true, nil},
		{"g3", "box3", []string{"g3"}, true, nil},
		{"deep1", "hdeep", []string{"deep1", "deep2", "deep3", "deep4"}, true, nil},
		{"a", "hb", []string{"a", "b"}, true, nil},
		{"a", "nobody", nil, false, nil},
		{"g1", "box2", nil, false, nil},
		{"nope", "box1", nil, false, ErrUnknownGroup},
		{"g1", "", nil, false, errEmptyHost},
	}
	for _, tt := range tests {
		t.Run(tt.group+"/"+tt.host, func(t *testing.T) {
			chain, ok, err := f.Explain(tt.group, tt.host)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if ok != tt.ok || !slices.Equal(chain, tt.chain) {
				t.Fatalf("Explain(%q, %q) = %q, %v; want %q, %v", tt.group, tt.host, chain, ok, tt.chain, tt.ok)
			}
		})
	}
	// Explain agrees with Eligible everywhere.
	for g := range f.Groups {
		for _, h := range []string{"box1", "box2", "box3", "ha", "hb", "hs", "hx", "hdeep", "zz"} {
			e, _ := f.Eligible(g, h)
			_, ok, _ := f.Explain(g, h)
			if e != ok {
				t.Errorf("Eligible(%q,%q)=%v but Explain ok=%v", g, h, e, ok)
			}
		}
	}
}

func TestCycles(t *testing.T) {
	tests := []struct {
		name string
		data string
		want [][]string
	}{
		{"none", `{"groups":{"g1":"h","g2":["g1","h2"]}}`, nil},
		{"no groups", `{}`, nil},
		{"two-group cycle", `{"groups":{"a":["b"],"b":["a","h"]}}`, [][]string{{"a", "b", "a"}}},
		{"starts at the smallest name", `{"groups":{"z":["m"],"m":["x"],"x":["z"]}}`, [][]string{{"m", "x", "z", "m"}}},
		{"self", `{"groups":{"a":["a","h"]}}`, [][]string{{"a", "a"}}},
		{"self as a string", `{"groups":{"a":"a"}}`, [][]string{{"a", "a"}}},
		{"duplicate member counted once", `{"groups":{"a":["b","b"],"b":"a"}}`, [][]string{{"a", "b", "a"}}},
		{"two cycles sharing a group", `{"groups":{"a":["b","c"],"b":["a"],"c":["a"]}}`,
			[][]string{{"a", "b", "a"}, {"a", "c", "a"}}},
		{"triangle with a chord", `{"groups":{"a":["b"],"b":["c","a"],"c":["a"]}}`,
			[][]string{{"a", "b", "a"}, {"a", "b", "c", "a"}}},
		{"separate cycles", `{"groups":{"a":["b"],"b":["a"],"x":["y"],"y":["x"],"h":["a","x"]}}`,
			[][]string{{"a", "b", "a"}, {"x", "y", "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, tt.data)
			got := f.Cycles()
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Cycles() = %q, want %q", got, tt.want)
			}
			// Deterministic across calls (map iteration order varies).
			for range 5 {
				if again := f.Cycles(); !reflect.DeepEqual(again, got) {
					t.Fatalf("Cycles() not deterministic: %q vs %q", again, got)
				}
			}
		})
	}
}

// A complete graph of groups has more cycles than anyone can list; every
// method must still return promptly.
func TestPathologicalCyclesTerminate(t *testing.T) {
	groups := map[string][]string{}
	const n = 14
	for i := range n {
		var members []string
		for j := range n {
			members = append(members, fmt.Sprintf("g%02d", j))
		}
		members = append(members, fmt.Sprintf("h%02d", i))
		groups[fmt.Sprintf("g%02d", i)] = members
	}
	f := &Fleet{Groups: groups}
	start := time.Now()
	cycles := f.Cycles()
	if len(cycles) != maxCycles {
		t.Fatalf("got %d cycles, want the cap %d", len(cycles), maxCycles)
	}
	errs := f.Validate()
	if last := errs[len(errs)-1].Error(); !strings.Contains(last, "too many group cycles") {
		t.Fatalf("last Validate error = %q", last)
	}
	hosts, err := f.Hosts("g00")
	if err != nil || len(hosts) != n {
		t.Fatalf("Hosts = %q, %v", hosts, err)
	}
	if ok, _ := f.Eligible("g00", "h13"); !ok {
		t.Fatal("h13 not eligible")
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v", d)
	}
}

func TestFleetValidate(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string
	}{
		{"valid", designSample, nil},
		{"cycle", `{"groups":{"a":["b","h"],"b":["a"]}}`, []string{`fleet config: groups form a cycle: a -> b -> a`}},
		{"self reference", `{"groups":{"a":["a","h"]}}`, []string{`fleet config: group "a" lists itself`}},
		{"empty group name", `{"groups":{"":["h"]}}`, []string{`fleet config: a group has an empty name`}},
		{"empty member", `{"groups":{"g":["h",""]}}`, []string{`fleet config: group "g" has an empty member (#2)`}},
		{"empty string value", `{"groups":{"g":""}}`, []string{`fleet config: group "g" has an empty member (#1)`}},
		{"member with spaces", `{"groups":{"g":["box1 "]}}`, []string{`fleet config: group "g": member "box1 " has spaces at its ends`}},
		{"empty resource", `{"resources":["mem",""]}`, []string{`fleet config: "resources" has an empty entry (#2)`}},
		{"several, in a stable order", `{"groups":{"b":["b","a"],"a":["b",""]}}`, []string{
			`fleet config: group "a" has an empty member (#2)`,
			`fleet config: group "b" lists itself`,
			`fleet config: groups form a cycle: a -> b -> a`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := mustFleet(t, tt.data).Validate()
			var got []string
			for _, err := range errs {
				if !errors.Is(err, ErrInvalid) {
					t.Errorf("%q does not wrap ErrInvalid", err)
				}
				got = append(got, err.Error())
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Validate() = %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestMarshal(t *testing.T) {
	tests := []struct {
		name string
		data string
		edit func(f *Fleet)
		want string
	}{
		{
			name: "design sample keeps string and list forms",
			data: designSample,
			want: `{
  "groups": {
    "g1": "box1",
    "g2": [
      "box1",
      "box2",
      "g1"
    ]
  },
  "resources": [
    "mem",
    "FQDN_cpu"
  ]
}
`,
		},
		{
			name: "a 1-element list stays a list",
			data: `{"groups":{"g":["h"]}}`,
			want: "{\n  \"groups\": {\n    \"g\": [\n      \"h\"\n    ]\n  }\n}\n",
		},
		{
			name: "a string group that grows becomes a list",
			data: `{"groups":{"g":"h1"}}`,
			edit: func(f *Fleet) { f.Groups["g"] = append(f.Groups["g"], "h2") },
			want: "{\n  \"groups\": {\n    \"g\": [\n      \"h1\",\n      \"h2\"\n    ]\n  }\n}\n",
		},
		{
			name: "a string group that shrinks to nothing is an empty list",
			data: `{"groups":{"g":"h1"}}`,
			edit: func(f *Fleet) { f.Groups["g"] = nil },
			want: "{\n  \"groups\": {\n    \"g\": []\n  }\n}\n",
		},
		{
			name: "a new group is a list",
			data: `{}`,
			edit: func(f *Fleet) { f.Groups["new"] = []string{"h"} },
			want: "{\n  \"groups\": {\n    \"new\": [\n      \"h\"\n    ]\n  }\n}\n",
		},
		{
			name: "extra keys kept and sorted, no HTML escaping",
			data: `{"zeta": {"b": 1, "a": [1,2]}, "groups": {"g": "h<&>"}, "alpha": "x"}`,
			want: "{\n  \"alpha\": \"x\",\n  \"groups\": {\n    \"g\": \"h<&>\"\n  },\n  \"zeta\": {\n    \"b\": 1,\n    \"a\": [\n      1,\n      2\n    ]\n  }\n}\n",
		},
		{
			name: "present but empty keys are kept",
			data: `{"groups": {}, "resources": []}`,
			want: "{\n  \"groups\": {},\n  \"resources\": []\n}\n",
		},
		{
			name: "absent keys stay absent",
			data: `{"note": 1}`,
			want: "{\n  \"note\": 1\n}\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := mustFleet(t, tt.data)
			if tt.edit != nil {
				tt.edit(f)
			}
			out, err := f.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tt.want {
				t.Fatalf("Marshal() =\n%s\nwant\n%s", out, tt.want)
			}
			// Round trip: parsing the output gives the same fleet and the
			// same bytes again.
			back := mustFleet(t, string(out))
			if !reflect.DeepEqual(normGroups(back.Groups), normGroups(f.Groups)) || !slices.Equal(back.Resources, f.Resources) {
				t.Fatalf("round trip changed the fleet: %+v vs %+v", back, f)
			}
			again, err := back.Marshal()
			if err != nil || string(again) != string(out) {
				t.Fatalf("second Marshal differs:\n%s", again)
			}
		})
	}
	t.Run("Extra may not shadow groups", func(t *testing.T) {
		f := &Fleet{Extra: map[string]json.RawMessage{"groups": json.RawMessage(`{}`)}}
		if _, err := f.Marshal(); err == nil {
			t.Fatal("want error")
		}
	})
}

func normGroups(g map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range g {
		out[k] = append([]string{}, v...)
	}
	return out
}

func TestClone(t *testing.T) {
	f := mustFleet(t, `{"groups":{"g":"h"},"resources":["mem"],"x":1}`)
	c := f.Clone()
	c.Groups["g"] = append(c.Groups["g"], "h2")
	c.Groups["g"][0] = "changed"
	c.Resources[0] = "cpu"
	c.Extra["x"][0] = '2'
	if f.Groups["g"][0] != "h" || f.Resources[0] != "mem" || string(f.Extra["x"]) != "1" {
		t.Fatalf("Clone shares state: %+v", f)
	}
	out, _ := f.Clone().Marshal()
	orig, _ := f.Marshal()
	if string(out) != string(orig) {
		t.Fatalf("Clone lost the string form:\n%s\nvs\n%s", out, orig)
	}
}

func BenchmarkEligible(b *testing.B) {
	groups := map[string][]string{}
	// 50 groups of 30 hosts, each group also including the next one.
	for i := range 50 {
		var m []string
		for j := range 30 {
			m = append(m, fmt.Sprintf("box%d-%d.example.com", i, j))
		}
		if i < 49 {
			m = append(m, fmt.Sprintf("g%d", i+1))
		}
		groups[fmt.Sprintf("g%d", i)] = m
	}
	data, _ := json.Marshal(map[string]any{"groups": groups})
	b.Run("parse+eligible", func(b *testing.B) {
		for b.Loop() {
			f, err := ParseFleet(data)
			if err != nil {
				b.Fatal(err)
			}
			if ok, _ := f.Eligible("g0", "box49-29.example.com"); !ok {
				b.Fatal("not eligible")
			}
		}
	})
	f, _ := ParseFleet(data)
	b.Run("eligible worst case", func(b *testing.B) {
		for b.Loop() {
			if ok, _ := f.Eligible("g0", "absent"); ok {
				b.Fatal("eligible")
			}
		}
	})
}
