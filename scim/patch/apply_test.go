package patch

import (
	"errors"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

type applyCase struct {
	name     string
	resource string // baseUser when empty
	ops      string
	// diff lists the top-level members that change, null for removed.
	diff string
	// unmodified says the request changes nothing.
	unmodified bool
}

func runApply(t *testing.T, rt *schema.ResourceType, def string, tests []applyCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resource := tt.resource
			if resource == "" {
				resource = def
			}
			got, ch, err := applyOps(t, rt, resource, tt.ops)
			if err != nil {
				t.Fatalf("Apply: %v", err)
			}
			diff := tt.diff
			if diff == "" {
				diff = "{}"
			}
			wantDiff(t, decodeJSON(t, resource), got, diff)
			if ch.Modified == tt.unmodified {
				t.Errorf("Modified = %t, want %t", ch.Modified, !tt.unmodified)
			}
		})
	}
}

// The examples of RFC 7644 §3.5.2.1–3.5.2.3 that patch a User; those
// that patch members are in TestMembers.
func TestApplyRFC7644Examples(t *testing.T) {
	runApply(t, schema.UserResource, baseUser, []applyCase{
		{
			// §3.5.2.1: add without a path; "nickname" is nickName.
			name: "add attributes without path",
			ops: `{"op":"add","value":{
				"emails":[{"value":"babs@jensen.org","type":"home"},{"value":"barbara@example.net","type":"other"}],
				"nickname":"Babs"}}`,
			diff: `{"nickName":"Babs","emails":[
				{"value":"bjensen@example.com","type":"work","primary":true},
				{"value":"babs@jensen.org","type":"home"},
				{"value":"barbara@example.net","type":"other"}]}`,
		},
		{
			// §3.5.2.2.
			name: "remove emails by complex filter",
			ops:  `{"op":"remove","path":"emails[type eq \"work\" and value ew \"example.com\"]"}`,
			diff: `{"emails":[{"value":"babs@jensen.org","type":"home"}]}`,
		},
		{
			// §3.5.2.3.
			name: "replace address selected by filter",
			ops: `{"op":"replace","path":"addresses[type eq \"work\"]","value":{
				"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA",
				"postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}}`,
			diff: `{"addresses":[{"type":"work","streetAddress":"911 Universal City Plaza","locality":"Hollywood","region":"CA",
				"postalCode":"91608","country":"US","formatted":"911 Universal City Plaza\nHollywood, CA 91608 US","primary":true}]}`,
		},
		{
			// §3.5.2.3.
			name: "replace sub-attribute of filtered address",
			ops:  `{"op":"replace","path":"addresses[type eq \"work\"].streetAddress","value":"1010 Broadway Ave"}`,
			diff: `{"addresses":[{"type":"work","streetAddress":"1010 Broadway Ave","locality":"Hollywood","region":"CA","postalCode":"91608","country":"USA","primary":true}]}`,
		},
		{
			// §3.5.2.3: replace without a path replaces emails whole.
			name: "replace attributes without path",
			ops: `{"op":"replace","value":{
				"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
				"nickname":"Babs"}}`,
			diff: `{"nickName":"Babs"}`,
		},
	})
}

