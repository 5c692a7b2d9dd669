package patch

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

const (
	userID  = "2819c223-7f76-453a-919d-413861904646"
	groupID = "e9e30dba-f08f-4109-8486-d5c6a331660a"
	ent     = schema.EnterpriseUserURN
)

// baseUser is RFC 7643 §8.3's enterprise user, trimmed.
const baseUser = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"id": "2819c223-7f76-453a-919d-413861904646",
	"externalId": "701984",
	"userName": "bjensen@example.com",
	"name": {"formatted": "Ms. Barbara J Jensen, III", "familyName": "Jensen", "givenName": "Barbara"},
	"displayName": "Babs Jensen",
	"active": true,
	"emails": [
		{"value": "bjensen@example.com", "type": "work", "primary": true},
		{"value": "babs@jensen.org", "type": "home"}
	],
	"addresses": [
		{"type": "work", "streetAddress": "100 Universal City Plaza", "locality": "Hollywood", "region": "CA", "postalCode": "91608", "country": "USA", "primary": true}
	],
	"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
		"employeeNumber": "701984",
		"department": "Tour Operations",
		"manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d", "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d", "displayName": "John Smith"}
	},
	"meta": {"resourceType": "User", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z", "version": "W/\"3694e05e9dff591\"", "location": "https://example.com/v2/Users/2819c223-7f76-453a-919d-413861904646"}
}`

// plainUser has no enterprise attributes.
const plainUser = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
	"id": "2819c223-7f76-453a-919d-413861904646",
	"userName": "bjensen@example.com",
	"active": true
}`

// baseGroup is a Group as the server hands it to Apply: without members.
const baseGroup = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
	"id": "e9e30dba-f08f-4109-8486-d5c6a331660a",
	"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
	"displayName": "Tour Guides",
	"meta": {"resourceType": "Group", "created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34Z"}
}`

func decodeJSON(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return m
}

// body wraps operations in a PatchOp request.
func body(ops string) string {
	return `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[` + ops + `]}`
}

// applyOps parses ops and applies them to resource, checking that Apply
// leaves its input as it was.
func applyOps(t *testing.T, rt *schema.ResourceType, resource, ops string) (map[string]any, Changes, error) {
	t.Helper()
	req := mustParse(t, body(ops))
	in := decodeJSON(t, resource)
	got, ch, err := req.Apply(in, rt)
	if !reflect.DeepEqual(in, decodeJSON(t, resource)) {
		t.Fatalf("Apply modified its input: %s", mustMarshal(t, in))
	}
	return got, ch, err
}

// wantDiff checks that got is base with the top-level members in diff
// set as given, or removed where diff has null, and nothing else changed.
func wantDiff(t *testing.T, base, got map[string]any, diff string) {
	t.Helper()
	want := decodeJSON(t, diff)
	keys := map[string]bool{}
	for _, m := range []map[string]any{base, got, want} {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		g, inGot := got[k]
		w, inWant := want[k]
		if !inWant {
			w = base[k] // nil if base lacks it too
		}
		if w == nil {
			if inGot {
				t.Errorf("%s = %s, want it absent", k, mustMarshal(t, g))
			}
			continue
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s = %s\nwant %s", k, mustMarshal(t, g), mustMarshal(t, w))
		}
	}
}

func mustMarshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	return string(b)
}

// wantError checks that err is a *schema.Error of kind want and that
// Apply returned no resource.
func wantError(t *testing.T, got map[string]any, err error, want *schema.Error) {
	t.Helper()
	var se *schema.Error
	if !errors.As(err, &se) || !errors.Is(err, want) {
		t.Fatalf("Apply error = %v, want %s", err, want.ScimType)
	}
	if got != nil {
		t.Errorf("Apply returned a resource with its error: %s", mustMarshal(t, got))
	}
}
