package config

import (
	"errors"
	"regexp"
	"slices"
	"testing"
)

func TestParseZKHosts(t *testing.T) {
	tests := []struct {
		in         string
		servers    []string
		chroot     string
		wantErrMsg string
	}{
		{"zk1:2181,zk2:2181", []string{"zk1:2181", "zk2:2181"}, "", ""},
		{"zk1", []string{"zk1:2181"}, "", ""},
		{"zk1,zk2:2182", []string{"zk1:2181", "zk2:2182"}, "", ""},
		{"zk1:2181,zk2:2181/chroot", []string{"zk1:2181", "zk2:2181"}, "/chroot", ""},
		{"zk1,zk2/a/b", []string{"zk1:2181", "zk2:2181"}, "/a/b", ""},
		{"zk1:2181/", []string{"zk1:2181"}, "", ""}, // "/" means no chroot, as in ZooKeeper
		{" zk1 , zk2:2182 ", []string{"zk1:2181", "zk2:2182"}, "", ""},
		{"10.0.0.1:2181", []string{"10.0.0.1:2181"}, "", ""},
		{"[::1]:2182", []string{"[::1]:2182"}, "", ""},
		{"[::1]", []string{"[::1]:2181"}, "", ""},
		{"zk1:02181", []string{"zk1:2181"}, "", ""},

		{"", nil, "", "is empty"},
		{"   ", nil, "", "is empty"},
		{"zk1,,zk2", nil, "", `has an empty entry (#2) in "zk1,,zk2"`},
		{"zk1,", nil, "", `has an empty entry (#2) in "zk1,"`},
		{",zk1", nil, "", `has an empty entry (#1) in ",zk1"`},
		{"/chroot", nil, "", `has an empty entry (#1) in "/chroot"`},
		{"zk1:abc", nil, "", `has a bad entry "zk1:abc": the port must be a number from 1 to 65535`},
		{"zk1:", nil, "", `has a bad entry "zk1:": the port must be a number from 1 to 65535`},
		{"zk1:0", nil, "", `has a bad entry "zk1:0": the port must be a number from 1 to 65535`},
		{"zk1:65536", nil, "", `has a bad entry "zk1:65536": the port must be a number from 1 to 65535`},
		{"zk1:+80", nil, "", `has a bad entry "zk1:+80": the port must be a number from 1 to 65535`},
		{":2181", nil, "", `has a bad entry ":2181": no host`},
		{"::1", nil, "", `has a bad entry "::1": an IPv6 address needs brackets, like [::1]:2181`},
		{"zk 1:2181", nil, "", `has a bad entry "zk 1:2181": the host has spaces or control characters`},
		{"zk1/a/", nil, "", `has a bad chroot: must look like /a/b, got "/a/"`},
		{"zk1//a", nil, "", `has a bad chroot: must look like /a/b, got "//a"`},
		{"zk1/a/../b", nil, "", `has a bad chroot: must not have "." or ".." components, got "/a/../b"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			servers, chroot, err := ParseZKHosts(tt.in)
			if tt.wantErrMsg != "" {
				if err == nil {
					t.Fatalf("ParseZKHosts(%q) = %q, %q; want error %q", tt.in, servers, chroot, tt.wantErrMsg)
				}
				if err.Error() != tt.wantErrMsg {
					t.Fatalf("error = %q, want %q", err, tt.wantErrMsg)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error does not wrap ErrInvalid")
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseZKHosts(%q): %v", tt.in, err)
			}
			if !slices.Equal(servers, tt.servers) || chroot != tt.chroot {
				t.Fatalf("ParseZKHosts(%q) = %q, %q; want %q, %q", tt.in, servers, chroot, tt.servers, tt.chroot)
			}
		})
	}
}

func TestValidatePrefix(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
	}{
		{"/switchman", ""},
		{"/a", ""},
		{"/a/b/c", ""},
		{"/a b", ""}, // ZooKeeper allows spaces, and so does switchman's regex
		{"/crön", ""},
		{"/a.b/..c", ""},

		{"", `must look like /a/b, got ""`},
		{"/", `must look like /a/b, got "/"`},
		{"x", `must look like /a/b, got "x"`},
		{"x/", `must look like /a/b, got "x/"`},
		{"/a/", `must look like /a/b, got "/a/"`},
		{"//a", `must look like /a/b, got "//a"`},
		{"/a//b", `must look like /a/b, got "/a//b"`},
		{"/a/./b", `must not have "." or ".." components, got "/a/./b"`},
		{"/..", `must not have "." or ".." components, got "/.."`},
		{"/a\x00b", `must not contain control or reserved characters, got "/a\x00b"`},
		{"/a\n", `must not contain control or reserved characters, got "/a\n"`},
		{"/a\xff", `must be valid UTF-8, got "/a\xff"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := ValidatePrefix(tt.in)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ValidatePrefix(%q): %v", tt.in, err)
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("ValidatePrefix(%q) = %v, want %q", tt.in, err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid")
			}
		})
	}
}

// TestSwitchmanPrefixIsTheRegexp holds switchmanPrefix to switchman's
// regexp, ^(?:/[^/]+)+$ (Go's [^/] matches newlines and invalid UTF-8 too).
func TestSwitchmanPrefixIsTheRegexp(t *testing.T) {
	re := regexp.MustCompile(`^(?:/[^/]+)+$`)
	cases := []string{"", "/", "//", "///", "a", "/a", "a/", "/a/", "//a", "/a//b", "/a/b", "/a/b/",
		"/\n", "/a\n/b", "\n/a", "/\xff", "/\xff/", "/é/ü", "/ /", "/ ", "/a/\x00", "a/b", "/a\\/b"}
	alphabet := []string{"/", "a", "\n", "\xff", "é", "."}
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		cases = append(cases, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 5)
	for _, p := range cases {
		if got, want := switchmanPrefix(p), re.MatchString(p); got != want {
			t.Errorf("switchmanPrefix(%q) = %v, the regexp says %v", p, got, want)
		}
	}
}
