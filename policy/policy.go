package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"time"
)

// Method is an MFA method.
type Method string

const (
	WebAuthn Method = "webauthn"
	TOTP     Method = "totp"
	SMS      Method = "sms"
	Push     Method = "push"
)

// Methods are every MFA method, in the order a user is offered them.
var Methods = []Method{WebAuthn, TOTP, Push, SMS}

// CharClass is a class of characters a password may be required to hold.
type CharClass string

const (
	Upper  CharClass = "upper"
	Lower  CharClass = "lower"
	Digit  CharClass = "digit"
	Symbol CharClass = "symbol"
)

// CharClasses are every class, in the order they are shown.
var CharClasses = []CharClass{Upper, Lower, Digit, Symbol}

// Passwordless says whether users may, or must, sign in with a passkey
// instead of a password. From loosest to strictest: allowed (either way
// in), off (the password only), required (the passkey only).
type Passwordless string

const (
	PasswordlessAllowed  Passwordless = "allowed"
	PasswordlessOff      Passwordless = "off"
	PasswordlessRequired Passwordless = "required"
)

// Policy is the governance baseline or a partner's policy, in the JSON
// shape of the admin API. A nil field (or a nil list) is unset: in a
// partner policy it inherits the baseline; a baseline has every field set.
// The fields table (fields.go) says which value of each field is stricter.
type Policy struct {
	MFA         *MFA      `json:"mfa,omitempty"`
	Session     *Session  `json:"session,omitempty"`
	Password    *Password `json:"password,omitempty"`
	Lockout     *Lockout  `json:"lockout,omitempty"`
	SSORequired *bool     `json:"sso_required,omitempty"`
	// AllowedIPRanges limits where users sign in from and use their
	// sessions; an empty list allows every address.
	AllowedIPRanges []netip.Prefix `json:"allowed_ip_ranges,omitzero"`
}

// MFA are the multi-factor rules.
type MFA struct {
	Required *bool `json:"required,omitempty"`
	// Methods are the methods users may enrol and use.
	Methods []Method `json:"methods,omitzero"`
	// AcceptIdPMFA counts an IdP's own MFA (OIDC amr/acr, SAML
	// AuthnContext) as the sign-in's second factor.
	AcceptIdPMFA *bool `json:"accept_idp_mfa,omitempty"`
}

// Session are the session lengths. Zero RememberDevice remembers no
// device.
type Session struct {
	MaxLifetime    *Duration `json:"max_lifetime,omitempty"`
	IdleTimeout    *Duration `json:"idle_timeout,omitempty"`
	RememberDevice *Duration `json:"remember_device,omitempty"`
}

// Password are the password rules. Zero History keeps none; zero MaxAge
// never expires a password.
type Password struct {
	MinLength    *int          `json:"min_length,omitempty"`
	Require      []CharClass   `json:"require,omitzero"`
	History      *int          `json:"history,omitempty"`
	MaxAge       *Duration     `json:"max_age,omitempty"`
	Passwordless *Passwordless `json:"passwordless,omitempty"`
	BlockCommon  *bool         `json:"block_common,omitempty"`
}

// Lockout locks an account after Threshold failed sign-ins in a row, for
// Duration. Zero Threshold locks nothing.
type Lockout struct {
	Threshold *int      `json:"threshold,omitempty"`
	Duration  *Duration `json:"duration,omitempty"`
}

// Duration is a time.Duration written as Go writes one ("8h", "30m",
// "720h0m0s") in JSON.
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"8h\" or \"30m\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as \"8h\" or \"30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Default is the baseline when the operator sets none: MFA optional with
// every method, sessions of 12h ending after 1h idle, no remembered
// devices, passwords of at least 12 characters checked against common
// ones, passkeys allowed, a lockout after 5 failures for 15 minutes.
func Default() Policy {
	return Policy{
		MFA: &MFA{Required: ptr(false), Methods: []Method{WebAuthn, TOTP, Push, SMS}, AcceptIdPMFA: ptr(true)},
		Session: &Session{
			MaxLifetime: ptr(Duration(12 * time.Hour)), IdleTimeout: ptr(Duration(time.Hour)), RememberDevice: ptr(Duration(0)),
		},
		Password: &Password{
			MinLength: ptr(12), Require: []CharClass{}, History: ptr(0), MaxAge: ptr(Duration(0)),
			Passwordless: ptr(PasswordlessAllowed), BlockCommon: ptr(true),
		},
		Lockout:         &Lockout{Threshold: ptr(5), Duration: ptr(Duration(15 * time.Minute))},
		SSORequired:     ptr(false),
		AllowedIPRanges: []netip.Prefix{},
	}
}

func ptr[T any](v T) *T { return &v }
