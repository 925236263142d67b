package cli

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/coreos/go-systemd/v22/journal"
	"github.com/rs/zerolog/journald"
)

// noSinks is a host with neither journald nor syslog.
func noSinks(fallbackDir string) logSinks {
	return logSinks{
		journalSocket: "/nonexistent/journal/socket",
		openSyslog:    func() (io.Writer, error) { return nil, errors.New("no syslog socket") },
		fallbackDir:   fallbackDir,
	}
}

// A host without journald or syslog keeps the events in the fallback file
// under state_dir and says so in one line (the caller logs the notice).
func TestLoggerFallbackFile(t *testing.T) {
	dir := t.TempDir()
	var stderr bytes.Buffer
	log, sink, notice, err := newRunLogger("info", "json", "", &stderr, noSinks(dir))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fallbackLogName)
	if !strings.Contains(notice, "no journald or syslog") || !strings.Contains(notice, path) {
		t.Errorf("notice %q does not say where the events went", notice)
	}
	log.Info().Str("event", "start").Msg("start")
	sink.Error().Str("event", "error").Msg("error")
	data, _ := os.ReadFile(path)
	if !strings.Contains(string(data), `"event":"start"`) || !strings.Contains(string(data), `"event":"error"`) {
		t.Errorf("fallback file lacks the events:\n%s", data)
	}
	if stderr.Len() != 0 {
		t.Errorf("info events reached stderr: %q", stderr.String())
	}
}

// With nowhere to keep them, the notice says the events are lost.
func TestLoggerNowhere(t *testing.T) {
	notFile := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notFile, nil, 0o644)
	for _, dir := range []string{"", filepath.Join(notFile, "state")} {
		_, _, notice, err := newRunLogger("info", "json", "", io.Discard, noSinks(dir))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(notice, "events are lost") {
			t.Errorf("state_dir %q: notice %q", dir, notice)
		}
	}
}

// Syslog, when it listens, takes the events without a notice.
func TestLoggerSyslog(t *testing.T) {
	var got bytes.Buffer
	sinks := noSinks(t.TempDir())
	sinks.openSyslog = func() (io.Writer, error) { return &got, nil }
	log, _, notice, err := newRunLogger("info", "json", "", io.Discard, sinks)
	if err != nil || notice != "" {
		t.Fatalf("err %v, notice %q", err, notice)
	}
	log.Info().Str("event", "finish").Msg("finish")
	if !strings.Contains(got.String(), `"event":"finish"`) {
		t.Errorf("syslog got %q", got.String())
	}
}

// Where journald's socket is, events go there natively, each field a
// journal field, named cronguard, whatever the log format.
func TestLoggerJournald(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "journal.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type sent struct {
		msg  string
		prio journal.Priority
		vars map[string]string
	}
	var got []sent
	journald.SendFunc = func(msg string, p journal.Priority, vars map[string]string) error {
		got = append(got, sent{msg, p, vars})
		return nil
	}
	defer func() { journald.SendFunc = nil }()
	sinks := noSinks(t.TempDir())
	sinks.journalSocket = sock
	sinks.openSyslog = func() (io.Writer, error) { t.Fatal("syslog opened with journald there"); return nil, nil }
	log, _, notice, err := newRunLogger("info", "console", "", io.Discard, sinks)
	if err != nil || notice != "" {
		t.Fatalf("err %v, notice %q", err, notice)
	}
	log.Info().Str("event", "start").Str("lock", "job").Int("pid", 7).Msg("start")
	log.Debug().Str("event", "zk").Msg("below the level")
	if len(got) != 1 {
		t.Fatalf("sent %d events, want 1: %+v", len(got), got)
	}
	v := got[0].vars
	if got[0].msg != "start" || got[0].prio != journal.PriInfo || v["EVENT"] != "start" || v["LOCK"] != "job" ||
		v["PID"] != "7" || v["SYSLOG_IDENTIFIER"] != "cronguard" {
		t.Errorf("journal entry %+v", got[0])
	}
}

// A log file the job's user cannot open does not fail the run: the events
// go to the default sink, and the notice says so in one line.
func TestLoggerUnopenableFile(t *testing.T) {
	notFile := filepath.Join(t.TempDir(), "file")
	os.WriteFile(notFile, nil, 0o644)
	var got bytes.Buffer
	sinks := noSinks("")
	sinks.openSyslog = func() (io.Writer, error) { return &got, nil }
	bad := filepath.Join(notFile, "cronguard.log")
	log, _, notice, err := newRunLogger("info", "json", bad, io.Discard, sinks)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "cannot open log file "+bad) || !strings.Contains(notice, "logging to syslog") || strings.Contains(notice, "\n") {
		t.Errorf("notice %q", notice)
	}
	log.Info().Str("event", "start").Msg("start")
	if !strings.Contains(got.String(), `"event":"start"`) {
		t.Errorf("syslog got %q", got.String())
	}
}

// The fallback file is bounded: past fallbackLogMax it moves to .1.
func TestFallbackLogRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, fallbackLogName)
	if err := os.WriteFile(path, make([]byte, fallbackLogMax+1), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := openFallbackLog(path)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	if fi, err := os.Stat(path + ".1"); err != nil || fi.Size() != fallbackLogMax+1 {
		t.Errorf("not rotated: %v", err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Errorf("new file: %v", err)
	}
}
