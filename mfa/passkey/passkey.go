// Package passkey is a thin, fail-closed wrapper of go-webauthn for one
// partner site at a time.
//
// go-webauthn verifies signatures, challenges, origins and RP id hashes, but it
// leaves several decisions to its caller; this package takes them so that the
// gateway cannot forget one:
//
//   - Ceremony state must expire. The library only checks expiry when its
//     wall-clock timeouts are enforced; here every Ceremony carries its own
//     expiry (CeremonyTTL) that Finish* checks against an injected clock.
//   - Ceremony state must be single use. A pure function cannot guarantee that:
//     the caller keeps the Ceremony in a single-use, expiring ticket (keyed by
//     Ceremony.Key) and deletes it before calling Finish*. This package adds
//     the checks that make a replay fail even if a ticket were reused: a
//     replayed assertion is refused by the signature counter, a replayed
//     registration by the duplicate credential id.
//   - The library verifies the rpIdHash against the RP id recorded in the
//     session data, not against the site doing the verification, so a
//     ceremony begun for partner A would verify on partner B. Finish* refuses a
//     ceremony whose RP id is not the RP's.
//   - The library only flags a cloned authenticator (counter went backwards);
//     FinishLogin refuses it.
//
// Errors are wrapped sentinels (ErrExpired, ErrVerification, ...) and never
// contain the browser's response.
package passkey

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// CeremonyTTL is how long a begun ceremony may be finished. Five minutes is
// the browser timeout we also announce in the options, so a user who is still
// within the browser prompt is never refused by us first.
const CeremonyTTL = 5 * time.Minute

// maxResponseSize caps what Finish* will parse. Real responses are a few KiB
// (an attestation certificate chain is the largest part); anything bigger is
// refused before the CBOR and JSON parsers see it.
const maxResponseSize = 64 << 10

var (
	// ErrExpired: the ceremony is older than CeremonyTTL; start a new one.
	ErrExpired = errors.New("passkey: ceremony expired")
	// ErrVerification: the browser's response does not prove what it must
	// (bad signature, wrong challenge, origin or RP, missing user
	// verification, unknown credential, malformed JSON, ...). Treat as a
	// failed authentication attempt.
	ErrVerification = errors.New("passkey: verification failed")
	// ErrCloned: the signature counter did not increase, a sign of a cloned
	// authenticator or of a replayed assertion. It always comes wrapped
	// together with ErrVerification.
	ErrCloned = errors.New("passkey: signature counter did not increase")
	// ErrUserVerification: the ceremony required user verification (PIN,
	// biometrics) and the authenticator did not report it. It always comes
	// wrapped together with ErrVerification.
	ErrUserVerification = errors.New("passkey: user verification required but not performed")
	// ErrOtherRP: the ceremony was begun for another relying party (another
	// partner's site). It always comes wrapped together with ErrVerification.
	ErrOtherRP = errors.New("passkey: ceremony belongs to another relying party")
	// ErrConfig: the caller passed an unusable RP, user or policy value.
	// This is a programming or configuration error, not the user's.
	ErrConfig = errors.New("passkey: invalid configuration")
)

// RP is one partner site as a WebAuthn relying party.
type RP struct {
	ID      string   // host name, no port: the partner's hostname
	Name    string   // partner display name
	Origins []string // e.g. https://acme.apps.example, http://acme.localhost:8443
}

// User is the account a ceremony is for.
type User struct {
	ID          []byte // stable opaque handle (1..64 bytes), not the email
	Name        string
	DisplayName string
	Credentials []Credential
}

// Credential is what the caller stores (sealed) for a user. It is
// JSON-serialisable and records the RP id it was registered for, because a
// credential is only ever valid for that RP and must not be offered to or
// accepted by another partner's site.
type Credential struct {
	RPID     string              `json:"rpId"`
	WebAuthn webauthn.Credential `json:"webauthn"`
}

// ID is the credential id as the authenticator knows it.
func (c Credential) ID() []byte { return c.WebAuthn.ID }

