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
		{[]string{"--lock", "j"}, "CRONGUARD UNKNOWN - --max-age is required"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runCronguard(t, append([]string{"check"}, tc.args...)...)
			if code != checkUnknown || stdout != tc.want+"\n" || stderr != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 3 and %q", code, stdout, stderr, tc.want)
			}
		})
	}
}
