package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/store"
)

const mfaPassword = "a long enough password"

// mfaUser creates ann with a password in the partner.
func (e *ssoEnv) mfaUser(t *testing.T, partner string) store.User {
	t.Helper()
	hash, err := password.Hash(mfaPassword)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: "u-ann", PartnerID: partner, Email: "ann@acme.example", Name: "Ann", PasswordHash: hash, Active: true}
	if err := e.st.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// setPolicy stores the partner's policy and lets the gateway know, as the
// admin API's event would.
func (e *ssoEnv) setPolicy(t *testing.T, partner, doc string) {
	t.Helper()
	if err := e.st.PutPolicy(context.Background(), partner, store.PolicyRecord{Policy: json.RawMessage(doc)}); err != nil {
		t.Fatal(err)
	}
	e.policies.HandleEvent(store.Event{Kind: store.PolicyChanged, PartnerID: partner})
}

// passwordStep posts the login form and returns the answer.
func (b *browser) passwordStep(t *testing.T, e *ssoEnv, email, pw string) page {
	t.Helper()
	login := b.get(t, e.url("acme", "/.partnergate/login?return_to=/inbox"))
	f, ok := findForm(login.body, "password")
	if !ok {
		t.Fatalf("no login form:\n%s", login.body)
	}
	f.fields.Set("email", email)
	f.fields.Set("password", pw)
	return b.submitForm(t, login, f)
}

var secretPattern = regexp.MustCompile(`<code[^>]*>([A-Z2-7 ]{20,})</code>`)

func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCode(strings.ReplaceAll(secret, " ", ""), at)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// submitCode posts code in the page's form whose action ends in suffix.
func (b *browser) submitCode(t *testing.T, from page, suffix, value string, remember bool) page {
	t.Helper()
	var f htmlForm
	found := false
	for _, cand := range allForms(from.body) {
		if strings.HasSuffix(cand.action, suffix) {
			f, found = cand, true
		}
	}
	if !found {
		t.Fatalf("no form posting to …%s on %s:\n%s", suffix, from.url, from.body)
	}
	f.fields.Set("code", value)
	if remember {
		f.fields.Set("remember", "on")
	}
	return b.submitForm(t, from, f)
}

