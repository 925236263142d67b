package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultPath is where cronguard looks for its local config file.
const DefaultPath = "/etc/cronguard/config.json"

// Defaults, see DefaultLocal.
const (
	DefaultTerminationTimeout = 10 * time.Second // switchman's default
	DefaultSessionTimeout     = 30 * time.Second // covers a follower's lag at ZooKeeper's default tickTime 2s x syncLimit 5
	DefaultConnectTimeout     = 5 * time.Second  // a cron run should fail fast when no server answers
	DefaultLogLevel           = "info"           // switchman's default
	maxRunsHistory            = 1000             // keeps a run-record znode well under ZooKeeper's 1 MB
)

// DefaultStateDir is where runs that could not write their run record
// leave it for the next run (key state_dir).
const DefaultStateDir = "/var/lib/cronguard"

// Local is the local config file (/etc/cronguard/config.json, or a
// switchman /etc/switchman.conf used unchanged).
type Local struct {
	ZKHosts string   // key zkhosts, as written: "h1:2181,h2:2181/chroot"
	Servers []string // ZKHosts' servers, each "host:port" (port defaults to 2181)
	Chroot  string   // ZKHosts' chroot, "" if none; see Root

	Prefix string // key prefix, a ZooKeeper path like /switchman

	LogFile   string // key logfile; "" = no log file
	LogLevel  string // key loglevel, normalized to a zerolog level name (see NormalizeLogLevel)
	LogFormat string // key log_format: "json", "console", or "" = the logging code chooses

	TerminationTimeout   time.Duration // key termination_timeout: SIGTERM -> SIGKILL grace; default 10s
	ResourcesWaitTimeout time.Duration // key resources_wait_timeout: 0 = wait for leases forever (switchman)
	SessionTimeout       time.Duration // key session_timeout; default 30s
	ConnectTimeout       time.Duration // key connect_timeout; default 5s
	FenceSlack           time.Duration // key fence_slack; 0 = unset, the caller derives T/3

	Hostname    string // key hostname; "" = the caller uses the FQDN
	Auth        string // key auth, resolved to "user:pass" (never the file name)
	MetricsDir  string // key metrics_dir, an absolute directory; "" = no metrics
	RunsHistory int    // key runs_history; 0 = the caller's default
	StateDir    string // key state_dir, an absolute directory; "" = no local state (unrecorded runs are only counted)
	// PingURL is key ping_url: the healthchecks.io-style URL every run
	// pings (run --ping overrides it, --no-ping turns it off); {lock} in
	// it is replaced by the job's lock name. "" = no pings.
	PingURL string

	// DataReadLen is switchman's key data_read_len: switchman (Net::ZooKeeper)
	// reads at most this many bytes of the fleet config, default 65535, and a
	// longer one cuts off, fails to parse, and kills every switchman run.
	// cronguard reads any size; operator commands refuse to write a fleet
	// config over it unless NoSwitchman.
	DataReadLen int
	NoSwitchman bool // key no_switchman: no switchman host is left, lift the data_read_len limit
}

// DefaultDataReadLen is switchman's default data_read_len.
const DefaultDataReadLen = 65535

// DefaultLocal returns a Local with every default filled in and no
// ZooKeeper servers or prefix (those have no sensible default).
func DefaultLocal() *Local {
	return &Local{
		LogLevel:           DefaultLogLevel,
		TerminationTimeout: DefaultTerminationTimeout,
		SessionTimeout:     DefaultSessionTimeout,
		ConnectTimeout:     DefaultConnectTimeout,
		StateDir:           DefaultStateDir,
		DataReadLen:        DefaultDataReadLen,
	}
}

// Root is the prefix as go-zookeeper must see it: the zkhosts chroot (which
// go-zookeeper does not implement) followed by the prefix.
func (l *Local) Root() string {
	return l.Chroot + l.Prefix
}

