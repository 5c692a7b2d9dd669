package filter

import (
	fp "github.com/scim2/filter-parser/v2"

	"github.com/partnergate/partnergate/scim/schema"
)

// Filter is a parsed filter, checked against a resource type's schemas.
type Filter struct {
	rt   *schema.ResourceType
	root node
}

// MaxLength is the longest filter Parse accepts, in bytes. The filters
// provisioning clients send are a few hundred bytes; the parser library
// spends some microseconds per byte, so the cap keeps a hostile filter from
// costing more than milliseconds.
const MaxLength = 4096

// Parse parses a filter (RFC 7644 §3.4.2.2) over resources of type rt.
// Every error is a *schema.Error of kind schema.ErrInvalidFilter whose
// detail says what is wrong: a syntax error and its position, an unknown
// attribute (also matching schema.ErrUnknownAttribute), or a value or
// operator that does not fit the attribute's type.
func Parse(rt *schema.ResourceType, filter string) (*Filter, error) {
	if len(filter) > MaxLength {
		return nil, invalid("the filter is %d bytes long, more than the %d allowed", len(filter), MaxLength)
	}
	e, err := parse(filter)
	if err != nil {
		return nil, err
	}
	root, err := compile(rt, e, nil)
	if err != nil {
		return nil, err
	}
	return &Filter{rt: rt, root: root}, nil
}

// Match reports whether resource, a JSON object as encoding/json decodes
// it (with or without UseNumber), satisfies the filter. Values of the wrong
// type in the resource match nothing.
func (f *Filter) Match(resource map[string]any) bool {
	return f.root.match(resource)
}

// String returns the filter in canonical form, which Parse reads back to the
// same filter.
func (f *Filter) String() string {
	var b builder
	f.root.format(&b)
	return b.String()
}

// Reads reports whether the filter reads the core attribute called name,
// as the schema spells it, or one of its sub-attributes. A server can
// then leave out of the resources it matches an attribute that is costly
// to load, such as a Group's members, when the filter does not need it.
func (f *Filter) Reads(name string) bool {
	return reads(f.root, name)
}

func reads(n node, name string) bool {
	switch n := n.(type) {
	case *logical:
		return reads(n.left, name) || reads(n.right, name)
	case *negation:
		return reads(n.x, name)
	case *valuePath:
		return n.attr.reads(name)
	case *comparison:
		return n.attr.reads(name)
	}
	return false
}

// invalid returns an invalidFilter error.
func invalid(format string, args ...any) error {
	return schema.ErrInvalidFilter.Errorf(format, args...)
}

// Equality reports whether f is a single equality on an attribute a store
// can index — userName, externalId or emails.value for Users (also written
// `emails eq "x"` or `emails[value eq "x"]`), displayName or externalId for
// Groups — and if so returns the attribute's canonical name and the value.
// Whether the comparison is case-sensitive is the attribute's caseExact.
func Equality(f *Filter) (attr, value string, ok bool) {
	root, prefix := f.root, ""
	if v, isValuePath := root.(*valuePath); isValuePath {
		root, prefix = v.filter, v.name+"."
	}
	c, ok := root.(*comparison)
	if !ok || c.op != fp.EQ {
		return "", "", false
	}
	value, ok = c.lit.(string)
	attr = prefix + c.name
	if !ok || !indexed[f.rt.Schema.ID][attr] {
		return "", "", false
	}
	return attr, value, true
}

// indexed lists, per core schema, the attributes Equality reports.
var indexed = map[string]map[string]bool{
	schema.UserURN:  {"userName": true, "externalId": true, "emails.value": true},
	schema.GroupURN: {"displayName": true, "externalId": true},
}
