package lease

import (
	"errors"
	"fmt"
	"math"
)

// ErrExpr marks an invalid COUNT or TOTAL expression.
var ErrExpr = errors.New("invalid expression")

// Eval computes a COUNT or TOTAL: integers, + - * /, unary minus and
// parentheses, with spaces allowed. switchman passed these strings to Perl's
// eval; this is the safe subset that leases need. Division must be exact
// (Perl would produce a fraction, which Net::ZooKeeper::Semaphore rejects),
// and overflow of 64 bits is an error.
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
	return v, nil
}

type exprParser struct {
	s     string
	pos   int
	depth int
}

// maxDepth bounds nesting, so a hostile argument cannot blow the stack.
const maxDepth = 64

func (p *exprParser) skipSpace() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t') {
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

// sum := product (('+'|'-') product)*
func (p *exprParser) sum() (int64, error) {
	v, err := p.product()
	if err != nil {
		return 0, err
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
			return 0, err
		}
		if op == '-' {
			if w == math.MinInt64 {
				return 0, p.overflow()
			}
			w = -w
		}
		if (w > 0 && v > math.MaxInt64-w) || (w < 0 && v < math.MinInt64-w) {
			return 0, p.overflow()
		}
		v += w
	}
}

// product := unary (('*'|'/') unary)*
func (p *exprParser) product() (int64, error) {
	v, err := p.unary()
	if err != nil {
		return 0, err
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
			return 0, err
		}
		if op == '*' {
			if v != 0 && w != 0 {
				r := v * w
				if r/w != v || (v == -1 && w == math.MinInt64) || (w == -1 && v == math.MinInt64) {
					return 0, p.overflow()
				}
			}
			v *= w
			continue
		}
		switch {
		case w == 0:
			return 0, fmt.Errorf("%w: division by zero", ErrExpr)
		case v == math.MinInt64 && w == -1:
			return 0, p.overflow()
		case v%w != 0:
			return 0, fmt.Errorf("%w: %d/%d is not a whole number", ErrExpr, v, w)
		}
		v /= w
	}
}

// unary := ('-'|'+') unary | '(' sum ')' | digits
func (p *exprParser) unary() (int64, error) {
	p.skipSpace()
	if p.pos >= len(p.s) {
		return 0, p.unexpected()
	}
	switch c := p.s[p.pos]; {
	case c == '-' || c == '+':
		p.pos++
		if p.depth++; p.depth > maxDepth {
			return 0, fmt.Errorf("%w: nested too deeply", ErrExpr)
		}
		v, err := p.unary()
		p.depth--
		if err != nil {
			return 0, err
		}
		if c == '-' {
			if v == math.MinInt64 {
				return 0, p.overflow()
			}
			v = -v
		}
		return v, nil
	case c == '(':
		p.pos++
		if p.depth++; p.depth > maxDepth {
			return 0, fmt.Errorf("%w: nested too deeply", ErrExpr)
		}
		v, err := p.sum()
		p.depth--
		if err != nil {
			return 0, err
		}
		p.skipSpace()
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return 0, fmt.Errorf("%w: missing ')'", ErrExpr)
		}
		p.pos++
		return v, nil
	case c >= '0' && c <= '9':
		start := p.pos
		var v int64
		for p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
			d := int64(p.s[p.pos] - '0')
			if v > (math.MaxInt64-d)/10 {
				return 0, fmt.Errorf("%w: %s... is too large", ErrExpr, p.s[start:p.pos])
			}
			v = v*10 + d
			p.pos++
		}
		return v, nil
	default:
		return 0, p.unexpected()
	}
}

func (p *exprParser) overflow() error {
	return fmt.Errorf("%w: overflows 64 bits", ErrExpr)
}
