package cli

import (
	"fmt"
	"io"
	"log/syslog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/journald"
)

// journalSocket is journald's native socket: where it exists, journald
// runs, and events go there with their fields.
const journalSocket = "/run/systemd/journal/socket"

// fallbackLogName is the file under state_dir that keeps the events when
// neither journald nor syslog listens; fallbackLogMax bounds it (one older
// generation, cronguard.log.1, is kept).
const (
	fallbackLogName = "cronguard.log"
	fallbackLogMax  = 10 << 20
)

// logSinks is where the default sink looks, in order: journald's socket,
// syslog, the fallback file. Tests point it elsewhere.
type logSinks struct {
	journalSocket string
	openSyslog    func() (io.Writer, error)
	// fallbackDir is state_dir: the fallback file is <dir>/cronguard.log;
	// "" means none.
	fallbackDir string
}

func defaultSinks(stateDir string) logSinks {
	return logSinks{
		journalSocket: journalSocket,
		openSyslog: func() (io.Writer, error) {
			w, err := syslog.New(syslog.LOG_INFO|syslog.LOG_CRON, "cronguard")
			if err != nil {
				return nil, err
			}
			return zerolog.SyslogLevelWriter(w), nil
		},
		fallbackDir: stateDir,
	}
}

// newLogger builds a logger with the default sinks and no state_dir: for
// commands other than run, which log to stderr.
func newLogger(level, format, file string, stderr io.Writer) (log, sinkOnly zerolog.Logger, err error) {
	log, sinkOnly, _, err = newRunLogger(level, format, file, stderr, defaultSinks(""))
	return log, sinkOnly, err
}

// newRunLogger builds the run's logger: the log file at the configured
// level, or when none is set (or it cannot be opened) journald, else
// syslog, else the fallback file under state_dir; warnings and errors also
// on stderr so that cron's MAILTO reports them. notice, when not empty, is
// the one line the caller logs as a warning (so on stderr, mailed): the
// log file could not be opened, or no journald or syslog listens, and
// where the events went instead. sinkOnly writes to the sink alone, for
// errors that Main prints on stderr itself. The sinks are never closed:
// the process exits right after its run, and a goroutine that logs late
// (the supervisor reaping an aborted shim) must not find them closed, or
// zerolog reports that on stderr, which cron mails.
func newRunLogger(level, format, file string, stderr io.Writer, sinks logSinks) (log, sinkOnly zerolog.Logger, notice string, err error) {
	log, sinkOnly = zerolog.Nop(), zerolog.Nop()
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || lvl == zerolog.NoLevel {
		return log, sinkOnly, "", fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	if format != "json" && format != "console" {
		return log, sinkOnly, "", fmt.Errorf("log format %q: want json or console", format)
	}
	var main io.Writer
	toStderr, native := false, false
	switch file {
	case "-":
		main, toStderr = stderr, true
	case "":
		var where string
		var fine bool
		if main, native, where, fine = sinks.open(); !fine {
			notice = where
		}
	default:
		f, ferr := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if ferr == nil {
			main = f
			break
		}
		// A log file the job's user cannot open must not fail the job.
		var where string
		main, native, where, _ = sinks.open()
		notice = fmt.Sprintf("cannot open log file %s (%v): %s", file, unwrapPathError(ferr), where)
	}
	if main != nil && format == "console" && !toStderr && !native {
		main = zerolog.ConsoleWriter{Out: main, NoColor: true, TimeFormat: time.RFC3339}
	}
	if toStderr && format == "console" {
		main = consoleStderr(stderr)
	}
	var writers []io.Writer
	if main != nil {
		writers = append(writers, levelWriter{main, lvl})
		if !toStderr {
			sinkOnly = zerolog.New(levelWriter{main, lvl}).With().Timestamp().Logger()
		}
	}
	if !toStderr {
		writers = append(writers, levelWriter{consoleStderr(stderr), zerolog.WarnLevel})
	}
	log = zerolog.New(zerolog.MultiLevelWriter(writers...)).With().Timestamp().Logger()
	return log, sinkOnly, notice, nil
}

// open picks the default sink: journald (native: events keep their fields,
// whatever the log format), else syslog, else the fallback file. where
// says where the events go; fine is false when neither journald nor syslog
// took them (the operator must hear of it).
func (s logSinks) open() (w io.Writer, native bool, where string, fine bool) {
	if journaldListens(s.journalSocket) {
		return journaldWriter{journald.NewJournalDWriter()}, true, "logging to journald", true
	}
	if s.openSyslog != nil {
		if w, err := s.openSyslog(); err == nil {
			return w, false, "logging to syslog", true
		}
	}
	if s.fallbackDir == "" {
		return nil, false, "no journald or syslog socket and no state_dir: this run's events are lost", false
	}
	path := filepath.Join(s.fallbackDir, fallbackLogName)
	f, err := openFallbackLog(path)
	if err != nil {
		return nil, false, fmt.Sprintf("no journald or syslog socket, and %s cannot be written (%v): this run's events are lost", path, unwrapPathError(err)), false
	}
	return f, false, "no journald or syslog socket: logging to " + path, false
}

// journaldListens reports whether a datagram can be sent to path: the
// socket exists and this user may write it.
func journaldListens(path string) bool {
	if path == "" {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode()&os.ModeSocket == 0 {
		return false
	}
	c, err := net.Dial("unixgram", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// journaldWriter names the events' source in the journal (SYSLOG_IDENTIFIER,
// as syslog's tag; the cron facility) before zerolog's journald writer turns
// each JSON field into a journal field (upper case: EVENT, LOCK, RUN_ID...).
type journaldWriter struct{ w io.Writer }

func (j journaldWriter) Write(p []byte) (int, error) {
	if len(p) < 2 || p[0] != '{' {
		return j.w.Write(p)
	}
	q := make([]byte, 0, len(p)+64)
	q = append(q, `{"SYSLOG_IDENTIFIER":"cronguard","SYSLOG_FACILITY":"9",`...)
	q = append(q, p[1:]...)
	if _, err := j.w.Write(q); err != nil {
		return 0, err
	}
	return len(p), nil
}

// openFallbackLog opens the fallback file for appending, first moving it to
// <path>.1 when it outgrew fallbackLogMax (runs that rotate at once each
// rename; the loser's rename moves a fresh file, losing nothing but order).
func openFallbackLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && fi.Size() > fallbackLogMax {
		_ = os.Rename(path, path+".1")
	}
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

// unwrapPathError drops the path an *os.PathError repeats.
func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func consoleStderr(w io.Writer) io.Writer {
	return zerolog.ConsoleWriter{Out: w, NoColor: true, TimeFormat: "15:04:05.000",
		FormatLevel: func(i any) string { return fmt.Sprintf("cronguard %s:", i) }}
}

// levelWriter passes on events at or above min.
type levelWriter struct {
	w   io.Writer
	min zerolog.Level
}

func (l levelWriter) Write(p []byte) (int, error) { return l.w.Write(p) }

func (l levelWriter) WriteLevel(level zerolog.Level, p []byte) (int, error) {
	if level < l.min {
		return len(p), nil
	}
	if lw, ok := l.w.(zerolog.LevelWriter); ok {
		return lw.WriteLevel(level, p)
	}
	return l.w.Write(p)
}