// TestMFAEnrolThenChallenge: under a policy requiring MFA, a user without
// a method sets up an authenticator app at sign-in (QR code, first code,
// recovery codes shown once) before any session exists; the next sign-in
// asks for a code, which works once; a recovery code works once too.
func TestMFAEnrolThenChallenge(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		if b.sessionsIssued() != 0 || !strings.HasSuffix(p.url.Path, "/.partnergate/mfa") {
			t.Fatalf("after the password: %d sessions, at %s", b.sessionsIssued(), p.url)
		}
		m := secretPattern.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no setup key on the enrolment page:\n%s", p.body)
		}
		secret := m[1]
		qr := b.get(t, e.url("acme", "/.partnergate/mfa/qr.png"))
		if qr.status != http.StatusOK || qr.header.Get("Content-Type") != "image/png" || !strings.HasPrefix(qr.body, "\x89PNG") {
			t.Errorf("QR code: %d %s", qr.status, qr.header.Get("Content-Type"))
		}
		if wrong := b.submitCode(t, p, "/mfa/enroll", "000000", false); wrong.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
			t.Errorf("a wrong first code: %d, %d sessions", wrong.status, b.sessionsIssued())
		}
		codes := b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		recoveryCodes := regexp.MustCompile(`[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}`).FindAllString(codes.body, -1)
		if len(recoveryCodes) != 10 || b.sessionsIssued() != 0 {
			t.Fatalf("recovery codes page: %d codes, %d sessions:\n%s", len(recoveryCodes), b.sessionsIssued(), codes.body)
		}
		f, ok := findForm(codes.body, "csrf_token")
		if !ok {
			t.Fatal("no continue form")
		}
		if app := b.submitForm(t, codes, f); app.url.Path != "/inbox" || b.sessionsIssued() != 1 {
			t.Fatalf("after saving the codes: at %s, %d sessions", app.url, b.sessionsIssued())
		}
		methods, err := e.st.ListMFAMethods(context.Background(), "acme", ann.ID)
		if err != nil || len(methods) != 2 {
			t.Fatalf("methods stored: %+v, %v", methods, err)
		}
		for _, mm := range methods {
			if strings.Contains(string(mm.Secret), strings.ReplaceAll(secret, " ", "")) || strings.Contains(string(mm.Secret), recoveryCodes[0]) {
				t.Errorf("method %s stores its secret in the clear", mm.Kind)
			}
		}

		// The next sign-in asks for a code; the enrolment's own code is
		// spent, the next step's works once.
		e.clock.Advance(30 * time.Second)
		b2 := e.browser(t)
		p = b2.passwordStep(t, e, ann.Email, mfaPassword)
		if b2.sessionsIssued() != 0 || !strings.Contains(p.body, `autocomplete="one-time-code"`) {
			t.Fatalf("second sign-in did not ask for a code: %s\n%s", p.url, p.body)
		}
		fresh := code(t, secret, e.clock.Now())
		if app := b2.submitCode(t, p, "/mfa/totp", fresh, false); app.url.Path != "/inbox" || b2.sessionsIssued() != 1 {
			t.Fatalf("a right code: at %s, %d sessions", app.url, b2.sessionsIssued())
		}
		b3 := e.browser(t)
		p = b3.passwordStep(t, e, ann.Email, mfaPassword)
		if again := b3.submitCode(t, p, "/mfa/totp", fresh, false); again.status != http.StatusUnauthorized || b3.sessionsIssued() != 0 {
			t.Errorf("the same code twice: %d, %d sessions", again.status, b3.sessionsIssued())
		}
		if app := b3.submitCode(t, p, "/mfa/recovery", strings.ToUpper(recoveryCodes[3]), false); app.url.Path != "/inbox" || b3.sessionsIssued() != 1 {
			t.Fatalf("a recovery code: at %s, %d sessions", app.url, b3.sessionsIssued())
		}
		b4 := e.browser(t)
		p = b4.passwordStep(t, e, ann.Email, mfaPassword)
		if again := b4.submitCode(t, p, "/mfa/recovery", recoveryCodes[3], false); again.status != http.StatusUnauthorized || b4.sessionsIssued() != 0 {
			t.Errorf("a recovery code twice: %d, %d sessions", again.status, b4.sessionsIssued())
		}
	})
}

