package gateway_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/store"
)

const suspendedNotice = "This organization’s access is suspended. Contact your administrator."

// setSuspended stores the partner's suspension and reloads the directory,
// as the admin API's event does on every node. It ends no session: the
// gateway must refuse a suspended partner's sessions on its own.
func (e *ssoEnv) setSuspended(t *testing.T, partner string, suspended bool) {
	t.Helper()
	_, err := e.st.UpdatePartner(t.Context(), partner, func(p store.Partner) (store.Partner, error) {
		p.Suspended = suspended
		return p, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.cfg.Directory.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestSuspendedPartner checks a suspended partner's site answers every
// request with the notice, whatever the request carries: a live session
// reaches no app, a sign-in or an SSO callback under way finishes none.
// Another partner is untouched, and once resumed the site signs in again.
func TestSuspendedPartner(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme", "globex")
		e.mfaUser(t, "acme")
		op, c := e.oidcConn(t, "acme", "zitadel", true)

		signedIn := e.browser(t)
		if app := signedIn.passwordStep(t, e, "ann@acme.example", mfaPassword); app.status != http.StatusOK || app.url.Path != "/inbox" {
			t.Fatalf("sign-in before the suspension: %d at %s", app.status, app.url)
		}
		// An SSO sign-in that left for the IdP before the suspension and
		// comes back after it.
		midway := e.browser(t)
		midway.stop = func(u *url.URL) bool { return u.Path == callbackPath }
		p := midway.oidcLogin(t, op, e.url("acme", startPath+c.ID))
		callback := resolve(t, p.url, p.header.Get("Location"))
		midway.stop = nil
		// A password sign-in whose form was loaded before.
		login := midway.get(t, e.url("acme", "/.partnergate/login"))
		form, ok := findForm(login.body, "password")
		if !ok {
			t.Fatalf("no login form:\n%s", login.body)
		}
		form.fields.Set("email", "ann@acme.example")
		form.fields.Set("password", mfaPassword)

		e.setSuspended(t, "acme", true)

		suspended := func(what string, p page) {
			t.Helper()
			if p.status != http.StatusForbidden || !strings.Contains(p.body, suspendedNotice) {
				t.Errorf("%s: %d at %s, want 403 and the notice:\n%s", what, p.status, p.url, p.body)
			}
			if strings.Contains(p.body, "X-Auth-User") {
				t.Errorf("%s reached the app", what)
			}
			if got := p.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("%s: Cache-Control %q, want no-store", what, got)
			}
		}
		suspended("the app with a live session", signedIn.get(t, e.url("acme", "/inbox")))
		suspended("the app without a session", e.browser(t).get(t, e.url("acme", "/")))
		suspended("the SSO callback", midway.get(t, callback))
		suspended("a password sign-in", midway.submitForm(t, login, form))
		for _, path := range []string{
			"/.partnergate/login", "/.partnergate/logout", "/.partnergate/mfa", "/.partnergate/account/security",
			startPath + c.ID, "/.partnergate/nowhere",
		} {
			suspended(path, signedIn.get(t, e.url("acme", path)))
		}
		suspended("a SAML response", signedIn.post(t, e.url("acme", "/.partnergate/saml/acs"), url.Values{"SAMLResponse": {"x"}}))
		if n := midway.sessionsIssued(); n != 0 {
			t.Errorf("%d sessions issued while suspended", n)
		}
		// An API client gets the refusal in plain words, not a page.
		req, _ := http.NewRequest(http.MethodGet, e.url("acme", "/api/orders"), nil)
		req.Header.Set("Accept", "application/json")
		if p := signedIn.do(t, req); p.status != http.StatusForbidden ||
			!strings.HasPrefix(p.header.Get("Content-Type"), "text/plain") || !strings.Contains(p.body, "suspended") {
			t.Errorf("the app as an API client: %d %q %q, want 403 in plain text", p.status, p.header.Get("Content-Type"), p.body)
		}
		// The notice is drawn with the site's own files.
		if css := signedIn.get(t, e.url("acme", "/.partnergate/assets/style.css")); css.status != http.StatusOK {
			t.Errorf("stylesheet while suspended: %d", css.status)
		}
		if other := e.browser(t).get(t, e.url("globex", "/.partnergate/login")); other.status != http.StatusOK {
			t.Errorf("another partner's login page: %d", other.status)
		}

		e.setSuspended(t, "acme", false)
		again := e.browser(t)
		if app := again.passwordStep(t, e, "ann@acme.example", mfaPassword); app.status != http.StatusOK || app.url.Path != "/inbox" {
			t.Fatalf("sign-in after resuming: %d at %s:\n%s", app.status, app.url, app.body)
		}
		if who, status := again.whoami(t, e, "acme"); status != http.StatusOK || who["X-Auth-User"] != "u-ann" {
			t.Errorf("the app after resuming: %d %v", status, who)
		}
	})
}
