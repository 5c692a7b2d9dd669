package portal

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestPartnerAdminSeesOverview(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		res := b.get("/")
		if res.status != http.StatusOK {
			t.Fatalf("overview: %d\n%s", res.status, res.body)
		}
		for _, want := range []string{"Acme Corp", "acme.apps.localhost", "Not connected", "No identity provider is connected yet", `aria-current="page">Overview`} {
			if !strings.Contains(res.body, want) {
				t.Errorf("overview lacks %q", want)
			}
		}
	})
}

func TestSignedOutVisitorsAreSentToSignIn(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	res := e.browser("acme." + testBase).get("/users")
	if res.status != http.StatusFound || res.header.Get("Location") != "/.partnergate/login?return_to=%2F.partnergate%2Fadmin%2F" {
		t.Errorf("partner host without a session: %d Location %q", res.status, res.header.Get("Location"))
	}
	res = e.browser(adminHost).get("/partners")
	if res.status != http.StatusFound || res.header.Get("Location") != "/sign-in" {
		t.Errorf("admin host without a session: %d Location %q", res.status, res.header.Get("Location"))
	}
}

func TestPlainUserIsRefused(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.signedIn("acme", e.user("acme", "bob@acme.test"))
	res := b.get("/")
	if res.status != http.StatusForbidden || !strings.Contains(res.body, "not an admin of this partner") {
		t.Errorf("plain user: %d\n%s", res.status, res.body)
	}
}

func TestOperatorSignIn(t *testing.T) {
	e := newEnv(t, "bolt")
	b := e.browser(adminHost)
	res := b.post("/sign-in", url.Values{"key": {"not-the-operator-key-at-all"}})
	if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "not an operator key") || len(b.cookies) != 0 {
		t.Errorf("wrong key: %d cookies %v\n%s", res.status, b.cookies, res.body)
	}
	res = b.post("/sign-in", url.Values{"key": {testKey}})
	if res.status != http.StatusSeeOther || b.cookies[cookieName] == "" {
		t.Fatalf("right key: %d", res.status)
	}
	if strings.Contains(b.cookies[cookieName], testKey) {
		t.Error("the portal cookie carries the operator key in clear")
	}
	plain, err := e.portal.box.Open(mustDecode(t, b.cookies[cookieName]), []byte(sealedPurpose))
	if err != nil || strings.Contains(string(plain), testKey) || !strings.Contains(string(plain), "pgos.") {
		t.Errorf("the sealed cookie holds %q (%v), want an operator session and not the key", plain, err)
	}
	// A forged cookie is no session.
	forged := e.browser(adminHost)
	forged.cookies[cookieName] = b.cookies[cookieName][:len(b.cookies[cookieName])-2] + "AA"
	if res := forged.get("/governance"); res.status != http.StatusFound {
		t.Errorf("forged cookie: %d", res.status)
	}
	// A partner host never reads the portal's operator cookie.
	e.partner("acme")
	on := e.browser("acme." + testBase)
	on.cookies[cookieName] = b.cookies[cookieName]
	if res := on.get("/"); res.status != http.StatusFound || !strings.HasPrefix(res.header.Get("Location"), "/.partnergate/login") {
		t.Errorf("operator cookie on a partner host: %d %s", res.status, res.header.Get("Location"))
	}
}

func TestFormsNeedTheCSRFToken(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		for _, csrf := range []string{"", "forged"} {
			res := b.post("/sign-out", url.Values{"csrf": {csrf}})
			if res.status != http.StatusForbidden {
				t.Errorf("sign-out with csrf %q: %d", csrf, res.status)
			}
		}
		if res := b.get("/"); res.status != http.StatusOK {
			t.Errorf("still signed in after refused sign-outs: %d", res.status)
		}
	})
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t, "bolt")
	res := e.browser(adminHost).get("/sign-in")
	csp := res.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "script-src 'self'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if res.header.Get("Referrer-Policy") != "no-referrer" || res.header.Get("X-Frame-Options") != "DENY" {
		t.Errorf("headers: %v", res.header)
	}
}

func TestAssetsAreFilesOnly(t *testing.T) {
	e := newEnv(t, "bolt")
	b := e.browser(adminHost)
	if res := b.get("/assets/portal.css"); res.status != http.StatusOK || !strings.Contains(res.body, "--accent") {
		t.Errorf("portal.css: %d", res.status)
	}
	for _, p := range []string{"/assets/", "/assets/missing.css", "/assets/../portal.go"} {
		if res := b.get(p); res.status == http.StatusOK {
			t.Errorf("%s answers 200:\n%s", p, res.body)
		}
	}
}

// setupLink creates a setup link for partnerID as the operator and
// returns its token.
func (e *env) setupLink(partnerID string) string {
	e.t.Helper()
	var out struct {
		Token string `json:"token"`
	}
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/setup-links", map[string]any{"name": "IT"}, &out)
	return out.Token
}

