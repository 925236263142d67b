package cli

import (
	"strings"
	"testing"
)

// TestCheckBadFlagsAreUnknown: a monitoring plugin answers every problem,
// bad flags included, with UNKNOWN (exit 3) and its one line on stdout.
func TestCheckBadFlagsAreUnknown(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus"}, "CRONGUARD UNKNOWN - unknown flag: --bogus"},
		{[]string{"-x"}, "CRONGUARD UNKNOWN - unknown shorthand flag: 'x' in -x"},
		{[]string{"--lock", "j", "--max-age", "bogus"}, `CRONGUARD UNKNOWN - invalid argument "bogus" for "--max-age" flag: must be a number of seconds, got "bogus"`},
		{[]string{"--lock", "j", "--max-age"}, "CRONGUARD UNKNOWN - flag needs an argument: --max-age"},
		{[]string{"--lock", "", "--max-age", "1h"}, "CRONGUARD UNKNOWN - --lock: empty value"},
		{[]string{"--lock", "j", "--max-age", "1h", "extra"}, `CRONGUARD UNKNOWN - unexpected argument "extra"`},
		{[]string{}, "CRONGUARD UNKNOWN - --lock is required (or --all)"},
		{[]string{"--all", "--lock", "j"}, "CRONGUARD UNKNOWN - --all checks every scheduled job: no --lock, --max-age or --warn-age"},
		{[]string{"--all", "--max-age", "1h"}, "CRONGUARD UNKNOWN - --all checks every scheduled job: no --lock, --max-age or --warn-age"},
		{[]string{"--lock", "j", "--max-age", "1h", "--grace", "5m"}, "CRONGUARD UNKNOWN - --grace is for a schedule check, --max-age for an age check: not both"},
		{[]string{"--lock", "j", "--warn-age", "5m"}, "CRONGUARD UNKNOWN - --warn-age needs --max-age"},
		{[]string{"--lock", "j", "--grace", "x"}, `CRONGUARD UNKNOWN - invalid argument "x" for "--grace" flag: must be a number of seconds, got "x"`},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCronguard(t, append([]string{"check"}, tc.args...)...)
			if code != checkUnknown || stdout != tc.want+"\n" || stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 3 and %q", code, stdout, stderr, tc.want)
			}
		})
	}
}
