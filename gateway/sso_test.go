package gateway_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/sso/diagnostics"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/store"
)

const (
	startPath    = "/.partnergate/sso/start?connection="
	callbackPath = "/.partnergate/callback/oidc"
)

// An OIDC sign-in with a real OP, from the login page's button to the
// app: the user is created on first sign-in and found again on the next.
func TestSSOOIDCSignIn(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		op, c := e.oidcConn(t, "acme", "zitadel", true)

		b := e.browser(t)
		login := b.get(t, e.url("acme", "/.partnergate/login?return_to=/reports?q=1"))
		hrefs := links(login.body, "Sign in with "+c.Name)
		if login.status != http.StatusOK || len(hrefs) != 1 {
			t.Fatalf("login page (%d) offers %q for %q, want one link:\n%s", login.status, hrefs, c.Name, login.body)
		}
		app := b.oidcLogin(t, op, resolve(t, login.url, hrefs[0]))
		if app.status != http.StatusOK || app.url.Host != e.host("acme") || app.url.RequestURI() != "/reports?q=1" {
			t.Fatalf("after sign-in: %d at %s, want 200 at the return_to /reports?q=1:\n%s", app.status, app.url, app.body)
		}
		if b.sessionsIssued() != 1 {
			t.Errorf("%d session cookies issued, want 1", b.sessionsIssued())
		}
		seen := parseEcho(app.body)
		users := e.users(t, "acme")
		if len(users) != 1 || users[0].Email != op.Email || !users[0].Active {
			t.Fatalf("users after first sign-in: %+v, want one active %s", users, op.Email)
		}
		if seen["X-Auth-User"] != users[0].ID || seen["X-Auth-Email"] != op.Email {
			t.Errorf("app saw user %q email %q, want %q %q", seen["X-Auth-User"], seen["X-Auth-Email"], users[0].ID, op.Email)
		}

		// A second browser signs in as the same IdP user: same account.
		b2 := e.browser(t)
		b2.oidcLogin(t, op, e.url("acme", startPath+c.ID))
		who, status := b2.whoami(t, e, "acme")
		if status != http.StatusOK || who["X-Auth-User"] != users[0].ID {
			t.Errorf("second sign-in: status %d user %q, want the first user %q", status, who["X-Auth-User"], users[0].ID)
		}
		if n := len(e.users(t, "acme")); n != 1 {
			t.Errorf("%d users after the second sign-in, want 1", n)
		}

		pg, err := e.cfg.Audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "signin"}})
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, ev := range pg.Events {
			if ev.Outcome == audit.Success && ev.Actor.ID == users[0].ID {
				ok++
			}
		}
		if ok != 2 {
			t.Errorf("audit has %d successful sign-ins of %s, want 2: %+v", ok, users[0].ID, pg.Events)
		}
	})
}

// addEngineeringAdmins makes IdP group "engineering" a partner group
// whose members get role admin.
func addEngineeringAdmins(t *testing.T, e *ssoEnv, partner string) store.Group {
	t.Helper()
	ctx := context.Background()
	g := store.Group{ID: "g-eng", PartnerID: partner, Name: "engineering"}
	if err := e.st.CreateGroup(ctx, g); err != nil {
		t.Fatal(err)
	}
	if err := e.st.CreateRoleMapping(ctx, store.RoleMapping{ID: "rm-eng", PartnerID: partner, GroupID: g.ID, Role: "admin"}); err != nil {
		t.Fatal(err)
	}
	return g
}

// A SAML sign-in with SimpleSAMLphp: the IdP's groups become the
// partner's groups and their roles, and the SP metadata describes what the
// IdP was configured with.
func TestSSOSAMLSignIn(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		addEngineeringAdmins(t, e, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})

		b := e.browser(t)
		at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID+"&return_to=/dashboard"), "alice")
		if resp.action != e.url("acme", preset.ACSPath) {
			t.Errorf("IdP posts to %q, want the ACS %q", resp.action, e.url("acme", preset.ACSPath))
		}
		app := b.submitForm(t, at, resp)
		if app.status != http.StatusOK || app.url.Path != "/dashboard" {
			t.Fatalf("after sign-in: %d at %s:\n%s", app.status, app.url, app.body)
		}
		seen := parseEcho(app.body)
		if seen["X-Auth-Email"] != "alice@example.com" || !strings.Contains(seen["X-Auth-Roles"], "admin") || !strings.Contains(seen["X-Auth-Groups"], "engineering") {
			t.Errorf("app saw %v, want alice@example.com with role admin and group engineering", seen)
		}
		if strings.Contains(seen["X-Auth-Groups"], "admins") {
			t.Errorf("IdP group admins, unknown to the partner, reached the app: %q", seen["X-Auth-Groups"])
		}

		md := b.get(t, e.url("acme", preset.MetadataPath))
		cfg, err := connection.Decode(c)
		if err != nil {
			t.Fatal(err)
		}
		if md.status != http.StatusOK || !strings.Contains(md.header.Get("Content-Type"), "xml") {
			t.Fatalf("SP metadata: %d %s", md.status, md.header.Get("Content-Type"))
		}
		for _, want := range []string{
			`Location="` + e.url("acme", preset.ACSPath) + `"`,
			`entityID="` + e.url("acme", preset.MetadataPath) + `"`,
			base64.StdEncoding.EncodeToString(cfg.SAML.SPCertificate),
		} {
			if !strings.Contains(strings.Join(strings.Fields(md.body), ""), strings.Join(strings.Fields(want), "")) {
				t.Errorf("SP metadata lacks %.80s…:\n%s", want, md.body)
			}
		}
	})
}

