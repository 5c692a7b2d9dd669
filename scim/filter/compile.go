package filter

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	fp "github.com/scim2/filter-parser/v2"

	"github.com/partnergate/partnergate/scim/schema"
)

// compile resolves e's attributes against rt and builds its evaluator.
// within is the complex attribute whose value filter e is, or nil at the
// top level.
func compile(rt *schema.ResourceType, e fp.Expression, within *schema.Attribute) (node, error) {
	switch e := e.(type) {
	case *fp.LogicalExpression:
		l, err := compile(rt, e.Left, within)
		if err != nil {
			return nil, err
		}
		r, err := compile(rt, e.Right, within)
		if err != nil {
			return nil, err
		}
		return &logical{and: e.Operator == fp.AND, left: l, right: r}, nil
	case *fp.NotExpression:
		x, err := compile(rt, e.Expression, within)
		if err != nil {
			return nil, err
		}
		return &negation{x}, nil
	case *fp.ValuePath:
		attr, acc, name, err := resolve(rt, e.AttributePath, within)
		if err != nil {
			return nil, err
		}
		if attr.Type != schema.Complex {
			return nil, invalid("%s is not a complex attribute, so it cannot have a value filter %s[...]", name, name)
		}
		f, err := compile(rt, e.ValueFilter, attr)
		if err != nil {
			return nil, err
		}
		return &valuePath{attr: acc, name: name, filter: f}, nil
	case *fp.AttributeExpression:
		return compileComparison(rt, e, within)
	}
	return nil, invalid("%w: unexpected node %T", errLibrary, e)
}

func compileComparison(rt *schema.ResourceType, e *fp.AttributeExpression, within *schema.Attribute) (node, error) {
	attr, acc, name, err := resolve(rt, e.AttributePath, within)
	if err != nil {
		return nil, err
	}
	c := &comparison{attr: acc, name: name, op: e.Operator, lit: e.CompareValue}
	if c.op == fp.PR {
		return c, nil
	}
	if attr.Type == schema.Complex {
		// A complex attribute's "value" sub-attribute stands for it, as in
		// RFC 7644's `emails co "example.com"` (RFC 7643 §2.4); the
		// enterprise manager is compared by its value the same way.
		v := attr.SubAttribute("value")
		if v == nil {
			return nil, invalid("%s is a complex attribute: compare one of its sub-attributes, such as %s.%s, or test it with pr", name, name, attr.SubAttributes[0].Name)
		}
		attr, c.name = v, name+"."+v.Name
		c.attr.names = append(c.attr.names, v.Name)
	}
	if c.lit == nil {
		if c.op != fp.EQ && c.op != fp.NE {
			return nil, invalid("%s %s null: null can only be compared with eq or ne", c.name, c.op)
		}
		return c, nil
	}
	if c.test, err = test(attr, c.op, c.lit); err != nil {
		return nil, invalid("%s %s %s: %w", c.name, c.op, literal(c.lit), err)
	}
	return c, nil
}

// resolve looks up an attribute path: against rt at the top level, and as a
// sub-attribute of within inside a value filter (RFC 7644 §3.4.2.2: "emails[type
// eq "work"]" names emails.type). It returns the attribute, how to reach its
// values and its canonical name.
func resolve(rt *schema.ResourceType, p fp.AttributePath, within *schema.Attribute) (*schema.Attribute, accessor, string, error) {
	if within == nil {
		path, err := rt.Lookup(p.String())
		if err != nil {
			return nil, accessor{}, "", invalid("%w", err)
		}
		acc := accessor{names: []string{path.Attr.Name}}
		if path.Extension != nil {
			acc.ext = path.Extension.ID
		}
		if path.Sub != nil {
			acc.names = append(acc.names, path.Sub.Name)
		}
		return path.Attribute(), acc, path.String(), nil
	}
	if p.URIPrefix != nil || p.SubAttribute != nil {
		return nil, accessor{}, "", invalid("inside %s[...], name a sub-attribute of %s, such as %q, not %q", within.Name, within.Name, within.SubAttributes[0].Name, p.String())
	}
	sub := within.SubAttribute(p.AttributeName)
	if sub == nil {
		return nil, accessor{}, "", invalid("%w %q: %s has no sub-attribute %q", schema.ErrUnknownAttribute, within.Name+"."+p.AttributeName, within.Name, p.AttributeName)
	}
	return sub, accessor{names: []string{sub.Name}}, sub.Name, nil
}

