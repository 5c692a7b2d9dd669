package filter

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// builder writes a compiled filter back out in canonical form: canonical
// attribute names, lowercase operators, JSON literals, single spaces and
// only the parentheses precedence needs.
type builder struct{ strings.Builder }

func (l *logical) format(b *builder) {
	for i, side := range []node{l.left, l.right} {
		if i == 1 {
			b.WriteString(map[bool]string{true: " and ", false: " or "}[l.and])
		}
		// "and" binds tighter than "or", so only an "or" under an "and"
		// needs parentheses.
		if s, ok := side.(*logical); ok && l.and && !s.and {
			b.WriteByte('(')
			s.format(b)
			b.WriteByte(')')
			continue
		}
		side.format(b)
	}
}

func (n *negation) format(b *builder) {
	b.WriteString("not (")
	n.x.format(b)
	b.WriteByte(')')
}

func (v *valuePath) format(b *builder) {
	b.WriteString(v.name)
	b.WriteByte('[')
	v.filter.format(b)
	b.WriteByte(']')
}

func (c *comparison) format(b *builder) {
	b.WriteString(c.name)
	b.WriteByte(' ')
	b.WriteString(string(c.op))
	if c.op != "pr" {
		b.WriteByte(' ')
		b.WriteString(literal(c.lit))
	}
}

// literal writes a parsed value as a filter literal.
func literal(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // "<" in an address needs no \u003c
		if err := enc.Encode(v); err != nil {
			// A string always encodes; keep the value readable regardless.
			return fmt.Sprintf("%q", v)
		}
		return strings.TrimSuffix(buf.String(), "\n")
	}
	return fmt.Sprint(v)
}
