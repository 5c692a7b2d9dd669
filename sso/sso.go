package sso

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/sso/preset"
)

// Claims is what an identity provider asserted about a user, after every
// check passed.
type Claims struct {
	// Subject is the IdP's stable id for the user: the OIDC "sub" or the
	// SAML NameID.
	Subject string
	// SessionID names the IdP's session, for logout coming from the IdP:
	// the OIDC "sid" or the SAML SessionIndex; "" when the IdP sent none.
	SessionID string
	// Issuer is the IdP that signed: the OIDC issuer or the SAML entity id.
	Issuer string
	// Attributes holds every claim or attribute received, as strings: a
	// list claim gives several values, a boolean "true" or "false", and an
	// object its JSON text.
	Attributes map[string][]string
	// AuthnContext holds the SAML assertion's AuthnContextClassRef
	// values: how the IdP says it authenticated the user.
	AuthnContext []string
}

// multiFactorContexts are the authentication contexts (SAML
// AuthnContextClassRef, OIDC acr) by which common IdPs say they did a
// second factor: REFEDS MFA, Microsoft's multipleauthn (Entra ID, AD FS),
// the SAML 2.0 two-factor classes, OpenID PAPE multi-factor and Okta's
// two-factor levels.
var multiFactorContexts = []string{
	"https://refeds.org/profile/mfa",
	"http://schemas.microsoft.com/claims/multipleauthn",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorUnregistered",
	"urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken",
	"http://schemas.openid.net/pape/policies/2007/06/multi-factor",
	"http://schemas.openid.net/pape/policies/2007/06/multi-factor-physical",
	"urn:okta:loa:2fa:any",
	"urn:okta:loa:2fa:any:ifpossible",
	"phr",
	"phrh",
}

// MultiFactor reports whether the IdP says it did a second factor itself:
// OIDC amr "mfa" or two factors of different kinds (RFC 8176), or an
// OIDC acr or SAML authentication context that means MFA.
func (c Claims) MultiFactor() bool {
	amr := c.Attributes["amr"]
	if slices.Contains(amr, "mfa") {
		return true
	}
	factors := 0
	for _, v := range []string{"pwd", "otp", "hwk", "swk", "sms", "tel", "fpt", "face", "iris", "pin", "sc"} {
		if slices.Contains(amr, v) {
			factors++
		}
	}
	if factors >= 2 {
		return true
	}
	for _, ctx := range append(slices.Clone(c.AuthnContext), c.Attributes["acr"]...) {
		if slices.Contains(multiFactorContexts, ctx) {
			return true
		}
	}
	return false
}

// Profile is a user as a connection's attribute mapping reads the claims.
type Profile struct {
	Email      string   `json:"email"`
	Name       string   `json:"name,omitempty"`
	GivenName  string   `json:"given_name,omitempty"`
	FamilyName string   `json:"family_name,omitempty"`
	Groups     []string `json:"groups"`
}

// MapProfile reads the profile from c through m: for each field the first
// named claim present wins. A sign-in without an email cannot be matched
// to a user, so its absence is a failure naming the claims looked for.
func MapProfile(c Claims, m preset.Mapping) (Profile, error) {
	first := func(names []string) (value, name string) {
		for _, n := range names {
			for _, v := range c.Attributes[n] {
				if v = strings.TrimSpace(v); v != "" {
					return v, n
				}
			}
		}
		return "", ""
	}
	value := func(names []string) string { v, _ := first(names); return v }
	email, emailClaim := first(m.Email)
	p := Profile{
		Email:      strings.ToLower(email),
		Name:       value(m.Name),
		GivenName:  value(m.GivenName),
		FamilyName: value(m.FamilyName),
		Groups:     []string{},
	}
	for _, n := range m.Groups {
		for _, v := range c.Attributes[n] {
			if v = strings.TrimSpace(v); v != "" && !slices.Contains(p.Groups, v) {
				p.Groups = append(p.Groups, v)
			}
		}
	}
	if p.Email == "" {
		return Profile{}, Fail(MissingAttribute,
			"The identity provider sent no email address, so the user cannot be matched.",
			Fact{"Claims looked for", strings.Join(m.Email, ", ")},
			Fact{"Claims received", strings.Join(attributeNames(c), ", ")})
	}
	// An IdP that lets users register addresses it never checked says so
	// in OIDC's email_verified; such an address proves nothing.
	if emailClaim == "email" && slices.Contains(c.Attributes["email_verified"], "false") {
		return Profile{}, Fail(EmailUnverified,
			"The identity provider says the user's email address is not verified, so it cannot identify the user.",
			Fact{Label: "Email", Value: truncate(p.Email, 100)})
	}
	if !validEmail(p.Email) {
		return Profile{}, Fail(MissingAttribute,
			"The identity provider's email claim does not hold an email address.",
			Fact{"Value received", truncate(p.Email, 100)})
	}
	if p.Name == "" {
		p.Name = strings.TrimSpace(p.GivenName + " " + p.FamilyName)
	}
	return p, nil
}