// metaRefresh is the URL of a page's <meta http-equiv="refresh">.
func metaRefresh(body string) string {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return ""
	}
	var found string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "meta" && strings.EqualFold(htmlAttr(n, "http-equiv"), "refresh") {
			if _, u, ok := strings.Cut(htmlAttr(n, "content"), "url="); ok {
				found = u
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return found
}

// An email alone is enough when its domain has a connection: the login
// form sends the browser on to that IdP; other domains still need a
// password.
func TestSSOHomeRealmDiscovery(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{domains: []string{"example.com"}})

		b := e.browser(t)
		postEmail := func(email string) page {
			login := b.get(t, e.url("acme", "/.partnergate/login?return_to=/inbox"))
			f, ok := findForm(login.body, "csrf_token")
			if !ok {
				t.Fatalf("login page has no form:\n%s", login.body)
			}
			f.fields.Set("email", email)
			f.fields.Set("password", "")
			return b.submitForm(t, login, f)
		}
		p := postEmail("Alice@Example.com")
		next := metaRefresh(p.body)
		want := startPath + c.ID
		if p.status != http.StatusOK || !strings.Contains(next, want) {
			t.Fatalf("email of a routed domain: %d, refresh to %q, want 200 and a refresh to %s…:\n%s", p.status, next, want, p.body)
		}
		if len(links(p.body, "")) == 0 || !slices.Contains(links(p.body, ""), next) {
			t.Errorf("the redirect page has no link to %q for browsers without refresh", next)
		}
		at, resp := b.samlLogin(t, idp, resolve(t, p.url, next), "alice")
		app := b.submitForm(t, at, resp)
		if app.status != http.StatusOK || app.url.Path != "/inbox" {
			t.Errorf("sign-in after discovery: %d at %s, want the app at /inbox", app.status, app.url)
		}

		p = postEmail("carol@elsewhere.example")
		if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Enter your password, or use your organization’s single sign-on.") {
			t.Errorf("email of another domain without password: %d, want 422 asking for the password:\n%s", p.status, p.body)
		}
	})
}

