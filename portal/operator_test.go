package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func (e *env) partnerExists(id string) bool {
	e.t.Helper()
	var all list[partnerJSON]
	e.apiJSON("GET", "/api/v1/partners", nil, &all)
	for _, p := range all.Data {
		if p.ID == id {
			return true
		}
	}
	return false
}

var setupLinkField = regexp.MustCompile(`value="http://admin\.localhost/setup\?token=([^"]+)" id="setup-link"`)

func TestOperatorCreatesPartnerAndSetupLink(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		op := e.operator()
		if res := op.get("/"); res.status != http.StatusOK || !strings.Contains(res.body, "No partners yet") {
			t.Fatalf("empty partners page: %d\n%s", res.status, res.body)
		}
		res := op.form("/", "/partners", url.Values{"id": {"acme"}, "name": {"Acme <Corp>"}, "hostnames": {"login.acme.test"}})
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/partners/acme?done=partner_created" {
			t.Fatalf("create partner: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		var p partnerJSON
		e.apiJSON("GET", "/api/v1/partners/acme", nil, &p)
		if p.Name != "Acme <Corp>" || len(p.Hostnames) != 1 || p.Hostnames[0] != "login.acme.test" {
			t.Errorf("created %+v", p)
		}
		partners := op.get("/")
		if !strings.Contains(partners.body, "Acme &lt;Corp&gt;") || !strings.Contains(partners.body, "acme.apps.localhost") || !strings.Contains(partners.body, "login.acme.test") {
			t.Errorf("partners page:\n%s", partners.body)
		}
		// A refused create keeps the form and says why.
		res = op.form("/", "/partners", url.Values{"id": {"acme"}, "name": {"Again"}})
		if res.status != http.StatusConflict || !strings.Contains(res.body, "already exists") || !strings.Contains(res.body, `value="Again"`) {
			t.Errorf("duplicate: %d\n%s", res.status, res.body)
		}

		res = op.form("/partners/acme", "/partners/acme/hostnames", url.Values{"hostnames": {"login.acme.test\nsso.acme.test"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("hostnames: %d\n%s", res.status, res.body)
		}
		res = op.form("/partners/acme", "/partners/acme/domains", url.Values{"domain": {"acme.test"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("domain: %d\n%s", res.status, res.body)
		}
		e.apiJSON("GET", "/api/v1/partners/acme", nil, &p)
		if strings.Join(p.Hostnames, ",") != "login.acme.test,sso.acme.test" || strings.Join(p.Domains, ",") != "acme.test" {
			t.Errorf("after edits: %+v", p)
		}

		res = op.form("/partners/acme", "/partners/acme/setup-links", url.Values{"name": {"Jo at Acme"}, "expires_in": {"24h"}})
		if res.status != http.StatusCreated || !strings.Contains(res.body, "shown only once") {
			t.Fatalf("create setup link: %d\n%s", res.status, res.body)
		}
		m := setupLinkField.FindStringSubmatch(res.body)
		if m == nil {
			t.Fatalf("no setup link on the page:\n%s", res.body)
		}
		token := m[1]
		page := op.get("/partners/acme")
		if strings.Contains(page.body, token) || !strings.Contains(page.body, "Jo at Acme") || !strings.Contains(page.body, "Not used yet") {
			t.Errorf("partner page after creating the link:\n%s", page.body)
		}

		// The IT admin redeems it once through the portal.
		it := e.browser(adminHost)
		if res := it.get("/setup?token=" + url.QueryEscape(token)); res.status != http.StatusOK {
			t.Fatalf("open link: %d", res.status)
		}
		if res := it.post("/setup", url.Values{"token": {token}}); res.status != http.StatusSeeOther {
			t.Fatalf("redeem: %d\n%s", res.status, res.body)
		}
		if res := it.get("/branding"); res.status != http.StatusOK || !strings.Contains(res.body, "Acme &lt;Corp&gt;") {
			t.Errorf("setup viewer's branding: %d", res.status)
		}
		for _, path := range []string{"/policy", "/partners/acme", "/governance", "/report"} {
			if res := it.get(path); res.status != http.StatusNotFound {
				t.Errorf("setup viewer GET %s: %d", path, res.status)
			}
		}
		again := e.browser(adminHost)
		if res := again.post("/setup", url.Values{"token": {token}}); res.status != http.StatusBadRequest || !strings.Contains(res.body, "Ask your platform contact for a new one") {
			t.Errorf("second redeem: %d\n%s", res.status, res.body)
		}
		if page := op.get("/partners/acme"); !strings.Contains(page.body, "Setup started") {
			t.Errorf("link not shown redeemed:\n%s", page.body)
		}

		// Revoking ends the setup session.
		var links list[setupLinkJSON]
		e.apiJSON("GET", "/api/v1/partners/acme/setup-links", nil, &links)
		if len(links.Data) != 1 {
			t.Fatalf("links: %+v", links)
		}
		res = op.form("/partners/acme", "/partners/acme/setup-links/"+links.Data[0].ID+"/revoke", nil)
		if res.status != http.StatusSeeOther {
			t.Fatalf("revoke: %d\n%s", res.status, res.body)
		}
		if res := it.get("/branding"); res.status != http.StatusFound {
			t.Errorf("setup session after revocation: %d", res.status)
		}
	})
}

func TestCreatePartnerNeedsCSRF(t *testing.T) {
	e := newEnv(t, "bolt")
	op := e.operator()
	for _, csrf := range []string{"", "forged"} {
		res := op.post("/partners", url.Values{"csrf": {csrf}, "id": {"evil"}, "name": {"Evil"}})
		if res.status != http.StatusForbidden {
			t.Errorf("csrf %q: %d", csrf, res.status)
		}
	}
	if e.partnerExists("evil") {
		t.Error("a forged form created a partner")
	}
}

func TestOperatorPagesAreNotForPartnerAdmins(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	e.partner("beta")
	b := e.partnerAdmin("acme", "ann@acme.test")
	for _, path := range []string{"/partners/acme", "/partners/beta", "/governance", "/report"} {
		if res := b.get(path); res.status != http.StatusNotFound {
			t.Errorf("partner admin GET %s: %d", path, res.status)
		}
	}
	if res := b.form("/", "/partners", url.Values{"id": {"evil"}, "name": {"Evil"}}); res.status != http.StatusNotFound {
		t.Errorf("partner admin creates a partner: %d", res.status)
	}
	if e.partnerExists("evil") {
		t.Error("a partner admin created a partner")
	}
	// The operator's cookie is no session on a partner's host.
	op := e.operator()
	on := e.browser("acme." + testBase)
	on.cookies[cookieName] = op.cookies[cookieName]
	for _, path := range []string{"/branding", "/policy"} {
		if res := on.get(path); res.status != http.StatusFound {
			t.Errorf("operator cookie on a partner host GET %s: %d", path, res.status)
		}
	}
}

func TestGovernanceAndReport(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.apiJSON("PUT", "/api/v1/partners/acme/policy", map[string]any{"password": map[string]any{"min_length": 14}}, nil)
		op := e.operator()
		page := op.get("/governance")
		if page.status != http.StatusOK || !strings.Contains(page.body, "From configuration") || !strings.Contains(page.body, `value="12"`) {
			t.Fatalf("governance: %d\n%s", page.status, page.body)
		}
		res := op.form("/governance", "/governance", url.Values{"mfa.required": {"true"}, "password.min_length": {"10"}, "lockout.threshold": {"-1"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "must not be negative") || !strings.Contains(res.body, `value="-1"`) {
			t.Errorf("invalid baseline: %d\n%s", res.status, res.body)
		}
		var g struct {
			Policy json.RawMessage `json:"policy"`
			Source string          `json:"source"`
		}
		e.apiJSON("GET", "/api/v1/governance", nil, &g)
		if g.Source != "configuration" {
			t.Errorf("a refused baseline was stored: %s", g.Source)
		}
		res = op.form("/governance", "/governance", url.Values{"mfa.required": {"true"}, "password.min_length": {"10"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("save baseline: %d\n%s", res.status, res.body)
		}
		e.apiJSON("GET", "/api/v1/governance", nil, &g)
		if !strings.Contains(string(g.Policy), `"required":true`) || !strings.Contains(string(g.Policy), `"min_length":10`) || g.Source != "operator" {
			t.Errorf("baseline %s %s", g.Source, g.Policy)
		}
		report := op.get("/report")
		for _, want := range []string{"Policy report", "Acme Corp", "password.min_length", "MFA Required"} {
			if !strings.Contains(report.body, want) {
				t.Errorf("report lacks %q\n%s", want, report.body)
			}
		}
	})
}

var suspendedBadge = `<span class="badge badge-danger">Suspended</span>`

// TestOperatorSuspendsPartner: the operator suspends a partner from its
// page, which says what that does; the badge shows on the list and the
// page, the partner's admins are signed out and, with a session that
// slipped through, shown the API's refusal; resuming undoes it. A forged
// form changes nothing.
func TestOperatorSuspendsPartner(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.partner("globex")
		admin := e.partnerAdmin("acme", "ada@acme.example")
		if res := admin.get("/"); res.status != http.StatusOK {
			t.Fatalf("partner admin before the suspension: %d\n%s", res.status, res.body)
		}
		op := e.operator()
		page := op.get("/partners/acme")
		if !strings.Contains(page.body, "signs all its users out at once and stops them from signing in") ||
			!strings.Contains(page.body, "Suspend partner") || strings.Contains(page.body, suspendedBadge) {
			t.Errorf("partner page before the suspension:\n%s", page.body)
		}

		for _, csrf := range []string{"forged", ""} {
			if res := op.post("/partners/acme/suspend", url.Values{"csrf": {csrf}}); res.status != http.StatusForbidden {
				t.Errorf("suspend with csrf %q: %d\n%s", csrf, res.status, res.body)
			}
		}
		var p partnerJSON
		if e.apiJSON("GET", "/api/v1/partners/acme", nil, &p); p.Suspended {
			t.Fatal("a forged form suspended the partner")
		}

		res := op.form("/partners/acme", "/partners/acme/suspend", nil)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/partners/acme?done=partner_suspended" {
			t.Fatalf("suspend: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if e.apiJSON("GET", "/api/v1/partners/acme", nil, &p); !p.Suspended {
			t.Fatal("the form did not suspend the partner")
		}
		page = op.get("/partners/acme?done=partner_suspended")
		if !strings.Contains(page.body, "Partner suspended.") || !strings.Contains(page.body, suspendedBadge) || !strings.Contains(page.body, "Resume partner") {
			t.Errorf("partner page after the suspension:\n%s", page.body)
		}
		if list := op.get("/"); strings.Count(list.body, suspendedBadge) != 1 {
			t.Errorf("partners page shows %d suspended badges, want 1 (acme's):\n%s", strings.Count(list.body, suspendedBadge), list.body)
		}

		// The admin's session ended: back to the sign-in.
		if res := admin.get("/"); res.status != http.StatusFound {
			t.Errorf("partner admin after the suspension: %d, want a redirect to sign in\n%s", res.status, res.body)
		}
		ada, err := e.store.GetUserByEmail(t.Context(), "acme", "ada@acme.example")
		if err != nil {
			t.Fatal(err)
		}
		if res := e.signedIn("acme", ada.ID).get("/"); res.status != http.StatusForbidden || !strings.Contains(res.body, "access is suspended") {
			t.Errorf("partner admin with a session issued after the suspension: %d\n%s", res.status, res.body)
		}

		res = op.form("/partners/acme", "/partners/acme/resume", nil)
		if res.status != http.StatusSeeOther || res.header.Get("Location") != "/partners/acme?done=partner_resumed" {
			t.Fatalf("resume: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if e.apiJSON("GET", "/api/v1/partners/acme", nil, &p); p.Suspended {
			t.Error("the form did not resume the partner")
		}
		if list := op.get("/"); strings.Contains(list.body, suspendedBadge) {
			t.Errorf("partners page still shows a suspended badge:\n%s", list.body)
		}
		if res := e.signedIn("acme", ada.ID).get("/"); res.status != http.StatusOK {
			t.Errorf("partner admin after resuming: %d\n%s", res.status, res.body)
		}
	})
}
