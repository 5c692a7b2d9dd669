package templates

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Page names accepted by [Set.Render].
const (
	PageLogin       = "login"
	PageSignOut     = "sign_out"
	PageSignedOut   = "signed_out"
	PageSetPassword = "set_password"
	PageSSORedirect = "sso_redirect"
	PageSSOPost     = "sso_post"
	PageSSOError    = "sso_error"
	PageSSOTest     = "sso_test"
	PageMFA         = "mfa"
	PageAccount     = "account_security"
	PageNotFound    = "not_found"
	PageSuspended   = "suspended"
	PageMFAEnroll   = "mfa_enroll"
	PageMFACodes    = "mfa_codes"
	PageMFASMS      = "mfa_sms"
	PageMFAPush     = "mfa_push"
)

// Page is the data every page shares.
type Page struct {
	// PartnerName is the partner's display name, e.g. "Acme Corp".
	PartnerName string
	// AssetPrefix is the URL path the [Assets] file system is served under,
	// e.g. "/.partnergate/assets/". A missing trailing slash is added.
	AssetPrefix string
	// Title is the page's own part of the document title, e.g. "Sign in";
	// the partner's name is appended to it.
	Title string
	// Brand is the partner's look; its zero value is the product's own.
	Brand Brand
}

// Brand is what a partner's branding puts on every page. Every part is
// a URL on the site or plain text: a partner never supplies markup.
type Brand struct {
	// StylesheetURL, when set, links the partner's colours.
	StylesheetURL string
	// LogoURL, when set, shows the partner's logo instead of its initial.
	LogoURL string
	// Welcome is shown on the sign-in page; Footer at the foot of every
	// page; SupportURL as a "Get help" link there.
	Welcome    string
	Footer     string
	SupportURL string
}

// Login is the data of the "login" page: an email and password form.
type Login struct {
	Page
	// Action is the URL the form is POSTed to, e.g. "/.partnergate/login".
	Action string
	// CSRFToken is sent back in the hidden field "csrf_token".
	CSRFToken string
	// ReturnTo is sent back in the hidden field "return_to".
	ReturnTo string
	// Email prefills the field "email", e.g. after a failed attempt.
	Email string
	// Error, when set, is shown in an alert region announced to assistive
	// technology. Keep it generic: it must not tell which field was wrong.
	Error string
	// Connections are the partner's SSO connections, offered as buttons.
	Connections []SSOOption
	// PasswordOptional lets the form be sent with an email alone, which
	// routes the email's domain to its SSO connection.
	PasswordOptional bool
	// SSOOnly shows no password field: the partner signs users in through
	// its SSO connections only.
	SSOOnly bool
	// Passkey, when set, offers signing in with a passkey alone.
	Passkey *WebAuthnButton
}

// SSOOption is one SSO connection on the login page.
type SSOOption struct {
	// Name is the connection's name, e.g. "Acme Okta".
	Name string
	// URL starts a sign-in through it.
	URL string
}

// SSORedirect is the data of the "sso_redirect" page: a hand-over to an
// identity provider after a form post, by a link and a meta refresh, so
// the browser leaves through a plain navigation.
type SSORedirect struct {
	Page
	// Provider names where the user is going.
	Provider string
	// URL is the next step, on this site.
	URL string
}

// SSOPost is the data of the "sso_post" page, which sends a SAML message
// to the identity provider by an HTTP POST: with a script that sends it
// at once where scripts run, and a button where they do not.
type SSOPost struct {
	Page
	Provider string
	// Action is the identity provider's URL.
	Action string
	// Fields are the hidden fields, in order.
	Fields []Field
	// ScriptURL is the script that submits the form.
	ScriptURL string
}

// Field is one hidden form field.
type Field struct {
	Name  string
	Value string
}

// SSOError is the data of the "sso_error" page: an SSO sign-in the user
// cannot finish. It tells the user what to do, never why in detail: the
// reason goes to the partner's administrators.
type SSOError struct {
	Page
	// Message is what the user reads.
	Message string
	// Reference is the failure's code, for the user to quote to support.
	Reference string
	// LoginURL is the target of "Try again".
	LoginURL string
}

