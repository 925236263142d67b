package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/cronguard/cronguard/internal/zktest"
)

const dupGroups = "{\"groups\": {\"g\": \"a\"},\n \"groups\": {\"g\": \"b\"}}\n"

// TestConfigValidateDuplicateKeys needs no ZooKeeper: a file is checked.
func TestConfigValidateDuplicateKeys(t *testing.T) {
	dir := t.TempDir()
	for name, tc := range map[string]struct{ in, want string }{
		"groups twice":  {dupGroups, `fleet config: line 2, column 2: duplicate key "groups"`},
		"a group twice": {`{"groups": {"g": "a", "h": "b", "g": "c"}}`, `fleet config: line 1, column 33: duplicate key "g" in /groups`},
	} {
		t.Run(name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".json")
			if err := os.WriteFile(p, []byte(tc.in), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCronguard(t, "config", "validate", p)
			if code != ExitRefused || !strings.Contains(stderr, p+": "+tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, tc.want)
			}
		})
	}
}

// TestIntegration_ConfigSetRefusesDuplicatesAndOversize: nothing is
// written, and the refusal names the key or the size.
func TestIntegration_ConfigSetRefusesDuplicatesAndOversize(t *testing.T) {
	srv := zktest.StartServer(t)
	conn, _, err := zk.Connect([]string{srv.Addr()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	stored := []byte(`{"groups": {"g": "a"}}`)
	if _, err := conn.Create("/fleet", stored, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	// 60,000 groups: valid JSON of about 2.4 MB.
	var big strings.Builder
	big.WriteString(`{"groups": {`)
	for i := 0; i < 60000; i++ {
		if i > 0 {
			big.WriteString(",")
		}
		fmt.Fprintf(&big, `"group-%05d": "host-%05d.example.com"`, i, i)
	}
	big.WriteString("}}")
	files := map[string]string{"dup.json": dupGroups, "big.json": big.String()}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	conf := filepath.Join(dir, "config.json")
	if err := os.WriteFile(conf, []byte(`{"zkhosts": "`+srv.Addr()+`", "prefix": "/fleet"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"--config", conf}
	unchanged := func(t *testing.T) {
		t.Helper()
		if got, _, _ := conn.Get("/fleet"); !bytes.Equal(got, stored) {
			t.Fatalf("the fleet config was written: %.80s", got)
		}
	}
	t.Run("set with a duplicate key", func(t *testing.T) {
		code, stdout, stderr := runCronguard(t, append([]string{"config", "set", filepath.Join(dir, "dup.json")}, env...)...)
		want := `fleet config: line 2, column 2: duplicate key "groups"`
		if code != ExitRefused || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
		}
		unchanged(t)
	})
	t.Run("set over the node limit", func(t *testing.T) {
		code, stdout, stderr := runCronguard(t, append([]string{"config", "set", filepath.Join(dir, "big.json")}, env...)...)
		want := "bytes, over the 1047552 bytes a ZooKeeper node holds"
		if code != ExitRefused || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 || len(stdout) > 0 {
			t.Errorf("exit %d, stdout %.200q, stderr %q; want 1 and %q", code, stdout, stderr, want)
		}
		unchanged(t)
	})
	t.Run("edit to a duplicate key", func(t *testing.T) {
		// The "editor" writes the same broken text every time: the second
		// identical save gives up.
		t.Setenv("VISUAL", "cp "+filepath.Join(dir, "dup.json"))
		var stdout, stderr bytes.Buffer
		root := newRootCmd(&stdout, &stderr)
		root.g.isTerminal = func() bool { return true }
		root.SetArgs(append([]string{"config", "edit"}, env...))
		code := mapError(root.Execute(), &stderr)
		want := `duplicate key "groups"`
		if code != ExitRefused || !strings.Contains(stderr.String(), want) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout.String(), stderr.String(), want)
		}
		unchanged(t)
	})
	t.Run("validate the stored config with a duplicate key", func(t *testing.T) {
		dupStored := []byte(`{"groups": {"g": "a", "g": "b"}}`)
		if _, err := conn.Set("/fleet", dupStored, -1); err != nil {
			t.Fatal(err)
		}
		defer conn.Set("/fleet", stored, -1)
		code, stdout, stderr := runCronguard(t, append([]string{"config", "validate"}, env...)...)
		want := `/fleet: fleet config: line 1, column 23: duplicate key "g" in /groups`
		if code != ExitRefused || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 and %q", code, stdout, stderr, want)
		}
		code, _, stderr = runCronguard(t, append([]string{"assign", "g", "c"}, env...)...)
		if code != ExitRefused || !strings.Contains(stderr, `duplicate key "g"`) {
			t.Errorf("assign: exit %d, stderr %q", code, stderr)
		}
		if got, _, _ := conn.Get("/fleet"); !bytes.Equal(got, dupStored) {
			t.Errorf("assign wrote %s", got)
		}
	})
}
