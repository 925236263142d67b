package config

import (
	"encoding/json"
	"errors"
	"math"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name    string
		in      any
		want    time.Duration
		wantErr string
	}{
		{"int seconds", 10, 10 * time.Second, ""},
		{"int64", int64(3), 3 * time.Second, ""},
		{"uint", uint(2), 2 * time.Second, ""},
		{"zero", 0, 0, ""},
		{"float half", 0.5, 500 * time.Millisecond, ""},
		{"float tenth is exact", 0.1, 100 * time.Millisecond, ""},
		{"json number int", json.Number("10"), 10 * time.Second, ""},
		{"json number fraction", json.Number("1.5"), 1500 * time.Millisecond, ""},
		{"json number exponent", json.Number("1e3"), 1000 * time.Second, ""},
		{"raw int", json.RawMessage(`10`), 10 * time.Second, ""},
		{"raw fraction", json.RawMessage(`0.25`), 250 * time.Millisecond, ""},
		{"raw go duration", json.RawMessage(`"1500ms"`), 1500 * time.Millisecond, ""},
		{"raw numeric string", json.RawMessage(`"10"`), 10 * time.Second, ""},
		{"flag seconds", "30", 30 * time.Second, ""},
		{"flag fractional seconds", "2.5", 2500 * time.Millisecond, ""},
		{"flag go duration", "30s", 30 * time.Second, ""},
		{"flag minutes", "2m", 2 * time.Minute, ""},
		{"flag spaces", " 5 ", 5 * time.Second, ""},
		{"nanoseconds round", "0.0000000015", 2 * time.Nanosecond, ""},
		{"tiny exponent rounds to zero", "1e-999999999", 0, ""},
		{"duration passthrough", 3 * time.Second, 3 * time.Second, ""},

		{"word", "abc", 0, `must be a number of seconds, got "abc"`},
		{"empty string", "", 0, `must be a number of seconds, got ""`},
		{"raw word", json.RawMessage(`"abc"`), 0, `must be a number of seconds, got "abc"`},
		{"raw bool", json.RawMessage(`true`), 0, `must be a number of seconds, got true`},
		{"raw list", json.RawMessage(`[1]`), 0, `must be a number of seconds, got [1]`},
		{"nil", nil, 0, `must be a number of seconds, got null`},
		{"negative int", -1, 0, `must not be negative, got -1`},
		{"negative raw", json.RawMessage(`-0.5`), 0, `must not be negative, got -0.5`},
		{"negative go duration", "-5s", 0, `must not be negative, got "-5s"`},
		{"negative duration", -time.Second, 0, `must not be negative, got -1s`},
		{"nan", math.NaN(), 0, `must be a number of seconds, got NaN`},
		{"inf", math.Inf(1), 0, `must be a number of seconds, got +Inf`},
		{"inf string", "inf", 0, `must be a number of seconds, got "inf"`},
		{"hex string", "0x10", 0, `must be a number of seconds, got "0x10"`},
		{"too large", 1e30, 0, `is too large, got 1e+30`},
		{"too large string", "99999999999999999999", 0, `is too large, got "99999999999999999999"`},
		{"huge exponent", json.RawMessage(`1e999999999`), 0, `is too large, got 1e999999999`},
		{"go duration overflow", "9999999999h", 0, `is too large, got "9999999999h"`},
		{"other type", struct{}{}, 0, `must be a number of seconds, got a struct {}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDuration(tt.in)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseDuration(%v) = %v, want error %q", tt.in, got, tt.wantErr)
				}
				if err.Error() != tt.wantErr {
					t.Fatalf("error = %q, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, ErrInvalid) {
					t.Fatalf("error %q does not wrap ErrInvalid", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseDuration(%v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseDuration(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
