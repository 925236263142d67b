package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every error about the content of a config (bad
// JSON, bad value, missing key) so callers can map it to exit code 125
// without matching on text. File I/O errors do not wrap it.
var ErrInvalid = errors.New("config: invalid")

// ErrUnknownGroup is wrapped by Fleet methods asked about a group the fleet
// config does not define.
var ErrUnknownGroup = errors.New("config: unknown group")

// Error is a one-line config error: "SOURCE: line L, column C: MSG".
// Line and Column are 1-based and 0 when the problem has no position;
// they are exported so `config edit` can put the cursor on the problem.
type Error struct {
	Source string // file path, "fleet config", or "" (no prefix)
	Line   int
	Column int
	Msg    string
	Err    error // underlying cause (*json.SyntaxError, *fs.PathError, ...), may be nil

	io bool // an I/O problem, not a content problem: does not wrap ErrInvalid
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d, column %d: ", e.Line, e.Column)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap lets errors.Is see both ErrInvalid (content problems) and the
// cause, e.g. fs.ErrNotExist for a missing file.
func (e *Error) Unwrap() []error {
	var errs []error
	if !e.io {
		errs = append(errs, ErrInvalid)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// plainErr is an error with no source, for helpers (durations, prefixes,
// zkhosts) whose caller adds the key or flag name in front.
func plainErr(format string, args ...any) error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

func invalidf(source, format string, args ...any) *Error {
	return &Error{Source: source, Msg: fmt.Sprintf(format, args...)}
}

// jsonError turns an encoding/json error into an *Error with a line and
// column, because byte offsets mean nothing to someone editing a file.
// skipped is the number of bytes (a BOM) removed before decoding.
func jsonError(source string, data []byte, skipped int, err error) *Error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		off int64
		msg string
	)
	switch {
	case errors.As(err, &syn):
		off, msg = syn.Offset, "invalid JSON: "+syn.Error()
		// Offset counts the offending byte; point at it, except at EOF
		// where there is no offending byte.
		if off > 0 && int(off) <= len(data)-skipped && !strings.Contains(syn.Error(), "unexpected end") {
			off--
		}
	case errors.As(err, &typ):
		off, msg = typ.Offset, "invalid JSON: "+typ.Error()
	default:
		return &Error{Source: source, Msg: "invalid JSON: " + err.Error(), Err: err}
	}
	line, col := lineCol(data, int(off)+skipped)
	return &Error{Source: source, Line: line, Column: col, Msg: msg, Err: err}
}

// lineCol converts a byte offset into a 1-based line and a 1-based column
// counted in characters (runes), as editors show them.
func lineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line = 1
	start := 0
	for i := 0; i < off; i++ {
		if data[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCount(data[start:off]) + 1
}

// invalidUTF8 reports the first invalid UTF-8 sequence. Go's decoder would
// silently turn it into U+FFFD, and a host name with a replacement
// character never matches; switchman (Perl, :encoding(UTF-8)) dies on it.
func invalidUTF8(source string, data []byte, skipped int) *Error {
	if utf8.Valid(data) {
		return nil
	}
	for i := 0; i < len(data); {
		r, w := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && w == 1 {
			line, col := lineCol(data, i+skipped)
			return &Error{Source: source, Line: line, Column: col, Msg: "not valid UTF-8"}
		}
		i += w
	}
	return nil
}

// describe renders a raw JSON value for an error message: compact, and
// cut short so the message stays one readable line.
func describe(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		b.Reset()
		b.Write(raw)
	}
	s := b.String()
	if utf8.RuneCountInString(s) > 60 {
		r := []rune(s)
		s = string(r[:57]) + "..."
	}
	return s
}

// jsonKind names a raw JSON value's type for messages like "got an array".
func jsonKind(raw json.RawMessage) string {
	s := strings.TrimLeft(string(raw), " \t\r\n")
	if s == "" {
		return "nothing"
	}
	switch s[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

func isNull(raw json.RawMessage) bool {
	return strings.TrimSpace(string(raw)) == "null"
}
