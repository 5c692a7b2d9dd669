package patch

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

func TestMembers(t *testing.T) {
	tests := []struct {
		name string
		ops  string
		want MemberDelta
		// diff is the change to the group's other attributes.
		diff string
	}{
		// RFC 7644 §3.5.2.1–3.5.2.3.
		{
			name: "RFC add member",
			ops: `{"op":"add","path":"members","value":[{"display":"Babs Jensen",
				"$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646","value":"2819c223-7f76-453a-919d-413861904646"}]}`,
			want: MemberDelta{Add: []Member{{Value: userID}}},
		},
		{
			name: "RFC remove member",
			ops:  `{"op":"remove","path":"members[value eq \"2819c223-7f76-453a-919d-413861904646\"]"}`,
			want: MemberDelta{Remove: []string{userID}},
		},
		{
			name: "RFC remove all members",
			ops:  `{"op":"remove","path":"members"}`,
			want: MemberDelta{Replace: true},
		},
		{
			name: "RFC remove all members and add new ones",
			ops: `{"op":"remove","path":"members"},
				{"op":"add","path":"members","value":[
					{"display":"Babs Jensen","$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646","value":"2819c223-7f76-453a-919d-413861904646"},
					{"display":"James Smith","$ref":"https://example.com/v2/Users/08e1d05d-121c-4561-8b96-473d93df9210","value":"08e1d05d-121c-4561-8b96-473d93df9210"}]}`,
			want: MemberDelta{Replace: true, Add: []Member{{Value: userID}, {Value: "08e1d05d-121c-4561-8b96-473d93df9210"}}},
		},
		{
			name: "RFC replace members",
			ops: `{"op":"replace","path":"members","value":[{"display":"Babs Jensen",
				"$ref":"https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646","value":"2819c223-7f76-453a-919d-413861904646"}]}`,
			want: MemberDelta{Replace: true, Add: []Member{{Value: userID}}},
		},

		// Entra: the tutorial's requests, then the known-issues page's
		// with and without the aadOptscim062020 flag.
		{
			name: "Entra add members",
			ops:  `{"op":"Add","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}`,
			want: MemberDelta{Add: []Member{{Value: "f648f8d5ea4e4cd38e9c"}}},
		},
		{
			name: "Entra remove members",
			ops:  `{"op":"Remove","path":"members","value":[{"$ref":null,"value":"f648f8d5ea4e4cd38e9c"}]}`,
			want: MemberDelta{Remove: []string{"f648f8d5ea4e4cd38e9c"}},
		},
		{
			name: "Entra remove member without flag",
			ops:  `{"op":"Remove","path":"members","value":[{"value":"u1091"}]}`,
			want: MemberDelta{Remove: []string{"u1091"}},
		},
		{
			name: "Entra remove member with flag",
			ops:  `{"op":"remove","path":"members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]"}`,
			want: MemberDelta{Remove: []string{"7f4bc1a3-285e-48ae-8202-5accb43efb0e"}},
		},
		{
			name: "Entra several members in one operation",
			ops: `{"op":"Add","path":"members","value":[{"value":"a"},{"value":"b"},{"value":"c"}]},
				{"op":"Remove","path":"members","value":[{"value":"x"},{"value":"y"}]}`,
			want: MemberDelta{Add: []Member{{Value: "a"}, {Value: "b"}, {Value: "c"}}, Remove: []string{"x", "y"}},
		},
		{
			name: "Entra update non-member attributes",
			ops:  `{"op":"Replace","path":"displayName","value":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}`,
			diff: `{"displayName":"1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}`,
		},

		// Okta Group Push.
		{
			name: "Okta rename",
			ops:  `{"op":"replace","value":{"id":"e9e30dba-f08f-4109-8486-d5c6a331660a","displayName":"Test SCIMv2"}}`,
			diff: `{"displayName":"Test SCIMv2"}`,
		},
		{
			name: "Okta membership update",
			ops: `{"op":"remove","path":"members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"},
				{"op":"add","path":"members","value":[{"value":"23a35c27-23d3-4c03-b4c5-6443c09e7173","display":"test.user@okta.local"}]}`,
			want: MemberDelta{Add: []Member{{Value: "23a35c27-23d3-4c03-b4c5-6443c09e7173"}}, Remove: []string{"89bb1940-b905-4575-9e7f-6f887cfb368e"}},
		},

		// Folding.
		{
			name: "several ids in one filter",
			ops:  `{"op":"remove","path":"members[value eq \"a\" or value eq \"b\" or VALUE EQ \"c\"]"}`,
			want: MemberDelta{Remove: []string{"a", "b", "c"}},
		},
		{
			name: "add then remove is a removal",
			ops:  `{"op":"add","path":"members","value":[{"value":"a"}]},{"op":"remove","path":"members[value eq \"a\"]"}`,
			want: MemberDelta{Remove: []string{"a"}},
		},
		{
			name: "remove then add is an addition",
			ops:  `{"op":"remove","path":"members[value eq \"a\"]"},{"op":"add","path":"members","value":[{"value":"a"}]}`,
			want: MemberDelta{Add: []Member{{Value: "a"}}},
		},
		{
			name: "added twice is added once",
			ops:  `{"op":"add","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"add","path":"members","value":[{"value":"a","type":"user"}]}`,
			want: MemberDelta{Add: []Member{{Value: "a", Type: "User"}, {Value: "b"}}},
		},
		{
			name: "removal after replace only cancels an addition",
			ops:  `{"op":"replace","path":"members","value":[{"value":"a"},{"value":"b"}]},{"op":"remove","path":"members[value eq \"a\" or value eq \"z\"]"}`,
			want: MemberDelta{Replace: true, Add: []Member{{Value: "b"}}},
		},
		{
			name: "replace with no members empties the group",
			ops:  `{"op":"add","path":"members","value":[{"value":"a"}]},{"op":"replace","path":"members","value":[]}`,
			want: MemberDelta{Replace: true},
		},
		{
			name: "replace with null empties the group",
			ops:  `{"op":"replace","path":"members","value":null}`,
			want: MemberDelta{Replace: true},
		},
		{
			name: "members without a path",
			ops:  `{"op":"replace","value":{"displayName":"Guides","members":[{"value":"a","type":"Group"}]}}`,
			want: MemberDelta{Replace: true, Add: []Member{{Value: "a", Type: "Group"}}},
			diff: `{"displayName":"Guides"}`,
		},
		{
			name: "ids with escapes",
			ops:  `{"op":"remove","path":"members[value eq \"a\\\"b\\\\c\\u00e9]\"]"}`,
			want: MemberDelta{Remove: []string{`a"b\cé]`}},
		},
		{
			name: "one member unwrapped",
			ops:  `{"op":"add","path":"members","value":{"value":"a"}}`,
			want: MemberDelta{Add: []Member{{Value: "a"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ch, err := applyOps(t, schema.GroupResource, baseGroup, tt.ops)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if !reflect.DeepEqual(ch.Members, tt.want) {
				t.Errorf("Members = %+v\nwant %+v", ch.Members, tt.want)
			}
			diff := tt.diff
			if diff == "" {
				diff = "{}"
			}
			// Membership is never written into the resource.
			wantDiff(t, decodeJSON(t, baseGroup), got, diff)
			if ch.Modified != (tt.diff != "") {
				t.Errorf("Modified = %t, want %t", ch.Modified, tt.diff != "")
			}
		})
	}
}

// Apply neither reads nor writes members in the resource, even when the
// server hands it a Group that has them.
func TestMembersNotInResource(t *testing.T) {
	group := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"G","members":[{"value":"a"}]}`
	got, ch, err := applyOps(t, schema.GroupResource, group,
		`{"op":"remove","path":"members"},{"op":"add","path":"members","value":[{"value":"b"}]}`)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	wantDiff(t, decodeJSON(t, group), got, `{}`)
	if want := (MemberDelta{Replace: true, Add: []Member{{Value: "b"}}}); !reflect.DeepEqual(ch.Members, want) || ch.Modified {
		t.Errorf("Changes = %+v, want Members %+v and not Modified", ch, want)
	}
}

func TestMembersErrors(t *testing.T) {
	tests := []struct {
		name string
		ops  string
		want *schema.Error
	}{
		{"member without value", `{"op":"add","path":"members","value":[{"display":"x"}]}`, schema.ErrInvalidValue},
		{"member with empty value", `{"op":"add","path":"members","value":[{"value":""}]}`, schema.ErrInvalidValue},
		{"member with only null $ref", `{"op":"add","path":"members","value":[{"$ref":null}]}`, schema.ErrInvalidValue},
		{"member id not a string", `{"op":"add","path":"members","value":[{"value":7}]}`, schema.ErrInvalidValue},
		{"member of unknown type", `{"op":"add","path":"members","value":[{"value":"a","type":"Robot"}]}`, schema.ErrInvalidValue},
		{"member with unknown sub-attribute", `{"op":"add","path":"members","value":[{"value":"a","role":"owner"}]}`, schema.ErrInvalidValue},
		{"member as bare id", `{"op":"add","path":"members","value":["a"]}`, schema.ErrInvalidValue},
		{"remove by display", `{"op":"remove","path":"members[display eq \"Babs\"]"}`, schema.ErrInvalidFilter},
		{"remove by type", `{"op":"remove","path":"members[type eq \"User\"]"}`, schema.ErrInvalidFilter},
		{"remove by id and type", `{"op":"remove","path":"members[value eq \"a\" and type eq \"User\"]"}`, schema.ErrInvalidFilter},
		{"remove by id prefix", `{"op":"remove","path":"members[value sw \"a\"]"}`, schema.ErrInvalidFilter},
		{"remove by negation", `{"op":"remove","path":"members[not (value eq \"a\")]"}`, schema.ErrInvalidFilter},
		{"change a member in place", `{"op":"replace","path":"members[value eq \"a\"]","value":{"value":"b"}}`, schema.ErrMutability},
		{"add to a member", `{"op":"add","path":"members[value eq \"a\"]","value":{"display":"A"}}`, schema.ErrMutability},
		{"change a member's sub-attribute", `{"op":"replace","path":"members[value eq \"a\"].display","value":"A"}`, schema.ErrMutability},
		{"remove a member's sub-attribute", `{"op":"remove","path":"members[value eq \"a\"].type"}`, schema.ErrMutability},
		{"Okta rename with another id", `{"op":"replace","value":{"id":"other","displayName":"Test SCIMv2"}}`, schema.ErrMutability},
		{"users' attributes", `{"op":"replace","path":"userName","value":"x"}`, schema.ErrInvalidPath},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := applyOps(t, schema.GroupResource, baseGroup, tt.ops)
			wantError(t, got, err, tt.want)
		})
	}
}

// A request naming many members is folded in linear time: no operation
// looks at more than the members it names.
func TestMembersMany(t *testing.T) {
	const n = 10000
	var add, remove strings.Builder
	for i := range n {
		if i > 0 {
			add.WriteByte(',')
			remove.WriteByte(',')
		}
		fmt.Fprintf(&add, `{"value":"u%d"}`, i)
		if i%2 == 0 {
			fmt.Fprintf(&remove, `{"value":"u%d"}`, i)
		} else {
			fmt.Fprintf(&remove, `{"value":"x%d"}`, i)
		}
	}
	_, ch, err := applyOps(t, schema.GroupResource, baseGroup,
		`{"op":"add","path":"members","value":[`+add.String()+`]},{"op":"remove","path":"members","value":[`+remove.String()+`]}`)
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if len(ch.Members.Add) != n/2 || len(ch.Members.Remove) != n || ch.Members.Replace {
		t.Fatalf("Members: %d added, %d removed, replace %t; want %d, %d, false", len(ch.Members.Add), len(ch.Members.Remove), ch.Members.Replace, n/2, n)
	}
	// In order of first mention: the removed u-ids were named when added.
	if ch.Members.Add[0].Value != "u1" || ch.Members.Remove[0] != "u0" || ch.Members.Remove[n/2] != "x1" {
		t.Errorf("order: Add[0] = %q, Remove[0] = %q, Remove[n/2] = %q", ch.Members.Add[0].Value, ch.Members.Remove[0], ch.Members.Remove[n/2])
	}
}
