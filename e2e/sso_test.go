package e2e

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"html"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/partnergate/partnergate/internal/idptest"
	"github.com/partnergate/partnergate/internal/redistest"
)

// The single sign-on journeys, end to end: a partner admin holding only
// an admin token connects a real identity provider through the admin
// API, tries it with a test sign-in in a real browser, switches it on,
// and the partner's users sign in through it to the app.

// placeholderIdPMetadata is IdP metadata good enough to create a SAML
// connection before the IdP runs: the IdP needs the connection's SP
// certificate, which only the created connection has.
const placeholderIdPMetadata = `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.invalid/placeholder"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.invalid/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`

// startSSONode starts a node whose links (presets, test links) name the
// partner sites as the browser reaches them: http, on the node's port.
// Its IdPs run on this machine, which the gateway refuses by default.
func startSSONode(t *testing.T, cfg nodeConfig) *node {
	t.Helper()
	n := newNode(t, cfg)
	n.config.options = append(slices.Clone(cfg.options), "link_scheme http", "link_port "+n.port, "allow_private_idps")
	n.writeCaddyfile(t, n.config)
	n.launch(t)
	return n
}

// seedSSOPartner creates acme with no user and returns an admin token of
// it: from here on the partner's admin acts with the token alone.
func (n *node) seedSSOPartner(t *testing.T) string {
	t.Helper()
	n.mustAdmin(t, "POST", "/api/v1/partners", map[string]any{"id": "acme", "name": "Acme Corp"}, http.StatusCreated)
	tok := n.mustAdmin(t, "POST", "/api/v1/partners/acme/admin-tokens", map[string]any{"name": "acme it"}, http.StatusCreated)
	n.waitHost(t, partnerHost("acme"))
	return tok["token"].(string)
}

// journey counts and times the steps of a story for its log.
type journey struct {
	t     *testing.T
	start time.Time
	steps int
}

func newJourney(t *testing.T) *journey { return &journey{t: t, start: time.Now()} }

func (j *journey) step(what string) {
	j.t.Helper()
	j.steps++
	j.t.Logf("step %2d at %6v: %s", j.steps, time.Since(j.start).Round(time.Millisecond), what)
}

func (j *journey) done() {
	j.t.Helper()
	j.t.Logf("journey: %d steps in %v", j.steps, time.Since(j.start).Round(time.Millisecond))
}

// newTab opens a tab in a new browser context of ctx's browser: a fresh
// profile (no cookies) without starting another Chromium.
func newTab(t *testing.T, ctx context.Context, opts ...chromedp.ContextOption) context.Context {
	t.Helper()
	browse(t, ctx) // starts the browser if ctx has not yet
	tab, cancel := chromedp.NewContext(ctx, append([]chromedp.ContextOption{chromedp.WithNewBrowserContext()}, opts...)...)
	t.Cleanup(cancel)
	return tab
}

// waitPage waits until the page's text holds want and returns the text.
// It reads the page again on every try, since navigations in between
// destroy the page it read.
func waitPage(t *testing.T, ctx context.Context, want string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		text, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
		if err == nil && strings.Contains(text, want) {
			return text
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("page never said %q (last error %v)\nat %s:\n%s", want, err, loc, text)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// opLogin signs in at the zitadel example OP's login form.
func opLogin(t *testing.T, ctx context.Context, op *idptest.OIDCProvider) {
	t.Helper()
	browse(t, ctx,
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), op.Username),
		chromedp.SendKeys(chromedp.ID("password"), op.Password),
		chromedp.Submit(chromedp.ID("password")),
	)
}

// samlLogin signs in at SimpleSAMLphp's login form.
func samlLogin(t *testing.T, ctx context.Context, u idptest.SAMLUser) {
	t.Helper()
	user, pass := chromedp.CSS("input[name=username]"), chromedp.CSS("input[name=password]")
	browse(t, ctx,
		chromedp.WaitVisible(user),
		chromedp.SendKeys(user, u.Username),
		chromedp.SendKeys(pass, u.Password),
		chromedp.Submit(pass),
	)
}