// IDString is the credential id in unpadded base64url, the form browsers use
// in PublicKeyCredential.id; suitable as a storage key.
func (c Credential) IDString() string { return base64.RawURLEncoding.EncodeToString(c.WebAuthn.ID) }

// SignCount is the last signature counter seen for the credential.
func (c Credential) SignCount() uint32 { return c.WebAuthn.Authenticator.SignCount }

// Discoverable reports whether the browser said the credential is a passkey
// (client-side discoverable). False when it did not say.
func (c Credential) Discoverable() bool {
	return c.WebAuthn.Extensions.RK != nil && *c.WebAuthn.Extensions.RK
}

// Ceremony kinds. A ceremony of one kind is refused by the other Finish
// functions so a registration challenge can never count as a login.
const (
	kindRegistration = "registration"
	kindLogin        = "login"         // second factor, user known
	kindPasskeyLogin = "passkey-login" // discoverable, user unknown at Begin
)

// Ceremony is the server-side state of one begun ceremony. The caller keeps it
// in a single-use, expiring ticket and hands it back to the matching Finish
// function exactly once.
type Ceremony struct {
	Kind    string               `json:"kind"`
	RPID    string               `json:"rpId"`
	Expires time.Time            `json:"expires"`
	Passkey bool                 `json:"passkey,omitempty"` // registration asked for a resident key
	Session webauthn.SessionData `json:"session"`
}

// Key identifies the ceremony for the caller's single-use ticket store (the
// challenge: 32 random bytes, unique per ceremony).
func (c Ceremony) Key() string { return c.Session.Challenge }

// Verification is the user-verification policy of the partner.
type Verification string

// Verification values. The empty value means required: a missing policy must
// not silently weaken authentication.
const (
	VerificationRequired  Verification = "required"
	VerificationPreferred Verification = "preferred"
)

func (v Verification) protocol() (protocol.UserVerificationRequirement, error) {
	switch v {
	case VerificationRequired, "":
		return protocol.VerificationRequired, nil
	case VerificationPreferred:
		return protocol.VerificationPreferred, nil
	}
	return "", fmt.Errorf("%w: unknown user verification %q", ErrConfig, string(v))
}

// validateRP refuses an RP that would make the library verify against the
// wrong thing: an id with a port or scheme, an origin on another host, plain
// http outside localhost.
func validateRP(rp RP) error {
	id := rp.ID
	if id == "" || id != strings.ToLower(id) || strings.ContainsAny(id, ":/ ") || strings.HasSuffix(id, ".") {
		return fmt.Errorf("%w: RP id %q must be a lowercase host name without port", ErrConfig, id)
	}
	if rp.Name == "" {
		return fmt.Errorf("%w: RP name is empty", ErrConfig)
	}
	if len(rp.Origins) == 0 {
		return fmt.Errorf("%w: RP %q has no origins", ErrConfig, id)
	}
	for _, o := range rp.Origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return fmt.Errorf("%w: origin %q is not scheme://host[:port]", ErrConfig, o)
		}
		host := u.Hostname()
		// The RP id must be the origin's host or a registrable suffix of it
		// (WebAuthn §5.1.3); anything else is a configuration mistake that
		// the browser would refuse anyway, so fail at the first call.
		if host != id && !strings.HasSuffix(host, "."+id) {
			return fmt.Errorf("%w: origin %q is not within RP id %q", ErrConfig, o, id)
		}
		switch {
		case u.Scheme == "https":
		case u.Scheme == "http" && (host == "localhost" || strings.HasSuffix(host, ".localhost")):
			// Browsers treat http://localhost as a secure context; used by
			// development and tests only.
		default:
			return fmt.Errorf("%w: origin %q must be https", ErrConfig, o)
		}
	}
	return nil
}

