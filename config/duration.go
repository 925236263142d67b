package config

import (
	"encoding/json"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// decimalRE is what counts as "a number of seconds" in a string. It is
// narrower than strconv.ParseFloat on purpose: "inf", "nan", "0x10" and
// "1_000" are not numbers an operator means as seconds.
// decimalRE is compiled on first use, not at init, which every cron run would pay.
var decimalRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)
})

// goDurationRE is time.ParseDuration's syntax; a string that matches it
// but does not parse has overflowed.
// goDurationRE is compiled on first use, not at init, which every cron run would pay.
var goDurationRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[+-]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$`)
})

// ParseDuration reads a duration the way the config file and flags spell
// them: a number means seconds (10, 0.5 = 500ms, "30" from a flag), and a
// Go duration string ("1500ms", "2m") is accepted as an extension.
// v may be a string, a json.Number, a json.RawMessage (a JSON number or
// string), any Go integer or float type, or a time.Duration.
// Negative, non-finite, non-numeric and out-of-range values are errors
// wrapping ErrInvalid; their text has no subject ("must be a number of
// seconds, got \"abc\"") so callers can prefix the key or flag name.
func ParseDuration(v any) (time.Duration, error) {
	switch x := v.(type) {
	case nil:
		return 0, plainErr("must be a number of seconds, got null")
	case time.Duration:
		if x < 0 {
			return 0, plainErr("must not be negative, got %s", x)
		}
		return x, nil
	case string:
		return parseDurationString(x, strconv.Quote(x))
	case json.Number:
		return parseDurationString(string(x), string(x))
	case json.RawMessage:
		return parseDurationRaw(x)
	case []byte:
		return parseDurationRaw(x)
	case float64:
		return floatSeconds(x)
	case float32:
		return floatSeconds(float64(x))
	case int:
		return intSeconds(int64(x), strconv.Itoa(x))
	case int8:
		return intSeconds(int64(x), strconv.Itoa(int(x)))
	case int16:
		return intSeconds(int64(x), strconv.Itoa(int(x)))
	case int32:
		return intSeconds(int64(x), strconv.Itoa(int(x)))
	case int64:
		return intSeconds(x, strconv.FormatInt(x, 10))
	case uint:
		return uintSeconds(uint64(x))
	case uint8:
		return uintSeconds(uint64(x))
	case uint16:
		return uintSeconds(uint64(x))
	case uint32:
		return uintSeconds(uint64(x))
	case uint64:
		return uintSeconds(x)
	default:
		return 0, plainErr("must be a number of seconds, got a %T", v)
	}
}

func parseDurationRaw(raw []byte) (time.Duration, error) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(raw, &str); err != nil {
			return 0, plainErr("must be a number of seconds, got %s", describe(raw))
		}
		return parseDurationString(str, strconv.Quote(str))
	}
	if decimalRE().MatchString(s) {
		return parseDurationString(s, s)
	}
	return 0, plainErr("must be a number of seconds, got %s", describe(raw))
}

// parseDurationString handles both "30"/"0.5" (seconds, exact decimal
// arithmetic so 0.1 is exactly 100ms) and Go duration syntax.
func parseDurationString(s, shown string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if decimalRE().MatchString(t) {
		if d, done, err := extremeExponent(t, shown); done {
			return d, err
		}
		r, ok := new(big.Rat).SetString(t)
		if !ok {
			return 0, plainErr("must be a number of seconds, got %s", shown)
		}
		return ratSeconds(r, shown)
	}
	if t == "" {
		return 0, plainErr("must be a number of seconds, got %s", shown)
	}
	d, err := time.ParseDuration(t)
	if err != nil {
		if goDurationRE().MatchString(t) { // well-formed, so it overflowed
			return 0, plainErr("is too large, got %s", shown)
		}
		return 0, plainErr("must be a number of seconds, got %s", shown)
	}
	if d < 0 {
		return 0, plainErr("must not be negative, got %s", shown)
	}
	return d, nil
}

// extremeExponent settles "1e999999999" without letting big.Rat build a
// billion-digit number: a huge exponent is out of range, a hugely negative
// one rounds to zero.
func extremeExponent(t, shown string) (time.Duration, bool, error) {
	i := strings.IndexAny(t, "eE")
	if i < 0 {
		return 0, false, nil
	}
	exp, err := strconv.Atoi(t[i+1:])
	if err == nil && exp >= -400 && exp <= 400 {
		return 0, false, nil
	}
	mant := t[:i]
	negative := strings.HasPrefix(mant, "-")
	zero := strings.Trim(mant, "+-0.") == ""
	switch {
	case zero:
		return 0, true, nil
	case negative:
		return 0, true, plainErr("must not be negative, got %s", shown)
	case strings.HasPrefix(t[i+1:], "-"):
		return 0, true, nil
	default:
		return 0, true, plainErr("is too large, got %s", shown)
	}
}

func floatSeconds(f float64) (time.Duration, error) {
	shown := strconv.FormatFloat(f, 'g', -1, 64)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, plainErr("must be a number of seconds, got %s", shown)
	}
	return ratSeconds(new(big.Rat).SetFloat64(f), shown)
}

func intSeconds(n int64, shown string) (time.Duration, error) {
	return ratSeconds(new(big.Rat).SetInt64(n), shown)
}

func uintSeconds(n uint64) (time.Duration, error) {
	return ratSeconds(new(big.Rat).SetUint64(n), strconv.FormatUint(n, 10))
}

var (
	nsPerSecond = big.NewRat(int64(time.Second), 1)
	maxDuration = new(big.Int).SetInt64(math.MaxInt64)
)

// ratSeconds converts seconds to a Duration, rounding to the nearest
// nanosecond, refusing negatives and anything past ~292 years.
func ratSeconds(r *big.Rat, shown string) (time.Duration, error) {
	if r.Sign() < 0 {
		return 0, plainErr("must not be negative, got %s", shown)
	}
	ns := new(big.Rat).Mul(r, nsPerSecond)
	q, m := new(big.Int).QuoRem(ns.Num(), ns.Denom(), new(big.Int))
	if m.Lsh(m, 1).Cmp(ns.Denom()) >= 0 {
		q.Add(q, big.NewInt(1))
	}
	if q.Cmp(maxDuration) > 0 {
		return 0, plainErr("is too large, got %s", shown)
	}
	return time.Duration(q.Int64()), nil
}
