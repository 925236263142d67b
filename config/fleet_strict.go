package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxFleetSize is the largest fleet config operator commands write.
// ZooKeeper refuses a request larger than jute.maxbuffer (0xfffff bytes,
// 1 MiB less one, by default) and the request holds the path and headers
// besides the data; 1 KiB is ample for those (a prefix is a short path).
const MaxFleetSize = 1<<20 - 1024

// CheckFleetSize refuses a fleet config of n bytes that ZooKeeper would not
// store.
func CheckFleetSize(n int) error {
	if n <= MaxFleetSize {
		return nil
	}
	return invalidf(fleetSource, "%d bytes, over the %d bytes a ZooKeeper node holds (jute.maxbuffer, 1 MiB by default, less room for the request)", n, MaxFleetSize)
}

// ParseFleetStrict is ParseFleet for operator commands (config set, edit,
// validate, assign): it also refuses a key that appears twice in one JSON
// object, at any depth, which encoding/json (and so ParseFleet, on the run
// path) silently resolves by keeping the last.
func ParseFleetStrict(data []byte) (*Fleet, error) {
	f, err := ParseFleet(data)
	if err != nil {
		return nil, err
	}
	if err := duplicateKeys(data); err != nil {
		return nil, err
	}
	return f, nil
}

// duplicateKeys walks the JSON token stream and reports the first key seen
// twice in the same object, with its line and column and the JSON pointer
// of the object ("/groups"). data has already been parsed successfully.
func duplicateKeys(data []byte) error {
	skipped := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		skipped = 3
	}
	body := data[skipped:]
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func(path []string) error
	walk = func(path []string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				tok, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := tok.(string)
				if seen[key] {
					line, col := lineCol(data, skipped+keyStart(body, int(dec.InputOffset())))
					where := ""
					if len(path) > 0 {
						where = " in /" + strings.Join(path, "/")
					}
					return &Error{Source: fleetSource, Line: line, Column: col, Msg: fmt.Sprintf("duplicate key %q%s", key, where)}
				}
				seen[key] = true
				if err := walk(append(path, pointerToken(key))); err != nil {
					return err
				}
			}
			_, err = dec.Token() // '}'
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(append(path, strconv.Itoa(i))); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ']'
			return err
		}
		return nil
	}
	err := walk(nil)
	if err == io.EOF {
		return nil
	}
	if _, ok := err.(*Error); ok {
		return err
	}
	if err != nil {
		return invalidf(fleetSource, "invalid JSON: %v", err)
	}
	return nil
}

// keyStart finds the opening quote of the key string that ends just before
// end (the decoder's offset after the key token).
func keyStart(body []byte, end int) int {
	for i := end - 2; i >= 0; i-- {
		if body[i] != '"' {
			continue
		}
		bs := 0
		for j := i - 1; j >= 0 && body[j] == '\\'; j-- {
			bs++
		}
		if bs%2 == 0 {
			return i
		}
	}
	return 0
}

// pointerToken escapes a key as a JSON pointer (RFC 6901) token.
func pointerToken(k string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(k)
}

// ErrSwitchmanReadLen marks a fleet config longer than switchman reads.
var ErrSwitchmanReadLen = errors.New("longer than switchman reads")

// CheckSwitchmanReadLen refuses a fleet config of n bytes that a switchman
// host would read cut off at data_read_len bytes (65535 unless its config
// raises it), fail to parse, and die on, in every run. l's data_read_len
// stands for the fleet's switchman hosts; noSwitchman (or l's no_switchman)
// says none is left.
func CheckSwitchmanReadLen(n int, l *Local, noSwitchman bool) error {
	if noSwitchman || l.NoSwitchman || n <= l.DataReadLen {
		return nil
	}
	return fmt.Errorf("%w: %d bytes, over the %d bytes switchman reads of it (data_read_len), so every switchman host would fail to parse it and die: raise data_read_len in every switchman host's config and in this one's, or pass --no-switchman (or set \"no_switchman\": true here) once no switchman host is left",
		ErrSwitchmanReadLen, n, l.DataReadLen)
}