func newWebAuthn(rp RP) (*webauthn.WebAuthn, error) {
	if err := validateRP(rp); err != nil {
		return nil, err
	}
	w, err := webauthn.New(&webauthn.Config{
		RPID:          rp.ID,
		RPDisplayName: rp.Name,
		RPOrigins:     rp.Origins,
		// We neither check attestation against metadata nor need it: ask
		// for none so browsers do not prompt about identifying the device.
		AttestationPreference: protocol.PreferNoAttestation,
		// The library's own expiry uses the wall clock and is off; ours
		// (Ceremony.Expires) is checked with the caller's clock. The
		// timeout here is only what the browser is told.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return w, nil
}

// libUser adapts User to the library, showing it only the credentials of
// this RP so another partner's credential can neither be offered nor used.
type libUser struct {
	u    User
	rpID string
}

func (l libUser) WebAuthnID() []byte          { return l.u.ID }
func (l libUser) WebAuthnName() string        { return l.u.Name }
func (l libUser) WebAuthnDisplayName() string { return l.u.DisplayName }
func (l libUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	for _, c := range l.u.Credentials {
		if c.RPID == l.rpID {
			out = append(out, c.WebAuthn)
		}
	}
	return out
}

func validateUser(u User) error {
	if len(u.ID) == 0 || len(u.ID) > 64 {
		return fmt.Errorf("%w: user handle must be 1..64 bytes", ErrConfig)
	}
	return nil
}

// BeginRegistration starts adding a credential to u on rp. With passkey the
// credential must be discoverable (resident key required), so it can later log
// in without a user name. Credentials u already has on rp are excluded so the
// same authenticator is not registered twice.
func BeginRegistration(rp RP, u User, uv Verification, passkey bool) ([]byte, Ceremony, error) {
	return beginRegistration(rp, u, uv, passkey, time.Now())
}

func beginRegistration(rp RP, u User, uv Verification, passkey bool, now time.Time) ([]byte, Ceremony, error) {
	w, err := newWebAuthn(rp)
	if err != nil {
		return nil, Ceremony{}, err
	}
	if err := validateUser(u); err != nil {
		return nil, Ceremony{}, err
	}
	puv, err := uv.protocol()
	if err != nil {
		return nil, Ceremony{}, err
	}
	lu := libUser{u: u, rpID: rp.ID}
	rk := protocol.ResidentKeyRequirementDiscouraged
	if passkey {
		rk = protocol.ResidentKeyRequirementRequired
	}
	opts := []webauthn.RegistrationOption{
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			UserVerification: puv,
		}),
		webauthn.WithResidentKeyRequirement(rk),
		webauthn.WithExclusions(webauthn.Credentials(lu.WebAuthnCredentials()).CredentialDescriptors()),
		// credProps lets us see whether a "passkey" really is discoverable.
		webauthn.WithExtensions(webauthn.WithExtensionCredProps()),
	}
	creation, session, err := w.BeginRegistration(lu, opts...)
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("%w: begin registration: %v", ErrConfig, err)
	}
	options, err := json.Marshal(creation)
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("passkey: encode options: %w", err)
	}
	return options, Ceremony{Kind: kindRegistration, RPID: rp.ID, Expires: now.Add(CeremonyTTL), Passkey: passkey, Session: *session}, nil
}

// checkCeremony applies the checks the library leaves to us, before any part
// of the response is parsed.
func checkCeremony(rp RP, c Ceremony, kind string, now time.Time) error {
	if c.Kind != kind {
		return fmt.Errorf("%w: ceremony is a %q, not a %q", ErrVerification, c.Kind, kind)
	}
	// The library verifies against the RP id stored in the session; a
	// ceremony of another partner must not be finished here.
	if c.RPID != rp.ID || c.Session.RelyingPartyID != rp.ID {
		return fmt.Errorf("%w: %w", ErrVerification, ErrOtherRP)
	}
	if c.Expires.IsZero() || !now.Before(c.Expires) {
		return ErrExpired
	}
	// A ceremony must not outlive the TTL even if its stored expiry was
	// tampered with or set far ahead.
	if c.Expires.Sub(now) > CeremonyTTL {
		return fmt.Errorf("%w: ceremony expiry beyond the allowed lifetime", ErrVerification)
	}
	return nil
}

// requireUV refuses a response without the UV flag when the ceremony (not the
// options the client may have rewritten) required verification.
func requireUV(c Ceremony, flags protocol.AuthenticatorFlags) error {
	if c.Session.UserVerification == protocol.VerificationRequired && !flags.HasUserVerified() {
		return fmt.Errorf("%w: %w", ErrVerification, ErrUserVerification)
	}
	return nil
}

