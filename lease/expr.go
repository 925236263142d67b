package lease

import (
	"errors"
	"fmt"
	"math"
	"math/big"
)

// ErrExpr marks an invalid COUNT or TOTAL expression.
var ErrExpr = errors.New("invalid expression")

// Eval computes a COUNT or TOTAL. switchman passed these strings to Perl's
// eval; this parses the arithmetic its users write and never runs code:
// integers, + - * /, unary minus and plus, parentheses, int(...) and spaces.
//
// The meaning is Perl's: / is division into a fraction, not integer
// division, and int() truncates toward zero (int(MEMMB/1024), int(-7/2) =
// -3). The result must be a whole number, as Net::ZooKeeper::Semaphore
// needs: "7/2" is an error, "int(7/2)" is 3.
//
// Exactness. cronguard computes with exact fractions; Perl rounds every
// quotient to a double. The two agree on a single quotient of integers
// below 2^53 (a double then never rounds a fraction onto the integer above
// it, so int() truncates to the same value): int(MEMMB/1024), int(CPU/2),
// int(MEMMB/1024)*2 - 1. They can differ where a rounded quotient is used
// again before int(): Perl's int(1/49*49) is 0 (1/49*49 is
// 0.9999999999999999 in doubles), cronguard's is 1; and above 2^53, where
// Perl's int(9223372036854775807/2) is 4611686018427387904 and cronguard's
// 4611686018427387903. Every intermediate value must fit in 64 bits (numerator and
// denominator), else it is an error, never a silent rounding.
func Eval(expr string) (int64, error) {
	p := &exprParser{s: expr}
	p.skipSpace()
	if p.pos == len(p.s) {
		return 0, fmt.Errorf("%w: empty", ErrExpr)
	}
	v, err := p.sum()
	if err != nil {
		return 0, err
	}
	if p.pos != len(p.s) {
		return 0, p.unexpected()
	}
	if !v.IsInt() {
		return 0, fmt.Errorf("%w: %s is not a whole number (int(...) truncates, as in Perl)", ErrExpr, v.RatString())
	}
	return v.Num().Int64(), nil // fits: checked after every operation
}

type exprParser struct {
	s     string
	pos   int
	depth int
}

// maxDepth bounds nesting, so a hostile argument cannot blow the stack.
const maxDepth = 64

var (
	minInt64 = big.NewInt(math.MinInt64)
	maxInt64 = big.NewInt(math.MaxInt64)
)

// fits reports whether v's numerator and denominator are 64-bit integers.
func fits(v *big.Rat) bool {
	return v.Num().Cmp(minInt64) >= 0 && v.Num().Cmp(maxInt64) <= 0 && v.Denom().Cmp(maxInt64) <= 0
}

func (p *exprParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *exprParser) unexpected() error {
	if p.pos >= len(p.s) {
		return fmt.Errorf("%w: ends too early", ErrExpr)
	}
	rest := p.s[p.pos:]
	if len(rest) > 12 {
		rest = rest[:12] + "..."
	}
	return fmt.Errorf("%w: unexpected %q at offset %d", ErrExpr, rest, p.pos)
}

func (p *exprParser) overflow() error {
	return fmt.Errorf("%w: overflows 64 bits", ErrExpr)
}

// sum := product (('+'|'-') product)*
func (p *exprParser) sum() (*big.Rat, error) {
	v, err := p.product()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.s) || (p.s[p.pos] != '+' && p.s[p.pos] != '-') {
			return v, nil
		}
		op := p.s[p.pos]
		p.pos++
		w, err := p.product()
		if err != nil {
			return nil, err
		}
		if op == '+' {
			v.Add(v, w)
		} else {
			v.Sub(v, w)
		}
		if !fits(v) {
			return nil, p.overflow()
		}
	}
}

// product := unary (('*'|'/') unary)*
func (p *exprParser) product() (*big.Rat, error) {
	v, err := p.unary()
	if err != nil {
		return nil, err
	}
	for {
		p.skipSpace()
		if p.pos >= len(p.s) || (p.s[p.pos] != '*' && p.s[p.pos] != '/') {
			return v, nil
		}
		op := p.s[p.pos]
		p.pos++
		w, err := p.unary()
		if err != nil {
			return nil, err
		}
		if op == '*' {
			v.Mul(v, w)
		} else {
			if w.Sign() == 0 {
				return nil, fmt.Errorf("%w: division by zero", ErrExpr)
			}
			v.Quo(v, w)
		}
		if !fits(v) {
			return nil, p.overflow()
		}
	}
}

// unary := ('-'|'+') unary | '(' sum ')' | 'int' '(' sum ')' | digits
func (p *exprParser) unary() (*big.Rat, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, p.unexpected()
	}
	switch c := p.s[p.pos]; {
	case c == '-' || c == '+':
		p.pos++
		if p.depth++; p.depth > maxDepth {
			return nil, fmt.Errorf("%w: nested too deeply", ErrExpr)
		}
		v, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		if c == '-' {
			v.Neg(v)
			if !fits(v) {
				return nil, p.overflow()
			}
		}
		return v, nil
	case c == '(':
		return p.paren()
	case c == 'i' && p.isInt():
		p.pos += len("int")
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != '(' {
			return nil, fmt.Errorf("%w: int wants parentheses: int(...)", ErrExpr)
		}
		v, err := p.paren()
		if err != nil {
			return nil, err
		}
		// Perl's int() truncates toward zero; Quo does too.
		return new(big.Rat).SetInt(new(big.Int).Quo(v.Num(), v.Denom())), nil
	case c >= '0' && c <= '9':
		start := p.pos
		var v int64
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			d := int64(p.s[p.pos] - '0')
			if v > (math.MaxInt64-d)/10 {
				return nil, fmt.Errorf("%w: %s... is too large", ErrExpr, p.s[start:p.pos])
			}
			v = v*10 + d
			p.pos++
		}
		return new(big.Rat).SetInt64(v), nil
	default:
		return nil, p.unexpected()
	}
}

// isInt reports whether the word "int" starts at pos (not "integer").
func (p *exprParser) isInt() bool {
	rest := p.s[p.pos:]
	if len(rest) < 3 || rest[:3] != "int" {
		return false
	}
	if len(rest) > 3 {
		c := rest[3]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			return false
		}
	}
	return true
}

// paren := '(' sum ')', at an opening parenthesis.
func (p *exprParser) paren() (*big.Rat, error) {
	p.pos++
	if p.depth++; p.depth > maxDepth {
		return nil, fmt.Errorf("%w: nested too deeply", ErrExpr)
	}
	v, err := p.sum()
	p.depth--
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.pos >= len(p.s) {
		return nil, fmt.Errorf("%w: missing ')'", ErrExpr)
	}
	if p.s[p.pos] != ')' {
		return nil, p.unexpected()
	}
	p.pos++
	return v, nil
}
