package metadata

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// dump prints every field of every entry, one entry per paragraph.
func dump(entries []*Entry) string {
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s:%d script=%s\n", e.Source, e.Line, e.Script)
		fmt.Fprintf(&b, "  time=%q package=%q user=%q group=%q\n", e.Time, e.Package, e.User, e.Group)
		fmt.Fprintf(&b, "  lock=%q explicit=%v\n", e.Lock, e.LockExplicit)
		switch {
		case e.Switchman:
			fmt.Fprintf(&b, "  switchman leases=%v\n", e.SwitchmanLeases)
		case e.Plain:
			fmt.Fprintf(&b, "  plain\n")
		}
		fmt.Fprintf(&b, "  params=%q\n", e.Params)
		fmt.Fprintf(&b, "  timeout=%q wait=%q splay=%q leases=%q\n", e.Timeout, e.Wait, e.Splay, e.Leases)
		if e.Output != "" {
			fmt.Fprintf(&b, "  output=%q\n", e.Output)
		}
		fmt.Fprintf(&b, "  env=%q\n", e.Env)
		if e.Mailto != nil {
			fmt.Fprintf(&b, "  mailto=%q\n", *e.Mailto)
		}
	}
	return b.String()
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./metadata -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (go test ./metadata -update rewrites it):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// TestGolden covers both header forms, several entries per script and
// per package, and every key, through parsing and rendering.
func TestGolden(t *testing.T) {
	entries, err := Collect([]string{"testdata/scripts"})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "entries.txt", []byte(dump(entries)))
	files, err := Generate(entries, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Package+".cron.d")
		golden(t, f.Package+".cron.d", f.Data)
	}
	// Every key of the contract appears in the golden input.
	seen := map[string]bool{}
	for _, e := range entries {
		seen["time"], seen["package"], seen["user"] = true, true, e.User != "root" || seen["user"]
		seen["params"] = seen["params"] || e.Params != nil
		seen["group"] = seen["group"] || e.Group != e.Package
		seen["lock"] = seen["lock"] || e.LockExplicit
		seen["timeout"] = seen["timeout"] || e.Timeout != ""
		seen["wait"] = seen["wait"] || e.Wait != ""
		seen["splay"] = seen["splay"] || e.Splay != ""
		seen["output"] = seen["output"] || e.Output != ""
		seen["lease"] = seen["lease"] || len(e.Leases) > 0
		seen["env"] = seen["env"] || len(e.Env) > 0
		seen["mailto"] = seen["mailto"] || e.Mailto != nil
		seen["persistent"] = seen["persistent"] || e.Persistent
		seen["nice"] = seen["nice"] || e.Nice != ""
		seen["ionice"] = seen["ionice"] || e.IONice != ""
		seen["memory_max"] = seen["memory_max"] || e.MemoryMax != ""
		seen["cpu_max"] = seen["cpu_max"] || e.CPUMax != ""
		seen["rlimit"] = seen["rlimit"] || len(e.Rlimits) > 0
	}
	for _, k := range Keys {
		if !seen[k] {
			t.Errorf("no golden input sets key %q", k)
		}
	}
	if !*update {
		onDisk, _ := filepath.Glob("testdata/golden/*.cron.d")
		for i := range onDisk {
			onDisk[i] = filepath.Base(onDisk[i])
		}
		if !slices.Equal(onDisk, names) {
			t.Errorf("golden cron.d files %v, generated %v", onDisk, names)
		}
	}
	// Same input, same bytes.
	again, _ := Collect([]string{"testdata/scripts"})
	files2, _ := Generate(again, Options{})
	for i := range files {
		if string(files[i].Data) != string(files2[i].Data) {
			t.Errorf("%s: two runs differ", files[i].Package)
		}
	}
}

// TestGoldenForms parses each header form alone, so that a form that
// stops being read fails here by name.
func TestGoldenForms(t *testing.T) {
	for _, tc := range []struct {
		file string
		n    int
	}{
		{"testdata/scripts/nightly-report.pl", 2}, // POD
		{"testdata/scripts/cleanup.sh", 2},        // #
		{"testdata/scripts/sync.js", 2},           // //
		{"testdata/scripts/sub/rotate.py", 2},
		{"testdata/scripts/sub/plain.sh", 0},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		entries, errs := Parse(tc.file, data)
		if len(errs) > 0 || len(entries) != tc.n {
			t.Errorf("%s: %d entries, errors %v; want %d entries", tc.file, len(entries), errs, tc.n)
		}
	}
}

// switchmanLeaseMap is what the switchman-era golden tree is generated
// with: mem per host in MB, cpu per host in cores.
var switchmanLeaseMap = LeaseMap{
	"mem": {Resource: "FQDN_mem", Total: "MEMMB"},
	"cpu": {Resource: "FQDN_cpu", Total: "CPU"},
}

// TestGoldenSwitchman: a switchman-era tree (POD and # forms, shards,
// other tools' blocks, entries with and without <switchman>, a file in
// cronguard's form beside them) gives the cron.d files in
// testdata/golden/switchman.
func TestGoldenSwitchman(t *testing.T) {
	entries, err := Collect([]string{"testdata/switchman"})
	if err != nil {
		t.Fatal(err)
	}
	if err := MapLeases(entries, switchmanLeaseMap); err != nil {
		t.Fatal(err)
	}
	golden(t, "switchman/entries.txt", []byte(dump(entries)))
	files, err := Generate(entries, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Package+".cron.d")
		golden(t, "switchman/"+f.Package+".cron.d", f.Data)
	}
	if !*update {
		onDisk, _ := filepath.Glob("testdata/golden/switchman/*.cron.d")
		for i := range onDisk {
			onDisk[i] = filepath.Base(onDisk[i])
		}
		if !slices.Equal(onDisk, names) {
			t.Errorf("golden cron.d files %v, generated %v", onDisk, names)
		}
	}
	// Generate refuses entries whose leases were never mapped, rather than
	// dropping them.
	again, _ := Collect([]string{"testdata/switchman"})
	if _, err := Generate(again, Options{}); err == nil || !strings.Contains(err.Error(), "call MapLeases first") {
		t.Errorf("Generate with unmapped leases: %v", err)
	}
}
