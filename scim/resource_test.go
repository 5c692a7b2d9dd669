package scim

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

func decode(t *testing.T, s string) Resource {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.UseNumber()
	var r Resource
	if err := dec.Decode(&r); err != nil {
		t.Fatal(err)
	}
	return r
}

// A user as Okta creates it comes back as it was sent, with the
// server's attributes added.
func TestUserRoundTrip(t *testing.T) {
	t.Parallel()
	in := decode(t, `{
		"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"userName": "Dana.Lee@Acme.example",
		"externalId": "00u1abcd",
		"name": {"givenName": "Dana", "familyName": "Lee"},
		"emails": [{"value": "dana.lee@home.example", "type": "home"}, {"value": "Dana.Lee@Acme.example", "type": "work", "primary": true}],
		"active": true,
		"password": "never kept",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "Finance", "manager": {"value": "u_boss"}}
	}`)
	su, err := toStored(in)
	if err != nil {
		t.Fatal(err)
	}
	if su.UserName != "Dana.Lee@Acme.example" || su.ExternalID != "00u1abcd" || !su.Active || su.Name != "Dana Lee" ||
		su.Email != "Dana.Lee@Acme.example" || !reflect.DeepEqual(su.AltEmails, []string{"dana.lee@home.example"}) || su.Password != "never kept" {
		t.Fatalf("stored = %+v", su)
	}
	if bytes.Contains(su.Profile, []byte("never kept")) {
		t.Error("the password went into the profile")
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_000_000, time.UTC)
	u := store.User{
		ID: "u_1", PartnerID: "acme", Email: su.Email, Name: su.Name, Active: su.Active, UserName: su.UserName,
		ExternalID: su.ExternalID, AltEmails: su.AltEmails, Profile: su.Profile, CreatedAt: at, UpdatedAt: at,
		Groups: []string{"g_1"},
	}
	out, err := userResource(u, []store.Group{{ID: "g_1", Name: "Finance"}}, "https://scim.example/Users/u_1")
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range in {
		if k == "password" || k == "schemas" {
			continue
		}
		if !reflect.DeepEqual(out[k], v) {
			t.Errorf("%s = %v, sent %v", k, out[k], v)
		}
	}
	if out["id"] != "u_1" || out["password"] != nil || out["displayName"] != "Dana Lee" {
		t.Errorf("server attributes: id %v, password %v, displayName %v", out["id"], out["password"], out["displayName"])
	}
	if got := out["schemas"]; !reflect.DeepEqual(got, []any{UserSchema, EnterpriseSchema}) {
		t.Errorf("schemas = %v", got)
	}
	meta := out["meta"].(Resource)
	if meta["resourceType"] != "User" || meta["location"] != "https://scim.example/Users/u_1" || meta["created"] != "2026-01-02T03:04:05.006Z" {
		t.Errorf("meta = %v", meta)
	}
	if groups := out["groups"].([]any); len(groups) != 1 || groups[0].(Resource)["display"] != "Finance" {
		t.Errorf("groups = %v", out["groups"])
	}
}

// The stored email wins over the profile's primary email, so a change
// made through the admin API shows in SCIM.
func TestStoredEmailWins(t *testing.T) {
	t.Parallel()
	su, err := toStored(decode(t, `{"userName": "x", "emails": [{"value": "old@acme.example", "primary": true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := userResource(store.User{ID: "u", Email: "new@acme.example", UserName: "x", Profile: su.Profile}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := out["emails"].([]any)[0].(Resource)["value"]; got != "new@acme.example" {
		t.Errorf("primary email = %v", got)
	}
}

func TestToStoredRefuses(t *testing.T) {
	t.Parallel()
	for name, body := range map[string]string{
		"no userName":     `{"emails": [{"value": "a@acme.example"}]}`,
		"blank userName":  `{"userName": "  ", "emails": [{"value": "a@acme.example"}]}`,
		"no address":      `{"userName": "dana"}`,
		"userName number": `{"userName": 7}`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := toStored(decode(t, body)); !errors.Is(err, schema.ErrInvalidValue) {
				t.Errorf("toStored = %v, want invalidValue", err)
			}
		})
	}
}

// Attribute names are case-insensitive (RFC 7643 §2.1).
func TestToStoredNamesAnyCase(t *testing.T) {
	t.Parallel()
	su, err := toStored(decode(t, `{"USERNAME": "dana@acme.example", "Active": false, "ExternalID": "e1"}`))
	if err != nil {
		t.Fatal(err)
	}
	if su.UserName != "dana@acme.example" || su.Active || su.ExternalID != "e1" || su.Email != "dana@acme.example" {
		t.Errorf("stored = %+v", su)
	}
}
