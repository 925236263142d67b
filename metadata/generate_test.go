package metadata

import (
	"strings"
	"testing"
)

// TestCommandSchedule: every guarded line carries its schedule, quoted as
// one sh word, so that the run claims its slot; @reboot (no slots) and a
// spec that never matches get none.
func TestCommandSchedule(t *testing.T) {
	for _, tc := range []struct{ time, want string }{
		{"17 3 * * *", "--lock j --schedule '17 3 * * *' -- /usr/libexec/cronguard/j.sh"},
		{"*/2 * * * *", "--lock j --schedule '*/2 * * * *' -- "},
		{"@daily", "--lock j --schedule @daily -- "},
		{"@reboot", "--lock j -- "},
		{"0 0 31 2 *", "--lock j -- "},
	} {
		e := &Entry{Time: tc.time, Script: "j.sh", Group: "g", Lock: "j", User: "root", Package: "p"}
		got := Command(e, Options{})
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want it to contain %q", tc.time, got, tc.want)
		}
		files, err := Generate([]*Entry{e}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if line := tc.time + " root " + got + "\n"; !strings.Contains(string(files[0].Data), line) {
			t.Errorf("%s: the file lacks %q:\n%s", tc.time, line, files[0].Data)
		}
	}
}
