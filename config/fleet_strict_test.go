package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestParseFleetStrictDuplicateKeys: encoding/json keeps the last of two
// equal keys; operator commands refuse them, naming the key and where.
func TestParseFleetStrictDuplicateKeys(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"groups twice", `{"groups": {"g": "a"}, "groups": {"g": "b"}}`,
			`fleet config: line 1, column 24: duplicate key "groups"`},
		{"a group named twice", "{\"groups\": {\n  \"g\": \"a\",\n  \"g\": [\"b\"]\n}}",
			`fleet config: line 3, column 3: duplicate key "g" in /groups`},
		{"resources twice", `{"resources": ["a"], "groups": {}, "resources": []}`,
			`fleet config: line 1, column 36: duplicate key "resources"`},
		{"deep in an extra key", `{"meta": {"x": [{"k": 1, "k": 2}]}}`,
			`fleet config: line 1, column 26: duplicate key "k" in /meta/x/0`},
		{"escaped spelling of the same key", `{"groups": {"g": "a", "\u0067": "b"}}`,
			`fleet config: line 1, column 23: duplicate key "g" in /groups`},
		{"after a BOM", "\xef\xbb\xbf{\"groups\": {}, \"groups\": {}}",
			`fleet config: line 1, column 17: duplicate key "groups"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseFleet([]byte(tc.in)); err != nil {
				t.Fatalf("ParseFleet (the run path, lenient) = %v", err)
			}
			_, err := ParseFleetStrict([]byte(tc.in))
			if fmt.Sprint(err) != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
	for _, ok := range []string{
		`{"groups": {"a": "x", "b": ["a", "a"]}, "resources": ["a", "a"]}`, // values may repeat
		`{"groups": {"a": "x"}, "meta": {"a": 1, "groups": 2}}`,            // same key, other objects
		`{}`,
	} {
		if _, err := ParseFleetStrict([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	// Syntax errors keep ParseFleet's message.
	if _, err := ParseFleetStrict([]byte(`{"groups": `)); err == nil || !strings.Contains(err.Error(), "invalid JSON") {
		t.Errorf("truncated: %v", err)
	}
}

// TestCheckFleetSize: ZooKeeper refuses a node over jute.maxbuffer (1 MiB
// by default, for the whole request); a config that large is refused
// before the write, with its size.
func TestCheckFleetSize(t *testing.T) {
	if MaxFleetSize != 1048576-1024 {
		t.Fatalf("MaxFleetSize = %d", MaxFleetSize)
	}
	if err := CheckFleetSize(MaxFleetSize); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err := CheckFleetSize(2 << 20)
	want := "fleet config: 2097152 bytes, over the 1047552 bytes a ZooKeeper node holds (jute.maxbuffer, 1 MiB by default, less room for the request)"
	if fmt.Sprint(err) != want || !errors.Is(err, ErrInvalid) {
		t.Errorf("got  %v\nwant %s", err, want)
	}
}

// TestCheckSwitchmanReadLen: switchman reads data_read_len bytes of the
// fleet config (65535 by default); longer is refused unless no switchman
// host is left.
func TestCheckSwitchmanReadLen(t *testing.T) {
	l, _, err := parseLocalForTest(`{"zkhosts":"zk","prefix":"/s"}`)
	if err != nil {
		t.Fatal(err)
	}
	if l.DataReadLen != 65535 || l.NoSwitchman {
		t.Fatalf("defaults: data_read_len %d, no_switchman %v", l.DataReadLen, l.NoSwitchman)
	}
	if err := CheckSwitchmanReadLen(65535, l, false); err != nil {
		t.Errorf("at the limit: %v", err)
	}
	err = CheckSwitchmanReadLen(113000, l, false)
	want := `longer than switchman reads: 113000 bytes, over the 65535 bytes switchman reads of it (data_read_len)`
	if err == nil || !strings.HasPrefix(err.Error(), want) || !errors.Is(err, ErrSwitchmanReadLen) {
		t.Errorf("got %v, want %s...", err, want)
	}
	if err := CheckSwitchmanReadLen(113000, l, true); err != nil {
		t.Errorf("--no-switchman: %v", err)
	}
	for _, tc := range []struct {
		data string
		ok   bool
	}{
		{`{"zkhosts":"zk","prefix":"/s","data_read_len":131072}`, true},
		{`{"zkhosts":"zk","prefix":"/s","data_read_len":"131072"}`, true}, // switchman: ^[0-9]+$
		{`{"zkhosts":"zk","prefix":"/s","no_switchman":true}`, true},
	} {
		l, _, err := parseLocalForTest(tc.data)
		if err != nil {
			t.Fatalf("%s: %v", tc.data, err)
		}
		if err := CheckSwitchmanReadLen(113000, l, false); (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.data, err)
		}
	}
	for _, bad := range []string{`{"zkhosts":"zk","prefix":"/s","data_read_len":-1}`, `{"zkhosts":"zk","prefix":"/s","data_read_len":"64k"}`,
		`{"zkhosts":"zk","prefix":"/s","no_switchman":"yes"}`} {
		if _, _, err := parseLocalForTest(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func parseLocalForTest(data string) (*Local, []string, error) {
	return ParseLocal([]byte(data), "test.conf")
}
