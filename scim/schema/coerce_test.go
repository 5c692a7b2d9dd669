package schema

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// decode decodes JSON as the SCIM handlers do, with UseNumber.
func decode(t *testing.T, s string) any {
	t.Helper()
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return v
}

func TestCoerce(t *testing.T) {
	attr := func(path string) *Attribute {
		p, err := UserResource.Lookup(path)
		if err != nil {
			t.Fatal(err)
		}
		return p.Attribute()
	}
	integer := &Attribute{Name: "count", Type: Integer}
	decimal := &Attribute{Name: "score", Type: Decimal}
	tests := []struct {
		attr    *Attribute
		in      string // JSON
		want    any
		wantErr string // substring of the error; empty for success
	}{
		{attr("userName"), `"bjensen"`, "bjensen", ""},
		{attr("userName"), `null`, nil, ""},
		{attr("userName"), `5`, nil, `attribute "userName" needs a value of type string, not number 5`},
		{attr("userName"), `true`, nil, `not boolean true`},
		{attr("userName"), `["a"]`, nil, `not an array`},
		{attr("profileUrl"), `"https://example.com/bjensen"`, "https://example.com/bjensen", ""},

		// Booleans, including Entra's strings.
		{attr("active"), `true`, true, ""},
		{attr("active"), `false`, false, ""},
		{attr("active"), `"True"`, true, ""},
		{attr("active"), `"FALSE"`, false, ""},
		{attr("active"), `"false"`, false, ""},
		{attr("active"), `"yes"`, nil, `attribute "active" needs a value of type boolean, not string "yes"`},
		{attr("active"), `1`, nil, `not number 1`},
		{attr("active"), `""`, nil, `not string ""`},

		{attr("meta.lastModified"), `"2011-05-13T04:42:34Z"`, "2011-05-13T04:42:34Z", ""},
		{attr("meta.lastModified"), `"2011-05-13T04:42:34.5+02:00"`, "2011-05-13T04:42:34.5+02:00", ""},
		{attr("meta.lastModified"), `"2011-05-13T04:42:34"`, "2011-05-13T04:42:34", ""},
		{attr("meta.lastModified"), `"yesterday"`, nil, `"yesterday" is not an xsd:dateTime`},
		{attr("meta.lastModified"), `0`, nil, `needs a value of type dateTime`},

		{attr("x509Certificates.value"), `"MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw"`, "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAw", ""},
		{attr("x509Certificates.value"), `"not base64!"`, nil, `needs base64`},

		{integer, `42`, json.Number("42"), ""},
		{integer, `-7`, json.Number("-7"), ""},
		{integer, `4.5`, nil, `needs an integer, not 4.5`},
		{integer, `"42"`, nil, `needs a value of type integer, not string "42"`},
		{decimal, `4.5e2`, json.Number("4.5e2"), ""},
		{decimal, `"4.5"`, nil, `needs a value of type decimal`},

		// Complex values: names case-insensitive, canonical on output,
		// nulls dropped, sub-attributes coerced.
		{attr("name"), `{"GivenName":"Barbara","familyname":"Jensen","middleName":null}`,
			map[string]any{"givenName": "Barbara", "familyName": "Jensen"}, ""},
		{attr("name"), `{"nickName":"Babs"}`, nil, `attribute "name" has no sub-attribute "nickName"`},
		{attr("name"), `{"givenName":"a","GIVENNAME":"b"}`, nil, `sub-attribute "givenName" appears twice`},
		{attr("name"), `"Barbara Jensen"`, nil, `attribute "name" needs a value of type complex, not string "Barbara Jensen"`},
		{attr("name"), `{"givenName":5}`, nil, `attribute "name.givenName" needs a value of type string, not number 5`},

		// Multi-valued attributes need arrays; each element is coerced.
		{attr("emails"), `[{"value":"b@example.com","type":"work","Primary":"True"}]`,
			[]any{map[string]any{"value": "b@example.com", "type": "work", "primary": true}}, ""},
		{attr("emails"), `[]`, []any{}, ""},
		{attr("emails"), `{"value":"b@example.com"}`, nil, `attribute "emails" is multi-valued and needs an array, not an object`},
		{attr("emails"), `[null]`, nil, `element 0 is null`},
		{attr("emails"), `[{"primary":"maybe"}]`, nil, `attribute "emails.primary" needs a value of type boolean, not string "maybe"`},
		{attr("emails"), `null`, nil, ""},
		{EnterpriseUser.Attribute("manager"), `{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}`,
			map[string]any{"value": "26118915-6090-4610-87e4-49d8ca9f808d"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.attr.Name+" "+tt.in, func(t *testing.T) {
			got, err := tt.attr.Coerce(decode(t, tt.in))
			if tt.wantErr != "" {
				if !errors.Is(err, ErrInvalidValue) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Coerce(%s) = %v, %v; want invalidValue error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Coerce(%s): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Coerce(%s) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// TestCoerceValue checks that one element of a multi-valued attribute
// coerces on its own, as a PATCH that adds a single email sends it.
func TestCoerceValue(t *testing.T) {
	emails := User.Attribute("emails")
	got, err := emails.CoerceValue(map[string]any{"VALUE": "b@example.com"})
	if err != nil || !reflect.DeepEqual(got, map[string]any{"value": "b@example.com"}) {
		t.Errorf("CoerceValue = %v, %v", got, err)
	}
	if _, err := emails.CoerceValue([]any{}); !errors.Is(err, ErrInvalidValue) {
		t.Errorf("CoerceValue(array) = %v, want invalidValue", err)
	}
}

// TestCoerceFloat checks values decoded without UseNumber.
func TestCoerceFloat(t *testing.T) {
	got, err := (&Attribute{Name: "n", Type: Integer}).Coerce(float64(3))
	if err != nil || got != json.Number("3") {
		t.Errorf("Coerce(3.0) = %#v, %v", got, err)
	}
	if _, err := (&Attribute{Name: "n", Type: Integer}).Coerce(3.5); err == nil {
		t.Error("Coerce(3.5) to an integer succeeded")
	}
	got, err = (&Attribute{Name: "n", Type: Decimal}).Coerce(0.25)
	if err != nil || got != json.Number("0.25") {
		t.Errorf("Coerce(0.25) = %#v, %v", got, err)
	}
}

func TestParseDateTime(t *testing.T) {
	tests := map[string]time.Time{
		"2008-01-23T04:56:22Z":          time.Date(2008, 1, 23, 4, 56, 22, 0, time.UTC),
		"2008-01-23T04:56:22.123Z":      time.Date(2008, 1, 23, 4, 56, 22, 123e6, time.UTC),
		"2008-01-23T06:56:22+02:00":     time.Date(2008, 1, 23, 4, 56, 22, 0, time.UTC),
		"2008-01-23T04:56:22":           time.Date(2008, 1, 23, 4, 56, 22, 0, time.UTC),
		"2008-01-23T04:56:22.000000001": time.Date(2008, 1, 23, 4, 56, 22, 1, time.UTC),
	}
	for in, want := range tests {
		got, err := ParseDateTime(in)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseDateTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2008-01-23", "04:56:22", "2008-01-23 04:56:22Z", "2008-13-23T04:56:22Z"} {
		if _, err := ParseDateTime(in); err == nil {
			t.Errorf("ParseDateTime(%q) succeeded", in)
		}
	}
}
