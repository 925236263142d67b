package cli

import (
	"fmt"
	"io"
	"log/syslog"
	"os"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// newLogger builds the run's logger: the log file (or syslog when none is
// set) at the configured level, and warnings and errors also on stderr so
// that cron's MAILTO reports them. sinkOnly writes to the log file or syslog
// alone, for errors that Main prints on stderr itself. The sinks are never
// closed: the process exits right after its run, and a goroutine that logs
// late (the supervisor reaping an aborted shim) must not find them closed,
// or zerolog reports that on stderr, which cron mails.
func newLogger(level, format, file string, stderr io.Writer) (log, sinkOnly zerolog.Logger, err error) {
	log, sinkOnly = zerolog.Nop(), zerolog.Nop()
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || lvl == zerolog.NoLevel {
		return log, sinkOnly, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	if format != "json" && format != "console" {
		return log, sinkOnly, fmt.Errorf("log format %q: want json or console", format)
	}
	var main io.Writer
	toStderr := false
	switch file {
	case "-":
		main, toStderr = stderr, true
	case "":
		if w, err := syslog.New(syslog.LOG_INFO|syslog.LOG_CRON, "cronguard"); err == nil {
			main = zerolog.SyslogLevelWriter(w)
		}
	default:
		f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return log, sinkOnly, fmt.Errorf("log file: %w", err)
		}
		main = f
	}
	if main != nil && format == "console" && !toStderr {
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
	return log, sinkOnly, nil
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