// beginTest is the admin starting a test sign-in: the link it mails.
func beginTest(t *testing.T, e *ssoEnv, partner, connID string) (link string, id string) {
	t.Helper()
	secret, res, err := diagnostics.Begin(context.Background(), e.st, partner, connID, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return e.url(partner, "/.partnergate/sso/test?ticket="+url.QueryEscape(secret)), res.ID
}

// A test sign-in shows the admin what the IdP sent and what it maps to,
// and changes nothing: no session, no user, no membership.
func TestSSOTestSignIn(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		ctx := context.Background()
		e := newSSOEnv(t, backend, "acme", "globex")
		addEngineeringAdmins(t, e, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})

		b := e.browser(t)
		link, id := beginTest(t, e, "acme", c.ID)
		at, resp := b.samlLogin(t, idp, link, "alice")
		res := b.submitForm(t, at, resp)
		for _, want := range []string{"Test sign-in succeeded", "alice@example.com", "displayName", "Alice Anderson", "engineering, admins", "Would be created on first sign-in: alice@example.com"} {
			if !strings.Contains(res.body, want) {
				t.Errorf("result page lacks %q", want)
			}
		}
		if res.status != http.StatusOK || !strings.Contains(res.body, "<dt>Roles</dt><dd>admin</dd>") {
			t.Errorf("result page: status %d, want 200 with role admin:\n%s", res.status, res.body)
		}
		got, err := diagnostics.Load(ctx, e.st, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != diagnostics.Succeeded || got.Profile == nil || got.Profile.Email != "alice@example.com" ||
			!slices.Equal(got.Claims["groups"], []string{"engineering", "admins"}) || !slices.Equal(got.Roles, []string{"admin"}) ||
			got.User == nil || !got.User.WouldCreate {
			t.Errorf("stored result = %+v, want succeeded with alice's claims, role admin, would create", got)
		}
		if n := b.sessionsIssued(); n != 0 {
			t.Errorf("a test sign-in issued %d session cookies", n)
		}
		if us := e.users(t, "acme"); len(us) != 0 {
			t.Errorf("a test sign-in created users: %+v", us)
		}
		if again := b.get(t, link); again.status != http.StatusNotFound || !strings.Contains(again.body, "already used") {
			t.Errorf("test link opened twice: %d, want 404:\n%s", again.status, again.body)
		}
		// A link is the partner's own: on another partner's host it is
		// unknown (and stays usable where it belongs).
		other, _ := beginTest(t, e, "acme", c.ID)
		if p := b.get(t, strings.Replace(other, e.host("acme"), e.host("globex"), 1)); p.status != http.StatusNotFound {
			t.Errorf("acme's test link at globex: %d, want 404", p.status)
		}

		// With alice existing in another group, a test shows the groups
		// she would get and leaves hers alone.
		old := store.Group{ID: "g-old", PartnerID: "acme", Name: "old"}
		if err := e.st.CreateGroup(ctx, old); err != nil {
			t.Fatal(err)
		}
		alice := store.User{ID: "u-alice", PartnerID: "acme", Email: "alice@example.com", Name: "A. Before", Active: true}
		if err := e.st.CreateUser(ctx, alice); err != nil {
			t.Fatal(err)
		}
		if err := e.st.AddGroupMembers(ctx, "acme", old.ID, []string{alice.ID}); err != nil {
			t.Fatal(err)
		}
		link, id = beginTest(t, e, "acme", c.ID)
		at, resp = b.samlLogin(t, idp, link, "alice")
		res = b.submitForm(t, at, resp)
		if !strings.Contains(res.body, "Existing user alice@example.com") {
			t.Errorf("result page does not name the existing user:\n%s", res.body)
		}
		got, _ = diagnostics.Load(ctx, e.st, "acme", id)
		if got.User == nil || got.User.ID != alice.ID || !slices.Equal(got.Groups, []string{"engineering"}) {
			t.Errorf("stored result user %+v groups %v, want %s and engineering", got.User, got.Groups, alice.ID)
		}
		after, err := e.st.GetUser(ctx, "acme", alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(after.Groups, []string{old.ID}) || after.Name != "A. Before" {
			t.Errorf("after a test alice has groups %v name %q, want unchanged [%s] %q", after.Groups, after.Name, old.ID, "A. Before")
		}
		if n := b.sessionsIssued(); n != 0 {
			t.Errorf("test sign-ins issued %d session cookies", n)
		}
	})
}

// A test of a connection whose mapping wants an attribute the IdP does
// not send fails with the reason, where the admin looks for it.
func TestSSOTestSignInFails(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		m := samlMapping
		m.Email = []string{"mail"}
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{mapping: &m})

		b := e.browser(t)
		link, id := beginTest(t, e, "acme", c.ID)
		at, resp := b.samlLogin(t, idp, link, "alice")
		res := b.submitForm(t, at, resp)
		if res.status != http.StatusUnauthorized || !strings.Contains(res.body, "Test sign-in failed") || !strings.Contains(res.body, "<code>missing_attribute</code>") {
			t.Errorf("result page: %d, want 401 failed with missing_attribute:\n%s", res.status, res.body)
		}
		got, err := diagnostics.Load(context.Background(), e.st, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != diagnostics.Failed || got.Failure == nil || got.Failure.Code != "missing_attribute" {
			t.Errorf("stored result = %+v, want failed with missing_attribute", got)
		}
		fs := e.failures(t, "acme", c.ID)
		if len(fs) != 1 || fs[0].Code != "missing_attribute" || !fs[0].Test {
			t.Errorf("failures = %+v, want one missing_attribute marked Test", fs)
		}
		if b.sessionsIssued() != 0 {
			t.Error("a failed test issued a session")
		}
	})
}

