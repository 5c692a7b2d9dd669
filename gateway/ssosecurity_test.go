package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// TestSSOCookieUnderHTTPS: the browser binding is a __Host- cookie, so a
// sibling partner host cannot plant one; HttpOnly and Lax.
func TestSSOCookieUnderHTTPS(t *testing.T) {
	t.Parallel()
	g := &Gateway{cfg: Config{Prefix: DefaultPrefix}}
	r := httptest.NewRequest(http.MethodGet, "https://acme.apps.example/.partnergate/sso/start", nil)
	w := httptest.NewRecorder()
	value := g.browserBinding(w, r)
	cookies := w.Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("%d cookies set", len(cookies))
	}
	c := cookies[0]
	if c.Name != "__Host-pg_sso" || c.Value != value || c.Path != "/" || c.Domain != "" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.MaxAge != int(flowTTL.Seconds()) {
		t.Errorf("SSO cookie %+v", c)
	}
	// An existing binding is kept, and its life renewed for the new flow.
	r.AddCookie(&http.Cookie{Name: "__Host-pg_sso", Value: value})
	w = httptest.NewRecorder()
	if again := g.browserBinding(w, r); again != value || len(w.Result().Cookies()) != 1 || w.Result().Cookies()[0].MaxAge != int(flowTTL.Seconds()) {
		t.Errorf("existing binding: %q, cookies %+v", again, w.Result().Cookies())
	}
}

// TestSAMLPostPolicyHost: an IdP URL whose host would add a directive to
// the page's Content-Security-Policy is refused, not rendered.
func TestSAMLPostPolicyHost(t *testing.T) {
	t.Parallel()
	tpl, err := templates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{cfg: Config{Prefix: DefaultPrefix, Templates: tpl}}
	p := &Partner{ID: "acme", Name: "Acme"}
	for target, ok := range map[string]bool{
		"https://idp.example.com/sso":                        true,
		"https://idp.example.com:8443/sso":                   true,
		"https://idp.example.com;script-src%20*/sso":         false,
		"https://idp.example.com;script-src *":               false,
		"javascript:alert(1)":                                false,
		"https://idp.example.com,https://evil.example.com/x": false,
	} {
		w := httptest.NewRecorder()
		g.renderSAMLPost(w, httptest.NewRequest(http.MethodGet, "/", nil), p, "IdP", target, map[string]string{"SAMLRequest": "x"})
		csp := w.Header().Get("Content-Security-Policy")
		if ok != (w.Code == http.StatusOK) || (ok && !strings.Contains(csp, "form-action https://idp.example.com")) {
			t.Errorf("%q: status %d, CSP %q", target, w.Code, csp)
		}
		if strings.Contains(csp, "script-src *") || strings.Contains(csp, "evil") {
			t.Errorf("%q widened the policy: %q", target, csp)
		}
	}
}

// unavailableStore answers every user lookup as a store outage.
type unavailableStore struct{ SSOStore }

func (unavailableStore) FindUsersByEmail(context.Context, string, string) ([]store.User, error) {
	return nil, store.ErrUnavailable
}
