package lease

import (
	"errors"
	"strings"
	"testing"
)

// TestLeaseEvalPerl covers the Perl arithmetic switchman's users wrote in
// COUNT and TOTAL (switchman eval'd them): int(), / as Perl's fractional
// division, truncation toward zero; still parsed, never run.
func TestLeaseEvalPerl(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string // substring of the error; "" = ok
	}{
		{"int(16384/1024)", 16, ""},
		{"int(15872/1024)", 15, ""}, // switchman README: int(MEMMB/1024), 15.5 GB
		{"int(7/2)", 3, ""},
		{"int(-7/2)", -3, ""}, // toward zero, not floor
		{"-int(7/2)", -3, ""},
		{"int(- 7 / 2)", -3, ""},
		{"int (7/2)", 3, ""},
		{" int( 7 / 2 ) + 1 ", 4, ""},
		{"int(int(7/2)/2)", 1, ""},   // nested: int(3/2)
		{"int(7/2/2)", 1, ""},        // 1.75
		{"int(7/2)*2", 6, ""},        // int() binds to its parentheses
		{"int(7/2*2)", 7, ""},        // 3.5*2
		{"7/2*2", 7, ""},             // a fraction on the way is fine
		{"int(1/3)", 0, ""},          //
		{"(1/3)*3", 1, ""},           // exact (Perl's doubles also give 1)
		{"int(1/49*49)", 1, ""},      // exact; Perl's doubles give 0 (documented)
		{"int(8/3)+int(8/3)", 4, ""}, //
		{"int(-(8/3))", -2, ""},      //
		{"int(((15872)/1024))*1024", 15360, ""},
		{"int(9223372036854775807/2)", 4611686018427387903, ""}, // exact; Perl: ...904 (doubles)
		{"int(1/0)", 0, "division by zero"},
		{"1/(2-2)", 0, "division by zero"},
		{"int(1/int(1/2))", 0, "division by zero"},
		{"int(9223372036854775807+1)", 0, "overflows"},
		{"int(4611686018427387904*2/2)", 0, "overflows"},
		{"1/9223372036854775807/2", 0, "overflows"},
		{"int(7/2", 0, "missing ')'"},
		{"int 7/2", 0, "int wants parentheses"},
		{"int()", 0, "unexpected"},
		{"integer(7)", 0, "unexpected"},
		{"int(7)x", 0, "unexpected"},
		{"int(7%2)", 0, "unexpected"},
		{"int(2**3)", 0, "unexpected"},
		{"int(0.5*8)", 0, "unexpected"},
		{"int(system('id'))", 0, "unexpected"},
		{"abs(3)", 0, "unexpected"},
		{"7/2", 0, "7/2 is not a whole number"},
		{"int(7/2)/2", 0, "3/2 is not a whole number"},
		{strings.Repeat("int(", 70) + "1" + strings.Repeat(")", 70), 0, "nested too deeply"},
	} {
		got, err := Eval(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("Eval(%q): %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("Eval(%q) = %d, want %d", tc.in, got, tc.want)
		case tc.err != "" && err == nil:
			t.Errorf("Eval(%q) = %d, want an error with %q", tc.in, got, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("Eval(%q) error %q, want it to mention %q", tc.in, err, tc.err)
		case err != nil && !errors.Is(err, ErrExpr):
			t.Errorf("Eval(%q) error %v is not ErrExpr", tc.in, err)
		}
	}
}

// TestLeaseParseSpecPerl: switchman's README example and its kin parse to
// what switchman's eval gave.
func TestLeaseParseSpecPerl(t *testing.T) {
	m := Macros{CPU: 8, FQDN: "box1.example.com", MemMB: 15872}
	for _, tc := range []struct {
		in   string
		want Spec
		err  string
	}{
		{"FQDN_mem=4:int(MEMMB/1024)", Spec{"box1.example.com_mem", 4, 15}, ""},
		{"FQDN_mem=int(MEMMB/1024/4):int(MEMMB/1024)", Spec{"box1.example.com_mem", 3, 15}, ""},
		{"FQDN_cpu=1:int(CPU*3/4)", Spec{"box1.example.com_cpu", 1, 6}, ""},
		{"cpu=1:int(CPU/3)", Spec{"cpu", 1, 2}, ""},
		{"cpu = int( CPU / 3 ) : CPU ", Spec{"cpu", 2, 8}, ""},
		{"FQDN_mem=4:MEMMB/1024", Spec{}, `TOTAL "MEMMB/1024" ("15872/1024" here): invalid expression: 31/2 is not a whole number`},
		{"cpu=int(-CPU/3):CPU", Spec{}, "want 0 or more"},
		{"cpu=1:int(CPU/16)", Spec{}, "want at least 1"},
	} {
		got, err := ParseSpec(tc.in, m)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseSpec(%q): %v", tc.in, err)
		case tc.err == "" && got != tc.want:
			t.Errorf("ParseSpec(%q) = %+v, want %+v", tc.in, got, tc.want)
		case tc.err != "" && err == nil:
			t.Errorf("ParseSpec(%q) = %+v, want an error with %q", tc.in, got, tc.err)
		case tc.err != "" && !strings.Contains(err.Error(), tc.err):
			t.Errorf("ParseSpec(%q) error %q, want it to mention %q", tc.in, err, tc.err)
		}
	}
}
