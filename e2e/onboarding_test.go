package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/partnergate/partnergate/internal/idptest"
)

// TestOnboardingJourney is a partner's onboarding through the portal
// only, in a real browser against a real OpenID Provider: the operator
// signs in, creates the partner and a setup link; the partner's IT admin
// opens the link, connects the IdP through the wizard, tests and
// activates it, creates a SCIM token (which then works against the SCIM
// endpoint), brands the sign-in page and becomes the first partner admin;
// then signs in to the portal through the branded page and the IdP, and
// the same sign-in reaches the app. Every portal page on the way is
// checked with axe-core in light and dark, screenshotted at desktop and
// phone widths, and the main forms are walked by keyboard.
func TestOnboardingJourney(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	up := startUpstream(t)
	n := startSSONode(t, nodeConfig{store: "file " + t.TempDir(), upstream: up.addr})
	src, dir := axeSource(t), screenshotDir(t)
	ctx := browser(t)
	admin := func(path string) string { return n.url("admin.localhost", path) }
	host := partnerHost("acme")
	check := func(tab context.Context, page string) {
		t.Helper()
		checkPage(t, tab, src, dir, "portal-"+page)
	}
	value := func(tab context.Context, js string) string {
		t.Helper()
		return query(t, tab, chromedp.Evaluate[string](js))
	}
	// inputHolding is the value of the first text field on the page whose
	// value contains s: the copy fields that show values once.
	inputHolding := func(tab context.Context, s string) string {
		t.Helper()
		v := value(tab, `[...document.querySelectorAll("input")].map(i => i.value).find(v => v.includes(`+jsString(s)+`)) || ""`)
		if v == "" {
			t.Fatalf("no field on the page holds %q", s)
		}
		return v
	}

	op := newTab(t, ctx)
	browse(t, op, chromedp.Navigate(admin("/")), chromedp.WaitVisible(chromedp.ID("key")))
	check(op, "operator-sign-in")
	checkKeyboard(t, op, "operator sign-in")
	browse(t, op, chromedp.Navigate(admin("/sign-in")), chromedp.WaitVisible(chromedp.ID("key")),
		chromedp.SetValue(chromedp.ID("key"), operatorKey), chromedp.Submit(chromedp.ID("key")))
	waitPage(t, op, "Create partner")
	check(op, "operator-partners")
	j.step("the operator signed in to the portal with an operator key")

	browse(t, op, chromedp.SetValue(chromedp.ID("id"), "acme"), chromedp.SetValue(chromedp.ID("name"), "Acme Corp"), chromedp.Submit(chromedp.ID("name")))
	waitPage(t, op, "Create setup link")
	browse(t, op, chromedp.SetValue(chromedp.ID("link-name"), "Jo Smith, IT at Acme"), chromedp.Submit(chromedp.ID("link-name")))
	waitPage(t, op, "it is shown only once")
	link := inputHolding(op, "/setup?token=pgsl.")
	check(op, "operator-partner")
	browse(t, op, chromedp.Navigate(admin("/governance")))
	waitPage(t, op, "Governance")
	check(op, "operator-governance")
	browse(t, op, chromedp.Navigate(admin("/report")))
	waitPage(t, op, "acme")
	check(op, "operator-report")
	n.waitHost(t, host)
	j.step("created partner acme and a setup link for its IT admin")

	it := newTab(t, ctx)
	browse(t, it, chromedp.Navigate(link))
	waitPage(t, it, "This link works once")
	check(it, "setup-start")
	browse(t, it, chromedp.Click(chromedp.CSS("main button[type=submit]")))
	waitPage(t, it, "Checklist")
	check(it, "setup-checklist")
	if resp := get(t, n.client(), link, nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the setup link's page answers %d", resp.StatusCode)
	}
	j.step("the IT admin opened the link and started the setup; the link is used up")

	browse(t, it, chromedp.Navigate(admin("/sso/new")))
	waitPage(t, it, "Your identity provider")
	check(it, "sso-providers")
	browse(t, it, chromedp.Click(chromedp.CSS(`a.provider[href$="/sso/new/generic-oidc"]`)))
	waitPage(t, it, "gives you back")
	redirectURI := inputHolding(it, "/.partnergate/callback/oidc")
	if want := n.url(host, "/.partnergate/callback/oidc"); redirectURI != want {
		t.Errorf("the wizard shows redirect URI %q, want %q", redirectURI, want)
	}
	if copies := value(it, `String(document.querySelectorAll("button[data-copy]").length)`); copies == "0" {
		t.Error("the wizard offers no copy buttons")
	}
	check(it, "sso-wizard")
	checkKeyboard(t, it, "SSO wizard")
	j.step("picked a generic OpenID Provider in the wizard and read the redirect URI to register")

	oidcOP := idptest.StartOIDCProvider(t, idptest.OIDCClient{
		ID: "partnergate-acme", Secret: "onboarding client secret 0123", RedirectURIs: []string{redirectURI}, ClaimsInIDToken: true,
	})
	_, domain, _ := strings.Cut(oidcOP.Email, "@")
	browse(t, it, chromedp.Navigate(admin("/sso/new/generic-oidc")), chromedp.WaitVisible(chromedp.ID("issuer")),
		chromedp.SetValue(chromedp.ID("issuer"), oidcOP.Issuer),
		chromedp.SetValue(chromedp.ID("client_id"), "partnergate-acme"),
		chromedp.SetValue(chromedp.ID("client_secret"), "onboarding client secret 0123"),
		chromedp.SetValue(chromedp.ID("name"), "Acme Identity"),
		chromedp.SetValue(chromedp.ID("domains"), domain),
		chromedp.Submit(chromedp.ID("name")))
	waitPage(t, it, "Test a sign-in")
	if page := waitPage(t, it, "Acme Identity"); strings.Contains(page, "onboarding client secret") {
		t.Error("the connection page shows the client secret")
	}
	check(it, "sso-connection")
	j.step("registered the client at the OP and saved the connection from the wizard")

	browse(t, it, chromedp.Click(chromedp.CSS(`form[action$="/test"] button`)))
	waitPage(t, it, "Open the test sign-in in a new tab")
	check(it, "sso-test")
	testLink := value(it, `document.querySelector("a[target=_blank]").href`)
	tester := newTab(t, ctx)
	browse(t, tester, chromedp.Navigate(testLink))
	opLogin(t, tester, oidcOP)
	result := waitPage(t, tester, "Test sign-in succeeded")
	if !strings.Contains(result, oidcOP.Email) {
		t.Errorf("the test result lacks the email claim %s:\n%s", oidcOP.Email, result)
	}
	browse(t, it, chromedp.Click(chromedp.CSS(`a[href*="/tests/"]`)))
	waitPage(t, it, oidcOP.Email)
	check(it, "sso-test-result")
	j.step("tested a sign-in in a new tab: the claims arrived; the portal shows the result")

	browse(t, it, chromedp.Navigate(admin("/sso")), chromedp.WaitVisible(chromedp.CSS(`a[href*="/sso/sso_"], main table a`)),
		chromedp.Click(chromedp.CSS(`main table a`)))
	waitPage(t, it, "Test a sign-in")
	browse(t, it, chromedp.Click(chromedp.CSS(`form[action$="/activate"] button`)))
	waitPage(t, it, "Deactivate Acme Identity")
	check(it, "sso-list-after")
	j.step("activated the connection")

	browse(t, it, chromedp.Navigate(admin("/scim")), chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SetValue(chromedp.ID("token-name"), "Okta provisioning"), chromedp.Submit(chromedp.ID("token-name")))
	waitPage(t, it, "will not be shown again")
	scimToken := inputHolding(it, "pgsc.")
	check(it, "scim")
	req, _ := http.NewRequest("GET", admin("/scim/v2/acme/Users?filter="+`userName%20eq%20%22nobody%40`+domain+`%22`), nil)
	req.Header.Set("Authorization", "Bearer "+scimToken)
	if resp := send(t, n.client(), req, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body(resp), `"totalResults":0`) {
		t.Errorf("the SCIM token from the portal: %d", resp.StatusCode)
	}
	j.step("created a SCIM token, shown once; the directory's first request with it succeeds")

	const welcome = "Welcome to Acme. Sign in with your work account."
	browse(t, it, chromedp.Navigate(admin("/branding")), chromedp.WaitVisible(chromedp.ID("welcome_message")),
		chromedp.SetValue(chromedp.ID("display_name"), "Acme Corp"),
		chromedp.SetValue(chromedp.ID("primary_color"), "#0a5fff"),
		chromedp.SetValue(chromedp.ID("primary_color_pick"), "#0a5fff"),
		chromedp.SetValue(chromedp.ID("welcome_message"), welcome),
		chromedp.Submit(chromedp.ID("welcome_message")))
	waitPage(t, it, "saved")
	check(it, "branding")
	j.step("branded the sign-in page")

	browse(t, it, chromedp.Navigate(admin("/")), chromedp.WaitVisible(chromedp.ID("email")))
	checkKeyboard(t, it, "setup checklist")
	browse(t, it, chromedp.Navigate(admin("/")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SetValue(chromedp.ID("domain"), domain), chromedp.Submit(chromedp.ID("domain")))
	waitPage(t, it, "Email domain added")
	browse(t, it, chromedp.SetValue(chromedp.ID("email"), oidcOP.Email), chromedp.SetValue(chromedp.ID("name"), "Jo Smith"),
		chromedp.Submit(chromedp.ID("email")))
	waitPage(t, it, "Setup complete")
	check(it, "setup-done")
	portalURL := n.url(host, "/.partnergate/admin/")
	if got := value(it, `document.querySelector("main a.button").href`); got != portalURL {
		t.Errorf("setup complete links to %q, want %q", got, portalURL)
	}
	browse(t, it, chromedp.Navigate(admin("/scim")))
	waitPage(t, it, "Operator sign-in")
	j.step("added the email domain and became the first partner admin; the setup session ended")

	jo := newTab(t, ctx)
	browse(t, jo, chromedp.Navigate(portalURL), chromedp.WaitVisible(chromedp.ID("email")))
	if page := waitPage(t, jo, welcome); !strings.Contains(page, "Acme Corp") {
		t.Errorf("the sign-in page is not branded:\n%s", page)
	}
	browse(t, jo, chromedp.SetValue(chromedp.ID("email"), oidcOP.Email), chromedp.Submit(chromedp.ID("email")))
	opLogin(t, jo, oidcOP)
	waitPage(t, jo, "Recent activity")
	if loc := query(t, jo, chromedp.Location()); loc != portalURL {
		t.Errorf("after signing in the admin landed at %q, want %q", loc, portalURL)
	}
	check(jo, "overview")
	for _, p := range []struct{ path, want, name string }{
		{"users", "Invite a user", "users"},
		{"groups", "Role mappings", "groups"},
		{"sso", "Acme Identity", "sso"},
		{"scim", "SCIM endpoint", "scim-admin"},
		{"policy", "Save", "policy"},
		{"audit", "Export JSON lines", "audit"},
	} {
		browse(t, jo, chromedp.Navigate(portalURL+p.path))
		waitPage(t, jo, p.want)
		check(jo, p.name)
	}
	j.step("Jo signed in to the portal through the branded page and the IdP; every portal page checked")

	app := n.url(host, "/projects")
	browse(t, jo, chromedp.Navigate(app))
	landOnApp(t, jo, app)
	got := up.lastTo(t, "/projects")
	if got.Header.Get("X-Auth-Email") != oidcOP.Email || got.Header.Get("X-Partner-Id") != "acme" || !strings.Contains(got.Header.Get("X-Auth-Roles"), "partner_admin") {
		t.Errorf("the app got X-Auth-Email %q, X-Partner-Id %q, X-Auth-Roles %q", got.Header.Get("X-Auth-Email"), got.Header.Get("X-Partner-Id"), got.Header.Get("X-Auth-Roles"))
	}
	j.step("the same SSO sign-in reaches the app with the identity headers")
	j.done()
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