// landOnApp waits until the browser shows the app's answer at want.
func landOnApp(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	waitPage(t, ctx, `"headers"`)
	if loc := query(t, ctx, chromedp.Location()); loc != want {
		t.Errorf("the browser landed at %q, want %q", loc, want)
	}
}

// lastTo returns the last request for path that reached the app: the
// browser's own requests (favicon) may come in between.
func (u *upstream) lastTo(t *testing.T, path string) *http.Request {
	t.Helper()
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, r := range slices.Backward(u.seen) {
		if r.URL.RequestURI() == path {
			return r
		}
	}
	t.Fatalf("no request for %s reached the app", path)
	return nil
}

// reachedAs counts the requests that reached the app as email.
func (u *upstream) reachedAs(email string) int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.seen {
		if r.Header.Get("X-Auth-Email") == email {
			n++
		}
	}
	return n
}

// copyValue is the value of the preset step field named name.
func copyValue(t *testing.T, setup map[string]any, name string) string {
	t.Helper()
	for _, s := range setup["steps"].([]any) {
		for _, f := range s.(map[string]any)["copy"].([]any) {
			if f := f.(map[string]any); f["name"] == name {
				return f["value"].(string)
			}
		}
	}
	t.Fatalf("no %s in the preset's steps: %v", name, setup["steps"])
	return ""
}

func data(m map[string]any) []map[string]any {
	var out []map[string]any
	for _, v := range m["data"].([]any) {
		out = append(out, v.(map[string]any))
	}
	return out
}

func strs(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, s := range list {
		out = append(out, fmt.Sprint(s))
	}
	return out
}

var (
	x509Field = regexp.MustCompile(`<(?:\w+:)?X509Certificate[^>]*>([^<]+)</`)
	sloField  = regexp.MustCompile(`SingleLogoutService[^>]*Location="([^"]+)"`)
)

// spMetadata fetches a SAML connection's SP metadata and returns the SP
// as the IdP must know it.
func (n *node) spMetadata(t *testing.T, entityID, acsURL, connectionID string) idptest.SAMLServiceProvider {
	t.Helper()
	resp := get(t, n.client(), n.url(partnerHost("acme"), "/.partnergate/saml/metadata?connection="+connectionID), nil)
	doc := body(resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SP metadata: status %d: %s", resp.StatusCode, doc)
	}
	for _, want := range []string{entityID, acsURL} {
		if !strings.Contains(doc, want) {
			t.Errorf("SP metadata lacks %s:\n%s", want, doc)
		}
	}
	cert, slo := x509Field.FindStringSubmatch(doc), sloField.FindStringSubmatch(doc)
	if cert == nil || slo == nil {
		t.Fatalf("SP metadata without a certificate or SLO URL:\n%s", doc)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(cert[1]), ""))
	if err != nil {
		t.Fatalf("SP certificate: %v", err)
	}
	return idptest.SAMLServiceProvider{
		EntityID: entityID, ACSURL: acsURL, SLOURL: html.UnescapeString(slo[1]),
		CertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
}

// startSAMLConnection creates a generic-saml connection, starts
// SimpleSAMLphp for its SP and points the connection at the IdP's
// metadata URL. Test sign-ins and users' sign-ins happen on n's port.
func (n *node) startSAMLConnection(t *testing.T, token string, enabled, jit bool) (string, *idptest.SAMLIdP) {
	t.Helper()
	host := partnerHost("acme")
	setup := n.adminAs(t, token, "GET", "/api/v1/partners/acme/sso-presets/generic-saml", nil, http.StatusOK)["saml"].(map[string]any)
	entityID, acs := copyValue(t, setup, "sp_entity_id"), copyValue(t, setup, "acs_url")
	if want := n.url(host, "/.partnergate/saml/acs"); acs != want {
		t.Errorf("preset ACS URL %q, want %q", acs, want)
	}
	if want := n.url(host, "/.partnergate/saml/metadata"); entityID != want || copyValue(t, setup, "sp_metadata_url") != want {
		t.Errorf("preset SP entity id %q, want %q", entityID, want)
	}
	conn := n.adminAs(t, token, "POST", "/api/v1/partners/acme/sso-connections", map[string]any{
		"name": "Example IdP", "preset": "generic-saml", "enabled": enabled, "jit": jit, "domains": []string{"example.com"},
		"saml": map[string]any{"metadata_xml": placeholderIdPMetadata},
	}, http.StatusCreated)
	id := conn["id"].(string)
	idp := idptest.StartSimpleSAMLphp(t, n.spMetadata(t, entityID, acs, id))
	patched := n.adminAs(t, token, "PATCH", "/api/v1/partners/acme/sso-connections/"+id,
		map[string]any{"saml": map[string]any{"metadata_url": idp.MetadataURL}}, http.StatusOK)
	if s := patched["saml"].(map[string]any); s["metadata_url"] != idp.MetadataURL || s["metadata_xml"] != nil {
		t.Errorf("after PATCH the connection's IdP is %v", s)
	}
	return id, idp
}

