package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		rt      *ResourceType
		path    string
		want    string // canonical path; empty when an error is expected
		ext     bool
		attrTyp Type
	}{
		{UserResource, "userName", "userName", false, String},
		{UserResource, "USERNAME", "userName", false, String},
		{UserResource, "name.givenName", "name.givenName", false, String},
		{UserResource, "Name.GIVENNAME", "name.givenName", false, String},
		{UserResource, "name", "name", false, Complex},
		{UserResource, "emails.value", "emails.value", false, String},
		{UserResource, "emails.Primary", "emails.primary", false, Boolean},
		{UserResource, "groups.$ref", "groups.$ref", false, Reference},
		{UserResource, "x509Certificates.value", "x509Certificates.value", false, Binary},
		{UserResource, "id", "id", false, String},
		{UserResource, "externalId", "externalId", false, String},
		{UserResource, "meta.lastModified", "meta.lastModified", false, DateTime},
		{UserResource, "schemas", "schemas", false, Reference},
		{UserResource, "urn:ietf:params:scim:schemas:core:2.0:User:userName", "userName", false, String},
		{UserResource, "URN:IETF:params:scim:schemas:core:2.0:user:name.familyName", "name.familyName", false, String},
		{UserResource, "urn:ietf:params:scim:schemas:core:2.0:User:id", "id", false, String},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber", EnterpriseUserURN + ":employeeNumber", true, String},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", EnterpriseUserURN + ":manager", true, Complex},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value", EnterpriseUserURN + ":manager.value", true, String},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:Manager.DisplayName", EnterpriseUserURN + ":manager.displayName", true, String},
		{GroupResource, "displayName", "displayName", false, String},
		{GroupResource, "members.value", "members.value", false, String},
		{GroupResource, "urn:ietf:params:scim:schemas:core:2.0:Group:members.type", "members.type", false, String},

		// Errors.
		{UserResource, "", "", false, ""},
		{UserResource, "nope", "", false, ""},
		{UserResource, "name.nope", "", false, ""},
		{UserResource, "userName.x", "", false, ""},
		{UserResource, "name.givenName.x", "", false, ""},
		{UserResource, "name.", "", false, ""},
		{UserResource, ".name", "", false, ""},
		{UserResource, "employeeNumber", "", false, ""}, // extension attributes need their URN
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:userName", "", false, ""},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:id", "", false, ""},
		{UserResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "", false, ""},
		{UserResource, "urn:ietf:params:scim:schemas:core:2.0:Group:displayName", "", false, ""},
		{UserResource, "urn:example:unknown:attr", "", false, ""},
		{GroupResource, "userName", "", false, ""},
		{GroupResource, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.rt.ID+"/"+tt.path, func(t *testing.T) {
			p, err := tt.rt.Lookup(tt.path)
			if tt.want == "" {
				if !errors.Is(err, ErrUnknownAttribute) {
					t.Fatalf("Lookup(%q) = %v, %v; want ErrUnknownAttribute", tt.path, p, err)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.path)) {
					t.Errorf("error %q does not name the path", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(%q): %v", tt.path, err)
			}
			if got := p.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
			if (p.Extension != nil) != tt.ext {
				t.Errorf("Extension = %v, want extension %v", p.Extension, tt.ext)
			}
			if got := p.Attribute().Type; got != tt.attrTyp {
				t.Errorf("type = %s, want %s", got, tt.attrTyp)
			}
		})
	}
}