// TestMFALockoutAndRememberedDevice: wrong codes past the policy's
// threshold are refused even when right; a remembered device skips the
// second step until the policy stops remembering devices.
func TestMFALockoutAndRememberedDevice(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		// Devices are remembered only where the platform allows it.
		if err := e.st.PutGovernance(context.Background(), store.PolicyRecord{Policy: json.RawMessage(`{"session": {"remember_device": "720h"}}`)}); err != nil {
			t.Fatal(err)
		}
		e.policies.HandleEvent(store.Event{Kind: store.GovernanceChanged})
		e.setPolicy(t, "acme", `{"mfa": {"required": true}, "lockout": {"threshold": 3, "duration": "15m"}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		secret := secretPattern.FindStringSubmatch(p.body)[1]
		codes := b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		f, _ := findForm(codes.body, "csrf_token")
		b.submitForm(t, codes, f)

		e.clock.Advance(30 * time.Second)
		attacker := e.browser(t)
		p = attacker.passwordStep(t, e, ann.Email, mfaPassword)
		for range 3 {
			attacker.submitCode(t, p, "/mfa/totp", "123456", false)
		}
		if locked := attacker.submitCode(t, p, "/mfa/totp", code(t, secret, e.clock.Now()), false); locked.status != http.StatusTooManyRequests || attacker.sessionsIssued() != 0 {
			t.Errorf("a right code after 3 wrong ones: %d, %d sessions", locked.status, attacker.sessionsIssued())
		}

		// Fifteen minutes later, the code works and this device is
		// remembered.
		e.clock.Advance(16 * time.Minute)
		if err := e.st.ResetCounter(context.Background(), "acme", "mfa:user:"+ann.ID); err != nil {
			t.Fatal(err)
		}
		phone := e.browser(t)
		p = phone.passwordStep(t, e, ann.Email, mfaPassword)
		if !strings.Contains(p.body, `name="remember"`) {
			t.Fatalf("no remember-this-device choice:\n%s", p.body)
		}
		phone.submitCode(t, p, "/mfa/totp", code(t, secret, e.clock.Now()), true)
		if phone.sessionsIssued() != 1 {
			t.Fatal("no session after the right code")
		}
		if app := phone.passwordStep(t, e, ann.Email, mfaPassword); app.url.Path != "/inbox" || phone.sessionsIssued() != 2 {
			t.Errorf("a remembered device: at %s, %d sessions", app.url, phone.sessionsIssued())
		}
		e.setPolicy(t, "acme", `{"mfa": {"required": true}, "session": {"remember_device": "0s"}}`)
		if p := phone.passwordStep(t, e, ann.Email, mfaPassword); !strings.HasSuffix(p.url.Path, "/mfa") || phone.sessionsIssued() != 2 {
			t.Errorf("after the policy stopped remembering devices: at %s, %d sessions", p.url, phone.sessionsIssued())
		}
	})
}

// TestWebAuthnStepRefusals: the security-key endpoints need the page's
// CSRF token and a ceremony of this very sign-in, and nothing but a
// passed ceremony starts a session.
func TestWebAuthnStepRefusals(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["webauthn", "totp"]}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		m := regexp.MustCompile(`data-csrf="([^"]+)"`).FindStringSubmatch(p.body)
		if m == nil || !strings.Contains(p.body, `data-webauthn="register"`) {
			t.Fatalf("the enrolment page offers no security key:\n%s", p.body)
		}
		csrf := m[1]
		post := func(path, token, body string) page {
			req, _ := http.NewRequest(http.MethodPost, e.url("acme", path), strings.NewReader(body))
			req.Header.Set("X-CSRF-Token", token)
			req.Header.Set("Content-Type", "application/json")
			return b.do(t, req)
		}
		if got := post("/.partnergate/mfa/webauthn/register/begin", "forged", ""); got.status != http.StatusForbidden {
			t.Errorf("begin without the page's token: %d", got.status)
		}
		if got := post("/.partnergate/mfa/webauthn/register/finish", csrf, `{"id":"x"}`); got.status != http.StatusBadRequest {
			t.Errorf("finish without a ceremony: %d", got.status)
		}
		begun := post("/.partnergate/mfa/webauthn/register/begin", csrf, "")
		if begun.status != http.StatusOK || !strings.Contains(begun.body, `"challenge"`) || !strings.Contains(begun.body, `"rp"`) {
			t.Fatalf("begin: %d %s", begun.status, begun.body)
		}
		if got := post("/.partnergate/mfa/webauthn/register/finish", csrf, `{"id":"forged","rawId":"Zm9yZ2Vk","type":"public-key","response":{}}`); got.status != http.StatusUnauthorized {
			t.Errorf("a forged answer: %d %s", got.status, got.body)
		}
		if got := post("/.partnergate/mfa/webauthn/register/finish", csrf, `{"id":"forged"}`); got.status != http.StatusBadRequest {
			t.Errorf("a second answer to one ceremony: %d", got.status)
		}
		if got := b.get(t, e.url("acme", "/.partnergate/mfa/webauthn/done?csrf="+csrf)); got.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
			t.Errorf("done without a passed check: %d, %d sessions", got.status, b.sessionsIssued())
		}
		// Where the policy allows apps only, the endpoints refuse.
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["totp"]}}`)
		if got := post("/.partnergate/mfa/webauthn/register/begin", csrf, ""); got.status != http.StatusForbidden {
			t.Errorf("begin where security keys are not allowed: %d", got.status)
		}
	})
}

// TestPasskeySignInRules: the passkey button follows the policy; where
// passkeys are required a right password signs nobody in; the passkey
// endpoints need the page's token and a ceremony of this browser.
func TestPasskeySignInRules(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		b := e.browser(t)
		login := b.get(t, e.url("acme", "/.partnergate/login"))
		m := regexp.MustCompile(`data-begin="([^"]+)"[^>]*data-csrf="([^"]+)"`).FindStringSubmatch(login.body)
		if m == nil {
			t.Fatalf("no passkey button under the default policy:\n%s", login.body)
		}
		post := func(path, token, body string) page {
			req, _ := http.NewRequest(http.MethodPost, e.url("acme", path), strings.NewReader(body))
			req.Header.Set("X-CSRF-Token", token)
			return b.do(t, req)
		}
		if got := post("/.partnergate/passkey/begin", "forged", ""); got.status != http.StatusForbidden {
			t.Errorf("begin without the page's token: %d", got.status)
		}
		if got := post("/.partnergate/passkey/finish", m[2], `{}`); got.status != http.StatusBadRequest {
			t.Errorf("finish without a ceremony: %d", got.status)
		}
		if got := post(strings.ReplaceAll(m[1], "&amp;", "&"), m[2], ""); got.status != http.StatusOK || !strings.Contains(got.body, `"challenge"`) {
			t.Fatalf("begin: %d %s", got.status, got.body)
		}
		forged := `{"id":"eA","rawId":"eA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA","userHandle":"` +
			base64.RawURLEncoding.EncodeToString([]byte(ann.ID)) + `"}}`
		if got := post("/.partnergate/passkey/finish", m[2], forged); got.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
			t.Errorf("a forged assertion naming ann: %d, %d sessions", got.status, b.sessionsIssued())
		}
		if got := b.get(t, e.url("acme", "/.partnergate/passkey/done")); got.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
			t.Errorf("done without a passed ceremony: %d, %d sessions", got.status, b.sessionsIssued())
		}

		e.setPolicy(t, "acme", `{"password": {"passwordless": "required"}}`)
		login = b.get(t, e.url("acme", "/.partnergate/login"))
		if strings.Contains(login.body, `name="password"`) || !strings.Contains(login.body, "Sign in with a passkey") {
			t.Errorf("under passwordless: required the login page still offers a password or no passkey")
		}
		f, _ := findForm(login.body, "email")
		f.fields.Set("email", ann.Email)
		f.fields.Set("password", mfaPassword)
		if got := b.submitForm(t, login, f); got.status != http.StatusForbidden || b.sessionsIssued() != 0 {
			t.Errorf("a right password where passkeys are required: %d, %d sessions", got.status, b.sessionsIssued())
		}

		e.setPolicy(t, "acme", `{"password": {"passwordless": "off"}}`)
		login = b.get(t, e.url("acme", "/.partnergate/login"))
		if strings.Contains(login.body, "Sign in with a passkey") {
			t.Error("a passkey is offered where the policy turns passkeys off")
		}
		if got := post("/.partnergate/passkey/begin", m[2], ""); got.status != http.StatusForbidden {
			t.Errorf("begin where passkeys are off: %d", got.status)
		}
	})
}

