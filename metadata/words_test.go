package metadata

import (
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

func TestSplitWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"  --mod 2   --rem\t0 ", []string{"--mod", "2", "--rem", "0"}},
		{`--name 'a b' "c d" e\ f`, []string{"--name", "a b", "c d", "e f"}},
		{`'it'\''s' "say \"hi\"" 'x'"y"z`, []string{"it's", `say "hi"`, "xyz"}},
		{`"back\\slash" "keep\n" 'a\b'`, []string{`back\slash`, `keep\n`, `a\b`}},
		{`'' ""`, []string{"", ""}},
		{`--fmt '+%Y %m' '$HOME' a#b x~`, []string{"--fmt", "+%Y %m", "$HOME", "a#b", "x~"}},
	} {
		got, err := SplitWords(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("SplitWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"a;b", "a | b", "`id`", `"$HOME"`, "*.log", "#x", "~/x", "a\\", "'x", `"x`, "a>b", "(x)"} {
		if _, err := SplitWords(bad); err == nil {
			t.Errorf("SplitWords(%q): no error", bad)
		}
	}
}

// cronDecode is what cron (Vixie/Debian, cronie) does to the command field
// before handing it to the shell: "\%" loses its backslash, a backslash
// escapes the next character from the scan, and the first unescaped '%'
// ends the command (the rest is stdin).
func cronDecode(cmd string) (command, stdin string, cut bool) {
	var out []byte
	escaped := false
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if escaped {
			if c == '%' {
				out[len(out)-1] = '%'
			} else {
				out = append(out, c)
			}
			escaped = false
			continue
		}
		if c == '%' {
			return string(out), cmd[i+1:], true
		}
		escaped = c == '\\'
		out = append(out, c)
	}
	return string(out), "", false
}

// TestQuoteThroughCronAndSh: words quoted, escaped for cron, decoded as
// cron does and run by /bin/sh arrive intact, whatever they hold.
func TestQuoteThroughCronAndSh(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	words := []string{
		"plain", "", "a b", "it's", `"dq"`, `back\slash`, `\`, `\\`, "%", `\%`, `\\%`, `a\%b`, `%\`,
		"+%Y-%m-%d", "$HOME", "`id`", "$(id)", "*", "a;b", "~", "#", "x'%'y", `'\''`, "\t", "ü%é",
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`ab %\'"$;*~#` + "\t")
	for range 200 {
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		words = append(words, string(b))
	}
	// One sh run for all words: each is printed between NUL bytes.
	line := CronEscape(`printf '%s\0' ` + QuoteWords(words))
	cmd, stdin, cut := cronDecode(line)
	if cut {
		t.Fatalf("cron would cut the command at an unescaped %%; stdin %q", stdin)
	}
	out, err := exec.Command(sh, "-c", cmd).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, cmd)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if !slices.Equal(got, words) {
		for i := range min(len(got), len(words)) {
			if got[i] != words[i] {
				t.Errorf("word %d: got %q want %q (quoted %q)", i, got[i], words[i], CronEscape(Quote(words[i])))
			}
		}
		t.Fatalf("%d words back, want %d", len(got), len(words))
	}
}