// TestCharacteristics spot-checks definitions against RFC 7643 §8.7.1 (and
// §3.1 for the common attributes), choosing the attributes whose
// characteristics differ from the defaults.
func TestCharacteristics(t *testing.T) {
	type want struct {
		typ        Type
		multi      bool
		required   bool
		caseExact  bool
		mutability Mutability
		returned   Returned
		uniqueness Uniqueness
		refTypes   []string
		canonical  []string
	}
	str := want{typ: String, mutability: ReadWrite, returned: ReturnDefault, uniqueness: UniqueNone}
	with := func(w want, f func(*want)) want { f(&w); return w }
	tests := map[string]want{
		"userName":               with(str, func(w *want) { w.required, w.uniqueness = true, UniqueServer }),
		"name":                   with(str, func(w *want) { w.typ = Complex }),
		"name.givenName":         str,
		"displayName":            str,
		"profileUrl":             with(str, func(w *want) { w.typ, w.refTypes = Reference, []string{"external"} }),
		"active":                 with(str, func(w *want) { w.typ = Boolean }),
		"password":               with(str, func(w *want) { w.mutability, w.returned = WriteOnly, Never }),
		"emails":                 with(str, func(w *want) { w.typ, w.multi = Complex, true }),
		"emails.value":           str,
		"emails.type":            with(str, func(w *want) { w.canonical = []string{"work", "home", "other"} }),
		"emails.primary":         with(str, func(w *want) { w.typ = Boolean }),
		"phoneNumbers.type":      with(str, func(w *want) { w.canonical = []string{"work", "home", "mobile", "fax", "pager", "other"} }),
		"ims.type":               with(str, func(w *want) { w.canonical = []string{"aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"} }),
		"photos.value":           with(str, func(w *want) { w.typ, w.refTypes = Reference, []string{"external"} }),
		"photos.type":            with(str, func(w *want) { w.canonical = []string{"photo", "thumbnail"} }),
		"addresses.country":      str,
		"groups":                 with(str, func(w *want) { w.typ, w.multi, w.mutability = Complex, true, ReadOnly }),
		"groups.value":           with(str, func(w *want) { w.mutability = ReadOnly }),
		"groups.$ref":            with(str, func(w *want) { w.typ, w.mutability, w.refTypes = Reference, ReadOnly, []string{"User", "Group"} }),
		"groups.type":            with(str, func(w *want) { w.mutability, w.canonical = ReadOnly, []string{"direct", "indirect"} }),
		"roles.value":            str,
		"x509Certificates.value": with(str, func(w *want) { w.typ = Binary }),
		"id": with(str, func(w *want) {
			w.caseExact, w.mutability, w.returned, w.uniqueness = true, ReadOnly, Always, UniqueServer
		}),
		"externalId":                               with(str, func(w *want) { w.caseExact = true }),
		"meta.created":                             with(str, func(w *want) { w.typ, w.mutability = DateTime, ReadOnly }),
		"meta.version":                             with(str, func(w *want) { w.caseExact, w.mutability = true, ReadOnly }),
		EnterpriseUserURN + ":employeeNumber":      str,
		EnterpriseUserURN + ":manager":             with(str, func(w *want) { w.typ = Complex }),
		EnterpriseUserURN + ":manager.value":       str,
		EnterpriseUserURN + ":manager.$ref":        with(str, func(w *want) { w.typ, w.refTypes = Reference, []string{"User"} }),
		EnterpriseUserURN + ":manager.displayName": with(str, func(w *want) { w.mutability = ReadOnly }),
	}
	for path, w := range tests {
		p, err := UserResource.Lookup(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		a := p.Attribute()
		got := want{a.Type, a.MultiValued, a.Required, a.CaseExact, a.Mutability, a.Returned, a.Uniqueness, a.ReferenceTypes, a.CanonicalValues}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s:\n got %+v\nwant %+v", path, got, w)
		}
	}

	groupTests := map[string]want{
		"displayName":   str,
		"members":       with(str, func(w *want) { w.typ, w.multi = Complex, true }),
		"members.value": with(str, func(w *want) { w.mutability = Immutable }),
		"members.$ref":  with(str, func(w *want) { w.typ, w.mutability, w.refTypes = Reference, Immutable, []string{"User", "Group"} }),
		"members.type":  with(str, func(w *want) { w.mutability, w.canonical = Immutable, []string{"User", "Group"} }),
	}
	for path, w := range groupTests {
		p, err := GroupResource.Lookup(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		a := p.Attribute()
		got := want{a.Type, a.MultiValued, a.Required, a.CaseExact, a.Mutability, a.Returned, a.Uniqueness, a.ReferenceTypes, a.CanonicalValues}
		if !reflect.DeepEqual(got, w) {
			t.Errorf("Group %s:\n got %+v\nwant %+v", path, got, w)
		}
	}
}

// TestAttributeLists checks that each schema has exactly the attributes
// RFC 7643 §8.7.1 lists, in its order, and that the definitions are
// complete: characteristics filled in, sub-attributes exactly on complex
// attributes, reference types exactly on references.
func TestAttributeLists(t *testing.T) {
	want := map[*Schema][]string{
		User: {"userName", "name", "displayName", "nickName", "profileUrl", "title", "userType",
			"preferredLanguage", "locale", "timezone", "active", "password", "emails", "phoneNumbers",
			"ims", "photos", "addresses", "groups", "entitlements", "roles", "x509Certificates"},
		EnterpriseUser: {"employeeNumber", "costCenter", "organization", "division", "department", "manager"},
		Group:          {"displayName", "members"},
	}
	subs := map[string][]string{
		"name":             {"formatted", "familyName", "givenName", "middleName", "honorificPrefix", "honorificSuffix"},
		"emails":           {"value", "display", "type", "primary"},
		"addresses":        {"formatted", "streetAddress", "locality", "region", "postalCode", "country", "type", "primary"},
		"groups":           {"value", "$ref", "display", "type"},
		"x509Certificates": {"value", "display", "type", "primary"},
		"manager":          {"value", "$ref", "displayName"},
		"members":          {"value", "$ref", "display", "type"},
	}
	for s, names := range want {
		var got []string
		for _, a := range s.Attributes {
			got = append(got, a.Name)
			if w, ok := subs[a.Name]; ok {
				var gotSubs []string
				for _, sa := range a.SubAttributes {
					gotSubs = append(gotSubs, sa.Name)
				}
				if !reflect.DeepEqual(gotSubs, w) {
					t.Errorf("%s.%s sub-attributes = %v, want %v", s.Name, a.Name, gotSubs, w)
				}
			}
		}
		if !reflect.DeepEqual(got, names) {
			t.Errorf("%s attributes = %v, want %v", s.Name, got, names)
		}
	}
	var check func(where string, attrs []*Attribute)
	check = func(where string, attrs []*Attribute) {
		for _, a := range attrs {
			name := where + a.Name
			if a.Mutability == "" || a.Returned == "" || a.Uniqueness == "" || a.Description == "" {
				t.Errorf("%s: incomplete definition %+v", name, a)
			}
			if (a.Type == Complex) != (len(a.SubAttributes) > 0) {
				t.Errorf("%s: type %s with %d sub-attributes", name, a.Type, len(a.SubAttributes))
			}
			if (a.Type == Reference) != (len(a.ReferenceTypes) > 0) {
				t.Errorf("%s: type %s with reference types %v", name, a.Type, a.ReferenceTypes)
			}
			check(name+".", a.SubAttributes)
		}
	}
	for _, s := range Schemas() {
		check(s.Name+":", s.Attributes)
	}
	check("common:", common)
}

func TestMember(t *testing.T) {
	obj := map[string]any{"userName": "exact", "USERNAME": "upper", "Title": "t", "TITLE": "T"}
	tests := []struct {
		name, wantKey string
		want          any
		ok            bool
	}{
		{"userName", "userName", "exact", true},
		{"username", "USERNAME", "upper", true}, // least key among case-insensitive matches
		{"title", "TITLE", "T", true},
		{"nope", "", nil, false},
	}
	for _, tt := range tests {
		for range 20 { // map order varies between iterations
			v, k, ok := Member(obj, tt.name)
			if v != tt.want || k != tt.wantKey || ok != tt.ok {
				t.Fatalf("Member(%q) = %v, %q, %v; want %v, %q, %v", tt.name, v, k, ok, tt.want, tt.wantKey, tt.ok)
			}
		}
	}
}

func TestSchemaRepresentation(t *testing.T) {
	b, err := json.Marshal(EnterpriseUser.Representation("https://sso.example.com/scim/v2/"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["id"] != EnterpriseUserURN || got["name"] != "EnterpriseUser" {
		t.Errorf("id, name = %v, %v", got["id"], got["name"])
	}
	if s := got["schemas"].([]any); len(s) != 1 || s[0] != SchemaURN {
		t.Errorf("schemas = %v", s)
	}
	meta := got["meta"].(map[string]any)
	if meta["resourceType"] != "Schema" || meta["location"] != "https://sso.example.com/scim/v2/Schemas/"+EnterpriseUserURN {
		t.Errorf("meta = %v", meta)
	}
	attrs := got["attributes"].([]any)
	manager := attrs[len(attrs)-1].(map[string]any)
	wantManager := map[string]any{
		"name": "manager", "type": "complex", "multiValued": false, "description": EnterpriseUser.Attribute("manager").Description,
		"required": false, "caseExact": false, "mutability": "readWrite", "returned": "default", "uniqueness": "none",
	}
	subs := manager["subAttributes"].([]any)
	delete(manager, "subAttributes")
	if !reflect.DeepEqual(manager, wantManager) {
		t.Errorf("manager =\n%v\nwant\n%v", manager, wantManager)
	}
	ref := subs[1].(map[string]any)
	if ref["name"] != "$ref" || ref["type"] != "reference" || !reflect.DeepEqual(ref["referenceTypes"], []any{"User"}) {
		t.Errorf("manager.$ref = %v", ref)
	}
	if _, ok := subs[0].(map[string]any)["referenceTypes"]; ok {
		t.Errorf("manager.value has referenceTypes")
	}

	// Without a base URL there is no location, and the common attributes
	// never appear (RFC 7643 §7).
	b, err = json.Marshal(User.Representation(""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), `"location"`) || strings.Contains(string(b), `"externalId"`) {
		t.Errorf("User representation has a location or a common attribute: %s", b)
	}
}

func TestResourceTypeRepresentation(t *testing.T) {
	b, err := json.Marshal(UserResource.Representation("https://x/scim/v2"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],"id":"User","name":"User","endpoint":"/Users","description":"User Account","schema":"urn:ietf:params:scim:schemas:core:2.0:User","schemaExtensions":[{"schema":"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User","required":false}],"meta":{"resourceType":"ResourceType","location":"https://x/scim/v2/ResourceTypes/User"}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	b, err = json.Marshal(GroupResource.Representation(""))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "schemaExtensions") {
		t.Errorf("Group has schemaExtensions: %s", b)
	}
}

func TestExtension(t *testing.T) {
	if UserResource.Extension(strings.ToUpper(EnterpriseUserURN)) != EnterpriseUser {
		t.Error("enterprise extension not found case-insensitively")
	}
	if UserResource.Extension(UserURN) != nil || GroupResource.Extension(EnterpriseUserURN) != nil {
		t.Error("found an extension that is not one")
	}
}

func TestError(t *testing.T) {
	cause := errors.New("cause")
	err := ErrInvalidFilter.Errorf("bad %q: %w", "x", cause)
	if !errors.Is(err, ErrInvalidFilter) || errors.Is(err, ErrInvalidValue) {
		t.Error("errors.Is does not match by kind")
	}
	if !errors.Is(err, cause) {
		t.Error("errors.Is does not reach the wrapped cause")
	}
	if err.Status != 400 || err.ScimType != "invalidFilter" || err.Detail != `bad "x": cause` {
		t.Errorf("got %+v", err)
	}
	if err.Error() != `scim invalidFilter: bad "x": cause` {
		t.Errorf("Error() = %q", err.Error())
	}
	var target *Error
	if wrapped := fmt.Errorf("context: %w", err); !errors.As(wrapped, &target) || target != err {
		t.Error("errors.As does not find the *Error")
	}
	b, err2 := json.Marshal(ErrUniqueness.Errorf("userName %q is taken", "bjensen"))
	if err2 != nil {
		t.Fatal(err2)
	}
	want := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"scimType":"uniqueness","detail":"userName \"bjensen\" is taken","status":"409"}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	noType := &Error{Status: 404, Detail: "User 42 not found"}
	if b, _ := json.Marshal(noType); string(b) != `{"schemas":["urn:ietf:params:scim:api:messages:2.0:Error"],"detail":"User 42 not found","status":"404"}` {
		t.Errorf("got %s", b)
	}
	if noType.Error() != "scim 404: User 42 not found" {
		t.Errorf("Error() = %q", noType.Error())
	}
}