// A disabled connection is not offered and cannot be started, but an
// admin can still test it before switching it on.
func TestSSODisabledConnection(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{disabled: true})
		b := e.browser(t)
		if login := b.get(t, e.url("acme", "/.partnergate/login")); len(links(login.body, "Sign in with")) != 0 {
			t.Errorf("login page offers a disabled connection:\n%s", login.body)
		}
		p := b.get(t, e.url("acme", startPath+c.ID))
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "This sign-in option is not available") {
			t.Errorf("start of a disabled connection: %d, want the 404 page:\n%s", p.status, p.body)
		}
		link, _ := beginTest(t, e, "acme", c.ID)
		at, resp := b.samlLogin(t, idp, link, "bob")
		if res := b.submitForm(t, at, resp); !strings.Contains(res.body, "Test sign-in succeeded") {
			t.Errorf("test of a disabled connection: %d:\n%s", res.status, res.body)
		}
		if b.sessionsIssued() != 0 {
			t.Error("a disabled connection issued a session")
		}
	})
}

// The OIDC callback is good once, in the browser that started the
// sign-in.
func TestSSOOIDCCallbackReplay(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		op, c := e.oidcConn(t, "acme", "zitadel", true)
		atCallback := func(u *url.URL) bool { return u.Path == callbackPath }

		t.Run("twice", func(t *testing.T) {
			b := e.browser(t)
			b.stop = atCallback
			p := b.oidcLogin(t, op, e.url("acme", startPath+c.ID))
			cb := resolve(t, p.url, p.header.Get("Location"))
			b.stop = nil
			if app := b.get(t, cb); app.status != http.StatusOK || b.sessionsIssued() != 1 {
				t.Fatalf("first callback: %d, %d sessions; want signed in", app.status, b.sessionsIssued())
			}
			again := b.get(t, cb)
			if again.status != http.StatusBadRequest || errorReference(again.body) != "invalid_state" || b.sessionsIssued() != 1 {
				t.Errorf("replayed callback: %d ref %q, %d sessions; want 400 invalid_state and no new session",
					again.status, errorReference(again.body), b.sessionsIssued())
			}
		})

		t.Run("other browser", func(t *testing.T) {
			a := e.browser(t)
			a.stop = atCallback
			p := a.oidcLogin(t, op, e.url("acme", startPath+c.ID))
			cb := resolve(t, p.url, p.header.Get("Location"))
			other := e.browser(t)
			got := other.get(t, cb)
			wantRefused(t, other, got, http.StatusBadRequest, "invalid_state")
			e.wantFailure(t, "acme", c.ID, "invalid_state")
			if _, status := other.whoami(t, e, "acme"); status != http.StatusUnauthorized {
				t.Errorf("other browser whoami: %d, want 401", status)
			}
			// The stolen callback used the flow up: the starting browser
			// cannot finish it either.
			a.stop = nil
			wantRefused(t, a, a.get(t, cb), http.StatusBadRequest, "invalid_state")
		})
	})
}

// A SAML response signs in once. Posted again it is refused, with or
// without the RelayState that named its flow, even by a connection that
// accepts IdP-initiated sign-ins: the flow is used up, so the response
// answers no pending request (crewjam refuses an InResponseTo it was not
// given before the replay cache is asked; TestSSOSAMLIdPInitiated covers
// the replay cache itself).
func TestSSOSAMLReplay(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{idpInitiated: true})
		b := e.browser(t)
		at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
		if app := b.submitForm(t, at, resp); app.status != http.StatusOK || b.sessionsIssued() != 1 {
			t.Fatalf("sign-in: %d at %s", app.status, app.url)
		}
		acs := resolve(t, at.url, resp.action)
		for _, tc := range []struct {
			name string
			form url.Values
		}{
			{"with RelayState", resp.fields},
			{"without RelayState", url.Values{"SAMLResponse": {resp.fields.Get("SAMLResponse")}}},
		} {
			attacker := e.browser(t)
			got := attacker.post(t, acs, tc.form)
			wantRefused(t, attacker, got, http.StatusUnauthorized, "unsolicited_response")
			e.wantFailure(t, "acme", c.ID, "unsolicited_response")
			if _, status := attacker.whoami(t, e, "acme"); status != http.StatusUnauthorized {
				t.Errorf("%s: the replaying browser is signed in", tc.name)
			}
		}
	})
}