func TestCrossSiteFormsCannotStartSessions(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	token := e.setupLink("acme")
	for _, h := range []http.Header{
		{"Origin": {"https://evil.example"}},
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://" + adminHost}},
	} {
		b := e.browser(adminHost)
		for path, form := range map[string]url.Values{"/setup": {"token": {token}}, "/sign-in": {"key": {testKey}}} {
			r := httptest.NewRequest("POST", "http://"+adminHost+path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range h {
				r.Header[k] = v
			}
			if res := b.do(r); res.status != http.StatusForbidden || len(b.cookies) != 0 {
				t.Errorf("%s with %v: %d, cookies %v", path, h, res.status, b.cookies)
			}
		}
	}
	// The link was not used up by the refused posts.
	b := e.browser(adminHost)
	r := httptest.NewRequest("POST", "http://"+adminHost+"/setup", strings.NewReader(url.Values{"token": {token}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if res := b.do(r); res.status != http.StatusSeeOther {
		t.Errorf("same-origin setup after the refusals: %d\n%s", res.status, res.body)
	}
}

func TestSetupLinkDoesNotReplaceAnOperatorSession(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	token := e.setupLink("acme")
	op := e.operator()
	if res := op.post("/setup", url.Values{"token": {token}}); res.status != http.StatusConflict || !strings.Contains(res.body, "signed in here as an operator") {
		t.Errorf("setup over an operator session: %d", res.status)
	}
	if res := op.get("/"); res.status != http.StatusOK || !strings.Contains(res.body, "Platform operator") {
		t.Errorf("the operator session did not survive: %d", res.status)
	}
	it := e.browser(adminHost)
	if res := it.post("/setup", url.Values{"token": {token}}); res.status != http.StatusSeeOther {
		t.Errorf("the link was used up by the refused attempt: %d", res.status)
	}
}

func TestSecureSessionCookieIsHostOnly(t *testing.T) {
	e := newEnv(t, "bolt", func(c *Config) { c.InsecureCookies = false })
	r := httptest.NewRequest("POST", "https://"+adminHost+"/sign-in", strings.NewReader(url.Values{"key": {testKey}}.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	e.serve(w, r)
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("cookies %v", cookies)
	}
	c := cookies[0]
	if c.Name != "__Host-pg_portal" || c.Path != "/" || c.Domain != "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
		t.Errorf("session cookie %+v", c)
	}
}

func TestUnclaimedHostsServeNoPortal(t *testing.T) {
	e := newEnv(t, "bolt", func(c *Config) {
		c.AdminSite = func(r *http.Request) bool { return r.Host == adminHost }
	})
	e.partner("acme")
	token := e.setupLink("acme")
	b := e.browser("nobody." + testBase)
	for _, res := range []response{b.get("/sign-in"), b.get("/setup?token=" + token), b.post("/setup", url.Values{"token": {token}}), b.post("/sign-in", url.Values{"key": {testKey}}), b.get("/")} {
		if res.status != http.StatusNotFound || len(b.cookies) != 0 {
			t.Errorf("unclaimed host: %d, cookies %v", res.status, b.cookies)
		}
	}
	if res := e.browser(adminHost).post("/setup", url.Values{"token": {token}}); res.status != http.StatusSeeOther {
		t.Errorf("the link was used up on the unclaimed host: %d", res.status)
	}
}

func mustDecode(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSignOutEndsTheSessionOnTheServer: a copy of the portal cookie
// taken before signing out works no more after it.
func TestSignOutEndsTheSessionOnTheServer(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	token := e.setupLink("acme")
	setup := e.browser(adminHost)
	if res := setup.post("/setup", url.Values{"token": {token}}); res.status != http.StatusSeeOther {
		t.Fatalf("redeem: %d", res.status)
	}
	for who, b := range map[string]*browser{"operator": e.operator(), "setup viewer": setup} {
		copied := e.browser(adminHost)
		copied.cookies[cookieName] = b.cookies[cookieName]
		if res := copied.get("/"); res.status != http.StatusOK {
			t.Fatalf("%s: the copied cookie does not work before sign-out: %d", who, res.status)
		}
		if res := b.form("/", "/sign-out", nil); res.status != http.StatusSeeOther || b.cookies[cookieName] != "" {
			t.Errorf("%s sign-out: %d, cookie %q", who, res.status, b.cookies[cookieName])
		}
		if res := copied.get("/"); res.status != http.StatusFound || res.header.Get("Location") != "/sign-in" {
			t.Errorf("%s: the copied cookie still works after sign-out: %d", who, res.status)
		}
	}
}

// TestOperatorCookieHoldingAKeyIsNoSession: a sealed cookie carrying an
// operator key itself, as no sign-in writes one, opens nothing.
func TestOperatorCookieHoldingAKeyIsNoSession(t *testing.T) {
	e := newEnv(t, "bolt")
	w := httptest.NewRecorder()
	if err := e.portal.setSession(w, sealed{Kind: "operator", Secret: testKey, Expires: time.Now().Add(time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	b := e.browser(adminHost)
	b.cookies[cookieName] = w.Result().Cookies()[0].Value
	if res := b.get("/"); res.status != http.StatusFound || res.header.Get("Location") != "/sign-in" {
		t.Errorf("a cookie holding the operator key: %d %s", res.status, res.header.Get("Location"))
	}
}

// TestSignOutKeepsTheCookieWhenTheServerCannotEndIt: if the session
// cannot be ended on the server, the page says so and the browser keeps
// the cookie to try again, rather than pretending to have signed out.
func TestSignOutKeepsTheCookieWhenTheServerCannotEndIt(t *testing.T) {
	var down bool
	e := newEnv(t, "bolt", func(c *Config) {
		api := c.API
		c.API = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down && r.Method == http.MethodDelete {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = w.Write([]byte(`{"error":{"code":"unavailable","message":"storage is unavailable; retry shortly"}}`))
				return
			}
			api.ServeHTTP(w, r)
		})
	})
	op := e.operator()
	down = true
	if res := op.form("/", "/sign-out", nil); res.status != http.StatusServiceUnavailable || op.cookies[cookieName] == "" {
		t.Errorf("sign-out while the store is down: %d, cookie kept %v", res.status, op.cookies[cookieName] != "")
	}
	down = false
	if res := op.form("/", "/sign-out", nil); res.status != http.StatusSeeOther || op.cookies[cookieName] != "" {
		t.Errorf("sign-out once the store is back: %d", res.status)
	}
}
