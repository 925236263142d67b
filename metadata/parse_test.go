package metadata

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// block wraps lines in a # comment block of a shell script; the first key
// line is line 3.
func block(lines ...string) string {
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# <crontab>\n")
	for _, l := range lines {
		b.WriteString("#   " + l + "\n")
	}
	b.WriteString("# </crontab>\n")
	return b.String()
}

// TestBadInputs: each bad input, with the exact message it must give.
func TestBadInputs(t *testing.T) {
	const ok = "package: p\n#   time: @daily"
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"bad cron spec", block("package: p", "time: 61 * * * *"),
			[]string{`job.sh:4: time: "61 * * * *": minute "61": 61 is out of range 0-59`}},
		{"empty list item", block("package: p", "time: 0,30, * * * *"),
			[]string{`job.sh:4: time: "0,30, * * * *": minute "0,30,": empty item in the list`}},
		{"cron spec with 6 fields", block("package: p", "time: 0 0 * * * *"),
			[]string{`job.sh:4: time: "0 0 * * * *": want 5 fields (minute hour day-of-month month day-of-week) or an @macro, got 6`}},
		{"unknown macro", block("package: p", "time: @fortnightly"),
			[]string{`job.sh:4: time: "@fortnightly": unknown @macro "@fortnightly" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`}},
		{"@every", block("package: p", "time: @every 5m"),
			[]string{`job.sh:4: time: "@every 5m": unknown @macro "@every" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`}},
		{"quartz's ?", block("package: p", "time: 0 0 ? * mon"),
			[]string{`job.sh:4: time: "0 0 ? * mon": "?" is not cron syntax (use "*")`}},
		{"step on a single value", block("package: p", "time: 5/10 * * * *"),
			[]string{`job.sh:4: time: "5/10 * * * *": minute "5/10": a step needs a range or * (Debian's cron refuses "5/10")`}},
		{"unknown key", block(ok, "colour: red"),
			[]string{`job.sh:5: unknown key "colour" (keys: cpu_max, env, group, ionice, lease, lock, mailto, memory_max, nice, output, package, params, persistent, rlimit, splay, time, timeout, user, wait)`}},
		{"persistent neither yes nor no", block(ok, "persistent: true"),
			[]string{`job.sh:5: persistent: "true": want yes or no`}},
		{"duplicate key", block(ok, "time: @hourly"),
			[]string{`job.sh:5: duplicate key "time" (first at line 4)`}},
		{"unterminated block", "#!/bin/sh\n# <crontab>\n#   package: p\n#   time: @daily\necho hi\n",
			[]string{`job.sh:2: unterminated block: <crontab> has no </crontab>`}},
		{"unterminated block at end of file", "# <crontab>\n#   package: p\n",
			[]string{`job.sh:1: unterminated block: <crontab> has no </crontab>`}},
		{"unterminated block in POD", "=head1 METADATA\n\n<crontab>\n  package: p\n  time: @daily\n=cut\n",
			[]string{`job.sh:3: unterminated block: <crontab> has no </crontab>`}},
		{"block opened twice", "# <crontab>\n# <crontab>\n#   package: p\n#   time: @daily\n# </crontab>\n",
			[]string{`job.sh:1: unterminated block: <crontab> has no </crontab>`}},
		{"close without open", "# </crontab>\n",
			[]string{`job.sh:1: </crontab> without <crontab>`}},
		{"package name with a dot", block("package: my.jobs", "time: @daily"),
			[]string{`job.sh:3: package: "my.jobs": cron ignores /etc/cron.d files whose names have characters other than A-Z a-z 0-9 _ -`}},
		{"params with a newline", block(ok, "params: --a 1\r--b 2"),
			[]string{`job.sh:5: params: contains a newline`}},
		{"params continued on the next line", block(ok, "params: --a 1", "  --b 2"),
			[]string{`job.sh:6: want "key: value", got "--b 2" (a value must fit on one line)`}},
		{"params with an expansion", block(ok, "params: --day $(date +%a)"),
			[]string{`job.sh:5: params: unquoted '$': params are literal words, not shell; quote it ('$') to pass it as is`}},
		{"params with an unterminated quote", block(ok, `params: --name "a b`),
			[]string{`job.sh:5: params: unterminated " quote`}},
		{"no time", block("package: p"),
			[]string{`job.sh:2: block has no "time"`}},
		{"no package", block("time: @daily"),
			[]string{`job.sh:2: block has no "package"`}},
		{"bad duration", block(ok, "timeout: soon"),
			[]string{`job.sh:5: timeout: must be a number of seconds, got "soon"`}},
		{"negative duration", block(ok, "wait: -5"),
			[]string{`job.sh:5: wait: must not be negative, got "-5"`}},
		{"bad lease", block(ok, "lease: mem"),
			[]string{`job.sh:5: lease: "mem": want RES=COUNT:TOTAL`}},
		{"lease over its total", block(ok, "lease: mem=5:4"),
			[]string{`job.sh:5: lease: "mem=5:4": COUNT is larger than TOTAL`}},
		{"lease with a Perl expression", block(ok, "lease: mem=4:int(MEMMB/1024)"),
			[]string{`job.sh:5: lease: "mem=4:int(MEMMB/1024)": TOTAL "int(MEMMB/1024)": want a positive whole number, CPU or MEMMB`}},
		{"lock with a slash", block(ok, "lock: a/b"),
			[]string{`job.sh:5: lock: invalid lock name "a/b": must not contain '/'`}},
		{"bad user", block(ok, "user: bob smith"),
			[]string{`job.sh:5: user: "bob smith" is not a valid user name`}},
		{"group with a space", block(ok, "group: a b"),
			[]string{`job.sh:5: group: "a b" has spaces`}},
		{"env sets MAILTO", block(ok, "env: MAILTO=x@y"),
			[]string{`job.sh:5: env: MAILTO is read by cron, not the job: use the mailto key`}},
		{"env without =", block(ok, "env: DEBUG"),
			[]string{`job.sh:5: env: "DEBUG": want NAME=VALUE`}},
		{"mailto with a space", block(ok, "mailto: a@b c@d"),
			[]string{`job.sh:5: mailto: "a@b c@d": want addresses without spaces, quotes or backslashes`}},
		{"empty value", block(ok, "user:"),
			[]string{`job.sh:5: user: empty value`}},
		{"not a key line", block(ok, "every day at noon"),
			[]string{`job.sh:5: want "key: value", got "every day at noon" (a value must fit on one line)`}},
		{"bad nice", block(ok, "nice: 20"),
			[]string{`job.sh:5: nice: "20": want a whole number from -20 to 19`}},
		{"bad rlimit", block(ok, "rlimit: nofile=10 nofile=20"),
			[]string{`job.sh:5: rlimit: nofile is set twice`}},
		{"bad memory_max", block(ok, "memory_max: lots"),
			[]string{`job.sh:5: memory_max: "lots": want a size such as 512M, 2G or a number of bytes`}},
		{"all problems at once", block("package: a.b", "time: * * *", "bogus: 1", "package: x") + "# <crontab>\n",
			[]string{
				`job.sh:3: package: "a.b": cron ignores /etc/cron.d files whose names have characters other than A-Z a-z 0-9 _ -`,
				`job.sh:4: time: "* * *": want 5 fields (minute hour day-of-month month day-of-week) or an @macro, got 3`,
				`job.sh:5: unknown key "bogus" (keys: cpu_max, env, group, ionice, lease, lock, mailto, memory_max, nice, output, package, params, persistent, rlimit, splay, time, timeout, user, wait)`,
				`job.sh:6: duplicate key "package" (first at line 3)`,
				`job.sh:8: unterminated block: <crontab> has no </crontab>`,
			}},
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
			if len(entries) > 0 && len(errs) > 0 && len(entries) >= strings.Count(tc.in, "<crontab>") {
				t.Errorf("a bad block still gave an entry: %v", dump(entries))
			}
		})
	}
}