// A response the IdP made for partner acme's SP does not sign anyone in
// at partner globex, even when globex trusts the same IdP and accepts
// IdP-initiated sign-ins.
func TestSSOSAMLResponseForAnotherPartner(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme", "globex")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
		_, gc := e.samlConn(t, "globex", "ssp", samlOpts{trust: idp, idpInitiated: true})

		b := e.browser(t)
		_, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
		got := b.post(t, e.url("globex", preset.ACSPath), resp.fields)
		if got.status != http.StatusUnauthorized || errorReference(got.body) == "" {
			t.Errorf("acme's response at globex: %d ref %q, want 401 with a reference", got.status, errorReference(got.body))
		}
		if b.sessionsIssued() != 0 {
			t.Errorf("%d sessions issued", b.sessionsIssued())
		}
		if fs := e.failures(t, "globex", gc.ID); len(fs) != 1 || !slices.Contains([]string{"wrong_audience", "wrong_recipient"}, fs[0].Code) {
			t.Errorf("globex failures = %+v, want one wrong_audience or wrong_recipient", fs)
		}
		for _, partner := range []string{"acme", "globex"} {
			if _, status := b.whoami(t, e, partner); status != http.StatusUnauthorized {
				t.Errorf("signed in at %s: %d", partner, status)
			}
		}
	})
}

// An IdP-initiated response (no request of ours, no RelayState) is
// refused unless the connection opted in.
func TestSSOSAMLIdPInitiated(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
		b := e.browser(t)
		// SimpleSAMLphp's own IdP-initiated entry point.
		unsolicited := idp.BaseURL + "/saml2/idp/SSOService.php?spentityid=" + url.QueryEscape(e.url("acme", preset.MetadataPath))
		at, resp := b.samlLogin(t, idp, unsolicited, "alice")
		if resp.fields.Get("RelayState") != "" {
			t.Fatalf("IdP-initiated response has RelayState %q", resp.fields.Get("RelayState"))
		}
		got := b.submitForm(t, at, resp)
		wantRefused(t, b, got, http.StatusUnauthorized, "unsolicited_response")
		e.wantFailure(t, "acme", c.ID, "unsolicited_response")

		// Opted in, a fresh unsolicited response signs in.
		if _, err := e.st.UpdateSSOConnection(context.Background(), "acme", c.ID, func(sc store.SSOConnection) (store.SSOConnection, error) {
			cfg, err := connection.Decode(sc)
			if err != nil {
				return sc, err
			}
			cfg.SAML.AllowIdPInitiated = true
			sc.Config, err = connection.Encode(cfg)
			return sc, err
		}); err != nil {
			t.Fatal(err)
		}
		at, resp = b.samlLogin(t, idp, unsolicited, "alice")
		if app := b.submitForm(t, at, resp); app.status != http.StatusOK || b.sessionsIssued() != 1 {
			t.Errorf("IdP-initiated sign-in when allowed: %d at %s, %d sessions", app.status, app.url, b.sessionsIssued())
		}
		// The same unsolicited response again is a replay: nothing but
		// the assertion id tells it from a fresh one.
		attacker := e.browser(t)
		wantRefused(t, attacker, attacker.submitForm(t, at, resp), http.StatusUnauthorized, "replay")
		e.wantFailure(t, "acme", c.ID, "replay")
	})
}

