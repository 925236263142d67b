package session

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/config"
	"github.com/cronguard/cronguard/internal/zktest"
)

// The session's receive buffer is capped at maxPacket (issue 16): the
// largest fleet config operator commands write (no_switchman lifts
// switchman's 64 KiB limit, up to config.MaxFleetSize) and a run record
// of the most history a config allows must still be written and read.
func TestIntegration_LargestFleetConfigAndRunRecordAreRead(t *testing.T) {
	srv := zktest.StartServer(t)
	s := dialT(t, []string{srv.Addr()})
	conn := s.Conn()

	// A fleet config of exactly config.MaxFleetSize bytes, valid JSON.
	fleet := []byte(`{"groups":{"g":["` + strings.Repeat("h", config.MaxFleetSize-len(`{"groups":{"g":[""]}}`)) + `"]}}`)
	if len(fleet) != config.MaxFleetSize {
		t.Fatalf("fleet config of %d bytes, want %d", len(fleet), config.MaxFleetSize)
	}
	// A run record with 1000 runs (the most runs_history allows) with
	// long host names and stop reasons: larger than any real one.
	type entry struct {
		Host, RunID, StopReason string
		Start, End              time.Time
		Exit                    int
	}
	var runs []entry
	for i := range 1000 {
		runs = append(runs, entry{Host: fmt.Sprintf("host-%03d.%s", i, strings.Repeat("d", 200)), RunID: strings.Repeat("r", 32),
			StopReason: strings.Repeat("s", 100), Start: time.Now(), End: time.Now(), Exit: i % 256})
	}
	record, err := json.Marshal(map[string]any{"runs": runs})
	if err != nil {
		t.Fatal(err)
	}
	if len(record) < 300_000 || len(record) > maxPacket-1024 {
		t.Fatalf("run record of %d bytes: not the size meant", len(record))
	}
	for _, c := range []struct {
		path string
		data []byte
	}{{"/fleet", fleet}, {"/record", record}} {
		if _, err := conn.Create(c.path, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("create %s: %v", c.path, err)
		}
		if _, err := conn.Set(c.path, c.data, -1); err != nil {
			t.Fatalf("write %s (%d bytes): %v", c.path, len(c.data), err)
		}
		got, _, _, err := conn.GetW(c.path)
		if err != nil {
			t.Fatalf("read %s (%d bytes): %v", c.path, len(c.data), err)
		}
		if !bytes.Equal(got, c.data) {
			t.Fatalf("read %s: %d bytes back, want the %d written", c.path, len(got), len(c.data))
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("session after the reads: %v", err)
	}
}
