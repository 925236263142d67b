package metadata

import (
	"errors"
	"strings"
	"testing"
)

// swEntry is a <crontab> block in # comments: <crontab>, time and package
// are its first three lines, then the given lines (the first of them is
// line 4 of a text that starts with it), then </crontab>.
func swEntry(lines ...string) string {
	var b strings.Builder
	b.WriteString("# <crontab>\n#   time: @daily\n#   package: p\n")
	for _, l := range lines {
		b.WriteString("#   " + l + "\n")
	}
	b.WriteString("# </crontab>\n")
	return b.String()
}

// TestSwitchmanForm reads the form of the example: a guarded
// entry with its group and leases, another tool's block ignored, a plain
// entry beside it.
func TestSwitchmanForm(t *testing.T) {
	in := `#!/usr/bin/perl
__END__

=head1 METADATA

<crontab>
   params: --export-all
   time: 17 3 * * *
   <switchman>
       group: batch-nightly
       <leases>
           mem: 512
       </leases>
   </switchman>
   package: nightly-scripts
</crontab>
<juggler>
    host: checks.example.org
    ttl: 4h
</juggler>
<crontab>
   time: 0 * * * *
   user: nobody
   env: A=1
   params: --plain
   package: nightly-scripts
</crontab>

=cut
`
	entries, errs := Parse("scripts/export.pl", []byte(in))
	if len(errs) > 0 {
		t.Fatalf("errors:\n%v", errs)
	}
	if err := MapLeases(entries, LeaseMap{"mem": {"FQDN_mem", "MEMMB"}}); err != nil {
		t.Fatal(err)
	}
	files, err := Generate(entries, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := "17 3 * * * root [ -x /usr/libexec/cronguard/export.pl ] && cronguard run --group batch-nightly --lock export.pl --schedule '17 3 * * *' --lease FQDN_mem=512:MEMMB -- /usr/libexec/cronguard/export.pl --export-all\n" +
		"\n# scripts/export.pl\n" +
		"0 * * * * nobody [ -x /usr/libexec/cronguard/export.pl ] && A=1 /usr/libexec/cronguard/export.pl --plain\n"
	if len(files) != 1 || !strings.HasSuffix(string(files[0].Data), want) {
		t.Errorf("generated:\n%s\nwant it to end with:\n%s", files[0].Data, want)
	}
}

// TestSwitchmanLocks: a sharded script in switchman's form keeps
// switchman's one lock, its base name, for every shard (a switchman host
// and a cronguard host must exclude each other on the same shard); the
// same script in cronguard's form keeps a lock per shard.
func TestSwitchmanLocks(t *testing.T) {
	shard := func(rem string, sw bool) string {
		b := "# <crontab>\n#   package: p\n#   time: */5 * * * *\n#   params: --mod 2 --rem " + rem + "\n"
		if sw {
			b += "#   <switchman>\n#     group: g\n#   </switchman>\n"
		}
		return b + "# </crontab>\n"
	}
	swForm, errs := Parse("dir/shard.sh", []byte(shard("0", true)+shard("1", true)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	own, errs := Parse("dir/shard.sh", []byte(shard("0", false)+shard("1", false)))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, e := range swForm {
		if e.Lock != "shard.sh" || e.LockExplicit {
			t.Errorf("switchman form, %q: lock %q, want shard.sh (switchman's lock) for every shard", e.Params, e.Lock)
		}
	}
	if own[0].Lock == own[1].Lock || !strings.HasPrefix(own[0].Lock, "shard.sh-") {
		t.Errorf("cronguard form: locks %q and %q, want one per shard", own[0].Lock, own[1].Lock)
	}
	// In the cron line too.
	files, err := Generate(swForm, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(files[0].Data), "cronguard run --group g --lock shard.sh --schedule '*/5 * * * *' -- "); n != 2 {
		t.Errorf("%d lines with --lock shard.sh, want 2:\n%s", n, files[0].Data)
	}
	// switchman's lockname names the lock instead.
	named, errs := Parse("dir/shard.sh", []byte(swEntry("<switchman>", "  lockname: shared-lock", "</switchman>")))
	if len(errs) > 0 || named[0].Lock != "shared-lock" || !named[0].LockExplicit {
		t.Errorf("lockname: %v %v", dump(named), errs)
	}
	// No group: switchman without -g, any host; no --group on the line.
	anyHost, errs := Parse("dir/x.sh", []byte(swEntry("<switchman>", "</switchman>")))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if c := Command(anyHost[0], Options{}); c != "cronguard run --lock x.sh --schedule @daily -- /usr/libexec/cronguard/x.sh" {
		t.Errorf("command %q", c)
	}
}

// TestSwitchmanBadInputs: each bad input of switchman's form, with the
// exact messages.
func TestSwitchmanBadInputs(t *testing.T) {
	const sw = "<switchman>"
	const endSw = "</switchman>"
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"bad lease count", swEntry(sw, "<leases>", "  mem: lots", "</leases>", endSw),
			[]string{`job.sh:6: <leases>: mem: COUNT "lots": want a positive whole number, CPU or MEMMB`}},
		{"zero lease count", swEntry(sw, "<leases>", "  mem: 0", "</leases>", endSw),
			[]string{`job.sh:6: <leases>: mem: COUNT "0": want a positive whole number, CPU or MEMMB`}},
		{"lease count as Perl", swEntry(sw, "<leases>", "  mem: 512*2", "</leases>", endSw),
			[]string{`job.sh:6: <leases>: mem: COUNT "512*2": want a positive whole number, CPU or MEMMB`}},
		{"lease line without a colon", swEntry(sw, "<leases>", "  mem 512", "</leases>", endSw),
			[]string{`job.sh:6: <leases>: want "NAME: COUNT", got "mem 512"`}},
		{"lease twice", swEntry(sw, "<leases>", "  mem: 1", "  mem: 2", "</leases>", endSw),
			[]string{`job.sh:7: <leases>: duplicate lease "mem" (first at line 6)`}},
		{"switchman outside crontab, # form", "# <switchman>\n#   group: g\n# </switchman>\n",
			[]string{`job.sh:1: <switchman> outside <crontab>: switchman's form nests it in each entry`,
				`job.sh:3: </switchman> outside <crontab>: switchman's form nests it in each entry`}},
		{"switchman outside crontab, POD", "=head1 METADATA\n\n<switchman>\n  group: g\n</switchman>\n=cut\n",
			[]string{`job.sh:3: <switchman> outside <crontab>: switchman's form nests it in each entry`,
				`job.sh:5: </switchman> outside <crontab>: switchman's form nests it in each entry`}},
		{"unclosed switchman", swEntry(sw, "group: g"),
			[]string{`job.sh:4: unterminated block: <switchman> has no </switchman>`}},
		{"unclosed leases", swEntry(sw, "<leases>", "  mem: 1", endSw),
			[]string{`job.sh:5: unterminated block: <leases> has no </leases>`}},
		{"unclosed leases and switchman", swEntry(sw, "<leases>", "  mem: 1"),
			[]string{`job.sh:4: unterminated block: <switchman> has no </switchman>`,
				`job.sh:5: unterminated block: <leases> has no </leases>`}},
		{"unclosed crontab around switchman", "# <crontab>\n#   time: @daily\n#   package: p\n#   <switchman>\n#   </switchman>\necho\n",
			[]string{`job.sh:1: unterminated block: <crontab> has no </crontab>`}},
		{"close without open", swEntry(endSw),
			[]string{`job.sh:4: </switchman> without <switchman>`}},
		{"leases outside switchman", swEntry("<leases>", "  mem: 1", "</leases>"),
			[]string{`job.sh:4: <leases> outside <switchman>: leases are set in it`,
				`job.sh:5: unknown key "mem" (keys: cpu_max, env, group, ionice, lease, lock, mailto, memory_max, nice, output, package, params, persistent, rlimit, splay, time, timeout, user, wait)`,
				`job.sh:6: </leases> without <leases>`}},
		{"two switchman blocks", swEntry(sw, endSw, sw, endSw),
			[]string{`job.sh:6: second <switchman> in one <crontab> (first at line 4)`,
				`job.sh:7: </switchman> without <switchman>`}},
		{"another tool's block inside crontab", swEntry("<juggler>", "</juggler>"),
			[]string{`job.sh:4: block <juggler> inside <crontab>: only <switchman> may be nested in an entry (blocks of other tools go beside <crontab>)`,
				`job.sh:5: block </juggler> inside <crontab>: only <switchman> may be nested in an entry (blocks of other tools go beside <crontab>)`}},
		{"unknown key in switchman", swEntry(sw, "lease: mem=1:2", endSw),
			[]string{`job.sh:5: unknown key "lease" in <switchman> (keys: group, lockname, and a <leases> block)`}},
		{"bad lockname", swEntry(sw, "lockname: a/b", endSw),
			[]string{`job.sh:5: lockname: invalid lock name "a/b": must not contain '/'`}},
		{"group beside switchman", swEntry("group: g", sw, endSw),
			[]string{`job.sh:4: group: in switchman's form set it in <switchman> (as group:)`}},
		{"lock beside switchman", swEntry("lock: l", sw, endSw),
			[]string{`job.sh:4: lock: in switchman's form set it in <switchman> (as lockname:)`}},
		{"cronguard key on a plain entry", swEntry(sw, endSw) + swEntry("timeout: 1h"),
			[]string{`job.sh:10: timeout: this entry has no <switchman> block, so it is a plain cron line that cronguard does not run; add a <switchman> block or remove the key`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, errs := Parse("job.sh", []byte(tc.in))
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
				if !errors.Is(e, ErrInvalid) {
					t.Errorf("%v does not wrap ErrInvalid", e)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(entries) > 0 && len(entries) >= strings.Count(tc.in, "<crontab>") {
				t.Errorf("a bad block still gave an entry: %v", dump(entries))
			}
		})
	}
}

// TestSwitchmanLeaseMap: the mapping of lease names, and its problems
// named by file:line with the flag to add.
func TestSwitchmanLeaseMap(t *testing.T) {
	in := swEntry("<switchman>", "<leases>", "  mem: 512", "  cpu: 2", "</leases>", "</switchman>")
	for _, tc := range []struct {
		name string
		m    LeaseMap
		want string
	}{
		{"mapped", LeaseMap{"mem": {"FQDN_mem", "MEMMB"}, "cpu": {"FQDN_cpu", "CPU"}}, ""},
		{"unmapped lease", LeaseMap{"mem": {"FQDN_mem", "MEMMB"}},
			`job.sh:7: lease "cpu" has no resource: run gen with --lease-map cpu=RES:TOTAL`},
		{"nothing mapped", nil,
			"job.sh:6: lease \"mem\" has no resource: run gen with --lease-map mem=RES:TOTAL\n" +
				`job.sh:7: lease "cpu" has no resource: run gen with --lease-map cpu=RES:TOTAL`},
		{"count over the total", LeaseMap{"mem": {"FQDN_mem", "256"}, "cpu": {"FQDN_cpu", "CPU"}},
			`job.sh:6: lease "mem" (--lease FQDN_mem=512:256): COUNT is larger than TOTAL`},
		{"two names, one resource", LeaseMap{"mem": {"FQDN_mem", "MEMMB"}, "cpu": {"FQDN_mem", "MEMMB"}},
			`job.sh:7: leases "mem" and "cpu" map to the same resource FQDN_mem`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, errs := Parse("job.sh", []byte(in))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			err := MapLeases(entries, tc.m)
			got := ""
			if err != nil {
				got = err.Error()
				var es Errors
				if !errors.As(err, &es) || !errors.Is(err, ErrInvalid) {
					t.Errorf("error %v: want Errors wrapping ErrInvalid", err)
				}
			}
			if got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			if err == nil && strings.Join(entries[0].Leases, " ") != "FQDN_mem=512:MEMMB FQDN_cpu=2:CPU" {
				t.Errorf("leases %q", entries[0].Leases)
			}
		})
	}
	for _, tc := range []struct{ spec, want string }{
		{"mem", `--lease-map "mem": want NAME=RES:TOTAL (e.g. mem=FQDN_mem:MEMMB)`},
		{"mem=FQDN_mem", `--lease-map "mem=FQDN_mem": want NAME=RES:TOTAL (e.g. mem=FQDN_mem:MEMMB)`},
		{"=FQDN_mem:MEMMB", `--lease-map "=FQDN_mem:MEMMB": want NAME=RES:TOTAL (e.g. mem=FQDN_mem:MEMMB)`},
		{"mem=FQDN mem:MEMMB", `--lease-map "mem=FQDN mem:MEMMB": resource "FQDN mem": want letters, digits, '_', '.', '-'`},
		{"mem=FQDN_mem:lots", `--lease-map "mem=FQDN_mem:lots": TOTAL "lots": want a positive whole number, CPU or MEMMB`},
	} {
		if _, err := ParseLeaseMap([]string{tc.spec}); err == nil || strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ") != tc.want {
			t.Errorf("%q: %v\nwant %s", tc.spec, err, tc.want)
		}
	}
	if _, err := ParseLeaseMap([]string{"mem=a:1", "mem=b:2"}); err == nil || !strings.Contains(err.Error(), "mem is mapped twice") {
		t.Errorf("mem twice: %v", err)
	}
}

// TestOtherToolsBlocks: blocks of other tools beside <crontab> are not
// read, whatever they hold, in both forms.
func TestOtherToolsBlocks(t *testing.T) {
	others := "# <juggler>\n#   host: x\n#   <check>\n#     ttl: 4h\n#   </check>\n# </juggler>\n" +
		"# <monrun>\n#   command: y\n# </monrun>\n# <ubic>\n# </ubic>\n# <whatever-else>\n#   odd line\n"
	for _, form := range []string{swEntry("<switchman>", "</switchman>"), swEntry()} {
		entries, errs := Parse("job.sh", []byte(others+form+others))
		if len(errs) > 0 || len(entries) != 1 {
			t.Errorf("%d entries, errors:\n%v", len(entries), errs)
		}
	}
}