func checkSize(response []byte) error {
	if len(response) == 0 || len(response) > maxResponseSize {
		return fmt.Errorf("%w: response size %d out of range", ErrVerification, len(response))
	}
	return nil
}

// libErr turns a library error into ours. The library's Error() is its fixed
// Details text; its DevInfo (which can echo client data) is left out, and the
// raw response is never included.
func libErr(step string, err error) error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return fmt.Errorf("%w: %s: %s", ErrVerification, step, pe.Details)
	}
	return fmt.Errorf("%w: %s", ErrVerification, step)
}

// FinishRegistration verifies the browser's response to BeginRegistration and
// returns the new credential for the caller to store. The caller must have
// consumed the ceremony's ticket already.
func FinishRegistration(rp RP, u User, c Ceremony, response []byte, now time.Time) (Credential, error) {
	w, err := newWebAuthn(rp)
	if err != nil {
		return Credential{}, err
	}
	if err := checkCeremony(rp, c, kindRegistration, now); err != nil {
		return Credential{}, err
	}
	if !bytes.Equal(c.Session.UserID, u.ID) {
		return Credential{}, fmt.Errorf("%w: ceremony is for another user", ErrVerification)
	}
	if err := checkSize(response); err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return Credential{}, libErr("parse registration", err)
	}
	// The library enforces this too; checking it ourselves names the
	// reason, which the caller may want to tell the user.
	if err := requireUV(c, parsed.Response.AttestationObject.AuthData.Flags); err != nil {
		return Credential{}, err
	}
	cred, err := w.CreateCredential(libUser{u: u, rpID: rp.ID}, c.Session, parsed)
	if err != nil {
		return Credential{}, libErr("registration", err)
	}
	// Across every RP: the authenticator chose the id, and one id stored
	// twice would make lookups ambiguous. It also makes a replayed
	// registration response fail once the first one was stored.
	for _, have := range u.Credentials {
		if bytes.Equal(have.WebAuthn.ID, cred.ID) {
			return Credential{}, fmt.Errorf("%w: credential already registered", ErrVerification)
		}
	}
	// A browser that does not implement credProps says nothing (nil); we
	// only refuse an explicit "not discoverable", since residentKey
	// "required" already makes conforming browsers fail otherwise.
	if c.Passkey && cred.Extensions.RK != nil && !*cred.Extensions.RK {
		return Credential{}, fmt.Errorf("%w: authenticator did not create a discoverable credential", ErrVerification)
	}
	return Credential{RPID: rp.ID, WebAuthn: *cred}, nil
}

// BeginLogin starts a second-factor assertion for a known user: only u's
// credentials on rp are allowed.
func BeginLogin(rp RP, u User, uv Verification) ([]byte, Ceremony, error) {
	return beginLogin(rp, &u, uv, time.Now())
}

// BeginPasskeyLogin starts a discoverable (username-less) login; the user is
// learnt from the response with UserHandleOf.
func BeginPasskeyLogin(rp RP, uv Verification) ([]byte, Ceremony, error) {
	return beginLogin(rp, nil, uv, time.Now())
}

func beginLogin(rp RP, u *User, uv Verification, now time.Time) ([]byte, Ceremony, error) {
	w, err := newWebAuthn(rp)
	if err != nil {
		return nil, Ceremony{}, err
	}
	puv, err := uv.protocol()
	if err != nil {
		return nil, Ceremony{}, err
	}
	opts := []webauthn.LoginOption{webauthn.WithUserVerification(puv)}
	var (
		assertion *protocol.CredentialAssertion
		session   *webauthn.SessionData
		kind      string
	)
	if u != nil {
		if err := validateUser(*u); err != nil {
			return nil, Ceremony{}, err
		}
		lu := libUser{u: *u, rpID: rp.ID}
		// The library would happily begin with an empty allow list, which
		// the browser treats as "any discoverable credential": refuse, a
		// second factor must be one of this user's credentials.
		if len(lu.WebAuthnCredentials()) == 0 {
			return nil, Ceremony{}, fmt.Errorf("%w: user has no credential on %s", ErrConfig, rp.ID)
		}
		kind = kindLogin
		assertion, session, err = w.BeginLogin(lu, opts...)
	} else {
		kind = kindPasskeyLogin
		assertion, session, err = w.BeginDiscoverableLogin(opts...)
	}
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("%w: begin login: %v", ErrConfig, err)
	}
	options, err := json.Marshal(assertion)
	if err != nil {
		return nil, Ceremony{}, fmt.Errorf("passkey: encode options: %w", err)
	}
	return options, Ceremony{Kind: kind, RPID: rp.ID, Expires: now.Add(CeremonyTTL), Session: *session}, nil
}

