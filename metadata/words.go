package metadata

import (
	"errors"
	"fmt"
	"strings"
)

// SplitWords splits params into words the way sh would, with single
// quotes, double quotes and backslashes, but without any expansion: the
// words reach the script literally. An unquoted metacharacter or an
// expansion ($, `, ;, |, &, <, >, (, ), globs, a leading # or ~) is an
// error rather than a silent change of meaning; quote it to pass it as is.
func SplitWords(s string) ([]string, error) {
	var (
		words []string
		cur   strings.Builder
		in    bool // inside a word
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
			continue
		case r == '\'':
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				j++
			}
			if j == len(rs) {
				return nil, errors.New("unterminated ' quote")
			}
			cur.WriteString(string(rs[i+1 : j]))
			i = j
		case r == '"':
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				switch rs[j] {
				case '\\':
					if j+1 < len(rs) && strings.ContainsRune("$`\"\\", rs[j+1]) {
						j++
					}
				case '$', '`':
					return nil, fmt.Errorf("%q inside double quotes would be expanded by a shell; params are literal: use single quotes", rs[j])
				}
				cur.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, errors.New(`unterminated " quote`)
			}
			i = j
		case r == '\\':
			if i+1 == len(rs) {
				return nil, errors.New("ends with a backslash")
			}
			i++
			cur.WriteRune(rs[i])
		case strings.ContainsRune("$`;&|<>()*?[", r) || (!in && (r == '#' || r == '~')):
			return nil, fmt.Errorf("unquoted %q: params are literal words, not shell; quote it ('%c') to pass it as is", r, r)
		default:
			cur.WriteRune(r)
		}
		in = true
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}

// safeWord reports whether w needs no quoting in sh. '%' is left out so
// that every '%' sits inside single quotes, where CronEscape can handle it.
func safeWord(w string) bool {
	if w == "" {
		return false
	}
	for _, r := range w {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_@+=:,./-", r):
		default:
			return false
		}
	}
	return true
}

// Quote returns w as one sh word: as is when that is safe, else in single
// quotes.
func Quote(w string) string {
	if safeWord(w) {
		return w
	}
	return "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
}

// QuoteWords quotes each word and joins them with spaces.
func QuoteWords(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = Quote(w)
	}
	return strings.Join(q, " ")
}

// CronEscape makes sh text safe in the command field of a crontab line.
// cron turns an unescaped '%' into a newline (the rest becomes stdin) and
// drops the backslash of "\%"; a backslash followed by any other character
// escapes that character from cron's scan. So each '%' becomes "\%", and
// where a literal backslash would swallow that escape, "”" (closing and
// reopening the single quotes every '%' of Quote's output sits in) is put
// between them. Text must come from Quote/QuoteWords.
func CronEscape(s string) string {
	if !strings.ContainsAny(s, "%") {
		return s
	}
	var b strings.Builder
	escaped := false // the last byte written is a backslash cron will read as an escape
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if escaped {
				b.WriteString("''")
			}
			b.WriteString(`\%`)
			escaped = false
			continue
		}
		b.WriteByte(c)
		escaped = c == '\\' && !escaped
	}
	return b.String()
}