// SSOTest is the data of the "sso_test" page: the outcome of a test
// sign-in an administrator started.
type SSOTest struct {
	Page
	Connection string
	Succeeded  bool
	// Failure, for a failed test.
	Code    string
	Message string
	Facts   []Fact
	// What the IdP sent and what it maps to, for a successful one.
	Subject string
	Issuer  string
	Claims  []Fact
	Profile []Fact
	// UserNote says whether the user exists or would be created.
	UserNote string
	Groups   []string
	Roles    []string
}

// MFA is the data of the "mfa" page: the second step of a sign-in, asking
// for a code from one of the user's enrolled methods.
type MFA struct {
	Page
	// Email is who is signing in, shown so they know which account.
	Email string
	// TOTPAction, when set, is where the authenticator app's code is
	// POSTed (field "code").
	TOTPAction string
	// RecoveryAction is where a recovery code is POSTed (field "code").
	RecoveryAction string
	// WebAuthn, when set, offers the user's security key or passkey.
	WebAuthn *WebAuthnButton
	// SMSAction, when set, is where "Text me a code" is POSTed, with the
	// chosen phone's SMSPhones entry in the field "method_id".
	SMSAction string
	SMSPhones []Choice
	// PushAction, when set, is where "Send a push request" is POSTed.
	PushAction string
	// CSRFToken is sent back in the hidden field "csrf_token" of every form.
	CSRFToken string
	// RememberDays, when positive, offers "remember this device" (field
	// "remember" = "on") for that many days.
	RememberDays int
	// Error, when set, is shown in an alert region.
	Error string
	// CancelURL leaves the sign-in.
	CancelURL string
}

// NotFound is the data of the "not_found" page: a sign-in page that does
// not exist, on the partner's site and in its look.
type NotFound struct {
	Page
	LoginURL string
}

// Suspended is the data of the "suspended" page, which a suspended
// partner's site shows for every request.
type Suspended struct {
	Page
}

// AccountSecurity is the data of the "account_security" page: a signed-in
// user's second factors, each removable.
type AccountSecurity struct {
	Page
	Email   string
	Methods []AccountMethod
	// RemoveAction is where a removal is POSTed (field "method").
	RemoveAction string
	CSRFToken    string
	// Notice, when set, confirms what was just done.
	Notice string
}

// AccountMethod is one second factor as its owner sees it.
type AccountMethod struct {
	ID       string
	Kind     string // "Authenticator app", "Security key", …
	Name     string
	Added    string
	LastUsed string
}

// MFAEnroll is the data of the "mfa_enroll" page: setting up an
// authenticator app at a sign-in whose policy requires MFA.
type MFAEnroll struct {
	Page
	Email string
	// QRURL is the QR code image of the app's setup link; Secret is the
	// same key for typing in, grouped for reading.
	QRURL  string
	Secret string
	// Action is where the first code is POSTed (field "code").
	Action    string
	CSRFToken string
	Error     string
	CancelURL string
	// WebAuthn, when set, offers setting up a security key or passkey
	// instead.
	WebAuthn *WebAuthnButton
	// SMSAction, when set, offers text messages: a phone number (field
	// "phone") is POSTed there and a code sent to it.
	SMSAction string
	// PushAction, when set, offers push approval: the device id the
	// user's app shows (field "device_id") is POSTed there.
	PushAction string
}

// Choice is one option of a form: the value sent and what the user sees.
type Choice struct {
	Value string
	Label string
}

// MFASMS is the data of the "mfa_sms" page: the code a text message
// carried, asked for after it was sent.
type MFASMS struct {
	Page
	Email string
	// PhoneEnding is the last digits of the number texted, the only part
	// of it ever shown.
	PhoneEnding string
	// Action is where the code is POSTed (field "code"); ResendAction
	// sends a new one.
	Action       string
	ResendAction string
	CSRFToken    string
	// RememberDays, when positive, offers "remember this device".
	RememberDays int
	Error        string
	// BackURL goes back to the choice of methods; CancelURL leaves.
	BackURL   string
	CancelURL string
}