func TestApplyUser(t *testing.T) {
	runApply(t, schema.UserResource, baseUser, []applyCase{
		// Single-valued attributes.
		{name: "add replaces single value", ops: `{"op":"add","path":"displayName","value":"Barbara"}`, diff: `{"displayName":"Barbara"}`},
		{name: "add sets unassigned", ops: `{"op":"add","path":"title","value":"Tour Guide"}`, diff: `{"title":"Tour Guide"}`},
		{name: "replace sets unassigned", ops: `{"op":"replace","path":"title","value":"Tour Guide"}`, diff: `{"title":"Tour Guide"}`},
		{name: "replace with null unassigns", ops: `{"op":"replace","path":"displayName","value":null}`, diff: `{"displayName":null}`},
		{name: "remove single value", ops: `{"op":"remove","path":"displayName"}`, diff: `{"displayName":null}`},
		{name: "remove unassigned changes nothing", ops: `{"op":"remove","path":"title"}`, unmodified: true},
		{name: "same value changes nothing", ops: `{"op":"replace","path":"displayName","value":"Babs Jensen"}`, unmodified: true},
		{name: "names are case-insensitive", ops: `{"op":"replace","path":"DISPLAYNAME","value":"B"}`, diff: `{"displayName":"B"}`},
		{name: "core URN qualifies a core attribute", ops: `{"op":"replace","path":"urn:ietf:params:scim:schemas:core:2.0:User:userName","value":"babs@example.com"}`, diff: `{"userName":"babs@example.com"}`},
		{
			name:     "another spelling is replaced, not duplicated",
			resource: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b","nickname":"Bee"}`,
			ops:      `{"op":"replace","path":"nickName","value":"Babs"}`,
			diff:     `{"nickname":null,"nickName":"Babs"}`,
		},

		// Booleans as Entra sends them.
		{name: "active from string False", ops: `{"op":"Replace","path":"active","value":"False"}`, diff: `{"active":false}`},
		{name: "active from string true", resource: plainUser, ops: `{"op":"replace","path":"active","value":"true"}`, unmodified: true},

		// Complex single-valued attributes.
		{name: "add merges sub-attributes", ops: `{"op":"add","path":"name","value":{"middleName":"Jane"}}`,
			diff: `{"name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Barbara","middleName":"Jane"}}`},
		{name: "replace merges sub-attributes", ops: `{"op":"replace","path":"name","value":{"givenName":"Babs"}}`,
			diff: `{"name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Babs"}}`},
		{name: "replace sub-attribute", ops: `{"op":"replace","path":"name.givenName","value":"Babs"}`,
			diff: `{"name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Jensen","givenName":"Babs"}}`},
		{name: "add sub-attribute to unassigned parent", resource: plainUser, ops: `{"op":"add","path":"name.familyName","value":"Jensen"}`,
			diff: `{"name":{"familyName":"Jensen"}}`},
		{name: "remove sub-attribute", ops: `{"op":"remove","path":"name.formatted"}`,
			diff: `{"name":{"familyName":"Jensen","givenName":"Barbara"}}`},
		{name: "removing the last sub-attribute unassigns the parent",
			resource: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"b","name":{"givenName":"B"}}`,
			ops:      `{"op":"remove","path":"name.givenName"}`, diff: `{"name":null}`},
		{name: "remove complex", ops: `{"op":"remove","path":"name"}`, diff: `{"name":null}`},

		// Multi-valued attributes.
		{name: "add appends", ops: `{"op":"add","path":"emails","value":[{"value":"b@example.org","type":"other"}]}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"value":"b@example.org","type":"other"}]}`},
		{name: "add of one unwrapped value appends it", ops: `{"op":"add","path":"emails","value":{"value":"b@example.org","type":"other"}}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"value":"b@example.org","type":"other"}]}`},
		{name: "add of an identical value changes nothing", ops: `{"op":"add","path":"emails","value":[{"value":"babs@jensen.org","type":"home"}]}`, unmodified: true},
		{name: "add of duplicates adds one", resource: plainUser,
			ops:  `{"op":"add","path":"emails","value":[{"value":"a@example.org"},{"value":"a@example.org"}]}`,
			diff: `{"emails":[{"value":"a@example.org"}]}`},
		{name: "replace without filter replaces all", ops: `{"op":"replace","path":"emails","value":[{"value":"new@example.com","type":"work"}]}`,
			diff: `{"emails":[{"value":"new@example.com","type":"work"}]}`},
		{name: "replace with empty array unassigns", ops: `{"op":"replace","path":"emails","value":[]}`, diff: `{"emails":null}`},
		{name: "remove without filter removes all", ops: `{"op":"remove","path":"emails"}`, diff: `{"emails":null}`},
		{name: "remove by filter", ops: `{"op":"remove","path":"emails[type eq \"home\"]"}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`},
		{name: "removing the last value unassigns", ops: `{"op":"remove","path":"addresses[type eq \"work\"]"}`, diff: `{"addresses":null}`},
		{name: "remove matching nothing changes nothing", ops: `{"op":"remove","path":"emails[type eq \"other\"]"}`, unmodified: true},
		{name: "remove sub-attribute of filtered values", ops: `{"op":"remove","path":"emails[type eq \"work\"].primary"}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work"},{"value":"babs@jensen.org","type":"home"}]}`},
		{name: "replace sub-attribute of filtered values", ops: `{"op":"replace","path":"emails[type eq \"work\"].value","value":"babs@example.com"}`,
			diff: `{"emails":[{"value":"babs@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]}`},
		{name: "add merges into filtered values", ops: `{"op":"add","path":"emails[type eq \"home\"]","value":{"display":"Home"}}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home","display":"Home"}]}`},
		{name: "filter on any case of names and keywords", ops: `{"op":"replace","path":"Emails[TYPE EQ \"work\"].Value","value":"babs@example.com"}`,
			diff: `{"emails":[{"value":"babs@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}]}`},
		{
			// Entra adds or replaces emails[type eq "work"].value whether
			// or not there is a work email: the filter describes the new
			// one.
			name: "replace of filtered sub-attribute creates the value", resource: plainUser,
			ops:  `{"op":"replace","path":"emails[type eq \"work\"].value","value":"b@example.com"}`,
			diff: `{"emails":[{"type":"work","value":"b@example.com"}]}`,
		},
		{name: "add of filtered sub-attribute creates the value", resource: plainUser,
			ops:  `{"op":"add","path":"addresses[type eq \"work\"].streetAddress","value":"1 Main St"}`,
			diff: `{"addresses":[{"type":"work","streetAddress":"1 Main St"}]}`},
		{name: "replace of filtered value creates it", ops: `{"op":"replace","path":"emails[type eq \"other\"]","value":{"value":"o@example.org"}}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"},{"type":"other","value":"o@example.org"}]}`},
		{name: "replace of missing filtered value with null changes nothing", resource: plainUser,
			ops: `{"op":"replace","path":"emails[type eq \"work\"].value","value":null}`, unmodified: true},
		{
			// Entra's legacy remove names the values to remove.
			name: "remove values named in value",
			ops:  `{"op":"Remove","path":"emails","value":[{"value":"babs@jensen.org"}]}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":true}]}`,
		},

		// primary.
		{name: "added primary clears the others", ops: `{"op":"add","path":"emails","value":[{"value":"new@example.com","type":"other","primary":true}]}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home"},{"value":"new@example.com","type":"other","primary":true}]}`},
		{name: "primary set by filter clears the others", ops: `{"op":"replace","path":"emails[type eq \"home\"].primary","value":"True"}`,
			diff: `{"emails":[{"value":"bjensen@example.com","type":"work","primary":false},{"value":"babs@jensen.org","type":"home","primary":true}]}`},
		{name: "primary kept when written again", ops: `{"op":"replace","path":"emails[type eq \"work\"].primary","value":true}`, unmodified: true},

		// Attributes without a path, as Entra and Okta send them.
		{
			name: "Okta deactivation",
			ops:  `{"op":"replace","value":{"active":false}}`,
			diff: `{"active":false}`,
		},
		{
			name: "Entra replace without path with string boolean",
			ops:  `{"op":"Replace","value":{"active":"False"}}`,
			diff: `{"active":false}`,
		},
		{
			name: "sub-attribute and extension paths as keys",
			ops: `{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}`,
			diff: `{"displayName":"Bjfe","name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Unua","givenName":"Kkom"},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"Aklq","department":"Tour Operations",
				"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
		},
		{
			name: "nested extension object",
			ops:  `{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales","costCenter":"4130"}}}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Sales","costCenter":"4130",
				"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
		},
		{
			name: "echoed schemas, meta and id are ignored",
			ops: `{"op":"replace","value":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"id":"2819c223-7f76-453a-919d-413861904646",
				"meta":{"resourceType":"User","version":"W/\"old\""},"displayName":"B"}}`,
			diff: `{"displayName":"B"}`,
		},

		// The enterprise extension.
		{name: "extension attribute by path", ops: `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Sales",
				"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`},
		{name: "extension sub-attribute by path", ops: `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value","value":"m2"}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations",
				"manager":{"value":"m2","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`},
		{
			name:     "first extension attribute adds the extension to schemas",
			resource: plainUser,
			ops:      `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department","value":"Sales"}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"},
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`,
		},
		{
			name:     "last extension attribute removed drops the extension",
			resource: `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],"userName":"b","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"department":"Sales"}}`,
			ops:      `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"}`,
			diff:     `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`,
		},
		{name: "remove the whole extension by its URN", ops: `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":null,"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"]}`},
		{name: "add to the extension by its URN", resource: plainUser,
			ops: `{"op":"add","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":{"division":"West"}}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"division":"West"},
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`},
		{
			name:     "manager as a bare id",
			resource: plainUser,
			ops:      `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":"26118915"}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"26118915"}},
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`,
		},
		{
			name:     "manager as a bare id in an extension object",
			resource: plainUser,
			ops:      `{"op":"replace","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":"26118915"}}}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"value":"26118915"}},
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`,
		},
		{
			// Entra's tutorial, "Request from Microsoft Entra ID to an
			// SCIM endpoint to update a user": unqualified, in an array.
			name:     "Entra manager update",
			resource: plainUser,
			ops: `{"op":"Add","path":"manager","value":[{"$ref":"http://example.com/scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
				"value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}]}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"manager":{"$ref":"http://example.com/scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
				"value":"00aa00aa-bb11-cc22-dd33-44ee44ee44ee"}},
				"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]}`,
		},
		{name: "remove manager", ops: `{"op":"remove","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"}`,
			diff: `{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","department":"Tour Operations"}}`},

		// Operations apply in order.
		{name: "later operations see earlier ones", resource: plainUser,
			ops: `{"op":"add","path":"emails","value":[{"value":"a@example.org","type":"work"}]},
				{"op":"replace","path":"emails[type eq \"work\"].value","value":"b@example.org"},
				{"op":"remove","path":"active"}`,
			diff: `{"emails":[{"value":"b@example.org","type":"work"}],"active":null}`},
	})
}

