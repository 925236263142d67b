package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

const src = "/etc/cronguard/config.json"

// switchmanSample is a switchman /etc/switchman.conf as its users write it.
const switchmanSample = "{\n  \"zkhosts\": \"zk1:2181,zk2:2181\",\n  \"prefix\": \"/switchman\",\n  \"logfile\": \"/var/log/switchman.log\",\n  \"loglevel\": \"info\",\n  \"termination_timeout\": 10\n}"

func withDefaults(mod func(l *Local)) *Local {
	l := DefaultLocal()
	mod(l)
	return l
}

func TestDefaultLocal(t *testing.T) {
	want := &Local{
		LogLevel:           "info",
		TerminationTimeout: 10 * time.Second,
		SessionTimeout:     30 * time.Second,
		ConnectTimeout:     5 * time.Second,
		StateDir:           "/var/lib/cronguard",
		DataReadLen:        65535,
	}
	if got := DefaultLocal(); !reflect.DeepEqual(got, want) {
		t.Fatalf("DefaultLocal() = %+v, want %+v", got, want)
	}
}

func TestParseLocal(t *testing.T) {
	base := func(l *Local) {
		l.ZKHosts, l.Servers, l.Prefix = "zk:2181", []string{"zk:2181"}, "/p"
	}
	tests := []struct {
		name  string
		data  string
		want  *Local
		warns []string
	}{
		{
			name: "switchman sample",
			data: switchmanSample,
			want: withDefaults(func(l *Local) {
				l.ZKHosts = "zk1:2181,zk2:2181"
				l.Servers = []string{"zk1:2181", "zk2:2181"}
				l.Prefix = "/switchman"
				l.LogFile = "/var/log/switchman.log"
				l.LogLevel = "info"
				l.TerminationTimeout = 10 * time.Second
			}),
		},
		{
			name: "switchman 1.16 keys, no warning for data_read_len",
			data: `{"zkhosts":"zk","prefix":"/s","resources_wait_timeout":60,"data_read_len":65535,"loglevel":"warning"}`,
			want: withDefaults(func(l *Local) {
				l.ZKHosts, l.Servers, l.Prefix = "zk", []string{"zk:2181"}, "/s"
				l.ResourcesWaitTimeout = time.Minute
				l.LogLevel = "warn"
			}),
		},
		{
			name: "minimal gets defaults",
			data: `{"zkhosts":"zk:2181","prefix":"/p"}`,
			want: withDefaults(base),
		},
		{
			name: "every key",
			data: `{
				"zkhosts": "a:1,b/chroot",
				"prefix": "/cron/guard",
				"logfile": "/var/log/cronguard.log",
				"loglevel": "DEBUG",
				"log_format": "json",
				"termination_timeout": 20,
				"resources_wait_timeout": "1m",
				"session_timeout": 40.5,
				"connect_timeout": "1500ms",
				"fence_slack": 12,
				"hostname": "box1.example.com",
				"auth": "user:secret",
				"metrics_dir": "/var/lib/node_exporter",
				"runs_history": 20,
				"state_dir": "/srv/cronguard"
			}`,
			want: &Local{
				ZKHosts: "a:1,b/chroot", Servers: []string{"a:1", "b:2181"}, Chroot: "/chroot",
				Prefix:  "/cron/guard",
				LogFile: "/var/log/cronguard.log", LogLevel: "debug", LogFormat: "json",
				TerminationTimeout:   20 * time.Second,
				ResourcesWaitTimeout: time.Minute,
				SessionTimeout:       40500 * time.Millisecond,
				ConnectTimeout:       1500 * time.Millisecond,
				FenceSlack:           12 * time.Second,
				Hostname:             "box1.example.com",
				Auth:                 "user:secret",
				MetricsDir:           "/var/lib/node_exporter",
				RunsHistory:          20,
				StateDir:             "/srv/cronguard",
				DataReadLen:          65535,
			},
		},
		{
			name: "durations as int, float and string",
			data: `{"zkhosts":"zk:2181","prefix":"/p","termination_timeout":3,"resources_wait_timeout":0.5,"connect_timeout":"2"}`,
			want: withDefaults(func(l *Local) {
				base(l)
				l.TerminationTimeout = 3 * time.Second
				l.ResourcesWaitTimeout = 500 * time.Millisecond
				l.ConnectTimeout = 2 * time.Second
			}),
		},
		{
			name: "termination_timeout 0 is allowed, as in switchman",
			data: `{"zkhosts":"zk:2181","prefix":"/p","termination_timeout":0}`,
			want: withDefaults(func(l *Local) { base(l); l.TerminationTimeout = 0 }),
		},
		{
			name: "null means unset",
			data: `{"zkhosts":"zk:2181","prefix":"/p","termination_timeout":null,"loglevel":null}`,
			want: withDefaults(base),
		},
		{
			name: "numeric strings, as switchman's regex checks allowed",
			data: `{"zkhosts":"zk:2181","prefix":"/p","termination_timeout":"15","runs_history":"7"}`,
			want: withDefaults(func(l *Local) { base(l); l.TerminationTimeout = 15 * time.Second; l.RunsHistory = 7 }),
		},
		{
			name: "unknown keys warn, with a suggestion for typos",
			data: `{"zkhosts":"zk:2181","prefix":"/p","foo":1,"log_level":"debug","termination_timout":5}`,
			want: withDefaults(base),
			warns: []string{
				src + `: unknown key "foo" (ignored)`,
				src + `: unknown key "log_level" (ignored; did you mean "loglevel"?)`,
				src + `: unknown key "termination_timout" (ignored; did you mean "termination_timeout"?)`,
			},
		},
		{
			name:  "case matters, as in switchman",
			data:  `{"zkhosts":"zk:2181","prefix":"/p","Prefix":"/q"}`,
			want:  withDefaults(base),
			warns: []string{src + `: unknown key "Prefix" (ignored; did you mean "prefix"?)`},
		},
		{
			name:  "repeated key: last wins, with a warning",
			data:  `{"zkhosts":"zk:2181","prefix":"/old","prefix":"/p"}`,
			want:  withDefaults(base),
			warns: []string{src + `: key "prefix" appears more than once; the last one is used`},
		},
		{
			name: "BOM and CRLF",
			data: "\xef\xbb\xbf{\r\n\"zkhosts\": \"zk:2181\",\r\n\"prefix\": \"/p\"\r\n}\r\n",
			want: withDefaults(base),
		},
		{
			name: "Unicode spaces at line ends, which switchman strips",
			data: "{\n\u00a0\u00a0\"zkhosts\": \"zk:2181\",\u2003\n\f\"prefix\": \"/p\"\v\n}",
			want: withDefaults(base),
		},
		{
			name: "critical switchman level still lets errors through",
			data: `{"zkhosts":"zk:2181","prefix":"/p","loglevel":"critical"}`,
			want: withDefaults(func(l *Local) { base(l); l.LogLevel = "error" }),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warns, err := ParseLocal([]byte(tt.data), src)
			if err != nil {
				t.Fatalf("ParseLocal: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
			if !reflect.DeepEqual(warns, tt.warns) {
				t.Errorf("warnings = %q, want %q", warns, tt.warns)
			}
		})
	}
}

func TestParseLocalErrors(t *testing.T) {
	ok := `"zkhosts":"zk:2181","prefix":"/p"`
	tests := []struct {
		name     string
		data     string
		want     string
		line     int
		column   int
		warnings int
	}{
		{"bad token", "{\n  \"zkhosts\": \"a\",\n    x\n}", src + `: line 3, column 5: invalid JSON: invalid character 'x' looking for beginning of object key string`, 3, 5, 0},
		{"missing comma", "{\n  \"zkhosts\": \"a\"\n  \"prefix\": \"/p\"\n}", src + `: line 3, column 3: invalid JSON: invalid character '"' after object key:value pair`, 3, 3, 0},
		{"truncated", "{\n  \"zkhosts\": \"a\",", src + `: line 2, column 18: invalid JSON: unexpected end of JSON input`, 2, 18, 0},
		{"trailing garbage", `{"zkhosts":"a"} x`, src + `: line 1, column 17: invalid JSON: invalid character 'x' after top-level value`, 1, 17, 0},
		{"column counts characters", "{\"hostname\": \"é\" x}", src + `: line 1, column 18: invalid JSON: invalid character 'x' after object key:value pair`, 1, 18, 0},
		{"column after a BOM", "\xef\xbb\xbf{x}", src + `: line 1, column 3: invalid JSON: invalid character 'x' looking for beginning of object key string`, 1, 3, 0},
		{"invalid UTF-8", "{\n\"prefix\": \"/\xff\"}", src + `: line 2, column 13: not valid UTF-8`, 2, 13, 0},
		{"empty", "", src + `: is empty (want a JSON object with zkhosts and prefix)`, 0, 0, 0},
		{"blank", " \n\t\n", src + `: is empty (want a JSON object with zkhosts and prefix)`, 0, 0, 0},
		{"array", `["zk"]`, src + `: must be a JSON object, got an array`, 0, 0, 0},
		{"string", `"zk"`, src + `: must be a JSON object, got a string`, 0, 0, 0},
		{"null", `null`, src + `: must be a JSON object, got null`, 0, 0, 0},
		{"no zkhosts", `{"prefix":"/p"}`, src + `: zkhosts is not set`, 0, 0, 0},
		{"empty zkhosts", `{"zkhosts":"","prefix":"/p"}`, src + `: zkhosts is not set`, 0, 0, 0},
		{"no prefix", `{"zkhosts":"zk"}`, src + `: prefix is not set`, 0, 0, 0},
		{"zkhosts not a string", `{"zkhosts":5,"prefix":"/p"}`, src + `: "zkhosts" must be a string, got 5`, 0, 0, 0},
		{"zkhosts empty entry", `{"zkhosts":"a,,b","prefix":"/p"}`, src + `: "zkhosts" has an empty entry (#2) in "a,,b"`, 0, 0, 0},
		{"prefix x/", `{"zkhosts":"zk","prefix":"x/"}`, src + `: "prefix" must look like /a/b, got "x/"`, 0, 0, 0},
		{"prefix /", `{"zkhosts":"zk","prefix":"/"}`, src + `: "prefix" must look like /a/b, got "/"`, 0, 0, 0},
		{"prefix x", `{"zkhosts":"zk","prefix":"x"}`, src + `: "prefix" must look like /a/b, got "x"`, 0, 0, 0},
		{"prefix /a/", `{"zkhosts":"zk","prefix":"/a/"}`, src + `: "prefix" must look like /a/b, got "/a/"`, 0, 0, 0},
		{"prefix //a", `{"zkhosts":"zk","prefix":"//a"}`, src + `: "prefix" must look like /a/b, got "//a"`, 0, 0, 0},
		{"prefix reserved", `{"zkhosts":"zk","prefix":"/zookeeper/x"}`, src + `: "prefix" must not be under /zookeeper (ZooKeeper reserves it), got "/zookeeper/x"`, 0, 0, 0},
		{"prefix list", `{"zkhosts":"zk","prefix":["/p"]}`, src + `: "prefix" must be a string, got ["/p"]`, 0, 0, 0},
		{"timeout word", `{` + ok + `,"termination_timeout":"abc"}`, src + `: "termination_timeout" must be a number of seconds, got "abc"`, 0, 0, 0},
		{"timeout negative", `{` + ok + `,"termination_timeout":-1}`, src + `: "termination_timeout" must not be negative, got -1`, 0, 0, 0},
		{"timeout bool", `{` + ok + `,"resources_wait_timeout":true}`, src + `: "resources_wait_timeout" must be a number of seconds, got true`, 0, 0, 0},
		{"session timeout zero", `{` + ok + `,"session_timeout":0}`, src + `: "session_timeout" must be at least 1ms, got 0s`, 0, 0, 0},
		{"connect timeout zero", `{` + ok + `,"connect_timeout":0}`, src + `: "connect_timeout" must be more than 0, got 0`, 0, 0, 0},
		{"fence slack too big", `{` + ok + `,"session_timeout":10,"fence_slack":10}`, src + `: "fence_slack" (10s) must be less than session_timeout (10s)`, 0, 0, 0},
		{"log format", `{` + ok + `,"log_format":"xml"}`, src + `: "log_format" must be "json" or "console", got "xml"`, 0, 0, 0},
		{"log level", `{` + ok + `,"loglevel":"verbose"}`, src + `: "loglevel" must be one of trace, debug, info, warn, error (or a switchman level), got "verbose"`, 0, 0, 0},
		{"metrics dir relative", `{` + ok + `,"metrics_dir":"metrics"}`, src + `: "metrics_dir" must be an absolute path, got "metrics"`, 0, 0, 0},
		{"state dir relative", `{` + ok + `,"state_dir":"state"}`, src + `: "state_dir" must be an absolute path, got "state"`, 0, 0, 0},
		{"runs history fraction", `{` + ok + `,"runs_history":2.5}`, src + `: "runs_history" must be a whole number, got 2.5`, 0, 0, 0},
		{"runs history negative", `{` + ok + `,"runs_history":-1}`, src + `: "runs_history" must be a whole number, got -1`, 0, 0, 0},
		{"runs history large", `{` + ok + `,"runs_history":5000}`, src + `: "runs_history" must be from 0 to 1000, got 5000`, 0, 0, 0},
		{"hostname with space", `{` + ok + `,"hostname":"box1 "}`, src + `: "hostname" must not contain spaces or control characters, got "box1 "`, 0, 0, 0},
		{"auth without user", `{` + ok + `,"auth":":pw"}`, src + `: "auth" must be "user:pass" with a user name`, 0, 0, 0},
		{"auth missing file", `{` + ok + `,"auth":"/nonexistent/cg-auth"}`, src + `: "auth" must be "user:pass" or a readable file holding it; /nonexistent/cg-auth: no such file or directory`, 0, 0, 0},
		{"warnings survive an error", `{"foo":1,"prefix":"x"}`, src + `: "prefix" must look like /a/b, got "x"`, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, warns, err := ParseLocal([]byte(tt.data), src)
			if err == nil {
				t.Fatalf("ParseLocal = %+v, want error %q", l, tt.want)
			}
			if err.Error() != tt.want {
				t.Fatalf("error = %q\nwant    %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid")
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Line != tt.line || ce.Column != tt.column {
				t.Fatalf("position = %d:%d, want %d:%d", ce.Line, ce.Column, tt.line, tt.column)
			}
			if len(warns) != tt.warnings {
				t.Fatalf("warnings = %q, want %d", warns, tt.warnings)
			}
		})
	}
}

func TestLoadLocal(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	t.Run("switchman file unchanged", func(t *testing.T) {
		p := write("switchman.conf", switchmanSample+"\n")
		l, warns, err := LoadLocal(p)
		if err != nil || len(warns) != 0 {
			t.Fatalf("LoadLocal: %v, warnings %q", err, warns)
		}
		if l.Prefix != "/switchman" || l.Root() != "/switchman" || l.TerminationTimeout != 10*time.Second || l.LogFile != "/var/log/switchman.log" {
			t.Fatalf("got %+v", l)
		}
	})

	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(dir, "nope.json")
		_, _, err := LoadLocal(p)
		if err == nil || err.Error() != p+": no such file" {
			t.Fatalf("err = %v", err)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("errors.Is(err, fs.ErrNotExist) = false")
		}
		if errors.Is(err, ErrInvalid) {
			t.Fatalf("a missing file is not invalid content")
		}
	})

	t.Run("directory", func(t *testing.T) {
		_, _, err := LoadLocal(dir)
		if err == nil || err.Error() != dir+": not a regular file (a directory)" {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("auth file relative to the config file", func(t *testing.T) {
		write("zk.auth", "  cron:s3cret\n")
		p := write("auth.json", `{"zkhosts":"zk","prefix":"/p","auth":"zk.auth"}`)
		l, _, err := LoadLocal(p)
		if err != nil {
			t.Fatal(err)
		}
		if l.Auth != "cron:s3cret" {
			t.Fatalf("Auth = %q", l.Auth)
		}
	})

	t.Run("auth file without credentials", func(t *testing.T) {
		bad := write("bad.auth", "just-a-password\n")
		p := write("badauth.json", `{"zkhosts":"zk","prefix":"/p","auth":"bad.auth"}`)
		_, _, err := LoadLocal(p)
		want := p + `: "auth" file ` + bad + ` must hold one line "user:pass"`
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant  %s", err, want)
		}
		if strings.Contains(err.Error(), "just-a-password") {
			t.Fatal("error leaks the file content")
		}
	})

	t.Run("partial then flags then Validate", func(t *testing.T) {
		p := write("partial.json", `{"loglevel":"debug"}`)
		if _, _, err := LoadLocal(p); err == nil || err.Error() != p+": zkhosts is not set" {
			t.Fatalf("strict load err = %v", err)
		}
		l, _, err := LoadLocalPartial(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Validate("flags"); err == nil || err.Error() != "flags: zkhosts is not set" {
			t.Fatalf("Validate = %v", err)
		}
		if err := l.SetZKHosts("zk1,zk2:2182/chroot"); err != nil {
			t.Fatal(err)
		}
		l.Prefix = "/p"
		if err := l.Validate("flags"); err != nil {
			t.Fatal(err)
		}
		if l.Root() != "/chroot/p" || !reflect.DeepEqual(l.Servers, []string{"zk1:2181", "zk2:2182"}) {
			t.Fatalf("got %+v, root %q", l, l.Root())
		}
	})
}

func TestSetZKHostsKeepsOldOnError(t *testing.T) {
	l := DefaultLocal()
	if err := l.SetZKHosts("zk1"); err != nil {
		t.Fatal(err)
	}
	if err := l.SetZKHosts("zk1,,"); err == nil {
		t.Fatal("want error")
	}
	if l.ZKHosts != "zk1" || !reflect.DeepEqual(l.Servers, []string{"zk1:2181"}) {
		t.Fatalf("got %+v", l)
	}
}

func TestNormalizeLogLevel(t *testing.T) {
	tests := map[string]string{
		"trace": "trace", "debug": "debug", "info": "info", "notice": "info",
		"warn": "warn", "warning": "warn", "WARNING": "warn", "error": "error",
		"err": "error", "critical": "error", "alert": "error", "emergency": "error",
		"fatal": "fatal", "panic": "panic", "off": "disabled", "verbose": "",
	}
	for in, want := range tests {
		got, err := NormalizeLogLevel(in)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("NormalizeLogLevel(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestBlankLineEdgesKeepsOffsets(t *testing.T) {
	in := []byte("\u00a0{\f\n \"a\" : \"x\u00a0y\" \v\n}\u2003")
	out := blankLineEdges(in)
	if len(out) != len(in) {
		t.Fatalf("length changed: %d -> %d", len(in), len(out))
	}
	want := "  {\n\n \"a\" : \"x\u00a0y\"  \n}   "
	want = strings.Replace(want, "{\n\n", "{ \n", 1)
	if string(out) != want {
		t.Fatalf("got %q, want %q", out, want)
	}
	if string(in) != "\u00a0{\f\n \"a\" : \"x\u00a0y\" \v\n}\u2003" {
		t.Fatal("input modified")
	}
}
