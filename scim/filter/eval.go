package filter

import (
	fp "github.com/scim2/filter-parser/v2"

	"github.com/partnergate/partnergate/scim/schema"
)

// node is a compiled filter. obj is the resource at the top level and an
// element of the filtered attribute inside a value filter.
type node interface {
	match(obj map[string]any) bool
	format(b *builder)
}

type logical struct {
	and         bool
	left, right node
}

func (l *logical) match(obj map[string]any) bool {
	if l.and {
		return l.left.match(obj) && l.right.match(obj)
	}
	return l.left.match(obj) || l.right.match(obj)
}

type negation struct{ x node }

func (n *negation) match(obj map[string]any) bool { return !n.x.match(obj) }

// valuePath is attr[filter]: it matches if any element of attr does.
type valuePath struct {
	attr   accessor
	name   string
	filter node
}

func (v *valuePath) match(obj map[string]any) bool {
	for _, e := range v.attr.values(obj) {
		if m, ok := e.(map[string]any); ok && v.filter.match(m) {
			return true
		}
	}
	return false
}

// comparison is "attr op lit". Over a multi-valued attribute it matches if
// any value does (RFC 7644 §3.4.2.2), except ne, which matches if no value
// equals lit, so that "a ne x" and "not (a eq x)" agree, also for
// resources without a.
type comparison struct {
	attr accessor
	name string
	op   fp.CompareOperator
	lit  any            // as parsed: string, bool, json.Number or nil
	test func(any) bool // nil for pr and null
}

func (c *comparison) match(obj map[string]any) bool {
	values := c.attr.values(obj)
	switch {
	case c.op == fp.PR:
		return present(values)
	case c.lit == nil:
		// "eq null" asks for an unassigned attribute (RFC 7643 §2.5).
		return present(values) == (c.op == fp.NE)
	}
	found := false
	for _, v := range values {
		if c.test(v) {
			found = true
			break
		}
	}
	return found != (c.op == fp.NE)
}

// accessor reaches an attribute's values in a JSON object.
type accessor struct {
	ext   string   // URN of the extension holding the attribute, or ""
	names []string // attribute, then sub-attribute
}

// reads reports whether a reaches the core attribute called name.
func (a accessor) reads(name string) bool {
	return a.ext == "" && a.names[0] == name
}

// values returns the attribute's values, with arrays flattened and nulls
// dropped: a sub-attribute of a multi-valued attribute has one value per
// element. Member names compare case-insensitively (RFC 7643 §2.1).
func (a accessor) values(obj map[string]any) []any {
	values := []any{obj}
	if a.ext != "" {
		ext, _, _ := schema.Member(obj, a.ext)
		values = appendValues(nil, ext)
	}
	for _, name := range a.names {
		var next []any
		for _, v := range values {
			if m, ok := v.(map[string]any); ok {
				if x, _, ok := schema.Member(m, name); ok {
					next = appendValues(next, x)
				}
			}
		}
		values = next
	}
	return values
}

func appendValues(values []any, v any) []any {
	if arr, ok := v.([]any); ok {
		for _, e := range arr {
			if e != nil {
				values = append(values, e)
			}
		}
		return values
	}
	if v != nil {
		values = append(values, v)
	}
	return values
}

// present reports whether any value is non-empty: not "", and for a complex
// value, with a non-empty member (RFC 7644 §3.4.2.2 "pr").
func present(values []any) bool {
	for _, v := range values {
		switch v := v.(type) {
		case string:
			if v != "" {
				return true
			}
		case map[string]any:
			for _, m := range v {
				if present(appendValues(nil, m)) {
					return true
				}
			}
		default:
			return true
		}
	}
	return false
}