// What the IdP says cannot override the partner's own account rules.
func TestSSOAccountRules(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		t.Run("suspended user", func(t *testing.T) {
			t.Parallel()
			e := newSSOEnv(t, backend, "acme")
			idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
			if err := e.st.CreateUser(context.Background(), store.User{ID: "u-alice", PartnerID: "acme", Email: "alice@example.com", Active: false}); err != nil {
				t.Fatal(err)
			}
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
			wantRefused(t, b, b.submitForm(t, at, resp), http.StatusForbidden, "user_inactive")
			e.wantFailure(t, "acme", c.ID, "user_inactive")
		})
		t.Run("domain not served", func(t *testing.T) {
			t.Parallel()
			// The connection serves example.org; its IdP asserting an
			// example.com user must not reach example.com's account.
			e := newSSOEnv(t, backend, "acme")
			idp, c := e.samlConn(t, "acme", "ssp", samlOpts{domains: []string{"example.org"}})
			if err := e.st.CreateUser(context.Background(), store.User{ID: "u-alice", PartnerID: "acme", Email: "alice@example.com", Active: true}); err != nil {
				t.Fatal(err)
			}
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
			wantRefused(t, b, b.submitForm(t, at, resp), http.StatusForbidden, "email_domain_not_allowed")
			e.wantFailure(t, "acme", c.ID, "email_domain_not_allowed")
		})
		t.Run("no JIT", func(t *testing.T) {
			t.Parallel()
			e := newSSOEnv(t, backend, "acme")
			idp, c := e.samlConn(t, "acme", "ssp", samlOpts{noJIT: true})
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "bob")
			wantRefused(t, b, b.submitForm(t, at, resp), http.StatusForbidden, "user_not_provisioned")
			e.wantFailure(t, "acme", c.ID, "user_not_provisioned")
			if us := e.users(t, "acme"); len(us) != 0 {
				t.Errorf("users created without JIT: %+v", us)
			}
		})
		t.Run("groups follow the IdP", func(t *testing.T) {
			t.Parallel()
			// An existing user (say invited, with a password) is linked by
			// email; a group the IdP no longer names is taken away.
			ctx := context.Background()
			e := newSSOEnv(t, backend, "acme")
			eng := addEngineeringAdmins(t, e, "acme")
			idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
			sales := store.Group{ID: "g-sales", PartnerID: "acme", Name: "sales"}
			if err := e.st.CreateGroup(ctx, sales); err != nil {
				t.Fatal(err)
			}
			if err := e.st.CreateRoleMapping(ctx, store.RoleMapping{ID: "rm-sales", PartnerID: "acme", GroupID: sales.ID, Role: "billing"}); err != nil {
				t.Fatal(err)
			}
			alice := store.User{ID: "u-alice", PartnerID: "acme", Email: "alice@example.com", Name: "Alice", Active: true}
			if err := e.st.CreateUser(ctx, alice); err != nil {
				t.Fatal(err)
			}
			if err := e.st.AddGroupMembers(ctx, "acme", sales.ID, []string{alice.ID}); err != nil {
				t.Fatal(err)
			}
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
			app := b.submitForm(t, at, resp)
			seen := parseEcho(app.body)
			if app.status != http.StatusOK || seen["X-Auth-User"] != alice.ID || seen["X-Auth-Roles"] != "admin" {
				t.Errorf("app saw %v (%d), want %s with roles exactly admin", seen, app.status, alice.ID)
			}
			after, err := e.st.GetUser(ctx, "acme", alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(after.Groups, []string{eng.ID}) || after.Name != "Alice Anderson" {
				t.Errorf("after sign-in alice has groups %v name %q, want [%s] and the IdP's name", after.Groups, after.Name, eng.ID)
			}
		})
		t.Run("SCIM owns provisioning", func(t *testing.T) {
			t.Parallel()
			e := newSSOEnv(t, backend, "acme")
			idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
			if err := e.st.CreateToken(context.Background(), store.Token{
				ID: "tok-scim", PartnerID: "acme", Kind: store.SCIMToken, Name: "Okta", SecretHash: strings.Repeat("0", 64),
				CreatedBy: "test", CreatedAt: time.Now(),
			}); err != nil {
				t.Fatal(err)
			}
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
			wantRefused(t, b, b.submitForm(t, at, resp), http.StatusForbidden, "user_not_provisioned")
			e.wantFailure(t, "acme", c.ID, "user_not_provisioned")
			if us := e.users(t, "acme"); len(us) != 0 {
				t.Errorf("users created despite SCIM: %+v", us)
			}
		})
	})
}

// Switching a connection off is how an admin stops sign-ins through an
// IdP they no longer trust: a sign-in already on its way at the IdP must
// not complete afterwards.
func TestSSODisabledMidFlow(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		disable := func(id string) {
			t.Helper()
			if _, err := e.st.UpdateSSOConnection(context.Background(), "acme", id, func(sc store.SSOConnection) (store.SSOConnection, error) {
				sc.Enabled = false
				return sc, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		t.Run("OIDC", func(t *testing.T) {
			op, c := e.oidcConn(t, "acme", "zitadel", true)
			b := e.browser(t)
			b.stop = func(u *url.URL) bool { return u.Path == callbackPath }
			p := b.oidcLogin(t, op, e.url("acme", startPath+c.ID))
			disable(c.ID)
			b.stop = nil
			wantRefused(t, b, b.get(t, resolve(t, p.url, p.header.Get("Location"))), http.StatusUnauthorized, "connection_disabled")
			e.wantFailure(t, "acme", c.ID, "connection_disabled")
		})
		t.Run("SAML", func(t *testing.T) {
			idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
			disable(c.ID)
			wantRefused(t, b, b.submitForm(t, at, resp), http.StatusUnauthorized, "connection_disabled")
			e.wantFailure(t, "acme", c.ID, "connection_disabled")
			if us := e.users(t, "acme"); len(us) != 0 {
				t.Errorf("a disabled connection provisioned %+v", us)
			}
		})
	})
}

// An IdP that cannot be reached is the IdP's outage, not the user's
// fault: the page says so and the admins see why.
func TestSSOUnreachableIdP(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		dead := httptest.NewServer(http.NotFoundHandler())
		dead.Close()
		c := e.createConnection(t, store.SSOConnection{ID: "dead", PartnerID: "acme", Protocol: "oidc", Preset: "generic-oidc", Enabled: true},
			connection.Config{OIDC: &connection.OIDC{
				Issuer: dead.URL, ClientID: "c", SealedSecret: connection.SealSecret(e.box, "acme", "dead", "s"), Scopes: []string{"openid"},
			}, Mapping: oidcMapping})
		b := e.browser(t)
		p := b.get(t, e.url("acme", startPath+c.ID))
		wantRefused(t, b, p, http.StatusBadGateway, "idp_unreachable")
		if !strings.Contains(p.body, "cannot be reached right now") {
			t.Errorf("outage page does not say the IdP is unreachable:\n%s", p.body)
		}
		e.wantFailure(t, "acme", c.ID, "idp_unreachable")
	})
}