func attributeNames(c Claims) []string {
	names := make([]string, 0, len(c.Attributes))
	for n := range c.Attributes {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func validEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	return at > 0 && at < len(s)-1 && !strings.ContainsAny(s, " \t\r\n<>,;\"")
}

// Code says what kind of failure ended a sign-in. Codes are part of the
// API: the admin API and the result page show them, and the portal may
// link each to help.
type Code string

const (
	// The IdP or the browser sent something that does not parse.
	Malformed Code = "malformed"
	// The IdP answered with an error of its own (OIDC error=, SAML status).
	IdPError Code = "idp_error"
	// The IdP could not be reached, or its discovery document, keys or
	// metadata could not be read.
	Unreachable Code = "idp_unreachable"
	// The connection's settings cannot work (no key, no certificate…).
	Misconfigured Code = "misconfigured"
	// A signature did not verify against any of the IdP's keys.
	BadSignature Code = "bad_signature"
	// Something that must be signed was not.
	Unsigned Code = "unsigned"
	// The token or assertion came from an issuer other than the
	// connection's IdP.
	UnknownIssuer Code = "unknown_issuer"
	// The token or assertion was meant for another client or SP.
	WrongAudience Code = "wrong_audience"
	// A SAML response was sent to another URL (Destination, Recipient).
	WrongRecipient Code = "wrong_recipient"
	// The token or assertion is past its end of validity.
	Expired Code = "expired"
	// The token or assertion is not valid yet: usually the clocks of the
	// IdP and this service disagree.
	NotYetValid Code = "not_yet_valid"
	// The OIDC nonce does not match the one this sign-in sent.
	NonceMismatch Code = "nonce_mismatch"
	// The sign-in's state is unknown, used, expired or from another
	// browser.
	InvalidState Code = "invalid_state"
	// The response does not answer a request this service sent, or
	// answers one of another connection.
	Unsolicited Code = "unsolicited_response"
	// The assertion or code was already used.
	Replay Code = "replay"
	// The authorization code could not be exchanged for tokens.
	CodeExchange Code = "code_exchange_failed"
	// Userinfo answered for another subject than the ID token.
	UserinfoMismatch Code = "userinfo_mismatch"
	// A claim or attribute the mapping needs is missing.
	MissingAttribute Code = "missing_attribute"
	// The IdP says the email address is not verified.
	EmailUnverified Code = "email_unverified"
	// The IdP's signing certificate has expired.
	CertificateExpired Code = "certificate_expired"
	// The connection is switched off.
	Disabled Code = "connection_disabled"
	// The email's domain is not one the connection may sign in.
	DomainNotAllowed Code = "email_domain_not_allowed"
	// The user is suspended or deprovisioned.
	UserInactive Code = "user_inactive"
	// No user matches and the connection may not create one.
	UserNotProvisioned Code = "user_not_provisioned"
	// Anything else: the details are in the server's log.
	Internal Code = "internal_error"
)

// Fact is one labelled value of a failure, such as an expected and a
// received audience, or the times that disagree.
type Fact struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// Failure is a sign-in that did not pass. Message is one sentence for an
// IT admin; Facts back it up. Neither holds a secret or a whole token.
type Failure struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
	Facts   []Fact `json:"facts,omitempty"`
	// err is the cause, for the server's log only.
	err error
}

// Fail returns a failure.
func Fail(code Code, message string, facts ...Fact) *Failure {
	return &Failure{Code: code, Message: message, Facts: facts}
}

// Wrap returns a failure caused by err.
func Wrap(code Code, message string, err error, facts ...Fact) *Failure {
	return &Failure{Code: code, Message: message, Facts: facts, err: err}
}

func (f *Failure) Error() string {
	if f.err != nil {
		return fmt.Sprintf("%s: %s: %v", f.Code, f.Message, f.err)
	}
	return fmt.Sprintf("%s: %s", f.Code, f.Message)
}

func (f *Failure) Unwrap() error { return f.err }

// AsFailure returns the failure in err's chain, or an Internal failure
// for any other error, so every sign-in error has a code.
func AsFailure(err error) *Failure {
	if f, ok := errors.AsType[*Failure](err); ok {
		return f
	}
	return Wrap(Internal, "The sign-in failed on our side. Try again; if it persists, contact support.", err)
}

// TimeFact formats a time for a failure, in UTC to the second.
func TimeFact(label string, t time.Time) Fact {
	return Fact{Label: label, Value: t.UTC().Format(time.RFC3339)}
}

// Skew is the clock difference tolerated between an IdP and this service.
const Skew = 2 * time.Minute

// ReplayCache remembers ids that may be used once (SAML assertion ids).
type ReplayCache interface {
	// Claim records id until expires and reports whether it was new: a
	// second claim of a live id answers false.
	Claim(ctx context.Context, id string, expires time.Time) (bool, error)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