// SetZKHosts sets ZKHosts, Servers and Chroot together, for a --zk flag or
// CRONGUARD_ZK overriding the file. The error has no subject.
func (l *Local) SetZKHosts(s string) error {
	servers, chroot, err := ParseZKHosts(s)
	if err != nil {
		return err
	}
	l.ZKHosts, l.Servers, l.Chroot = s, servers, chroot
	return nil
}

// LoadLocal reads and parses a local config file; see ParseLocal.
// A missing file gives "PATH: no such file" and errors.Is(err,
// fs.ErrNotExist) holds (but not ErrInvalid: nothing is wrong with a file
// that is not there).
func LoadLocal(path string) (*Local, []string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseLocal(data, path)
}

// LoadLocalPartial is LoadLocal without the checks for required keys, for
// callers that fill zkhosts or prefix from flags or the environment and
// then call Validate.
func LoadLocalPartial(path string) (*Local, []string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	return ParseLocalPartial(data, path)
}

// MaxLocalSize bounds the local config file (and an auth file): a few
// hundred bytes in practice; 1 MiB is far above any real one and keeps a
// wrong --config (/dev/zero, a log file) from eating memory.
const MaxLocalSize = 1 << 20

func readFile(path string) ([]byte, error) {
	data, err := readBounded(path)
	if err == nil {
		return data, nil
	}
	var ce *Error
	if errors.As(err, &ce) {
		ce.Source = path
		return nil, ce
	}
	msg := err.Error()
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		msg = "no such file"
	case errors.Is(err, fs.ErrPermission):
		msg = "permission denied"
	case errors.As(err, &pe):
		msg = "cannot read: " + pe.Err.Error()
	}
	return nil, &Error{Source: path, Msg: msg, Err: err, io: true}
}

// readBounded reads a regular file of at most MaxLocalSize bytes. It opens
// with O_NONBLOCK, so that opening a FIFO does not wait for a writer, and
// checks the type on the open descriptor (no race with a rename). A file
// that is not regular (FIFO, device, directory, socket) or is too large is
// an *Error without a source (content: wraps ErrInvalid); an open or read
// failure is returned as is.
func readBounded(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, &Error{Msg: "not a regular file (" + fileKind(st.Mode()) + ")"}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxLocalSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxLocalSize {
		return nil, &Error{Msg: fmt.Sprintf("larger than 1 MiB (%d bytes): not a cronguard config", MaxLocalSize)}
	}
	return data, nil
}

func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return "mode " + m.Type().String()
	}
}

// ParseLocal parses a local config file's content. source names it in
// messages (normally the path) and is the base for a relative auth file.
// It returns the config with defaults for absent keys, one warning per
// unknown or repeated key ("PATH: unknown key \"foo\" (ignored)"), or a
// one-line error wrapping ErrInvalid. zkhosts and prefix are required, as
// in switchman.
//
// Compatibility with switchman: the same keys mean the same; switchman
// strips whitespace at both ends of every line before decoding, so
// Unicode whitespace there (a no-break space pasted from a wiki) is
// accepted here too; a UTF-8 BOM is ignored; null means "unset";
// switchman's data_read_len is accepted and ignored (go-zookeeper has no
// such limit). Numbers of seconds may be fractional or Go duration
// strings ("1500ms"), an extension switchman does not have.
func ParseLocal(data []byte, source string) (*Local, []string, error) {
	l, warns, err := ParseLocalPartial(data, source)
	if err != nil {
		return nil, warns, err
	}
	if err := l.Validate(source); err != nil {
		return nil, warns, err
	}
	return l, warns, nil
}