// A flow's state is visible to the browser (in the URL to the IdP). Sent
// to the other protocol's endpoint it must be refused like any unknown
// state, not read as that protocol's settings.
func TestSSOStateOfOtherProtocol(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		_, oc := e.oidcConn(t, "acme", "zitadel", true)
		idp, sc := e.samlConn(t, "acme", "ssp", samlOpts{})
		toIdP := func(b *browser, connID string) *url.URL {
			b.stop = func(u *url.URL) bool { return u.Host != e.host("acme") }
			p := b.get(t, e.url("acme", startPath+connID))
			b.stop = nil
			u, err := url.Parse(p.header.Get("Location"))
			if p.status != http.StatusFound || err != nil {
				t.Fatalf("start %s: %d %q", connID, p.status, p.header.Get("Location"))
			}
			return u
		}

		t.Run("OIDC state at the ACS", func(t *testing.T) {
			b := e.browser(t)
			state := toIdP(b, oc.ID).Query().Get("state")
			_, resp := e.browser(t).samlLogin(t, idp, e.url("acme", startPath+sc.ID), "alice")
			resp.fields.Set("RelayState", state)
			wantRefused(t, b, b.post(t, e.url("acme", preset.ACSPath), resp.fields), http.StatusBadRequest, "invalid_state")
			e.wantFailure(t, "acme", oc.ID, "invalid_state")
		})
		t.Run("SAML RelayState at the OIDC callback", func(t *testing.T) {
			b := e.browser(t)
			relay := toIdP(b, sc.ID).Query().Get("RelayState")
			wantRefused(t, b, b.get(t, e.url("acme", callbackPath+"?"+url.Values{"state": {relay}, "code": {"x"}}.Encode())), http.StatusBadRequest, "invalid_state")
			e.wantFailure(t, "acme", sc.ID, "invalid_state")
		})
	})
}

// An OIDC test sign-in shows the ID token's claims and leaves no trace
// but its result.
func TestSSOTestSignInOIDC(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		op, c := e.oidcConn(t, "acme", "zitadel", true)
		b := e.browser(t)
		link, id := beginTest(t, e, "acme", c.ID)
		res := b.oidcLogin(t, op, link)
		if res.status != http.StatusOK || !strings.Contains(res.body, "Test sign-in succeeded") || !strings.Contains(res.body, op.Email) ||
			!strings.Contains(res.body, "<dt>Issuer</dt><dd>"+op.Issuer+"</dd>") {
			t.Errorf("result page: %d, want success naming %s and issuer %s:\n%s", res.status, op.Email, op.Issuer, res.body)
		}
		got, err := diagnostics.Load(context.Background(), e.st, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != diagnostics.Succeeded || got.Issuer != op.Issuer || !slices.Equal(got.Claims["email"], []string{op.Email}) {
			t.Errorf("stored result = %+v", got)
		}
		if b.sessionsIssued() != 0 || len(e.users(t, "acme")) != 0 {
			t.Errorf("test sign-in left %d sessions and users %+v", b.sessionsIssued(), e.users(t, "acme"))
		}
		if _, status := b.whoami(t, e, "acme"); status != http.StatusUnauthorized {
			t.Errorf("signed in after a test: %d", status)
		}
	})
}

