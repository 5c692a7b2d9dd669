package portal

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ssoSetupBrowser is a browser on the admin host holding the setup
// session of a setup link the operator issued for the partner.
func (e *env) ssoSetupBrowser(partnerID string) *browser {
	e.t.Helper()
	var link struct {
		Token string `json:"token"`
	}
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/setup-links", map[string]any{"name": "IT admin"}, &link)
	b := e.browser(adminHost)
	if res := b.post("/setup", url.Values{"token": {link.Token}}); res.status != http.StatusSeeOther {
		e.t.Fatalf("redeem setup link: %d\n%s", res.status, res.body)
	}
	return b
}

type ssoAPIConnection struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Preset  string   `json:"preset"`
	Enabled bool     `json:"enabled"`
	Domains []string `json:"domains"`
	OIDC    *struct {
		Issuer          string `json:"issuer"`
		ClientID        string `json:"client_id"`
		ClientSecretSet bool   `json:"client_secret_set"`
	} `json:"oidc"`
}

func (e *env) ssoConnections(partnerID string) []ssoAPIConnection {
	e.t.Helper()
	var out list[ssoAPIConnection]
	e.apiJSON("GET", "/api/v1/partners/"+partnerID+"/sso-connections", nil, &out)
	return out.Data
}

// ssoOIDCConnection creates an inactive OIDC connection through the API.
func (e *env) ssoOIDCConnection(partnerID, name string) string {
	e.t.Helper()
	var c ssoAPIConnection
	e.apiJSON("POST", "/api/v1/partners/"+partnerID+"/sso-connections", map[string]any{
		"name": name, "preset": "generic-oidc",
		"oidc": map[string]string{"issuer": "https://idp.example.com", "client_id": "portal", "client_secret": "s3cret-value"},
	}, &c)
	return c.ID
}

func ssoPageHas(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(body, want) {
			t.Errorf("%s lacks %q", what, want)
		}
	}
}

const ssoClientSecret = "very-secret-client-value-42"

func ssoOIDCForm(issuer string) url.Values {
	return url.Values{
		"protocol": {"oidc"}, "name": {"Acme Okta"}, "domains": {"acme.test, acme.example"},
		"issuer": {issuer}, "client_id": {"client-1"}, "client_secret": {ssoClientSecret}, "jit": {"on"},
	}
}