// UserHandleOf returns the user handle a discoverable assertion claims, so the
// caller can load that user and call FinishLogin, which verifies the claim.
// The handle is unauthenticated until then.
func UserHandleOf(response []byte) ([]byte, error) {
	if err := checkSize(response); err != nil {
		return nil, err
	}
	var r struct {
		Response struct {
			UserHandle protocol.URLEncodedBase64 `json:"userHandle"`
		} `json:"response"`
	}
	if err := json.Unmarshal(response, &r); err != nil {
		return nil, fmt.Errorf("%w: malformed assertion", ErrVerification)
	}
	if len(r.Response.UserHandle) == 0 || len(r.Response.UserHandle) > 64 {
		return nil, fmt.Errorf("%w: assertion carries no usable user handle", ErrVerification)
	}
	return r.Response.UserHandle, nil
}

// FinishLogin verifies an assertion for u (from BeginLogin, or from
// BeginPasskeyLogin with u loaded via UserHandleOf) and returns the used
// credential with its signature counter and flags updated; the caller stores
// it. It refuses a wrong origin, RP id or challenge, a bad signature, missing
// user verification when the ceremony required it, and a counter that did not
// increase (ErrCloned).
func FinishLogin(rp RP, u User, c Ceremony, response []byte, now time.Time) (Credential, error) {
	w, err := newWebAuthn(rp)
	if err != nil {
		return Credential{}, err
	}
	if c.Kind != kindLogin && c.Kind != kindPasskeyLogin {
		return Credential{}, fmt.Errorf("%w: ceremony is a %q, not a login", ErrVerification, c.Kind)
	}
	if err := checkCeremony(rp, c, c.Kind, now); err != nil {
		return Credential{}, err
	}
	if err := validateUser(u); err != nil {
		return Credential{}, err
	}
	if err := checkSize(response); err != nil {
		return Credential{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return Credential{}, libErr("parse assertion", err)
	}

	if err := requireUV(c, parsed.Response.AuthenticatorData.Flags); err != nil {
		return Credential{}, err
	}

	// The stored CloneWarning is sticky in the library; clear it on the copy
	// we verify with so that the flag afterwards is about this assertion.
	lu := libUser{u: u, rpID: rp.ID}
	lu.u.Credentials = make([]Credential, len(u.Credentials))
	copy(lu.u.Credentials, u.Credentials)
	for i := range lu.u.Credentials {
		lu.u.Credentials[i].WebAuthn.Authenticator.CloneWarning = false
	}

	var cred *webauthn.Credential
	switch c.Kind {
	case kindLogin:
		cred, err = w.ValidateLogin(lu, c.Session, parsed)
	case kindPasskeyLogin:
		// The response names its user; it must be the one the caller
		// loaded (from UserHandleOf), and the library checks the credential
		// belongs to that user.
		handler := func(_, userHandle []byte) (webauthn.User, error) {
			if !bytes.Equal(userHandle, u.ID) {
				return nil, errors.New("user handle is not the loaded user")
			}
			return lu, nil
		}
		_, cred, err = w.ValidatePasskeyLogin(handler, c.Session, parsed)
	}
	if err != nil {
		return Credential{}, libErr("assertion", err)
	}
	if cred.Authenticator.CloneWarning {
		return Credential{}, fmt.Errorf("%w: %w", ErrVerification, ErrCloned)
	}
	return Credential{RPID: rp.ID, WebAuthn: *cred}, nil
}