// TestMFAAfterSSO: SSO sign-ins go through the same second step; an IdP
// that says it did MFA itself (OIDC amr) is believed only where the
// policy accepts that.
func TestMFAAfterSSO(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		op := startMiniOP(t, "pg-client")
		c := e.createConnection(t, store.SSOConnection{ID: "mini", PartnerID: "acme", Protocol: "oidc", Preset: "generic-oidc", Enabled: true, JIT: true},
			connection.Config{OIDC: &connection.OIDC{
				Issuer: op.issuer, ClientID: op.clientID, SealedSecret: connection.SealSecret(e.box, "acme", "mini", "s3cret"),
				Scopes: []string{"openid", "email"},
			}, Mapping: oidcMapping})
		signIn := func(amr ...string) (*browser, page) {
			op.mu.Lock()
			op.who = map[string]any{"sub": "user-1", "email": "dana@example.com", "amr": amr}
			op.mu.Unlock()
			b := e.browser(t)
			return b, b.get(t, e.url("acme", startPath+c.ID))
		}
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		b, p := signIn("pwd")
		if b.sessionsIssued() != 0 || !strings.HasSuffix(p.url.Path, "/.partnergate/mfa") {
			t.Errorf("an SSO sign-in with one factor under required MFA: %d sessions, at %s", b.sessionsIssued(), p.url)
		}
		b, p = signIn("pwd", "otp")
		if b.sessionsIssued() != 1 {
			t.Errorf("an IdP's own MFA where the policy accepts it: %d sessions, at %s", b.sessionsIssued(), p.url)
		}
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "accept_idp_mfa": false}}`)
		b, p = signIn("mfa")
		if b.sessionsIssued() != 0 || !strings.HasSuffix(p.url.Path, "/.partnergate/mfa") {
			t.Errorf("an IdP's MFA where the policy does not accept it: %d sessions, at %s", b.sessionsIssued(), p.url)
		}

		// SimpleSAMLphp signs in with a password (its AuthnContext says
		// so): the second step follows, whatever the policy accepts.
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		idp, sc := e.samlConn(t, "acme", "ssp", samlOpts{})
		sb := e.browser(t)
		at, resp := sb.samlLogin(t, idp, e.url("acme", startPath+sc.ID), "alice")
		if got := sb.submitForm(t, at, resp); sb.sessionsIssued() != 0 || !strings.HasSuffix(got.url.Path, "/.partnergate/mfa") {
			t.Errorf("a SAML password sign-in under required MFA: %d sessions, at %s", sb.sessionsIssued(), got.url)
		}
	})
}

// TestAccountSecurityPage: a signed-in user sees their methods and
// removes one they lost, audited as theirs; they cannot reach another
// user's methods, and without a session the page sends them to sign in.
func TestAccountSecurityPage(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		secret := secretPattern.FindStringSubmatch(p.body)[1]
		codes := b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		f, _ := findForm(codes.body, "csrf_token")
		b.submitForm(t, codes, f)

		acct := b.get(t, e.url("acme", "/.partnergate/account/security"))
		if acct.status != http.StatusOK || !strings.Contains(acct.body, "Authenticator app") || !strings.Contains(acct.body, "10 of 10 left") {
			t.Fatalf("account page: %d\n%s", acct.status, acct.body)
		}
		other := store.MFAMethod{ID: "mfa_bob", PartnerID: "acme", UserID: "u-bob", Kind: store.MFATOTP, Name: "Bob's app", CreatedAt: time.Now()}
		if err := e.st.CreateUser(context.Background(), store.User{ID: "u-bob", PartnerID: "acme", Email: "bob@acme.example", Active: true}); err != nil {
			t.Fatal(err)
		}
		if err := e.st.AddMFAMethod(context.Background(), other); err != nil {
			t.Fatal(err)
		}
		remove := func(methodID, token string) page {
			return b.post(t, e.url("acme", "/.partnergate/account/security/remove"), url.Values{"method": {methodID}, "csrf_token": {token}})
		}
		form, _ := findForm(acct.body, "method")
		token := form.fields.Get("csrf_token")
		if got := remove(form.fields.Get("method"), "forged"); got.status != http.StatusForbidden {
			t.Errorf("removal without the page's token: %d", got.status)
		}
		if got := remove("mfa_bob", token); got.status != http.StatusNotFound {
			t.Errorf("removal of another user's method: %d", got.status)
		}
		if _, err := e.st.GetMFAMethod(context.Background(), "acme", "u-bob", "mfa_bob"); err != nil {
			t.Errorf("bob's method after ann's attempt: %v", err)
		}
		methods, _ := e.st.ListMFAMethods(context.Background(), "acme", ann.ID)
		var app string
		for _, m := range methods {
			if m.Kind == store.MFATOTP {
				app = m.ID
			}
		}
		done := remove(app, token)
		if done.status != http.StatusOK || !strings.Contains(done.body, "The method was removed.") || strings.Contains(done.body, "Authenticator app<") {
			t.Errorf("after removing the app: %d\n%s", done.status, done.body)
		}
		if methods, _ := e.st.ListMFAMethods(context.Background(), "acme", ann.ID); len(methods) != 1 || methods[0].Kind != store.MFARecovery {
			t.Errorf("methods left: %+v", methods)
		}
		trail, err := e.cfg.Audit.Query(context.Background(), "acme", audit.Query{Filter: audit.Filter{Action: "user.mfa_remove"}})
		if err != nil || len(trail.Events) != 1 || trail.Events[0].Actor.ID != ann.ID {
			t.Errorf("audit of the removal: %+v, %v", trail.Events, err)
		}
		stranger := e.browser(t)
		if got := stranger.get(t, e.url("acme", "/.partnergate/account/security")); !strings.HasSuffix(got.url.Path, "/.partnergate/login") {
			t.Errorf("without a session the page is at %s", got.url)
		}
	})
}

// TestRememberedDeviceIsForgotten: a remembered device counts only while
// the user's methods and password stay as they were when it was
// remembered. Resetting a method (the answer to a stolen phone) or
// changing the password brings the second step back on that device.
func TestRememberedDeviceIsForgotten(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		if err := e.st.PutGovernance(ctx, store.PolicyRecord{Policy: json.RawMessage(`{"session": {"remember_device": "720h"}}`)}); err != nil {
			t.Fatal(err)
		}
		e.policies.HandleEvent(store.Event{Kind: store.GovernanceChanged})
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		secret := secretPattern.FindStringSubmatch(p.body)[1]
		codes := b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		f, _ := findForm(codes.body, "csrf_token")
		b.submitForm(t, codes, f)

		remember := func() {
			t.Helper()
			e.clock.Advance(30 * time.Second)
			p := b.passwordStep(t, e, ann.Email, mfaPassword)
			before := b.sessionsIssued()
			b.submitCode(t, p, "/mfa/totp", code(t, secret, e.clock.Now()), true)
			if b.sessionsIssued() != before+1 {
				t.Fatal("no session after the right code")
			}
			if app := b.passwordStep(t, e, ann.Email, mfaPassword); app.url.Path != "/inbox" {
				t.Fatalf("the device is not remembered: at %s", app.url)
			}
		}
		asksAgain := func(after string) {
			t.Helper()
			before := b.sessionsIssued()
			if p := b.passwordStep(t, e, ann.Email, mfaPassword); !strings.HasSuffix(p.url.Path, "/mfa") || b.sessionsIssued() != before {
				t.Errorf("after %s the remembered device still skips the second step: at %s", after, p.url)
			}
		}

		remember()
		if _, err := e.st.UpdateUser(ctx, "acme", ann.ID, func(u store.User) (store.User, error) {
			u.PasswordChangedAt = e.clock.Now().Add(time.Second)
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}
		asksAgain("a password change")

		remember()
		methods, err := e.st.ListMFAMethods(ctx, "acme", ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range methods {
			if err := e.st.DeleteMFAMethod(ctx, "acme", ann.ID, m.ID); err != nil {
				t.Fatal(err)
			}
		}
		asksAgain("an MFA reset")
	})
}

// TestRemovingAMethodNeedsAFreshSignIn: a session older than the fresh
// sign-in window cannot remove the user's factors; signing in again can.
func TestRemovingAMethodNeedsAFreshSignIn(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}, "session": {"idle_timeout": "1h"}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		secret := secretPattern.FindStringSubmatch(p.body)[1]
		codes := b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		f, _ := findForm(codes.body, "csrf_token")
		b.submitForm(t, codes, f)

		e.clock.Advance(16 * time.Minute)
		acct := b.get(t, e.url("acme", "/.partnergate/account/security"))
		form, ok := findForm(acct.body, "method")
		if acct.status != http.StatusOK || !ok {
			t.Fatalf("account page after 16 minutes: %d\n%s", acct.status, acct.body)
		}
		got := b.post(t, e.url("acme", "/.partnergate/account/security/remove"), form.fields)
		if got.status != http.StatusForbidden || !strings.Contains(got.body, "sign in again") {
			t.Errorf("removal from a 16-minute-old sign-in: %d", got.status)
		}
		if methods, _ := e.st.ListMFAMethods(ctx, "acme", ann.ID); len(methods) != 2 {
			t.Errorf("methods after the refused removal: %d, want the app and the recovery codes", len(methods))
		}
	})
}
