package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestLoadLocalRefusesNonRegularAndHuge: the local config is read with a
// bound and only from a regular file. /dev/zero used to grow memory until
// the process was killed, and a FIFO hung forever.
func TestLoadLocalRefusesNonRegularAndHuge(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	// Valid JSON, 2 MiB: a string value padded with spaces.
	if err := os.WriteFile(big, []byte(`{"zkhosts":"zk","prefix":"/p"}`+strings.Repeat(" ", 2<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	edge := filepath.Join(dir, "edge.json")
	body := `{"zkhosts":"zk","prefix":"/p"}`
	if err := os.WriteFile(edge, []byte(body+strings.Repeat(" ", MaxLocalSize-len(body))), 0o600); err != nil {
		t.Fatal(err)
	}
	over := filepath.Join(dir, "over.json")
	if err := os.WriteFile(over, []byte(body+strings.Repeat(" ", MaxLocalSize+1-len(body))), 0o600); err != nil {
		t.Fatal(err)
	}
	authZero := filepath.Join(dir, "authzero.json")
	if err := os.WriteFile(authZero, []byte(`{"zkhosts":"zk","prefix":"/p","auth":"/dev/zero"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{"/dev/zero", "/dev/zero: not a regular file (a character device)"},
		{"/dev/null", "/dev/null: not a regular file (a character device)"},
		{fifo, fifo + ": not a regular file (a named pipe)"},
		{big, big + ": larger than 1 MiB (1048576 bytes): not a cronguard config"},
		{over, over + ": larger than 1 MiB (1048576 bytes): not a cronguard config"},
		{edge, ""},
		{authZero, authZero + `: "auth" must be "user:pass" or a readable file holding it; /dev/zero: not a regular file (a character device)`},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			type result struct {
				err error
			}
			done := make(chan result, 1)
			go func() {
				_, _, err := LoadLocal(tc.path)
				done <- result{err}
			}()
			var err error
			select {
			case r := <-done:
				err = r.err
			case <-time.After(5 * time.Second):
				t.Fatal("LoadLocal hung") // the goroutine leaks: the test binary exits on failure anyway
			}
			got := fmt.Sprint(err)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if got != tc.want {
				t.Fatalf("err = %s\nwant  %s", got, tc.want)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("%v does not wrap ErrInvalid", err)
			}
		})
	}
}