// ParseLocalPartial is ParseLocal without the final Validate: every key
// present is checked, but zkhosts and prefix may be absent.
func ParseLocalPartial(data []byte, source string) (*Local, []string, error) {
	skipped := 0
	if bytes.HasPrefix(data, []byte("\xef\xbb\xbf")) {
		skipped = 3
	}
	body := data[skipped:]
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil, invalidf(source, "is empty (want a JSON object with zkhosts and prefix)")
	}
	if err := invalidUTF8(source, body, skipped); err != nil {
		return nil, nil, err
	}
	body = blankLineEdges(body)

	fields, err := topLevel(source, data, skipped, body)
	if err != nil {
		return nil, nil, err
	}

	l := DefaultLocal()
	var warns []string
	seen := map[string]bool{}
	for _, f := range fields {
		if seen[f.key] {
			warns = append(warns, fmt.Sprintf("%s: key %q appears more than once; the last one is used", source, f.key))
		}
		seen[f.key] = true
		set, ok := localKeys[f.key]
		if !ok {
			warns = append(warns, unknownKeyWarning(source, f.key))
			continue
		}
		if isNull(f.raw) {
			continue // switchman treats null as absent; so do we
		}
		if msg := set(l, f.raw, source); msg != "" {
			return nil, warns, invalidf(source, "%q %s", f.key, msg)
		}
	}
	return l, warns, nil
}

// Validate checks a Local as a whole: required keys present and values
// consistent. ParseLocal calls it; callers that merged flags into a
// partial config call it themselves. Errors are "SOURCE: ..." and wrap
// ErrInvalid.
func (l *Local) Validate(source string) error {
	if l.ZKHosts == "" && len(l.Servers) == 0 {
		return invalidf(source, "zkhosts is not set")
	}
	if l.ZKHosts != "" {
		if _, _, err := ParseZKHosts(l.ZKHosts); err != nil {
			return invalidf(source, "%q %v", "zkhosts", err)
		}
	}
	if l.Chroot != "" {
		if err := ValidatePrefix(l.Chroot); err != nil {
			return invalidf(source, "zkhosts chroot %v", err)
		}
	}
	if l.Prefix == "" {
		return invalidf(source, "prefix is not set")
	}
	if err := ValidatePrefix(l.Prefix); err != nil {
		return invalidf(source, "%q %v", "prefix", err)
	}
	if r := l.Root(); r == "/zookeeper" || strings.HasPrefix(r, "/zookeeper/") {
		return invalidf(source, "%q must not be under /zookeeper (ZooKeeper reserves it), got %q", "prefix", r)
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"termination_timeout", l.TerminationTimeout},
		{"resources_wait_timeout", l.ResourcesWaitTimeout},
		{"fence_slack", l.FenceSlack},
	} {
		if d.v < 0 {
			return invalidf(source, "%q must not be negative, got %s", d.key, d.v)
		}
	}
	if msg := checkSessionTimeout(l.SessionTimeout); msg != "" {
		return invalidf(source, "%q %s", "session_timeout", msg)
	}
	if l.ConnectTimeout <= 0 {
		return invalidf(source, "%q must be more than 0, got %s", "connect_timeout", l.ConnectTimeout)
	}
	if l.FenceSlack > 0 && l.FenceSlack >= l.SessionTimeout {
		return invalidf(source, "%q (%s) must be less than session_timeout (%s)", "fence_slack", l.FenceSlack, l.SessionTimeout)
	}
	if l.LogLevel != "" {
		if _, err := NormalizeLogLevel(l.LogLevel); err != nil {
			return invalidf(source, "%q %v", "loglevel", err)
		}
	}
	if l.LogFormat != "" && l.LogFormat != "json" && l.LogFormat != "console" {
		return invalidf(source, "%q must be \"json\" or \"console\", got %q", "log_format", l.LogFormat)
	}
	if msg := checkHostname(l.Hostname); msg != "" {
		return invalidf(source, "%q %s", "hostname", msg)
	}
	if l.MetricsDir != "" && !filepath.IsAbs(l.MetricsDir) {
		return invalidf(source, "%q must be an absolute path, got %q", "metrics_dir", l.MetricsDir)
	}
	if l.StateDir != "" && !filepath.IsAbs(l.StateDir) {
		return invalidf(source, "%q must be an absolute path, got %q", "state_dir", l.StateDir)
	}
	if l.RunsHistory < 0 || l.RunsHistory > maxRunsHistory {
		return invalidf(source, "%q must be from 0 to %d, got %d", "runs_history", maxRunsHistory, l.RunsHistory)
	}
	return nil
}