func TestSSOWizard(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")

		res := b.get("/sso")
		if res.status != http.StatusOK {
			t.Fatalf("/sso: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "empty SSO page", res.body, "No identity provider is connected yet", `href="/.partnergate/admin/sso/new"`)

		res = b.get("/sso/new")
		ssoPageHas(t, "provider step", res.body, `aria-current="step">Choose your provider`, `class="provider" href="/.partnergate/admin/sso/new/okta"`,
			"Microsoft Entra ID", "Google Workspace", "/sso/new/generic-saml", "/sso/new/generic-oidc")

		res = b.get("/sso/new/okta")
		if res.status != http.StatusOK {
			t.Fatalf("okta step: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "okta OIDC step", res.body, `aria-current="step">Connect it`, "http://acme.apps.localhost/.partnergate/callback/oidc",
			`data-copy="copy-1-0"`, `name="client_secret" type="password"`, "Use SAML 2.0 instead")
		res = b.get("/sso/new/okta?protocol=saml")
		ssoPageHas(t, "okta SAML step", res.body, "http://acme.apps.localhost/.partnergate/saml/acs",
			"http://acme.apps.localhost/.partnergate/saml/metadata", `name="metadata_url"`, `name="metadata_xml"`, `name="certificates"`)
		if res := b.get("/sso/new/nope"); res.status != http.StatusNotFound {
			t.Errorf("unknown preset: %d", res.status)
		}

		// A refused create keeps the form, names the field, and creates nothing.
		res = b.form("/sso/new/okta", "/sso/new/okta", ssoOIDCForm("http://idp.example.com"))
		if res.status != http.StatusUnprocessableEntity && res.status != http.StatusBadRequest {
			t.Fatalf("bad issuer: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "refused create", res.body, "oidc.issuer must be an https URL", `id="issuer-error"`, `value="client-1"`, `value="acme.test, acme.example"`)
		if strings.Contains(res.body, ssoClientSecret) {
			t.Error("the refused form echoes the client secret")
		}
		if got := e.ssoConnections("acme"); len(got) != 0 {
			t.Errorf("a refused create made %v", got)
		}

		res = b.form("/sso/new/okta", "/sso/new/okta", ssoOIDCForm("https://acme.okta.com"))
		if res.status != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", res.status, res.body)
		}
		conns := e.ssoConnections("acme")
		if len(conns) != 1 || conns[0].Enabled || conns[0].OIDC == nil || conns[0].OIDC.Issuer != "https://acme.okta.com" || !conns[0].OIDC.ClientSecretSet || conns[0].Preset != "okta" {
			t.Fatalf("created: %+v", conns)
		}
		id := conns[0].ID
		if loc := res.header.Get("Location"); !strings.HasPrefix(loc, "/.partnergate/admin/sso/"+id) {
			t.Errorf("create redirects to %q", loc)
		}

		res = b.get("/sso/" + id)
		if res.status != http.StatusOK {
			t.Fatalf("connection page: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "connection page", res.body, "Acme Okta", "Not active", `aria-current="step">Test and activate`,
			"https://acme.okta.com", "http://acme.apps.localhost/.partnergate/callback/oidc", "Test sign-in", "Require single sign-on", "No failed sign-ins")
		if strings.Contains(res.body, ssoClientSecret) {
			t.Error("the connection page shows the client secret")
		}
		listing := b.get("/sso")
		ssoPageHas(t, "SSO list", listing.body, "Acme Okta", "Okta", "Not active", "acme.example, acme.test")

		// The test sign-in hands over a single-use link.
		res = b.form("/sso/"+id, "/sso/"+id+"/test", nil)
		if res.status != http.StatusOK {
			t.Fatalf("test: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "test page", res.body, `target="_blank" rel="noopener"`, "Open the test sign-in in a new tab", "http://acme.apps.localhost/.partnergate/sso/test?ticket=", "claims")

		// Activation enables it and requires SSO in the policy.
		res = b.form("/sso/"+id, "/sso/"+id+"/activate", url.Values{"require_sso": {"on"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("activate: %d\n%s", res.status, res.body)
		}
		if c := e.ssoConnections("acme"); !c[0].Enabled {
			t.Error("activate left the connection disabled")
		}
		var pol struct {
			Policy struct {
				SSORequired bool `json:"sso_required"`
			} `json:"policy"`
		}
		e.apiJSON("GET", "/api/v1/partners/acme/policy", nil, &pol)
		if !pol.Policy.SSORequired {
			t.Error("activate with the box checked did not require SSO")
		}
		res = b.get(res.header.Get("Location")[len(partnerPath):])
		ssoPageHas(t, "active connection", res.body, "single sign-on is now required", "Deactivate Acme Okta")

		res = b.form("/sso/"+id, "/sso/"+id+"/deactivate", nil)
		if res.status != http.StatusSeeOther || e.ssoConnections("acme")[0].Enabled {
			t.Errorf("deactivate: %d", res.status)
		}

		res = b.get("/sso/" + id + "/delete")
		ssoPageHas(t, "delete confirmation", res.body, "Delete Acme Okta?", `action="/.partnergate/admin/sso/`+id+`/delete"`)
		if got := e.ssoConnections("acme"); len(got) != 1 {
			t.Fatal("the confirmation page deleted the connection")
		}
		res = b.form("/sso/"+id+"/delete", "/sso/"+id+"/delete", nil)
		if res.status != http.StatusSeeOther || len(e.ssoConnections("acme")) != 0 {
			t.Errorf("delete: %d, left %v", res.status, e.ssoConnections("acme"))
		}
	})
}

func TestSSOActivateWithoutRequiringSSO(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	id := e.ssoOIDCConnection("acme", "Plain")
	if res := b.form("/sso/"+id, "/sso/"+id+"/activate", nil); res.status != http.StatusSeeOther {
		t.Fatalf("activate: %d\n%s", res.status, res.body)
	}
	var pol struct {
		Policy map[string]any `json:"policy"`
	}
	e.apiJSON("GET", "/api/v1/partners/acme/policy", nil, &pol)
	if _, set := pol.Policy["sso_required"]; set || !e.ssoConnections("acme")[0].Enabled {
		t.Errorf("policy %v, connections %+v", pol.Policy, e.ssoConnections("acme"))
	}
}

func TestSSOSAMLConnection(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	form := url.Values{"protocol": {"saml"}, "name": {"Entra SAML"}, "metadata_url": {"https://login.microsoftonline.com/t/federationmetadata.xml"}}
	res := b.form("/sso/new/entra?protocol=saml", "/sso/new/entra", form)
	if res.status != http.StatusSeeOther {
		t.Fatalf("create: %d\n%s", res.status, res.body)
	}
	id := e.ssoConnections("acme")[0].ID
	res = b.get("/sso/" + id)
	ssoPageHas(t, "SAML connection", res.body, "SAML", "http://acme.apps.localhost/.partnergate/saml/acs",
		`href="http://acme.apps.localhost/.partnergate/saml/metadata?connection=`+id+`"`, "Download the service provider metadata")

	// Two ways of describing the IdP at once are refused beside the field.
	form.Set("entity_id", "urn:idp")
	res = b.form("/sso/new/entra?protocol=saml", "/sso/new/entra", form)
	ssoPageHas(t, "refused SAML create", res.body, `id="metadata_url-error"`, "describe the IdP one way", `value="urn:idp"`)
	if len(e.ssoConnections("acme")) != 1 {
		t.Error("the refused create made a connection")
	}
}

func TestSSOPartnerIsolation(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.partner("bravo")
		id := e.ssoOIDCConnection("bravo", "Bravo IdP")
		a := e.partnerAdmin("acme", "ann@acme.test")
		for _, path := range []string{"/sso/" + id, "/sso/" + id + "/delete"} {
			if res := a.get(path); res.status != http.StatusNotFound || strings.Contains(res.body, "Bravo IdP") {
				t.Errorf("GET %s as acme: %d", path, res.status)
			}
		}
		for _, path := range []string{"/sso/" + id + "/activate", "/sso/" + id + "/test", "/sso/" + id + "/delete"} {
			if res := a.form("/sso", path, nil); res.status != http.StatusNotFound {
				t.Errorf("POST %s as acme: %d", path, res.status)
			}
		}
		if c := e.ssoConnections("bravo"); len(c) != 1 || c[0].Enabled {
			t.Errorf("bravo's connection changed: %+v", c)
		}
		if res := a.get("/sso"); strings.Contains(res.body, "Bravo IdP") {
			t.Error("acme's list shows bravo's connection")
		}
	})
}

func TestSSOForgedCSRFChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		id := e.ssoOIDCConnection("acme", "Okta")
		for _, csrf := range []string{"", "forged"} {
			form := ssoOIDCForm("https://acme.okta.com")
			form.Set("csrf", csrf)
			if res := b.post("/sso/new/okta", form); res.status != http.StatusForbidden {
				t.Errorf("create with csrf %q: %d", csrf, res.status)
			}
			for _, path := range []string{"/activate", "/delete"} {
				if res := b.post("/sso/"+id+path, url.Values{"csrf": {csrf}}); res.status != http.StatusForbidden {
					t.Errorf("%s with csrf %q: %d", path, csrf, res.status)
				}
			}
		}
		if c := e.ssoConnections("acme"); len(c) != 1 || c[0].Enabled {
			t.Errorf("forged forms changed the connections: %+v", c)
		}
	})
}

func TestSSOEscapesNames(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	id := e.ssoOIDCConnection("acme", "<script>alert(1)</script>")
	for _, path := range []string{"/sso", "/sso/" + id, "/sso/" + id + "/delete"} {
		res := b.get(path)
		if strings.Contains(res.body, "<script>alert(1)") || !strings.Contains(res.body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Errorf("%s does not escape the name:\n%s", path, res.body)
		}
	}
}

func TestSSOSetupViewer(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.partner("bravo")
		other := e.ssoOIDCConnection("bravo", "Bravo IdP")
		b := e.ssoSetupBrowser("acme")
		res := b.get("/sso/new/generic-oidc")
		if res.status != http.StatusOK {
			t.Fatalf("setup viewer wizard: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "setup wizard", res.body, "http://acme.apps.localhost/.partnergate/callback/oidc", `aria-current="page">Single sign-on`)
		res = b.form("/sso/new/generic-oidc", "/sso/new/generic-oidc", ssoOIDCForm("https://idp.example.com"))
		if res.status != http.StatusSeeOther {
			t.Fatalf("setup viewer create: %d\n%s", res.status, res.body)
		}
		id := e.ssoConnections("acme")[0].ID
		res = b.get("/sso/" + id)
		if res.status != http.StatusOK || strings.Contains(res.body, `name="require_sso"`) {
			t.Errorf("setup viewer connection page: %d (a setup link cannot change the policy, so no box)", res.status)
		}
		if res := b.form("/sso/"+id, "/sso/"+id+"/activate", nil); res.status != http.StatusSeeOther || !e.ssoConnections("acme")[0].Enabled {
			t.Errorf("setup viewer activate: %d", res.status)
		}
		if res := b.get("/sso/" + other); res.status != http.StatusNotFound {
			t.Errorf("setup viewer reaches another partner's connection: %d", res.status)
		}
		for _, path := range []string{"/users", "/policy", "/audit"} {
			if res := b.get(path); res.status != http.StatusNotFound {
				t.Errorf("setup viewer GET %s: %d", path, res.status)
			}
		}
	})
}
