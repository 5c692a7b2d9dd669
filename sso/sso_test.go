package sso_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/sso/preset"
)

var entra = preset.Mapping{
	Email:      []string{"email", "preferred_username", "upn"},
	Name:       []string{"name"},
	GivenName:  []string{"given_name"},
	FamilyName: []string{"family_name"},
	Groups:     []string{"groups", "roles"},
}

func TestMapProfileFirstPresentClaimWins(t *testing.T) {
	t.Parallel()
	c := sso.Claims{Attributes: map[string][]string{
		"email":              {"  "},
		"preferred_username": {"Ann.Lee@Acme.COM"},
		"upn":                {"ann@corp.acme.com"},
		"given_name":         {"Ann"},
		"family_name":        {"Lee"},
		"groups":             {"eng", "ops", "eng"},
		"roles":              {"ops", "admins"},
	}}
	p, err := sso.MapProfile(c, entra)
	if err != nil {
		t.Fatal(err)
	}
	if p.Email != "ann.lee@acme.com" {
		t.Errorf("email %q: a blank claim must not win, and the address is lowercased", p.Email)
	}
	if p.Name != "Ann Lee" {
		t.Errorf("name %q: without a name claim it is built from the parts", p.Name)
	}
	if want := []string{"eng", "ops", "admins"}; !slices.Equal(p.Groups, want) {
		t.Errorf("groups %v, want %v: every groups claim, each value once", p.Groups, want)
	}
}

func TestMapProfileWithoutEmailNamesTheClaims(t *testing.T) {
	t.Parallel()
	_, err := sso.MapProfile(sso.Claims{Attributes: map[string][]string{"sub": {"1"}, "name": {"Ann"}}}, entra)
	f, ok := errors.AsType[*sso.Failure](err)
	if !ok || f.Code != sso.MissingAttribute {
		t.Fatalf("err %v, want a missing_attribute failure", err)
	}
	if !slices.Contains(f.Facts, sso.Fact{Label: "Claims looked for", Value: "email, preferred_username, upn"}) ||
		!slices.Contains(f.Facts, sso.Fact{Label: "Claims received", Value: "name, sub"}) {
		t.Errorf("facts %v do not say what was looked for and what came", f.Facts)
	}
}

func TestMapProfileRefusesANonAddress(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"ann", "ann@", "@acme.com", "ann lee@acme.com", "<ann@acme.com>"} {
		_, err := sso.MapProfile(sso.Claims{Attributes: map[string][]string{"email": {v}}}, entra)
		if f, ok := errors.AsType[*sso.Failure](err); !ok || f.Code != sso.MissingAttribute {
			t.Errorf("email claim %q: err %v, want missing_attribute", v, err)
		}
	}
}

func TestAsFailureKeepsTypedFailuresAndHidesTheRest(t *testing.T) {
	t.Parallel()
	typed := sso.Fail(sso.WrongAudience, "meant for another app", sso.Fact{Label: "Expected audience", Value: "a"})
	if got := sso.AsFailure(fmt.Errorf("sign-in: %w", typed)); got != typed {
		t.Errorf("a wrapped failure came back as %v", got)
	}
	cause := errors.New("dial tcp 10.0.0.1:6379: connection refused")
	got := sso.AsFailure(cause)
	if got.Code != sso.Internal || !errors.Is(got, cause) {
		t.Fatalf("AsFailure(%v) = %v", cause, got)
	}
	if got.Message == "" || len(got.Facts) != 0 {
		t.Errorf("an internal failure must say something generic and show no facts: %+v", got)
	}
}

// TestMapProfileRefusesUnverifiedEmail: an address the IdP itself says it
// never verified identifies nobody.
func TestMapProfileRefusesUnverifiedEmail(t *testing.T) {
	t.Parallel()
	c := sso.Claims{Attributes: map[string][]string{"email": {"ceo@acme.com"}, "email_verified": {"false"}}}
	_, err := sso.MapProfile(c, entra)
	if f, ok := errors.AsType[*sso.Failure](err); !ok || f.Code != sso.EmailUnverified {
		t.Fatalf("err %v, want email_unverified", err)
	}
	c.Attributes["email_verified"] = []string{"true"}
	if p, err := sso.MapProfile(c, entra); err != nil || p.Email != "ceo@acme.com" {
		t.Errorf("a verified address: %v, %v", p, err)
	}
}

// TestMultiFactor: what counts as an IdP's own second factor, in OIDC
// and SAML terms, and what does not.
func TestMultiFactor(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		c    sso.Claims
		want bool
	}{
		{"amr mfa", sso.Claims{Attributes: map[string][]string{"amr": {"mfa"}}}, true},
		{"amr password and one-time code", sso.Claims{Attributes: map[string][]string{"amr": {"pwd", "otp"}}}, true},
		{"amr password only", sso.Claims{Attributes: map[string][]string{"amr": {"pwd"}}}, false},
		{"amr one factor twice", sso.Claims{Attributes: map[string][]string{"amr": {"otp", "otp"}}}, false},
		{"Okta acr", sso.Claims{Attributes: map[string][]string{"acr": {"urn:okta:loa:2fa:any"}}}, true},
		{"Entra SAML context", sso.Claims{AuthnContext: []string{"http://schemas.microsoft.com/claims/multipleauthn"}}, true},
		{"REFEDS MFA", sso.Claims{AuthnContext: []string{"https://refeds.org/profile/mfa"}}, true},
		{"SAML password", sso.Claims{AuthnContext: []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}, false},
		{"nothing said", sso.Claims{}, false},
	} {
		if got := tc.c.MultiFactor(); got != tc.want {
			t.Errorf("%s: MultiFactor() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