// test returns the predicate a value of attr must satisfy to match
// "attr op lit", following RFC 7644 §3.4.2.2: strings compare as attr's
// caseExact says, numbers numerically, dateTimes chronologically, and
// gt, ge, lt and le do not apply to booleans or binary.
func test(attr *schema.Attribute, op fp.CompareOperator, lit any) (func(any) bool, error) {
	switch attr.Type {
	case schema.String, schema.Reference, schema.Binary:
		if attr.Type == schema.Binary && isOrdering(op) {
			return nil, fmt.Errorf("%s is binary, and %s does not apply to binary values", attr.Name, op)
		}
		want, ok := lit.(string)
		if !ok {
			return nil, fmt.Errorf("%s is a %s and needs a string value", attr.Name, attr.Type)
		}
		// RFC 7643 §2.3.6: binary values are case exact whatever caseExact says.
		fold := !attr.CaseExact && attr.Type != schema.Binary
		norm := func(s string) string {
			if fold {
				return strings.ToLower(s)
			}
			return s
		}
		want = norm(want)
		match := stringOps[op]
		return func(v any) bool {
			s, ok := v.(string)
			return ok && match(norm(s), want)
		}, nil
	case schema.Boolean:
		if op != fp.EQ && op != fp.NE {
			return nil, fmt.Errorf("%s is a boolean, and %s does not apply to booleans; use eq or ne", attr.Name, op)
		}
		want, ok := schema.ParseBoolean(lit)
		if !ok {
			return nil, fmt.Errorf("%s is a boolean and needs true or false", attr.Name)
		}
		return func(v any) bool {
			b, ok := schema.ParseBoolean(v)
			return ok && b == want
		}, nil
	case schema.Integer, schema.Decimal:
		if isSubstring(op) {
			return nil, fmt.Errorf("%s is a number, and %s applies to strings only", attr.Name, op)
		}
		want, ok := toNumber(lit)
		if !ok {
			return nil, fmt.Errorf("%s is a number (%s) and needs a number value", attr.Name, attr.Type)
		}
		return func(v any) bool {
			n, ok := toNumber(v)
			return ok && ordered(op, n.compare(want))
		}, nil
	case schema.DateTime:
		if isSubstring(op) {
			return nil, fmt.Errorf("%s is a dateTime, and %s applies to strings only; use gt, ge, lt or le", attr.Name, op)
		}
		s, ok := lit.(string)
		if !ok {
			return nil, fmt.Errorf("%s is a dateTime and needs a string such as \"2011-05-13T04:42:34Z\"", attr.Name)
		}
		want, err := schema.ParseDateTime(s)
		if err != nil {
			return nil, fmt.Errorf("%s is a dateTime: %w", attr.Name, err)
		}
		return func(v any) bool {
			s, ok := v.(string)
			if !ok {
				return false
			}
			t, err := schema.ParseDateTime(s)
			return err == nil && ordered(op, t.Compare(want))
		}, nil
	}
	return nil, fmt.Errorf("%s has type %s, which cannot be compared", attr.Name, attr.Type)
}

var stringOps = map[fp.CompareOperator]func(v, want string) bool{
	fp.EQ: func(v, w string) bool { return v == w },
	fp.NE: func(v, w string) bool { return v == w }, // comparison.match negates
	fp.CO: strings.Contains,
	fp.SW: strings.HasPrefix,
	fp.EW: strings.HasSuffix,
	fp.GT: func(v, w string) bool { return v > w },
	fp.GE: func(v, w string) bool { return v >= w },
	fp.LT: func(v, w string) bool { return v < w },
	fp.LE: func(v, w string) bool { return v <= w },
}

func isOrdering(op fp.CompareOperator) bool {
	return op == fp.GT || op == fp.GE || op == fp.LT || op == fp.LE
}

func isSubstring(op fp.CompareOperator) bool {
	return op == fp.CO || op == fp.SW || op == fp.EW
}

// ordered reports whether a comparison result c (-1, 0, 1) satisfies op;
// ne is reported as eq, which comparison.match negates.
func ordered(op fp.CompareOperator, c int) bool {
	switch op {
	case fp.GT:
		return c > 0
	case fp.GE:
		return c >= 0
	case fp.LT:
		return c < 0
	case fp.LE:
		return c <= 0
	}
	return c == 0
}

// number is a JSON number: exact while it fits an int64, a float64 beyond.
type number struct {
	i     int64
	f     float64
	isInt bool
}

// toNumber reads a json.Number (from the parser, or a resource decoded with
// UseNumber) or a float64 (a resource decoded without).
func toNumber(v any) (number, bool) {
	switch v := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return number{i: i, f: float64(i), isInt: true}, true
		}
		// An out-of-range exponent parses as ±Inf, which still orders.
		f, err := strconv.ParseFloat(string(v), 64)
		if err != nil && !math.IsInf(f, 0) {
			return number{}, false
		}
		return number{f: f}, true
	case float64:
		return number{f: v}, !math.IsNaN(v)
	}
	return number{}, false
}

func (a number) compare(b number) int {
	if a.isInt && b.isInt {
		return cmp.Compare(a.i, b.i)
	}
	return cmp.Compare(a.f, b.f)
}