// MFAPush is the data of the "mfa_push" page: a push request sent to the
// user's device, which they approve by picking Number there.
type MFAPush struct {
	Page
	Email string
	// Number is what the user must pick on the device.
	Number int
	// Action continues once the device approved (a form, so it works
	// without scripts); StatusURL is polled by ScriptURL, which submits
	// the form once the answer is in.
	Action    string
	StatusURL string
	ScriptURL string
	CSRFToken string
	// RememberDays, when positive, offers "remember this device".
	RememberDays int
	Error        string
	BackURL      string
	CancelURL    string
}

// WebAuthnButton runs a WebAuthn ceremony with the webauthn.js asset: it
// POSTs to Begin for the options and to Finish with the authenticator's
// answer, sending CSRFToken as X-CSRF-Token.
type WebAuthnButton struct {
	Label     string
	Kind      string // "register" or "login"
	Begin     string
	Finish    string
	CSRFToken string
	ScriptURL string
}

// MFACodes is the data of the "mfa_codes" page: the recovery codes, shown
// once, and a form to continue.
type MFACodes struct {
	Page
	Codes     []string
	Action    string
	CSRFToken string
}

// Fact is a labelled value.
type Fact struct {
	Label string
	Value string
}

// SignOut is the data of the "sign_out" page: a one-button form that confirms
// a sign-out, so that no cross-site GET can end a session.
type SignOut struct {
	Page
	// Action is the URL the form is POSTed to, e.g. "/.partnergate/logout".
	Action string
	// CSRFToken is sent back in the hidden field "csrf_token".
	CSRFToken string
}

// SignedOut is the data of the "signed_out" page.
type SignedOut struct {
	Page
	// LoginURL is the target of the "Sign in again" link.
	LoginURL string
}

// SetPasswordState selects what the "set_password" page shows.
type SetPasswordState string

const (
	// SetPasswordForm asks for the new password.
	SetPasswordForm SetPasswordState = "form"
	// SetPasswordInvalid says the link cannot be used and shows no form.
	SetPasswordInvalid SetPasswordState = "invalid"
	// SetPasswordDone confirms the password was set.
	SetPasswordDone SetPasswordState = "done"
)

// SetPassword is the data of the "set_password" page, where the link of an
// invitation or a password reset leads.
type SetPassword struct {
	Page
	// State selects the page's content. Any value but SetPasswordForm and
	// SetPasswordDone, the zero value included, shows SetPasswordInvalid,
	// so a forgotten State never offers a form.
	State SetPasswordState
	// Purpose is "invite" for an invitation; anything else reads as a
	// password reset.
	Purpose string
	// Action is the URL the form is POSTed to, e.g. "/.partnergate/password".
	// It must not carry the link's token: the page's URL may be kept in
	// history, the form's target should not add another copy.
	Action string
	// CSRFToken is sent back in the hidden field "csrf_token".
	CSRFToken string
	// Token is the link's secret, sent back in the hidden field "token".
	Token string
	// Email is the account's address, shown read-only so that password
	// managers store the new password under it.
	Email string
	// MinLength, when positive, is the shortest password the rule accepts,
	// in characters; browsers check it before the form is sent.
	MinLength int
	// Error, when set, is shown in an alert region announced to assistive
	// technology, e.g. "The passwords do not match."
	Error string
	// LoginURL is the target of the sign-in link of the invalid and done
	// states.
	LoginURL string
}

//go:embed html/*.html
var pageFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// Assets returns the static files the pages link to (style.css, favicon.svg),
// at the root of the returned file system. Serve it under [Page.AssetPrefix],
// e.g. with http.FileServerFS behind http.StripPrefix. Page links carry a
// content hash in their query (style.css?v=…), so the files can be cached for
// a long time.
func Assets() fs.FS {
	sub, err := fs.Sub(assetFiles, "assets")
	if err != nil {
		panic(err) // "assets" is a valid path embedded at build time
	}
	return sub
}

// Set holds the parsed pages. It is safe for concurrent use.
type Set struct {
	pages map[string]*template.Template
}