func TestGoodTimes(t *testing.T) {
	for _, spec := range []string{
		"* * * * *", "*/5 * * * *", "0 0 1 1 *", "0 9-17/2 * JAN-JUN Mon-Fri", "5,10,15 1-3 * * 0",
		"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly", "@reboot",
		"0 0 * * sun", "0 12 1,15 feb,aug *", "  30   4   *  *  * ",
		// Debian's cron: 7 is Sunday too, alone or ending a range.
		"0 0 * * 7", "0 0 * * mon-7", "0 0 * * 5-7/2",
		// Leading zeros, names in any case, a step past the range's end
		// (*/90 is minute 0 only, as cron reads it), a range of one.
		"05 09 * * *", "0 0 * dEc SAT", "*/90 * * * *", "3-3 * * * *",
		"0-59/15 0-23 1-31 1-12 0-7", "0 0 1-31/2 jan-dec/3 sun-sat",
	} {
		if _, msg := checkTime(spec); msg != "" {
			t.Errorf("%q: %s", spec, msg)
		}
	}
}

// TestBadTimes: what Debian's cron refuses (or accepts and then silently
// never runs), each with the field and the reason.
func TestBadTimes(t *testing.T) {
	for _, tc := range []struct{ spec, want string }{
		// Empty list items: robfig's parser drops them, cron refuses.
		{"1,,2 * * * *", `minute "1,,2": empty item in the list`},
		{"0,30, * * * *", `minute "0,30,": empty item in the list`},
		{",5 * * * *", `minute ",5": empty item in the list`},
		{"0 , * * *", `hour ",": empty item in the list`},
		{"0 0 1, * *", `day-of-month "1,": empty item in the list`},
		{"0 0 * jan, *", `month "jan,": empty item in the list`},
		{"0 0 * * ,mon", `day-of-week ",mon": empty item in the list`},
		// Steps.
		{"*/0 * * * *", `minute "*/0": step 0: want 1 or more`},
		{"1-5/0 * * * *", `minute "1-5/0": step 0: want 1 or more`},
		{"*/ * * * *", `minute "*/": empty step`},
		{"*/x * * * *", `minute "*/x": step "x" is not a number`},
		{"0 0 * */feb *", `month "*/feb": step "feb" is not a number`},
		{"*/-1 * * * *", `minute "*/-1": step "-1" is not a number`},
		{"1-5/2/3 * * * *", `minute "1-5/2/3": step "2/3" is not a number`},
		{"5/10 * * * *", `minute "5/10": a step needs a range or * (Debian's cron refuses "5/10")`},
		{"0 0 * * mon/2", `day-of-week "mon/2": a step needs a range or * (Debian's cron refuses "mon/2")`},
		// Ranges.
		{"5-1 * * * *", `minute "5-1": range 5-1 runs backwards: cron accepts it and never matches it`},
		{"0 0 * * mon-sun", `day-of-week "mon-sun": range 1-0 runs backwards: cron accepts it and never matches it (end a range on Sunday with 7)`},
		{"0 0 * dec-jan *", `month "dec-jan": range 12-1 runs backwards: cron accepts it and never matches it`},
		{"1- * * * *", `minute "1-": empty value`},
		{"-5 * * * *", `minute "-5": empty value`},
		{"1-2-3 * * * *", `minute "1-2-3": "2-3" is not a number`},
		// Values and bounds.
		{"60 * * * *", `minute "60": 60 is out of range 0-59`},
		{"0 24 * * *", `hour "24": 24 is out of range 0-23`},
		{"0 0 0 * *", `day-of-month "0": 0 is out of range 1-31`},
		{"0 0 32 * *", `day-of-month "32": 32 is out of range 1-31`},
		{"0 0 * 13 *", `month "13": 13 is out of range 1-12`},
		{"0 0 * 0 *", `month "0": 0 is out of range 1-12`},
		{"0 0 * * 8", `day-of-week "8": 8 is out of range 0-7`},
		{"1-60 * * * *", `minute "1-60": 60 is out of range 0-59`},
		{"99999999999999999999 * * * *", `minute "99999999999999999999": 99999999999999999999 is out of range 0-59`},
		{"mon * * * *", `minute "mon": "mon" is not a number`},
		{"0 0 * * monday", `day-of-week "monday": "monday" is not a number or a day name (sun-sat)`},
		{"0 0 * january *", `month "january": "january" is not a number or a month name (jan-dec)`},
		{"0 0 * * jan", `day-of-week "jan": "jan" is not a number or a day name (sun-sat)`},
		{"0 0 mon * *", `day-of-month "mon": "mon" is not a number`},
		// What cron's parser skips silently after an item (it reads up to
		// the next blank): refused, it is never what was meant.
		{"5;x * * * *", `minute "5;x": "5;x" is not a number`},
		{"*5 * * * *", `minute "*5": "*5" is not a number`},
		{"*-5 * * * *", `minute "*-5": "*" is not a number`},
		{"060 * * * *", `minute "060": 60 is out of range 0-59`},
		{"L * * * *", `minute "L": "L" is not a number`},
		{"0 0 15W * *", `day-of-month "15W": "15W" is not a number`},
		{"0 0 * * 5#3", `day-of-week "5#3": "5#3" is not a number or a day name (sun-sat)`},
		{"0 0 ? * mon", `"?" is not cron syntax (use "*")`},
		// Macros: exactly Debian cron's, lowercase.
		{"@fortnightly", `unknown @macro "@fortnightly" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`},
		{"@Daily", `unknown @macro "@Daily" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`},
		{"@every", `unknown @macro "@every" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`},
		{"@daily 5", `@daily stands alone, without fields`},
		{"@", `unknown @macro "@" (cron knows @reboot @yearly @annually @monthly @weekly @daily @midnight @hourly)`},
		{"TZ=UTC 0 0 * * *", `a time zone prefix is not cron syntax`},
		{"* * * *", `want 5 fields (minute hour day-of-month month day-of-week) or an @macro, got 4`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			if _, msg := checkTime(tc.spec); msg != tc.want {
				t.Errorf("got  %s\nwant %s", msg, tc.want)
			}
		})
	}
}