// Entra's documented PATCH requests for users, from "Tutorial: Develop
// and plan provisioning for a SCIM endpoint" and "Known issues and
// resolutions with SCIM 2.0 protocol compliance", with and without the
// aadOptscim062020 flag.
func TestApplyEntraUser(t *testing.T) {
	runApply(t, schema.UserResource, baseUser, []applyCase{
		{
			name: "update multi-valued properties",
			ops: `{"op":"Replace","path":"emails[type eq \"work\"].value","value":"updatedEmail@microsoft.com"},
				{"op":"Replace","path":"name.familyName","value":"updatedFamilyName"}`,
			diff: `{"emails":[{"value":"updatedEmail@microsoft.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
				"name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"updatedFamilyName","givenName":"Barbara"}}`,
		},
		{
			name: "update single-valued properties",
			ops:  `{"op":"Replace","path":"userName","value":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}`,
			diff: `{"userName":"5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"}`,
		},
		{name: "disable user", ops: `{"op":"Replace","path":"active","value":false}`, diff: `{"active":false}`},
		{name: "disable user without flag", ops: `{"op":"Replace","path":"active","value":"False"}`, diff: `{"active":false}`},
		{name: "disable user with flag", ops: `{"op":"replace","path":"active","value":false}`, diff: `{"active":false}`},
		{name: "add single-value string without flag", ops: `{"op":"Add","path":"nickName","value":"Babs"}`, diff: `{"nickName":"Babs"}`},
		{name: "add single-value string with flag", ops: `{"op":"add","path":"nickName","value":"Babs"}`, diff: `{"nickName":"Babs"}`},
		{
			name: "replace multiple attributes without flag",
			ops: `{"op":"Replace","path":"displayName","value":"Pvlo"},
				{"op":"Replace","path":"emails[type eq \"work\"].value","value":"TestBcwqnm@test.microsoft.com"},
				{"op":"Replace","path":"name.givenName","value":"Gtfd"},
				{"op":"Replace","path":"name.familyName","value":"Pkqf"},
				{"op":"Replace","path":"externalId","value":"Eqpj"},
				{"op":"Replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber","value":"Eqpj"}`,
			diff: `{"displayName":"Pvlo","externalId":"Eqpj",
				"emails":[{"value":"TestBcwqnm@test.microsoft.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
				"name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Pkqf","givenName":"Gtfd"},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"Eqpj","department":"Tour Operations",
				"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
		},
		{
			name: "replace multiple attributes with flag",
			ops: `{"op":"replace","path":"emails[type eq \"work\"].value","value":"TestMhvaes@test.microsoft.com"},
				{"op":"replace","value":{"displayName":"Bjfe","name.givenName":"Kkom","name.familyName":"Unua",
					"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber":"Aklq"}}`,
			diff: `{"displayName":"Bjfe",
				"emails":[{"value":"TestMhvaes@test.microsoft.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
				"name":{"formatted":"Ms. Barbara J Jensen, III","familyName":"Unua","givenName":"Kkom"},
				"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"Aklq","department":"Tour Operations",
				"manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d","$ref":"../Users/26118915-6090-4610-87e4-49d8ca9f808d","displayName":"John Smith"}}}`,
		},
	})
}

func TestApplyErrors(t *testing.T) {
	tests := []struct {
		name     string
		rt       *schema.ResourceType
		resource string
		ops      string
		want     *schema.Error
	}{
		{name: "unknown attribute", ops: `{"op":"replace","path":"shoeSize","value":"9"}`, want: schema.ErrInvalidPath},
		{name: "unknown attribute without path", ops: `{"op":"add","value":{"shoeSize":"9"}}`, want: schema.ErrInvalidPath},
		{name: "unknown sub-attribute", ops: `{"op":"replace","path":"name.nickName","value":"x"}`, want: schema.ErrInvalidPath},
		{name: "unknown extension", ops: `{"op":"replace","path":"urn:example:ext:1.0:User:tag","value":"x"}`, want: schema.ErrInvalidPath},
		{name: "malformed key without path", ops: `{"op":"add","value":{"name..givenName":"x"}}`, want: schema.ErrInvalidPath},
		{name: "filter on single-valued attribute", ops: `{"op":"replace","path":"name[givenName eq \"B\"]","value":{}}`, want: schema.ErrInvalidPath},
		{name: "sub-attribute of every value", ops: `{"op":"replace","path":"emails.value","value":"x"}`, want: schema.ErrInvalidPath},
		{name: "filter syntax", ops: `{"op":"remove","path":"emails[type eq]"}`, want: schema.ErrInvalidFilter},
		{name: "filter on unknown sub-attribute", ops: `{"op":"remove","path":"emails[colour eq \"red\"]"}`, want: schema.ErrInvalidFilter},
		{name: "replace matching nothing", ops: `{"op":"replace","path":"emails[value co \"example.net\"].type","value":"other"}`, want: schema.ErrNoTarget},
		{name: "add matching nothing", ops: `{"op":"add","path":"emails[type eq \"work\" or type eq \"home\"]","value":{"display":"x"}}`, resource: plainUser, want: schema.ErrNoTarget},
		{name: "wrong type", ops: `{"op":"replace","path":"active","value":"maybe"}`, want: schema.ErrInvalidValue},
		{name: "string for multi-valued complex", ops: `{"op":"add","path":"emails","value":"x@example.org"}`, want: schema.ErrInvalidValue},
		{name: "unknown sub-attribute in value", ops: `{"op":"add","path":"emails","value":[{"value":"x@example.org","colour":"red"}]}`, want: schema.ErrInvalidValue},
		{name: "two primaries at once", ops: `{"op":"add","path":"emails","value":[{"value":"a@example.org","primary":true},{"value":"b@example.org","primary":true}]}`, want: schema.ErrInvalidValue},
		{name: "extension object not an object", ops: `{"op":"add","value":{"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":"x"}}`, want: schema.ErrInvalidValue},
		{name: "whole extension not an object", ops: `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","value":"x"}`, want: schema.ErrInvalidValue},

		// Mutability (RFC 7644 §3.5.2).
		{name: "different id", ops: `{"op":"replace","path":"id","value":"other"}`, want: schema.ErrMutability},
		{name: "different id without path", ops: `{"op":"replace","value":{"id":"other","displayName":"x"}}`, want: schema.ErrMutability},
		{name: "remove id", ops: `{"op":"remove","path":"id"}`, want: schema.ErrMutability},
		{name: "meta by path", ops: `{"op":"replace","path":"meta.version","value":"W/\"x\""}`, want: schema.ErrMutability},
		{name: "schemas by path", ops: `{"op":"replace","path":"schemas","value":["urn:ietf:params:scim:schemas:core:2.0:User"]}`, want: schema.ErrMutability},
		{name: "groups are read-only", ops: `{"op":"add","path":"groups","value":[{"value":"g1"}]}`, want: schema.ErrMutability},
		{name: "read-only sub-attribute", ops: `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.displayName","value":"Boss"}`, want: schema.ErrMutability},
		{name: "read-only sub-attribute in value", ops: `{"op":"replace","path":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager","value":{"value":"m2","displayName":"Boss"}}`, want: schema.ErrMutability},
		{name: "remove required", ops: `{"op":"remove","path":"userName"}`, want: schema.ErrMutability},
		{name: "required to null", ops: `{"op":"replace","value":{"userName":null}}`, want: schema.ErrMutability},
		{name: "immutable changed", rt: thingResource, resource: `{"serial":"A1"}`, ops: `{"op":"replace","path":"serial","value":"B2"}`, want: schema.ErrMutability},
		{name: "immutable removed", rt: thingResource, resource: `{"serial":"A1"}`, ops: `{"op":"remove","path":"serial"}`, want: schema.ErrMutability},

		// Errors undo the operations before them.
		{name: "error after a good operation", ops: `{"op":"replace","path":"displayName","value":"B"},{"op":"remove","path":"userName"}`, want: schema.ErrMutability},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, resource := tt.rt, tt.resource
			if rt == nil {
				rt = schema.UserResource
			}
			if resource == "" {
				resource = baseUser
			}
			got, _, err := applyOps(t, rt, resource, tt.ops)
			wantError(t, got, err, tt.want)
		})
	}
}