// startTest starts a test sign-in and returns its id and link.
func (n *node) startTest(t *testing.T, token, connectionID string) (string, string) {
	t.Helper()
	test := n.adminAs(t, token, "POST", "/api/v1/partners/acme/sso-connections/"+connectionID+"/test", nil, http.StatusCreated)
	if test["status"] != "pending" || test["url"] == nil {
		t.Fatalf("test sign-in started as %v", test)
	}
	link := test["url"].(string)
	if want := n.url(partnerHost("acme"), "/.partnergate/sso/test?"); !strings.HasPrefix(link, want) {
		t.Errorf("test link %q, want one starting %q", link, want)
	}
	return test["id"].(string), link
}

// users lists acme's users.
func (n *node) users(t *testing.T, token string) []map[string]any {
	t.Helper()
	return data(n.adminAs(t, token, "GET", "/api/v1/partners/acme/users", nil, http.StatusOK))
}

// TestSSOJourneyOIDC is the OIDC story on the embedded store: the partner
// admin, with a token only, reads the preset rendered for the partner,
// registers its redirect URI at a real OpenID Provider, creates a
// disabled connection, and tries it: the browser shows what the IdP sent
// and what would happen, the API reports the same, and nobody was signed
// in or created. Switched on, a user signs in from the app's login page,
// is provisioned just in time, and a role granted through a group
// reaches the app on the next request.
func TestSSOJourneyOIDC(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	up := startUpstream(t)
	n := startSSONode(t, nodeConfig{store: "file " + t.TempDir(), upstream: up.addr})
	host := partnerHost("acme")
	token := n.seedSSOPartner(t)
	j.step("operator created partner acme and an admin token")

	var ids []string
	for _, p := range data(n.adminAs(t, token, "GET", "/api/v1/sso-presets", nil, http.StatusOK)) {
		ids = append(ids, p["id"].(string))
	}
	if !slices.Contains(ids, "generic-oidc") || !slices.Contains(ids, "okta") {
		t.Fatalf("presets %v lack generic-oidc or okta", ids)
	}
	redirectURI := ""
	for _, id := range []string{"okta", "generic-oidc"} {
		pr := n.adminAs(t, token, "GET", "/api/v1/partners/acme/sso-presets/"+id, nil, http.StatusOK)
		got := copyValue(t, pr["oidc"].(map[string]any), "redirect_uri")
		if want := n.url(host, "/.partnergate/callback/oidc"); got != want {
			t.Errorf("%s preset: redirect URI %q, want %q", id, got, want)
		}
		redirectURI = got
	}
	j.step("partner admin read the presets and the redirect URI rendered for acme")

	op := idptest.StartOIDCProvider(t, idptest.OIDCClient{
		ID: "partnergate-acme", Secret: "op client secret 0123456789", RedirectURIs: []string{redirectURI}, ClaimsInIDToken: true,
	})
	j.step("registered the redirect URI at the OpenID Provider " + op.Issuer)

	conn := n.adminAs(t, token, "POST", "/api/v1/partners/acme/sso-connections", map[string]any{
		"name": "Zitadel", "preset": "generic-oidc", "enabled": false, "jit": true, "domains": []string{"zitadel.ch"},
		"oidc": map[string]any{"issuer": op.Issuer, "client_id": "partnergate-acme", "client_secret": "op client secret 0123456789", "scopes": []string{"openid", "email", "profile"}},
	}, http.StatusCreated)
	cid := conn["id"].(string)
	if oidc := conn["oidc"].(map[string]any); oidc["client_secret_set"] != true || oidc["client_secret"] != nil {
		t.Errorf("connection shows its secret as %v", oidc)
	}
	j.step("created the connection, disabled")

	testID, link := n.startTest(t, token, cid)
	j.step("started a test sign-in")
	ctx := browser(t)
	browse(t, ctx, chromedp.Navigate(link))
	opLogin(t, ctx, op)
	page := waitPage(t, ctx, "Test sign-in succeeded")
	for _, want := range []string{"Received from the identity provider", "email", op.Email, "Would be created on first sign-in: " + op.Email, op.Issuer} {
		if !strings.Contains(page, want) {
			t.Errorf("the test page lacks %q:\n%s", want, page)
		}
	}
	if resp := get(t, n.client(), link, http.Header{"Accept": {"text/html"}}); resp.StatusCode != http.StatusNotFound || !strings.Contains(body(resp), "already used") {
		t.Errorf("the used test link answers %d: %s", resp.StatusCode, body(resp))
	}
	j.step("opened the test link, signed in at the OP, read the claims in the browser; the link is used up")

	res := n.adminAs(t, token, "GET", "/api/v1/partners/acme/sso-connections/"+cid+"/tests/"+testID, nil, http.StatusOK)
	if res["status"] != "succeeded" {
		t.Fatalf("test result %v", res)
	}
	if claims := res["claims"].(map[string]any); !slices.Contains(strs(claims["email"]), op.Email) {
		t.Errorf("test claims %v lack email %s", claims, op.Email)
	}
	if email := res["profile"].(map[string]any)["email"]; email != op.Email {
		t.Errorf("test profile email %v, want %s", email, op.Email)
	}
	if u := res["user"].(map[string]any); u["would_create"] != true || u["email"] != op.Email {
		t.Errorf("test user %v, want one that would be created", u)
	}
	if n := up.reachedAs(op.Email); n != 0 {
		t.Errorf("a test sign-in reached the app (%d requests)", n)
	}
	if users := n.users(t, token); len(users) != 0 {
		t.Errorf("a test sign-in created users: %v", users)
	}
	j.step("read the test result through the API: nobody signed in, nobody created")

	n.adminAs(t, token, "PATCH", "/api/v1/partners/acme/sso-connections/"+cid, map[string]any{"enabled": true}, http.StatusOK)
	grp := n.adminAs(t, token, "POST", "/api/v1/partners/acme/groups", map[string]any{"name": "zitadel-users"}, http.StatusCreated)
	groupID := grp["id"].(string)
	n.adminAs(t, token, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": groupID, "role": "viewer"}, http.StatusCreated)
	j.step("enabled the connection, created a group mapped to role viewer")

	path := "/dashboard?tab=sso"
	app := n.url(host, path)
	tab := newTab(t, ctx)
	browse(t, tab, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("a.button-secondary")))
	if label := query(t, tab, chromedp.Text(chromedp.CSS("a.button-secondary"))); label != "Sign in with Zitadel" {
		t.Errorf("login page offers %q", label)
	}
	browse(t, tab, chromedp.Click(chromedp.CSS("a.button-secondary")))
	opLogin(t, tab, op)
	landOnApp(t, tab, app)
	got := up.lastTo(t, path)
	if got.Header.Get("X-Auth-Email") != op.Email {
		t.Errorf("app got X-Auth-Email %q, want %q", got.Header.Get("X-Auth-Email"), op.Email)
	}
	users := n.users(t, token)
	if len(users) != 1 || users[0]["email"] != op.Email {
		t.Fatalf("after the first sign-in the users are %v", users)
	}
	userID := users[0]["id"].(string)
	if got.Header.Get("X-Auth-User") != userID || got.Header.Get("X-Auth-Roles") != "" {
		t.Errorf("app got X-Auth-User %q, X-Auth-Roles %q; want %s and no role", got.Header.Get("X-Auth-User"), got.Header.Get("X-Auth-Roles"), userID)
	}
	j.step("a fresh browser opened the app, chose Sign in with Zitadel, signed in at the OP, landed on the app as a new user")

	// The example OP sends no groups. The admin manages the user's groups
	// here instead: with the groups claim unmapped, a sign-in leaves them
	// alone (mapped, the IdP naming none would empty them). Added to the
	// group, the user has the role on the next request, and again after
	// signing in anew.
	patched := n.adminAs(t, token, "PATCH", "/api/v1/partners/acme/sso-connections/"+cid,
		map[string]any{"attribute_mapping": map[string]any{"groups": []string{}}}, http.StatusOK)
	if g := patched["attribute_mapping"].(map[string]any)["groups"]; len(strs(g)) != 0 {
		t.Errorf("attribute_mapping.groups after PATCH: %v", g)
	}
	n.adminAs(t, token, "POST", "/api/v1/partners/acme/groups/"+groupID+"/members", map[string]any{"members": []string{userID}}, http.StatusOK)
	browse(t, tab, chromedp.Reload())
	landOnApp(t, tab, app)
	if got := up.lastTo(t, path); got.Header.Get("X-Auth-Roles") != "viewer" || got.Header.Get("X-Auth-Groups") != "zitadel-users" {
		t.Errorf("after joining the group: X-Auth-Roles %q, X-Auth-Groups %q", got.Header.Get("X-Auth-Roles"), got.Header.Get("X-Auth-Groups"))
	}
	j.step("unmapped the groups claim, added the user to the group; the next app request carries role viewer")

	again := newTab(t, ctx)
	browse(t, again, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("a.button-secondary")), chromedp.Click(chromedp.CSS("a.button-secondary")))
	opLogin(t, again, op)
	landOnApp(t, again, app)
	if got := up.lastTo(t, path); got.Header.Get("X-Auth-User") != userID || got.Header.Get("X-Auth-Roles") != "viewer" {
		t.Errorf("after signing in again: X-Auth-User %q, X-Auth-Roles %q; want %s, viewer", got.Header.Get("X-Auth-User"), got.Header.Get("X-Auth-Roles"), userID)
	}
	if users := n.users(t, token); len(users) != 1 {
		t.Errorf("signing in again made another user: %v", users)
	}
	j.step("another fresh browser signed in again: same user, role viewer kept")
	j.done()
}