func TestDerivedLocks(t *testing.T) {
	in := block("package: p", "time: @daily", "params: --rem 0") +
		"# <crontab>\n#   package: p\n#   time: @daily\n#   params: --rem   1\n# </crontab>\n" +
		"# <crontab>\n#   package: p\n#   time: @hourly\n#   params: --rem 1\n# </crontab>\n" +
		"# <crontab>\n#   package: p\n#   time: @hourly\n#   lock: mine\n# </crontab>\n"
	entries, errs := Parse("dir/shard.sh", []byte(in))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	locks := []string{entries[0].Lock, entries[1].Lock, entries[2].Lock, entries[3].Lock}
	if locks[0] == locks[1] || locks[1] != locks[2] || locks[3] != "mine" {
		t.Errorf("locks %q: want distinct shards, the same params sharing one, the explicit one kept", locks)
	}
	if !strings.HasPrefix(locks[0], "shard.sh-") || len(locks[0]) != len("shard.sh-")+8 {
		t.Errorf("lock %q: want shard.sh-<8 hex digits>", locks[0])
	}
	// One entry alone keeps the plain script name, as switchman did.
	one, _ := Parse("dir/shard.sh", []byte(block("package: p", "time: @daily", "params: --rem 0")))
	if one[0].Lock != "shard.sh" {
		t.Errorf("single entry lock %q, want shard.sh", one[0].Lock)
	}
	// A file name that cannot be a lock name asks for one.
	_, errs = Parse("my job.sh", []byte(block("package: p", "time: @daily")))
	want := `my job.sh:2: lock name "my job.sh" derived from the file name: invalid lock name "my job.sh": control, space or invalid character; name a lock in the block`
	if len(errs) != 1 || errs[0].Error() != want {
		t.Errorf("errors %v, want %s", errs, want)
	}
}

