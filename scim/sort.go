package scim

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/scim/schema"
)

// sortOrder is a list request's sortBy and sortOrder (RFC 7644
// §3.4.2.3), resolved against each resource type listed.
type sortOrder struct {
	// paths holds sortBy resolved against each resource type that has
	// it; resources of the others have no value to sort by.
	paths      map[*schema.ResourceType]schema.Path
	descending bool
}

// parseSort reads q's sortBy and sortOrder for resources of the types
// rts; nil means no sorting. sortBy must name an attribute at least one
// of them has: RFC 7644 lets a server ignore one it does not know, but a
// client that asked for an order and silently got id order would page
// through a list it believes sorted.
func parseSort(q query, rts ...*schema.ResourceType) (*sortOrder, error) {
	var desc bool
	switch {
	case q.sortOrder == "" || strings.EqualFold(q.sortOrder, "ascending"):
	case strings.EqualFold(q.sortOrder, "descending"):
		desc = true
	default:
		return nil, schema.ErrInvalidValue.Errorf("sortOrder %q is neither ascending nor descending", q.sortOrder)
	}
	if q.sortBy == "" {
		return nil, nil
	}
	o := &sortOrder{paths: map[*schema.ResourceType]schema.Path{}, descending: desc}
	for _, rt := range rts {
		p, err := rt.Lookup(q.sortBy)
		if err != nil {
			continue
		}
		// A single complex value has no order of its own; a multi-valued
		// one sorts by its value sub-attribute, as emails by emails.value.
		if p.Sub == nil && p.Attr.Type == schema.Complex && (!p.Attr.MultiValued || p.Attr.SubAttribute("value") == nil) {
			return nil, schema.ErrInvalidValue.Errorf("sortBy %q names a complex attribute; name one of its sub-attributes, such as %s.%s", q.sortBy, p.Attr.Name, p.Attr.SubAttributes[0].Name)
		}
		o.paths[rt] = p
	}
	if len(o.paths) == 0 {
		return nil, schema.ErrInvalidValue.Errorf("sortBy %q names no attribute of the resources listed", q.sortBy)
	}
	return o, nil
}

// sortsByMembers reports whether q sorts groups by their members, the
// one attribute that needs them read to sort.
func sortsByMembers(q query) bool {
	p, err := schema.GroupResource.Lookup(q.sortBy)
	return q.sortBy != "" && err == nil && p.Extension == nil && p.Attr.Name == "members"
}

// sortMatches orders matches by o, view giving each one's resource and
// type. The sort is stable, so that equal values keep the order matches
// came in, id order: pages stay the same from one request to the next.
// Resources without a value come last in ascending order and first in
// descending, as RFC 7644 §3.4.2.3 says.
func sortMatches[T any](matches []T, o *sortOrder, view func(T) (Resource, *schema.ResourceType, error)) error {
	type keyed struct {
		m   T
		key sortKey
	}
	items := make([]keyed, len(matches))
	for i, m := range matches {
		res, rt, err := view(m)
		if err != nil {
			return err
		}
		items[i] = keyed{m: m}
		if p, ok := o.paths[rt]; ok {
			items[i].key = keyOf(res, p)
		}
	}
	slices.SortStableFunc(items, func(a, b keyed) int {
		c := a.key.compare(b.key)
		if o.descending {
			return -c
		}
		return c
	})
	for i, it := range items {
		matches[i] = it.m
	}
	return nil
}

// sortKey is a value to sort by, normalised so that values compare as
// their attribute's type says: exactly one field is set, or none for a
// resource without a value.
type sortKey struct {
	str  *string
	num  *float64
	when *time.Time
	flag *bool
}

// keyOf is the value of res at p. Of a multi-valued attribute, the
// primary value counts, else the first (RFC 7644 §3.4.2.3).
func keyOf(res Resource, p schema.Path) sortKey {
	obj := map[string]any(res)
	if p.Extension != nil {
		obj, _ = lookup(res, p.Extension.ID).(map[string]any)
	}
	v := lookup(obj, p.Attr.Name)
	if list, ok := v.([]any); ok && p.Attr.MultiValued {
		v = nil
		if i := primaryIndex(list); i >= 0 {
			v = list[i]
		}
	}
	attr := p.Attribute()
	if p.Attr.Type == schema.Complex {
		sub := p.Sub
		if sub == nil {
			sub = p.Attr.SubAttribute("value")
		}
		m, _ := v.(map[string]any)
		v, attr = lookup(m, sub.Name), sub
	}
	var k sortKey
	switch v := v.(type) {
	case string:
		switch {
		case attr.Type == schema.DateTime:
			if t, err := schema.ParseDateTime(v); err == nil {
				k.when = &t
				return k
			}
		case !attr.CaseExact:
			v = strings.ToLower(v)
		}
		k.str = &v
	case json.Number:
		if f, err := v.Float64(); err == nil {
			k.num = &f
		}
	case float64:
		k.num = &v
	case bool:
		k.flag = &v
	case nil:
	default:
		s := fmt.Sprint(v)
		k.str = &s
	}
	return k
}

// rank orders keys of different kinds, which only values of the wrong
// type give: the absent value ranks last.
func (k sortKey) rank() int {
	switch {
	case k.flag != nil:
		return 0
	case k.num != nil:
		return 1
	case k.when != nil:
		return 2
	case k.str != nil:
		return 3
	}
	return 4
}

func (k sortKey) compare(o sortKey) int {
	if c := cmp.Compare(k.rank(), o.rank()); c != 0 {
		return c
	}
	switch {
	case k.flag != nil:
		return cmp.Compare(boolRank(*k.flag), boolRank(*o.flag))
	case k.num != nil:
		return cmp.Compare(*k.num, *o.num)
	case k.when != nil:
		return k.when.Compare(*o.when)
	case k.str != nil:
		return strings.Compare(*k.str, *o.str)
	}
	return 0
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}
