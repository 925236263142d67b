package cli

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Output modes of run --output (METADATA output:).
const (
	outputAlways  = "always"  // the job's stdout and stderr are cronguard's, as they come
	outputFailure = "failure" // held, written out only when the run fails (chronic)
)

// heldOutput is the job's stdout and stderr under --output failure: two
// unlinked temporary files given to the job as its fds 1 and 2. The job
// (and every process it starts) writes to them directly: no pipe that a
// job could fill and block on, no goroutine copying, and nothing in
// cronguard's memory whatever the job prints; the page cache holds what
// the disk has not yet taken. The files have no name (O_TMPFILE, or
// created and unlinked at once), so they vanish with the last descriptor
// even if cronguard is SIGKILLed.
type heldOutput struct {
	stdout, stderr *os.File
}

// newHeldOutput opens the two files in dir ($TMPDIR or /tmp).
func newHeldOutput(dir string) (*heldOutput, error) {
	out, err := unlinkedTemp(dir)
	if err != nil {
		return nil, err
	}
	errf, err := unlinkedTemp(dir)
	if err != nil {
		out.Close()
		return nil, err
	}
	return &heldOutput{stdout: out, stderr: errf}, nil
}

// unlinkedTemp opens a read-write file without a name in dir: O_TMPFILE
// where the file system has it, else a file created and removed at once.
func unlinkedTemp(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err == nil {
		return os.NewFile(uintptr(fd), dir+"/(held output)"), nil
	}
	f, err := os.CreateTemp(dir, ".cronguard-output-*")
	if err != nil {
		return nil, fmt.Errorf("--output failure: cannot create a file to hold the job's output: %w", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("--output failure: %w", err)
	}
	return f, nil
}

// replay writes the held output out: stdout's to stdout, stderr's to
// stderr, each in the order the job wrote it. The copy goes file to file
// (copy_file_range, sendfile or splice where the kernel can, else a small
// buffer): memory stays bounded whatever the size.
func (h *heldOutput) replay(stdout, stderr io.Writer) error {
	return errors.Join(copyHeld(stdout, h.stdout), copyHeld(stderr, h.stderr))
}

func copyHeld(w io.Writer, f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, f)
	return err
}

// tail returns the last max bytes of the job's output for a ping body:
// stdout's tail then stderr's, max shared between them (a stream shorter
// than its half leaves the rest to the other).
func (h *heldOutput) tail(max int64) []byte {
	so, se := fileSize(h.stdout), fileSize(h.stderr)
	half := max / 2
	no, ne := min(so, half), min(se, half)
	no = min(so, max-ne)
	ne = min(se, max-no)
	b := readTail(h.stdout, so, no)
	return append(b, readTail(h.stderr, se, ne)...)
}

func fileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

func readTail(f *os.File, size, n int64) []byte {
	if n <= 0 {
		return nil
	}
	b := make([]byte, n)
	got, _ := f.ReadAt(b, size-n)
	return b[:got]
}

func (h *heldOutput) close() {
	h.stdout.Close()
	h.stderr.Close()
}

// endOutput ends the job's output and pings: under --output failure a
// failed run's held output is written out now (a success prints nothing),
// and the end ping starts in the background, with the output's tail when
// it was held. The returned func waits for the ping (pingBound at most)
// and returns the pings that failed, to count in the metrics.
func (e *runEnv) endOutput(success bool, code int) func() float64 {
	if e.held != nil && !success {
		if err := e.held.replay(e.o.g.stdout, e.o.g.stderr); err != nil {
			e.log.Warn().Err(err).Msg("could not write out the job's held output")
		}
	}
	if e.pinger == nil {
		return func() float64 { return 0 }
	}
	var body []byte
	if e.held != nil {
		body = e.held.tail(pingBodyLimit)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.pinger.finish(success, code, body)
	}()
	return func() float64 {
		<-done
		return float64(e.pinger.failures.Load())
	}
}