func TestCRLF(t *testing.T) {
	in := strings.ReplaceAll(block("package: p", "time: @daily", "params: -v"), "\n", "\r\n")
	entries, errs := Parse("x.sh", []byte(in))
	if len(errs) > 0 || len(entries) != 1 || entries[0].Params[0] != "-v" {
		t.Fatalf("entries %v, errors %v", dump(entries), errs)
	}
}

func TestCollectErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a/job.sh", block("package: p", "time: @daily"))
	write("b/job.sh", block("package: q", "time: @daily"))
	write("c/bad.sh", block("package: p", "time: nope"))
	write("c/binary", "\x00\x01<crontab> junk")
	_, err := Collect([]string{dir, filepath.Join(dir, "missing")})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v, want Errors", err)
	}
	want := []string{
		dir + `/b/job.sh:2: script name "job.sh" is also the name of ` + dir + `/a/job.sh: both would be installed and run as the same file`,
		dir + `/c/bad.sh:4: time: "nope": want 5 fields (minute hour day-of-month month day-of-week) or an @macro, got 1`,
		dir + `/missing: no such file or directory`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

// TestControlCharacters: a file name or a value holding a line break or any
// other control character never reaches a cron.d file.
func TestControlCharacters(t *testing.T) {
	good := block("package: p", "time: @daily", "lock: fixed")
	for _, tc := range []struct{ name, file, in, want string }{
		{"newline in the file name", "dir/ok\n* * * * * root touch PWNED\n.sh", good,
			`"dir/ok\n* * * * * root touch PWNED\n.sh": file name contains a control character ('\n'): a cron.d line cannot hold it; rename the file`},
		{"newline in a directory name", "a\nb/job.sh", good,
			`"a\nb/job.sh": file name contains a control character ('\n'): a cron.d line cannot hold it; rename the file`},
		{"carriage return in the file name", "ok\r.sh", good,
			`"ok\r.sh": file name contains a control character ('\r'): a cron.d line cannot hold it; rename the file`},
		{"escape in the file name", "ok\x1b.sh", good,
			`"ok\x1b.sh": file name contains a control character ('\x1b'): a cron.d line cannot hold it; rename the file`},
		{"tab in the file name", "ok\t.sh", good,
			`"ok\t.sh": file name contains a control character ('\t'): a cron.d line cannot hold it; rename the file`},
		{"invalid UTF-8 in the file name", "ok\xff.sh", good,
			`"ok\xff.sh": file name contains a control character ('�'): a cron.d line cannot hold it; rename the file`},
		{"carriage return in params", "job.sh", block("package: p", "time: @daily", "params: a\rb"),
			`job.sh:5: params: contains a newline`},
		{"escape in params", "job.sh", block("package: p", "time: @daily", "params: a\x1bb"),
			`job.sh:5: params: contains a control or invalid character ('\x1b')`},
		{"DEL in env", "job.sh", block("package: p", "time: @daily", "env: A=\x7f"),
			`job.sh:5: env: contains a control or invalid character ('\x7f')`},
		{"NUL-free bell in lock", "job.sh", block("package: p", "time: @daily", "lock: a\x07"),
			`job.sh:5: lock: contains a control or invalid character ('\a')`},
		{"C1 control in mailto", "job.sh", block("package: p", "time: @daily", "mailto: a\u0085b"),
			`job.sh:5: mailto: contains a control or invalid character ('\u0085')`},
		{"vertical tab in time", "job.sh", block("package: p", "time: 0\v0 * * *"),
			`job.sh:4: time: contains a control or invalid character ('\v')`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			entries, errs := Parse(tc.file, []byte(tc.in))
			if len(entries) != 0 || len(errs) != 1 || errs[0].Error() != tc.want {
				t.Errorf("entries %d, errors %q\nwant %q", len(entries), errs.Error(), tc.want)
			}
		})
	}
	// A tab is whitespace, as it is to cron: between schedule fields it is
	// fine, and the line written holds spaces.
	entries, errs := Parse("job.sh", []byte(block("package: p", "time: 0\t3 * * *")))
	if len(errs) != 0 || entries[0].Time != "0 3 * * *" {
		t.Errorf("tab in time: %v %v", errs, dump(entries))
	}
	// gen --mailto, the file's default.
	bad := "root\x01"
	if _, err := Generate(entries, Options{Mailto: &bad}); err == nil || !strings.Contains(err.Error(), "control") {
		t.Errorf("mailto %q: error %v", bad, err)
	}
}
