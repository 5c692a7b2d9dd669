package patch

import (
	"encoding/json"
	"strings"

	"github.com/partnergate/partnergate/scim/filter"
	"github.com/partnergate/partnergate/scim/schema"
)

// valueFilter is a path's bracketed filter, bound to the multi-valued
// attribute whose values it selects.
type valueFilter struct {
	// text is the filter as the client wrote it, for error details.
	text string
	// attr is the filtered attribute and f the filter attr[text] over
	// the resource type, which scim/filter evaluates. A value v is
	// selected when f matches a resource whose only value of attr is v.
	attr schema.Path
	f    *filter.Filter
	// inner is the filter between the brackets in scim/filter's
	// canonical form, which newValue and memberIDs read.
	inner string
}

// parseValueFilter parses text as a filter on the values of p's
// attribute. Errors are scim/filter's invalidFilter errors.
func parseValueFilter(rt *schema.ResourceType, p schema.Path, text string) (*valueFilter, error) {
	attr := schema.Path{Extension: p.Extension, Attr: p.Attr}
	f, err := filter.Parse(rt, attr.String()+"["+text+"]")
	if err != nil {
		return nil, err
	}
	canon := f.String()
	// The canonical form of a value path is the canonical attribute path
	// and the canonical inner filter in brackets.
	inner := strings.TrimSuffix(strings.TrimPrefix(canon, attr.String()+"["), "]")
	return &valueFilter{text: text, attr: attr, f: f, inner: inner}, nil
}

// matches returns the indexes of the values in list the filter selects.
func (f *valueFilter) matches(list []any) []int {
	var hits []int
	for i, v := range list {
		obj := map[string]any{f.attr.Attr.Name: []any{v}}
		if f.attr.Extension != nil {
			obj = map[string]any{f.attr.Extension.ID: obj}
		}
		if f.f.Match(obj) {
			hits = append(hits, i)
		}
	}
	return hits
}

// newValue returns the value a filter describes when it is a conjunction
// of equality tests, as in emails[type eq "work"]: the value with those
// sub-attributes. ok is false for any other filter, or one that tests a
// sub-attribute twice.
func (f *valueFilter) newValue() (value map[string]any, ok bool) {
	terms, ok := comparisons(f.inner, "and")
	if !ok {
		return nil, false
	}
	value = make(map[string]any, len(terms))
	for _, t := range terms {
		sub := f.attr.Attr.SubAttribute(t.name)
		if t.op != "eq" || t.lit == nil || sub == nil {
			return nil, false
		}
		if _, dup := value[sub.Name]; dup {
			return nil, false
		}
		v, err := sub.CoerceValue(t.lit)
		if err != nil {
			return nil, false
		}
		value[sub.Name] = v
	}
	return value, true
}

// memberIDs returns the ids a filter on members selects when it is a
// disjunction of id tests, as in members[value eq "a" or value eq "b"].
func (f *valueFilter) memberIDs() ([]string, bool) {
	terms, ok := comparisons(f.inner, "or")
	if !ok {
		return nil, false
	}
	ids := make([]string, 0, len(terms))
	for _, t := range terms {
		id, isString := t.lit.(string)
		if t.name != "value" || t.op != "eq" || !isString {
			return nil, false
		}
		ids = append(ids, id)
	}
	return ids, true
}

// comparison is one "name op literal" test of a canonical filter.
type comparison struct {
	name, op string
	lit      any
}

// comparisons splits a filter in scim/filter's canonical form (single
// spaces, lowercase operators, JSON literals, parentheses only where
// precedence needs them) into its comparisons if it is nothing but
// comparisons joined by join ("and" or "or"). ok is false for any other
// shape: a not, a parenthesised group, the other logical operator or a
// pr test.
func comparisons(canon, join string) (terms []comparison, ok bool) {
	rest := canon
	for {
		name, after, found := strings.Cut(rest, " ")
		if !found || !validName(name) {
			return nil, false
		}
		op, after, found := strings.Cut(after, " ")
		if !found || op == "pr" {
			return nil, false
		}
		dec := json.NewDecoder(strings.NewReader(after))
		dec.UseNumber()
		var lit any
		if err := dec.Decode(&lit); err != nil {
			return nil, false
		}
		if _, isArray := lit.([]any); isArray {
			return nil, false
		}
		if _, isObject := lit.(map[string]any); isObject {
			return nil, false
		}
		terms = append(terms, comparison{name: name, op: op, lit: lit})
		rest = after[dec.InputOffset():]
		if rest == "" {
			return terms, true
		}
		var more bool
		if rest, more = strings.CutPrefix(rest, " "+join+" "); !more {
			return nil, false
		}
	}
}
