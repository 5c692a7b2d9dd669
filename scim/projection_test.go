package scim

import (
	"encoding/json"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

func TestProjection(t *testing.T) {
	t.Parallel()
	const user = `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"id": "u_1", "userName": "dana", "nickName": "Dee", "x-custom": 1,
		"name": {"givenName": "Dana", "familyName": "Lee"},
		"emails": [{"value": "dana@acme.example", "type": "work"}, {"value": "dee@home.example", "type": "home"}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance", "costCenter": "7"},
		"meta": {"resourceType": "User"}
	}`
	tests := []struct {
		name, attributes, excluded, want string
	}{
		{"none", "", "", user},
		{"attributes", "userName,emails.value, urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"id": "u_1", "userName": "dana",
			"emails": [{"value": "dana@acme.example"}, {"value": "dee@home.example"}],
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance"}}`},
		{"names in any case", "USERNAME,Name", "name.GIVENNAME", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"id": "u_1", "userName": "dana", "name": {"familyName": "Lee"}}`},
		{"excluded", "", "emails,meta,id,nickName,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department,urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"id": "u_1", "userName": "dana", "x-custom": 1,
			"name": {"givenName": "Dana", "familyName": "Lee"}}`},
		{"unknown names select nothing", "bogus", "", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
			"id": "u_1"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := decode(t, user)
			got, _ := json.Marshal(newProjection(schema.UserResource, tt.attributes, tt.excluded).apply(in))
			want, _ := json.Marshal(decode(t, tt.want))
			if string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			after, _ := json.Marshal(in)
			before, _ := json.Marshal(decode(t, user))
			if string(after) != string(before) {
				t.Error("apply changed its argument")
			}
		})
	}
}