// pageData lists each page with a check of the data it accepts.
var pageData = map[string]func(any) bool{
	PageLogin:       accepts[Login],
	PageSignOut:     accepts[SignOut],
	PageSignedOut:   accepts[SignedOut],
	PageSetPassword: accepts[SetPassword],
	PageSSORedirect: accepts[SSORedirect],
	PageSSOPost:     accepts[SSOPost],
	PageSSOError:    accepts[SSOError],
	PageSSOTest:     accepts[SSOTest],
	PageMFA:         accepts[MFA],
	PageAccount:     accepts[AccountSecurity],
	PageNotFound:    accepts[NotFound],
	PageSuspended:   accepts[Suspended],
	PageMFAEnroll:   accepts[MFAEnroll],
	PageMFACodes:    accepts[MFACodes],
	PageMFASMS:      accepts[MFASMS],
	PageMFAPush:     accepts[MFAPush],
}

// accepts reports whether data is a T or a non-nil *T.
func accepts[T any](data any) bool {
	switch d := data.(type) {
	case T:
		return true
	case *T:
		return d != nil
	}
	return false
}

// Parse parses every page with the shared layout. Call it once at start-up.
func Parse() (*Set, error) { return ParseWith(nil) }

// ParseWith is Parse with an operator's overrides: a file of overrides
// named like an embedded page (login.html, layout.html, …) replaces that
// page; the others stay the product's. Overrides are the operator's own
// markup, trusted as the product's is; partners never supply any.
func ParseWith(overrides fs.FS) (*Set, error) {
	versions, err := assetVersions()
	if err != nil {
		return nil, err
	}
	funcs := template.FuncMap{
		"initial": initial,
		"asset": func(prefix, name string) (string, error) {
			v, ok := versions[name]
			if !ok {
				return "", fmt.Errorf("templates: no asset %q", name)
			}
			if !strings.HasSuffix(prefix, "/") {
				prefix += "/"
			}
			return prefix + name + "?v=" + v, nil
		},
	}
	source := func(file string) (fs.FS, string) {
		if overrides != nil {
			if _, err := fs.Stat(overrides, file); err == nil {
				return overrides, file
			}
		}
		return pageFiles, "html/" + file
	}
	fsys, file := source("layout.html")
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(fsys, file)
	if err != nil {
		return nil, fmt.Errorf("templates: layout: %w", err)
	}
	s := &Set{pages: make(map[string]*template.Template, len(pageData))}
	for name := range pageData {
		fsys, file := source(name + ".html")
		t, err := template.Must(layout.Clone()).ParseFS(fsys, file)
		if err != nil {
			return nil, fmt.Errorf("templates: page %s: %w", name, err)
		}
		s.pages[name] = t
	}
	return s, nil
}

// Render writes page name with data to w. Data must be the page's type (or a
// non-nil pointer to it): [Login] for "login", [SignOut] for "sign_out",
// [SignedOut] for "signed_out", [SetPassword] for "set_password".
// The page is rendered in full before anything is written, so an error never
// leaves half a page behind.
func (s *Set) Render(w io.Writer, name string, data any) error {
	t, ok := s.pages[name]
	if !ok {
		return fmt.Errorf("templates: no page %q", name)
	}
	if !pageData[name](data) {
		return fmt.Errorf("templates: page %q cannot render %T", name, data)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return fmt.Errorf("templates: page %s: %w", name, err)
	}
	_, err := buf.WriteTo(w)
	return err
}

// assetVersions maps each asset's name to a short hash of its content.
func assetVersions() (map[string]string, error) {
	versions := map[string]string{}
	err := fs.WalkDir(Assets(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Assets(), name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		versions[name] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("templates: assets: %w", err)
	}
	if len(versions) == 0 {
		return nil, errors.New("templates: no assets embedded")
	}
	return versions, nil
}

// initial returns the monogram letter for a display name: its first letter or
// digit, upper-cased, or its first visible character if it has neither.
func initial(name string) string {
	var first rune = utf8.RuneError
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
		if first == utf8.RuneError && unicode.IsGraphic(r) && !unicode.IsSpace(r) {
			first = r
		}
	}
	if first == utf8.RuneError {
		return ""
	}
	return string(first)
}
