package patch

import (
	"errors"
	"testing"

	"github.com/partnergate/partnergate/scim/schema"
)

func TestParsePath(t *testing.T) {
	const ent = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
	tests := []struct {
		in   string
		want Path
	}{
		{"userName", Path{Attr: "userName"}},
		{"name.givenName", Path{Attr: "name", Sub: "givenName"}},
		{"members", Path{Attr: "members"}},
		{"x509Certificates", Path{Attr: "x509Certificates"}},
		{"urn:ietf:params:scim:schemas:core:2.0:User:userName", Path{URN: "urn:ietf:params:scim:schemas:core:2.0:User", Attr: "userName"}},
		{ent + ":department", Path{URN: ent, Attr: "department"}},
		{ent + ":manager.value", Path{URN: ent, Attr: "manager", Sub: "value"}},
		// The extension itself: settled against the schema when applied.
		{ent, Path{URN: "urn:ietf:params:scim:schemas:extension:enterprise:2.0", Attr: "User"}},
		{"URN:IETF:params:scim:schemas:core:2.0:User:name.familyName", Path{URN: "URN:IETF:params:scim:schemas:core:2.0:User", Attr: "name", Sub: "familyName"}},
		{`members[value eq "2819c223-7f76-453a-919d-413861904646"]`, Path{Attr: "members", Filter: `value eq "2819c223-7f76-453a-919d-413861904646"`}},
		{`emails[type eq "work"].value`, Path{Attr: "emails", Filter: `type eq "work"`, Sub: "value"}},
		{`addresses[type eq "work"].streetAddress`, Path{Attr: "addresses", Filter: `type eq "work"`, Sub: "streetAddress"}},
		{`emails[type eq "work" and value ew "example.com"]`, Path{Attr: "emails", Filter: `type eq "work" and value ew "example.com"`}},
		{`members[value eq "a]b"].$ref`, Path{Attr: "members", Filter: `value eq "a]b"`, Sub: "$ref"}},
		{`members[value eq "a\"]"]`, Path{Attr: "members", Filter: `value eq "a\"]"`}},
		{`emails[value eq "a[b"]`, Path{Attr: "emails", Filter: `value eq "a[b"`}},
		{"manager.$ref", Path{Attr: "manager", Sub: "$ref"}},
		{"a-b_1", Path{Attr: "a-b_1"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePath(tt.in)
			if err != nil {
				t.Fatalf("ParsePath: %v", err)
			}
			if got != tt.want {
				t.Fatalf("ParsePath = %#v, want %#v", got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("String() = %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParsePathInvalid(t *testing.T) {
	for _, in := range []string{
		"",
		" userName",
		"userName ",
		"1abc",
		"name.",
		".name",
		"name.givenName.x",
		"name..givenName",
		"emails[",
		"emails[]",
		"emails[ ]",
		`emails[type eq "work"`,
		`emails[type eq "work]`,
		`emails[type eq "work"]value`,
		`emails[type eq "work"].`,
		`emails[type eq "work"].value.x`,
		`emails[type eq "work"][value eq "x"]`,
		`emails[type[value eq "x"]]`,
		`name.givenName[value eq "x"]`,
		"urn:",
		"urn:x",
		"urn::a",
		"urn:a:b:",
		"urn:a b:c:attr",
		"foo:bar",
		"$refs",
		"emails\x00",
		"na me",
	} {
		t.Run(in, func(t *testing.T) {
			_, err := ParsePath(in)
			if !errors.Is(err, schema.ErrInvalidPath) {
				t.Fatalf("ParsePath(%q) = %v, want invalidPath", in, err)
			}
		})
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{
		"userName", "name.givenName", `members[value eq "x"]`, `emails[type eq "work"].value`,
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
		`emails[value eq "a\"]"]`, "urn:a:b:c", "$ref", "x[", "x[]].",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePath(s)
		if err != nil {
			if !errors.Is(err, schema.ErrInvalidPath) {
				t.Fatalf("ParsePath(%q) = %v, want an invalidPath error", s, err)
			}
			return
		}
		// A parsed path prints back as it was written, and reparses to
		// itself.
		if p.String() != s {
			t.Fatalf("ParsePath(%q).String() = %q", s, p.String())
		}
		again, err := ParsePath(p.String())
		if err != nil || again != p {
			t.Fatalf("reparse of %q = %#v, %v; want %#v", s, again, err, p)
		}
	})
}
