package sweep

import (
	"fmt"
	"go/ast"
	"go/token"
	"strconv"

	"github.com/nmsim/nmsim/arch"
)

// Constraints are Go-syntax expressions, read with go/parser so that
// precedence and literals need no parser of our own: dotted arch keys
// (crossbar.rows_per_read), numbers, "strings", true and false; arithmetic
// + - * / %, comparisons, && || and !. Numbers are float64, exact for every
// integer an arch key can hold.

// Eval reports whether cfg satisfies the constraint.
func (c Constraint) Eval(cfg *arch.Config) (bool, error) {
	v, err := eval(c.expr, cfg)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("is a %s, not a condition (compare it, e.g. with <=)", kind(v))
	}
	return b, nil
}

func kind(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case string:
		return "string"
	default:
		return "boolean"
	}
}

func eval(e ast.Expr, cfg *arch.Config) (any, error) {
	switch e := e.(type) {
	case *ast.ParenExpr:
		return eval(e.X, cfg)
	case *ast.BasicLit:
		switch e.Kind {
		case token.INT, token.FLOAT:
			return strconv.ParseFloat(e.Value, 64)
		case token.STRING:
			return strconv.Unquote(e.Value)
		}
	case *ast.Ident:
		switch e.Name {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("unknown name %q: name arch keys in full, e.g. crossbar.rows", e.Name)
	case *ast.SelectorExpr:
		table, ok := e.X.(*ast.Ident)
		if !ok {
			break
		}
		text, err := cfg.Get(table.Name + "." + e.Sel.Name)
		if err != nil {
			return nil, err
		}
		if s, err := strconv.Unquote(text); err == nil {
			return s, nil
		}
		if b, err := strconv.ParseBool(text); err == nil {
			return b, nil
		}
		return strconv.ParseFloat(text, 64)
	case *ast.UnaryExpr:
		x, err := eval(e.X, cfg)
		if err != nil {
			return nil, err
		}
		switch x := x.(type) {
		case bool:
			if e.Op == token.NOT {
				return !x, nil
			}
		case float64:
			switch e.Op {
			case token.SUB:
				return -x, nil
			case token.ADD:
				return x, nil
			}
		}
		return nil, fmt.Errorf("%s cannot apply to a %s", e.Op, kind(x))
	case *ast.BinaryExpr:
		return binary(e, cfg)
	}
	return nil, fmt.Errorf("unsupported syntax; allowed are arch keys, numbers, strings, + - * / %%, comparisons, && || ! and parentheses")
}

func binary(e *ast.BinaryExpr, cfg *arch.Config) (any, error) {
	// Both sides are evaluated even where && or || could stop early, so a
	// bad key is found on the default config, not only on the points that
	// happen to reach it.
	x, err := eval(e.X, cfg)
	if err != nil {
		return nil, err
	}
	y, err := eval(e.Y, cfg)
	if err != nil {
		return nil, err
	}
	mismatch := fmt.Errorf("%s cannot combine a %s and a %s", e.Op, kind(x), kind(y))
	switch x := x.(type) {
	case bool:
		y, ok := y.(bool)
		if !ok {
			return nil, mismatch
		}
		switch e.Op {
		case token.LAND:
			return x && y, nil
		case token.LOR:
			return x || y, nil
		case token.EQL:
			return x == y, nil
		case token.NEQ:
			return x != y, nil
		}
	case string:
		y, ok := y.(string)
		if !ok {
			return nil, mismatch
		}
		if r, ok := compare(e.Op, x, y); ok {
			return r, nil
		}
	case float64:
		y, ok := y.(float64)
		if !ok {
			return nil, mismatch
		}
		if r, ok := compare(e.Op, x, y); ok {
			return r, nil
		}
		switch e.Op {
		case token.ADD:
			return x + y, nil
		case token.SUB:
			return x - y, nil
		case token.MUL:
			return x * y, nil
		case token.QUO:
			return x / y, nil
		case token.REM:
			if y == 0 || x != float64(int64(x)) || y != float64(int64(y)) {
				return nil, fmt.Errorf("%% needs integers and a non-zero divisor")
			}
			return float64(int64(x) % int64(y)), nil
		}
	}
	return nil, mismatch
}

func compare[T float64 | string](op token.Token, x, y T) (bool, bool) {
	switch op {
	case token.EQL:
		return x == y, true
	case token.NEQ:
		return x != y, true
	case token.LSS:
		return x < y, true
	case token.LEQ:
		return x <= y, true
	case token.GTR:
		return x > y, true
	case token.GEQ:
		return x >= y, true
	}
	return false, false
}