// TestSSOSAMLUnsolicitedInVictimsFlow: on a connection that accepts
// IdP-initiated sign-ins, an attacker's unsolicited response posted with
// the RelayState of a flow the victim started must not complete it: a
// flow we started only takes the answer to our own request.
func TestSSOSAMLUnsolicitedInVictimsFlow(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{idpInitiated: true})
		victim := e.browser(t)
		_, started := victim.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
		relay := started.fields.Get("RelayState")
		if relay == "" {
			t.Fatal("the victim's flow has no RelayState")
		}
		attacker := e.browser(t)
		unsolicited := idp.BaseURL + "/saml2/idp/SSOService.php?spentityid=" + url.QueryEscape(e.url("acme", preset.MetadataPath))
		at, forged := attacker.samlLogin(t, idp, unsolicited, "bob")
		forged.fields.Set("RelayState", relay)
		got := victim.submitForm(t, at, forged)
		wantRefused(t, victim, got, http.StatusUnauthorized, "unsolicited_response")
		if victim.sessionsIssued() != 0 {
			t.Error("the victim was signed in as the attacker")
		}
	})
}

// TestSSOIdPInitiatedNeedsOneTrustingConnection: an unsolicited response
// goes to the one opted-in connection trusting its issuer; two such
// connections cannot be told apart, and a response no connection trusts
// leaves no connection's failure log longer.
func TestSSOIdPInitiatedNeedsOneTrustingConnection(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, first := e.samlConn(t, "acme", "ssp", samlOpts{idpInitiated: true})
		_, second := e.samlConn(t, "acme", "ssp2", samlOpts{idpInitiated: true, trust: idp})
		b := e.browser(t)
		unsolicited := idp.BaseURL + "/saml2/idp/SSOService.php?spentityid=" + url.QueryEscape(e.url("acme", preset.MetadataPath))
		at, resp := b.samlLogin(t, idp, unsolicited, "alice")
		wantRefused(t, b, b.submitForm(t, at, resp), http.StatusUnauthorized, "misconfigured")
		if len(e.failures(t, "acme", first.ID))+len(e.failures(t, "acme", second.ID)) != 1 {
			t.Error("the ambiguous response was not recorded once")
		}

		// A response naming an issuer nobody trusts: 400, no record.
		resp.fields.Set("SAMLResponse", base64.StdEncoding.EncodeToString([]byte(
			`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion"><saml:Issuer>https://evil.example</saml:Issuer></samlp:Response>`)))
		stranger := e.browser(t)
		wantRefused(t, stranger, stranger.submitForm(t, at, resp), http.StatusBadRequest, "unsolicited_response")
		if len(e.failures(t, "acme", first.ID))+len(e.failures(t, "acme", second.ID)) != 1 {
			t.Error("a response nobody trusts was recorded against a connection")
		}
	})
}

// TestSSOStoreOutage: a store that does not answer while a verified
// sign-in is mapped to its user is a 503 with Retry-After, as every
// outage is, and no session.
func TestSSOStoreOutage(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnvWrapped(t, backend, func(st store.Store) gateway.SSOStore { return gateway.UnavailableUsers(st) }, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
		b := e.browser(t)
		at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
		got := b.submitForm(t, at, resp)
		if got.status != http.StatusServiceUnavailable || got.header.Get("Retry-After") == "" || b.sessionsIssued() != 0 {
			t.Errorf("store outage: status %d, Retry-After %q, %d sessions", got.status, got.header.Get("Retry-After"), b.sessionsIssued())
		}
		if n := len(e.failures(t, "acme", c.ID)); n != 0 {
			t.Errorf("an outage was recorded as %d failed sign-ins", n)
		}
	})
}

// TestSSODomainSignsInOnlyThroughSSO: once a connection routes a domain,
// its users sign in through their IdP only: a right password for a user
// of that domain leads to the IdP, never to a session.
func TestSSODomainSignsInOnlyThroughSSO(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		_, c := e.samlConn(t, "acme", "ssp", samlOpts{domains: []string{"example.com"}})
		hash, err := password.Hash("a long and right password")
		if err != nil {
			t.Fatal(err)
		}
		if err := e.st.CreateUser(t.Context(), store.User{ID: "u-alice", PartnerID: "acme", Email: "alice@example.com", PasswordHash: hash, Active: true}); err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		login := b.get(t, e.url("acme", "/.partnergate/login"))
		f, ok := findForm(login.body, "csrf_token")
		if !ok {
			t.Fatalf("login page has no form:\n%s", login.body)
		}
		f.fields.Set("email", "alice@example.com")
		f.fields.Set("password", "a long and right password")
		p := b.submitForm(t, login, f)
		if p.status != http.StatusOK || !strings.Contains(metaRefresh(p.body), startPath+c.ID) || b.sessionsIssued() != 0 {
			t.Errorf("password sign-in of a routed domain: %d, refresh %q, %d sessions; want the way to the IdP and no session", p.status, metaRefresh(p.body), b.sessionsIssued())
		}
	})
}
