package patch

import (
	"strings"

	"github.com/partnergate/partnergate/scim/schema"
)

// Member is a Group member as a PATCH request names it.
type Member struct {
	// Value is the member's id.
	Value string
	// Type is "User" or "Group" when the client said which, else "".
	Type string
}

// MemberDelta is the net change a request makes to a Group's members,
// its operations folded in order: adding a member that an earlier
// operation removed cancels the removal, and the other way round. The
// store applies it without the member list: if Replace is set it drops
// every member and then adds Add, else it removes Remove and adds Add,
// which are disjoint. Adding a member already there and removing one that
// is not are no-ops for the store to absorb, as RFC 7644 §3.5.2.1 and
// Entra's retries require.
type MemberDelta struct {
	// Replace is set when the request replaced or removed the whole
	// member list: the members afterwards are exactly Add.
	Replace bool
	// Add are the members to add, distinct by Value, in the order the
	// request first named them.
	Add []Member
	// Remove are the ids of the members to remove, distinct, in the order
	// the request first named them. It is empty when Replace is set.
	Remove []string
}

// membersAttr is the Group members attribute, whose operations Apply
// turns into a MemberDelta.
var membersAttr = schema.Group.Attribute("members")

func isMembers(p schema.Path) bool {
	return p.Extension == nil && p.Attr == membersAttr
}

// memberDelta folds member operations into a MemberDelta. Lookups are by
// map so that a request naming thousands of members stays linear.
type memberDelta struct {
	replace bool
	add     map[string]Member
	remove  map[string]bool
	// order is every id in the order named, repeats included; result
	// keeps the first mention.
	order []string
}

func newMemberDelta() *memberDelta {
	return &memberDelta{add: map[string]Member{}, remove: map[string]bool{}}
}

func (d *memberDelta) addMember(m Member) {
	delete(d.remove, m.Value)
	d.add[m.Value] = m
	d.order = append(d.order, m.Value)
}

func (d *memberDelta) removeMember(id string) {
	delete(d.add, id)
	// After a replace the list is exactly what was added since, so a
	// removal needs only to cancel an addition.
	if !d.replace {
		d.remove[id] = true
		d.order = append(d.order, id)
	}
}

func (d *memberDelta) clear() {
	*d = memberDelta{replace: true, add: map[string]Member{}, remove: map[string]bool{}}
}

func (d *memberDelta) result() MemberDelta {
	out := MemberDelta{Replace: d.replace}
	seen := make(map[string]bool, len(d.order))
	for _, id := range d.order {
		if seen[id] {
			continue
		}
		seen[id] = true
		if m, ok := d.add[id]; ok {
			out.Add = append(out.Add, m)
		} else if d.remove[id] {
			out.Remove = append(out.Remove, id)
		}
	}
	return out
}

// applyMembers applies an operation on a Group's members to the delta.
// Members are added and removed whole: their sub-attributes are
// immutable (RFC 7643 §8.7.1), so a path into one, or a filter on add or
// replace, would change a member in place and is refused.
func (a *applier) applyMembers(op Op, t target, v any) error {
	if t.path.Sub != nil || (t.filter != nil && op != Remove) {
		return schema.ErrMutability.Errorf("a member cannot be changed in place; add or remove it")
	}
	switch {
	case op == Remove && t.filter != nil:
		ids, ok := t.filter.memberIDs()
		if !ok {
			// Any other filter would need the member list, which the
			// server does not load for a PATCH.
			return schema.ErrInvalidFilter.Errorf("members can be selected for removal only by id, as in members[value eq \"id\"], not by [%s]", t.filter.text)
		}
		for _, id := range ids {
			a.members.removeMember(id)
		}
	case op == Remove && v != nil:
		ms, err := ParseMembers(v)
		if err != nil {
			return err
		}
		for _, m := range ms {
			a.members.removeMember(m.Value)
		}
	case op == Remove:
		a.members.clear()
	default:
		ms, err := ParseMembers(v)
		if err != nil {
			return err
		}
		if op == Replace {
			a.members.clear()
		}
		for _, m := range ms {
			a.members.addMember(m)
		}
	}
	return nil
}

// ParseMembers reads a Group's members as a request carries them, in a
// PATCH operation's value or a POST or PUT body: an array of member
// objects, or one. display and $ref are accepted and dropped: the server
// derives both from the member.
func ParseMembers(v any) ([]Member, error) {
	vals, err := coerceValues(membersAttr, v)
	if err != nil {
		return nil, err
	}
	out := make([]Member, 0, len(vals))
	for _, e := range vals {
		m := asMap(e)
		id, _ := m["value"].(string)
		if id == "" {
			return nil, schema.ErrInvalidValue.Errorf("a member needs a value, the member's id")
		}
		typ, _ := m["type"].(string)
		switch {
		case typ == "":
		case strings.EqualFold(typ, "User"):
			typ = "User"
		case strings.EqualFold(typ, "Group"):
			typ = "Group"
		default:
			return nil, schema.ErrInvalidValue.Errorf("member %q has type %q; it must be User or Group", id, typ)
		}
		out = append(out, Member{Value: id, Type: typ})
	}
	return out, nil
}