// checkPingURL: "" (no pings) or an absolute http(s) URL; {lock} may
// appear anywhere in it.
func checkPingURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(strings.ReplaceAll(s, "{lock}", "lock"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("must be an http:// or https:// URL, got %q", s)
	}
	return ""
}

func checkSessionTimeout(d time.Duration) string {
	// ZooKeeper carries it as int32 milliseconds.
	if d < time.Millisecond {
		return fmt.Sprintf("must be at least 1ms, got %s", d)
	}
	if d > time.Duration(math.MaxInt32)*time.Millisecond {
		return fmt.Sprintf("is too large, got %s", d)
	}
	return ""
}

// checkHostname: the identity must match group members exactly, and a
// stray space or newline never would.
func checkHostname(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Sprintf("must not contain spaces or control characters, got %q", s)
	}
	return ""
}

// NormalizeLogLevel maps a level name to zerolog's: zerolog's own names
// pass through, and switchman's (Log::Dispatch) map to the nearest one
// (notice -> info, warning -> warn, err/critical/alert/emergency -> error,
// so a quiet switchman setting still lets cronguard's errors through).
// Case is ignored. The error has no subject.
func NormalizeLogLevel(s string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "trace":
		return "trace", nil
	case "debug":
		return "debug", nil
	case "info", "notice":
		return "info", nil
	case "warn", "warning":
		return "warn", nil
	case "error", "err", "crit", "critical", "alert", "emerg", "emergency":
		return "error", nil
	case "fatal":
		return "fatal", nil
	case "panic":
		return "panic", nil
	case "disabled", "off", "none":
		return "disabled", nil
	}
	return "", plainErr("must be one of trace, debug, info, warn, error (or a switchman level), got %q", s)
}

// localKeys maps each known key to a setter that returns "" or the rest of
// an error message after the quoted key name.
var localKeys = map[string]func(l *Local, raw json.RawMessage, source string) string{
	"zkhosts": func(l *Local, raw json.RawMessage, _ string) string {
		s, msg := rawString(raw)
		if msg != "" {
			return msg
		}
		if strings.TrimSpace(s) == "" {
			return "" // Validate reports "zkhosts is not set", like switchman
		}
		if err := l.SetZKHosts(s); err != nil {
			return err.Error()
		}
		return ""
	},
	"prefix": func(l *Local, raw json.RawMessage, _ string) string {
		s, msg := rawString(raw)
		if msg != "" {
			return msg
		}
		if s == "" {
			return "" // Validate reports "prefix is not set"
		}
		if err := ValidatePrefix(s); err != nil {
			return err.Error()
		}
		l.Prefix = s
		return ""
	},
	"logfile": stringKey(func(l *Local, s string) string { l.LogFile = s; return "" }),
	"loglevel": stringKey(func(l *Local, s string) string {
		if s == "" {
			return ""
		}
		lvl, err := NormalizeLogLevel(s)
		if err != nil {
			return err.Error()
		}
		l.LogLevel = lvl
		return ""
	}),
	"log_format": stringKey(func(l *Local, s string) string {
		switch s {
		case "", "json", "console":
			l.LogFormat = s
			return ""
		}
		return fmt.Sprintf(`must be "json" or "console", got %q`, s)
	}),
	"termination_timeout":    durationKey(func(l *Local) *time.Duration { return &l.TerminationTimeout }, nil),
	"resources_wait_timeout": durationKey(func(l *Local) *time.Duration { return &l.ResourcesWaitTimeout }, nil),
	"session_timeout":        durationKey(func(l *Local) *time.Duration { return &l.SessionTimeout }, checkSessionTimeout),
	"connect_timeout": durationKey(func(l *Local) *time.Duration { return &l.ConnectTimeout }, func(d time.Duration) string {
		if d <= 0 {
			return "must be more than 0, got 0"
		}
		return ""
	}),
	"fence_slack": durationKey(func(l *Local) *time.Duration { return &l.FenceSlack }, nil),
	"hostname": stringKey(func(l *Local, s string) string {
		if msg := checkHostname(s); msg != "" {
			return msg
		}
		l.Hostname = s
		return ""
	}),
	"auth": func(l *Local, raw json.RawMessage, source string) string {
		s, msg := rawString(raw)
		if msg != "" {
			return msg
		}
		auth, msg := resolveAuth(s, source)
		if msg != "" {
			return msg
		}
		l.Auth = auth
		return ""
	},
	"metrics_dir": stringKey(func(l *Local, s string) string {
		if s != "" && !filepath.IsAbs(s) {
			return fmt.Sprintf("must be an absolute path, got %q", s)
		}
		l.MetricsDir = s
		return ""
	}),
	"state_dir": stringKey(func(l *Local, s string) string {
		if s != "" && !filepath.IsAbs(s) {
			return fmt.Sprintf("must be an absolute path, got %q", s)
		}
		l.StateDir = s
		return ""
	}),
	"ping_url": stringKey(func(l *Local, s string) string {
		if msg := checkPingURL(s); msg != "" {
			return msg
		}
		l.PingURL = s
		return ""
	}),
	"runs_history": func(l *Local, raw json.RawMessage, _ string) string {
		n, msg := rawCount(raw)
		if msg != "" {
			return msg
		}
		if n > maxRunsHistory {
			return fmt.Sprintf("must be from 0 to %d, got %d", maxRunsHistory, n)
		}
		l.RunsHistory = n
		return ""
	},
	// switchman's Net::ZooKeeper read buffer size (^[0-9]+$, as switchman
	// checks it); go-zookeeper has no such limit: cronguard's operator
	// commands keep a fleet config within it for switchman hosts.
	"data_read_len": func(l *Local, raw json.RawMessage, _ string) string {
		n, msg := rawCount(raw)
		if msg != "" {
			return msg
		}
		l.DataReadLen = n
		return ""
	},
	"no_switchman": func(l *Local, raw json.RawMessage, _ string) string {
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			return "must be true or false, got " + describe(raw)
		}
		l.NoSwitchman = b
		return ""
	},
}

