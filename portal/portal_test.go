package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
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