// thingResource has an immutable attribute, which the SCIM core schemas
// give only to Group members.
var thingResource = &schema.ResourceType{
	ID: "Thing", Name: "Thing",
	Schema: &schema.Schema{ID: "urn:example:params:scim:schemas:Thing", Attributes: []*schema.Attribute{
		{Name: "serial", Type: schema.String, Mutability: schema.Immutable},
	}},
}

func TestApplyImmutable(t *testing.T) {
	runApply(t, thingResource, `{"serial":"A1"}`, []applyCase{
		{name: "set once when unassigned", resource: `{}`, ops: `{"op":"add","path":"serial","value":"A1"}`, diff: `{"serial":"A1"}`},
		{name: "same value again", ops: `{"op":"replace","path":"serial","value":"A1"}`, unmodified: true},
	})
}

// The error names the operation that failed, and still wraps its cause.
func TestApplyErrorNamesOperation(t *testing.T) {
	_, _, err := applyOps(t, schema.UserResource, baseUser, `{"op":"replace","path":"displayName","value":"B"},{"op":"remove","path":"userName"}`)
	wantError(t, nil, err, schema.ErrMutability)
	if se := err.(*schema.Error); se.Detail != `operation 2: attribute "userName" is required and cannot be removed` {
		t.Errorf("detail = %q", se.Detail)
	}
	_, _, err = applyOps(t, schema.UserResource, baseUser, `{"op":"add","path":"shoeSize","value":"9"}`)
	wantError(t, nil, err, schema.ErrInvalidPath)
	if !errors.Is(err, schema.ErrUnknownAttribute) {
		t.Errorf("error %v does not wrap ErrUnknownAttribute", err)
	}
}