func stringKey(set func(l *Local, s string) string) func(*Local, json.RawMessage, string) string {
	return func(l *Local, raw json.RawMessage, _ string) string {
		s, msg := rawString(raw)
		if msg != "" {
			return msg
		}
		return set(l, s)
	}
}

func durationKey(field func(*Local) *time.Duration, check func(time.Duration) string) func(*Local, json.RawMessage, string) string {
	return func(l *Local, raw json.RawMessage, _ string) string {
		d, err := ParseDuration(raw)
		if err != nil {
			return err.Error()
		}
		if check != nil {
			if msg := check(d); msg != "" {
				return msg
			}
		}
		*field(l) = d
		return ""
	}
}

func rawString(raw json.RawMessage) (string, string) {
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", "must be a string, got " + describe(raw)
	}
	return s, ""
}

// countRE is compiled on first use, not at init, which every cron run would pay.
var countRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[0-9]+(?:\.0*)?$`) })

// rawCount reads a whole number, as a JSON number or a numeric string
// (switchman's checks were regexes, so "10" always worked).
func rawCount(raw json.RawMessage) (int, string) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, "must be a whole number, got " + describe(raw)
		}
		s = strings.TrimSpace(s)
	}
	if !countRE().MatchString(s) {
		return 0, "must be a whole number, got " + describe(raw)
	}
	n, err := strconv.Atoi(strings.SplitN(s, ".", 2)[0])
	if err != nil {
		return 0, "is too large, got " + describe(raw)
	}
	return n, ""
}

// resolveAuth turns the auth value into "user:pass". A value with a ':' is
// the credentials themselves; otherwise it must name a readable file
// (relative to the config file's directory) whose trimmed content is.
// Messages never include the credentials.
func resolveAuth(s, source string) (string, string) {
	if s == "" {
		return "", ""
	}
	if strings.Contains(s, ":") {
		if strings.HasPrefix(s, ":") {
			return "", `must be "user:pass" with a user name`
		}
		return s, ""
	}
	path := s
	if !filepath.IsAbs(path) && source != "" {
		path = filepath.Join(filepath.Dir(source), path)
	}
	data, err := readBounded(path)
	if err != nil {
		reason := err.Error()
		var pe *fs.PathError
		var ce *Error
		switch {
		case errors.As(err, &ce):
			reason = ce.Msg
		case errors.As(err, &pe):
			reason = pe.Err.Error()
		}
		return "", fmt.Sprintf(`must be "user:pass" or a readable file holding it; %s: %s`, path, reason)
	}
	cred := strings.TrimSpace(string(data))
	if i := strings.IndexByte(cred, ':'); i <= 0 || strings.ContainsAny(cred, "\r\n") {
		return "", fmt.Sprintf(`file %s must hold one line "user:pass"`, path)
	}
	return cred, ""
}

type field struct {
	key string
	raw json.RawMessage
}

// topLevel decodes a JSON object's members in file order (so the first
// bad key in the file is the one reported, and repeated keys are seen).
// orig and skipped are only for error positions.
func topLevel(source string, orig []byte, skipped int, body []byte) ([]field, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(body, &probe); err != nil {
		var typ *json.UnmarshalTypeError
		if errors.As(err, &typ) && typ.Field == "" {
			return nil, invalidf(source, "must be a JSON object, got %s", jsonKind(body))
		}
		return nil, jsonError(source, orig, skipped, err)
	}
	if probe == nil {
		return nil, invalidf(source, "must be a JSON object, got null")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if _, err := dec.Token(); err != nil { // '{', checked above
		return nil, jsonError(source, orig, skipped, err)
	}
	var fields []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(source, orig, skipped, err)
		}
		key, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, jsonError(source, orig, skipped, err)
		}
		fields = append(fields, field{key, raw})
	}
	return fields, nil
}

// blankLineEdges does what switchman's s/(?:^\s*|\s*$)//gm does, without
// moving any byte (so error positions stay true): whitespace at either end
// of a line, including Unicode spaces JSON does not allow, becomes ASCII
// spaces. Whitespace inside a line is left alone, as switchman leaves it.
func blankLineEdges(data []byte) []byte {
	var out []byte // copied on first change
	for start := 0; start < len(data); {
		end := bytes.IndexByte(data[start:], '\n')
		if end < 0 {
			end = len(data)
		} else {
			end += start
		}
		line := data[start:end]
		// leading run
		i := 0
		for i < len(line) {
			r, w := utf8.DecodeRune(line[i:])
			if !unicode.IsSpace(r) {
				break
			}
			i += w
		}
		// trailing run (not overlapping the leading one)
		j := len(line)
		for j > i {
			r, w := utf8.DecodeLastRune(line[:j])
			if !unicode.IsSpace(r) {
				break
			}
			j -= w
		}
		for _, span := range [][2]int{{0, i}, {j, len(line)}} {
			for k := span[0]; k < span[1]; k++ {
				if c := line[k]; c != ' ' && c != '\t' && c != '\r' {
					if out == nil {
						out = append([]byte(nil), data...)
					}
					out[start+k] = ' '
				}
			}
		}
		start = end + 1
	}
	if out == nil {
		return data
	}
	return out
}

var knownLocalKeys = func() []string {
	keys := make([]string, 0, len(localKeys))
	for k := range localKeys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}()

// unknownKeyWarning names the key and, for a likely typo, the known key
// the operator probably meant.
func unknownKeyWarning(source, key string) string {
	best, bestD := "", 3
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", " ", "").Replace(strings.ToLower(s))
	}
	for _, k := range knownLocalKeys {
		d := editDistance(key, k)
		if squash(key) == squash(k) {
			d = 0
		}
		if d < bestD {
			best, bestD = k, d
		}
	}
	if best != "" {
		return fmt.Sprintf("%s: unknown key %q (ignored; did you mean %q?)", source, key, best)
	}
	return fmt.Sprintf("%s: unknown key %q (ignored)", source, key)
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