// TestSSOJourneySAML is the SAML story on two nodes sharing Redis, with a
// real SimpleSAMLphp: the connection is created first (the IdP needs its
// SP certificate), the IdP is registered from its SP metadata, a test
// sign-in as bob shows his groups and roles through the API, and, once
// enabled, alice is sent to the IdP by her email's domain alone and
// reaches the app with the role her IdP group maps to, on either node.
func TestSSOJourneySAML(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	r := redistest.Start(t)
	up := startUpstream(t)
	a := startSSONode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	b := a.twin(t)
	host := partnerHost("acme")
	token := a.seedSSOPartner(t)
	b.waitHost(t, host)
	j.step("two nodes on one Redis; operator created acme and an admin token")

	cid, idp := a.startSAMLConnection(t, token, false, true)
	j.step("created the connection, fetched its SP metadata, started SimpleSAMLphp, pointed the connection at its metadata URL")

	for group, role := range map[string]string{"engineering": "admin", "sales": "viewer"} {
		grp := b.adminAs(t, token, "POST", "/api/v1/partners/acme/groups", map[string]any{"name": group}, http.StatusCreated)
		b.adminAs(t, token, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": grp["id"], "role": role}, http.StatusCreated)
	}
	j.step("mapped groups engineering → admin and sales → viewer (on node B)")

	bob := idp.User(t, "bob")
	testID, link := a.startTest(t, token, cid)
	ctx := browser(t)
	browse(t, ctx, chromedp.Navigate(link))
	samlLogin(t, ctx, bob)
	page := waitPage(t, ctx, "Test sign-in succeeded")
	if !strings.Contains(page, "Would be created on first sign-in: "+bob.Email) {
		t.Errorf("the test page does not say bob would be created:\n%s", page)
	}
	res := b.adminAs(t, token, "GET", "/api/v1/partners/acme/sso-connections/"+cid+"/tests/"+testID, nil, http.StatusOK)
	if res["status"] != "succeeded" {
		t.Fatalf("bob's test result %v", res)
	}
	claims := res["claims"].(map[string]any)
	if !slices.Contains(strs(claims["email"]), bob.Email) || !slices.Contains(strs(claims["groups"]), "sales") {
		t.Errorf("bob's claims %v", claims)
	}
	if p := res["profile"].(map[string]any); p["email"] != bob.Email || p["name"] != bob.DisplayName() {
		t.Errorf("bob's profile %v", p)
	}
	if groups, roles := strs(res["groups"]), strs(res["roles"]); !slices.Equal(groups, []string{"sales"}) || !slices.Equal(roles, []string{"viewer"}) {
		t.Errorf("bob's test: groups %v, roles %v; want [sales] and [viewer]", groups, roles)
	}
	if u := res["user"].(map[string]any); u["would_create"] != true {
		t.Errorf("bob's test user %v", u)
	}
	if users := b.users(t, token); len(users) != 0 {
		t.Errorf("a test sign-in created users: %v", users)
	}
	j.step("test sign-in as bob in the browser; node B reports his claims, groups and roles")

	a.adminAs(t, token, "PATCH", "/api/v1/partners/acme/sso-connections/"+cid, map[string]any{"enabled": true}, http.StatusOK)
	alice := idp.User(t, "alice")
	app := a.url(host, "/reports")
	tab := newTab(t, ctx)
	browse(t, tab, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.ID("email")))
	if hint := waitPage(t, tab, "Leave it empty if your organization signs you in with single sign-on."); !strings.Contains(hint, "Sign in with Example IdP") {
		t.Errorf("login page offers no SSO:\n%s", hint)
	}
	browse(t, tab, chromedp.SendKeys(chromedp.ID("email"), alice.Email), chromedp.Submit(chromedp.ID("email")))
	samlLogin(t, tab, alice)
	landOnApp(t, tab, app)
	got := up.lastTo(t, "/reports")
	if got.Header.Get("X-Auth-Email") != alice.Email || got.Header.Get("X-Auth-Roles") != "admin" ||
		!slices.Contains(strings.Split(got.Header.Get("X-Auth-Groups"), ","), "engineering") {
		t.Errorf("app got X-Auth-Email %q, X-Auth-Roles %q, X-Auth-Groups %q; want %s, admin, engineering",
			got.Header.Get("X-Auth-Email"), got.Header.Get("X-Auth-Roles"), got.Header.Get("X-Auth-Groups"), alice.Email)
	}
	j.step("enabled; a fresh browser typed alice's email without a password, signed in at SimpleSAMLphp, landed on the app with role admin")

	// The session lives in Redis: node B serves it too (cookies ignore
	// the port).
	onB := b.url(host, "/reports")
	browse(t, tab, chromedp.Navigate(onB))
	landOnApp(t, tab, onB)
	if got := up.lastTo(t, "/reports"); got.Header.Get("X-Auth-Email") != alice.Email || got.Header.Get("X-Auth-Roles") != "admin" || got.Header.Get("X-Log-User") == "" {
		t.Errorf("node B: X-Auth-Email %q, X-Auth-Roles %q", got.Header.Get("X-Auth-Email"), got.Header.Get("X-Auth-Roles"))
	}
	j.step("the same session reaches the app through node B")
	j.done()
}

// TestSSONegativeBrowser: an OIDC callback replayed in the browser that
// just signed in is refused (invalid_state) and starts no session; a
// suspended user whom the SAML IdP signs in is refused (user_inactive),
// and the connection's failure log says why.
func TestSSONegativeBrowser(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	up := startUpstream(t)
	n := startSSONode(t, nodeConfig{store: "file " + t.TempDir(), upstream: up.addr})
	host := partnerHost("acme")
	token := n.seedSSOPartner(t)
	redirectURI := n.url(host, "/.partnergate/callback/oidc")
	op := idptest.StartOIDCProvider(t, idptest.OIDCClient{ID: "acme", Secret: "negative secret 0123456789", RedirectURIs: []string{redirectURI}, ClaimsInIDToken: true})
	conn := n.adminAs(t, token, "POST", "/api/v1/partners/acme/sso-connections", map[string]any{
		"name": "Zitadel", "preset": "generic-oidc", "enabled": true, "jit": true, "domains": []string{"zitadel.ch"},
		"oidc": map[string]any{"issuer": op.Issuer, "client_id": "acme", "client_secret": "negative secret 0123456789"},
	}, http.StatusCreated)
	oidcID := conn["id"].(string)
	samlID, idp := n.startSAMLConnection(t, token, true, false)
	alice := idp.User(t, "alice")
	created := n.adminAs(t, token, "POST", "/api/v1/partners/acme/users", map[string]any{"email": alice.Email, "name": "Alice"}, http.StatusCreated)
	n.adminAs(t, token, "POST", "/api/v1/partners/acme/users/"+created["id"].(string)+"/suspend", nil, http.StatusOK)
	j.step("one node with an OIDC and a SAML connection, alice suspended")

	// Replay: the callback URL the OP sent the browser to, opened again.
	var mu sync.Mutex
	var callbacks []string
	ctx := browser(t)
	tab := newTab(t, ctx, chromedp.WithListener(func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && strings.HasPrefix(e.Request.URL, redirectURI+"?") {
			mu.Lock()
			callbacks = append(callbacks, e.Request.URL)
			mu.Unlock()
		}
	}))
	app := n.url(host, "/")
	browse(t, tab, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("a[href*='connection="+oidcID+"']")),
		chromedp.Click(chromedp.CSS("a[href*='connection="+oidcID+"']")))
	opLogin(t, tab, op)
	landOnApp(t, tab, app)
	users := n.users(t, token)
	var userID string
	for _, u := range users {
		if u["email"] == op.Email {
			userID = u["id"].(string)
		}
	}
	if userID == "" {
		t.Fatalf("no user %s after the sign-in: %v", op.Email, users)
	}
	sessions := func() int {
		return len(data(n.adminAs(t, token, "GET", "/api/v1/partners/acme/users/"+userID+"/sessions", nil, http.StatusOK)))
	}
	before := sessions()
	mu.Lock()
	replay := slices.Clone(callbacks)
	mu.Unlock()
	if len(replay) != 1 || before != 1 {
		t.Fatalf("after one sign-in: callbacks %v, sessions %d", replay, before)
	}
	browse(t, tab, chromedp.Navigate(replay[0]))
	waitPage(t, tab, "Sign-in didn’t work")
	if ref := query(t, tab, chromedp.Text(chromedp.CSS("p.hint code"))); ref != "invalid_state" {
		t.Errorf("replayed callback: reference %q, want invalid_state", ref)
	}
	if after := sessions(); after != before {
		t.Errorf("the replayed callback changed the user's sessions: %d, then %d", before, after)
	}
	j.step("signed in through OIDC, replayed the callback: invalid_state, no new session")

	// A suspended user: the IdP signs alice in, partnergate refuses her.
	fresh := newTab(t, ctx)
	browse(t, fresh, chromedp.Navigate(n.url(host, "/.partnergate/login")), chromedp.WaitVisible(chromedp.ID("email")),
		chromedp.SendKeys(chromedp.ID("email"), alice.Email), chromedp.Submit(chromedp.ID("email")))
	samlLogin(t, fresh, alice)
	waitPage(t, fresh, "Your account does not have access here.")
	if ref := query(t, fresh, chromedp.Text(chromedp.CSS("p.hint code"))); ref != "user_inactive" {
		t.Errorf("suspended user: reference %q, want user_inactive", ref)
	}
	if n := up.reachedAs(alice.Email); n != 0 {
		t.Errorf("a suspended user reached the app (%d requests)", n)
	}
	failures := data(n.adminAs(t, token, "GET", "/api/v1/partners/acme/sso-connections/"+samlID+"/failures", nil, http.StatusOK))
	if len(failures) != 1 || failures[0]["code"] != "user_inactive" || failures[0]["email"] != alice.Email || failures[0]["test"] != false {
		t.Errorf("failures of the SAML connection: %v", failures)
	}
	j.step("suspended alice signed in at SimpleSAMLphp: refused with user_inactive, logged in the connection's failures")
	j.done()
}
