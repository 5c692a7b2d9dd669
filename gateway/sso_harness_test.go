package gateway_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/governance"
	"github.com/partnergate/partnergate/internal/clocktest"
	"github.com/partnergate/partnergate/internal/idptest"
	"github.com/partnergate/partnergate/internal/teststore"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/sso/oidc"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// ssoBackends are the stores every SSO test runs on: flows, handoffs,
// replay marks and test results are tickets, whose take-once semantics
// each backend implements on its own.
var ssoBackends = teststore.Backends

// onEachBackend runs test once per store backend, in parallel.
func onEachBackend(t *testing.T, test func(t *testing.T, backend string)) {
	t.Helper()
	for _, backend := range ssoBackends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, backend)
		})
	}
}

// ssoEnv is a gateway with SSO turned on, served over real HTTP with an
// app behind it that echoes the identity headers it receives.
type ssoEnv struct {
	st       store.Store
	policies *governance.Source
	clock    *clocktest.Clock
	cfg      gateway.Config
	sessions *session.Manager
	box      *secretbox.Box
	srv      *httptest.Server
	port     string
}

// newSSOEnv creates partners (each reachable at ID.apps.localhost:PORT).
func newSSOEnv(t *testing.T, backend string, partners ...string) *ssoEnv {
	t.Helper()
	return newSSOEnvWrapped(t, backend, nil, partners...)
}

// newSSOEnvWrapped is newSSOEnv with the SSO store seen through wrap.
func newSSOEnvWrapped(t *testing.T, backend string, wrap func(store.Store) gateway.SSOStore, partners ...string) *ssoEnv {
	t.Helper()
	ctx := context.Background()
	st := teststore.Open(t, backend)
	var ssoStore gateway.SSOStore = st
	if wrap != nil {
		ssoStore = wrap(st)
	}
	for _, id := range partners {
		if err := st.CreatePartner(ctx, store.Partner{ID: id, Name: strings.ToUpper(id[:1]) + id[1:] + " Corp"}); err != nil {
			t.Fatal(err)
		}
	}
	sessions, err := session.NewManager(session.Config{Store: st, MACKey: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	sessions.SetHealthy(true)
	dir := gateway.NewDirectory("apps.localhost", st.ListPartners)
	if err := dir.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	tpl, err := templates.Parse()
	if err != nil {
		t.Fatal(err)
	}
	trail, err := audit.New(audit.Config{Store: st})
	if err != nil {
		t.Fatal(err)
	}
	box, err := secretbox.New(bytes.Repeat([]byte("b"), 32))
	if err != nil {
		t.Fatal(err)
	}
	policies := governance.New(st, policy.Policy{})
	policies.SetHealthy(true)
	clock := clocktest.New(time.Now())
	cfg := gateway.Config{
		Directory: dir, Sessions: sessions, Store: st, Templates: tpl, Audit: trail,
		CSRFKey: []byte(strings.Repeat("c", 32)), Scheme: "http",
		Policies: policies, MFA: &gateway.MFA{Store: st, Secrets: box}, Now: clock.Now, Branding: st,
		SSO: &gateway.SSO{
			Store: ssoStore, OIDC: oidc.New(oidc.Options{}),
			SAML:    saml.NewMetadataCache(nil, 5*time.Second, time.Hour, nil),
			Secrets: box,
		},
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// net/http would swallow a panic and the client retry a GET,
		// hiding the crash: report it instead.
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("gateway panicked serving %s %s: %v", r.Method, r.URL, v)
				http.Error(w, "panic", http.StatusInternalServerError)
			}
		}()
		if _, ok := gw.Serve(w, r); !ok {
			return
		}
		// The app: what a protected upstream learns about its user.
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		for _, h := range []string{"X-Auth-User", "X-Auth-Email", "X-Auth-Name", "X-Auth-Groups", "X-Auth-Roles"} {
			fmt.Fprintf(w, "%s: %s\n", h, r.Header.Get(h))
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return &ssoEnv{st: st, policies: policies, clock: clock, cfg: cfg, sessions: sessions, box: box, srv: srv, port: port}
}

func (e *ssoEnv) host(partner string) string { return partner + ".apps.localhost:" + e.port }

func (e *ssoEnv) url(partner, path string) string { return "http://" + e.host(partner) + path }

func (e *ssoEnv) createConnection(t *testing.T, c store.SSOConnection, cfg connection.Config) store.SSOConnection {
	t.Helper()
	raw, err := connection.Encode(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Config = raw
	if c.Name == "" {
		c.Name = "Corp IdP " + c.ID
	}
	if err := e.st.CreateSSOConnection(context.Background(), c); err != nil {
		t.Fatalf("create connection %s: %v", c.ID, err)
	}
	return c
}

var oidcMapping = preset.Mapping{Email: []string{"email"}, Name: []string{"name"}, GivenName: []string{"given_name"}, FamilyName: []string{"family_name"}}

var samlMapping = preset.Mapping{Email: []string{"email"}, Name: []string{"displayName"}, GivenName: []string{"firstName"}, FamilyName: []string{"lastName"}, Groups: []string{"groups"}}

// oidcConn is an OIDC connection of the partner to the zitadel example
// OP, which is started for it with the gateway's redirect URI registered.
func (e *ssoEnv) oidcConn(t *testing.T, partner, id string, jit bool) (*idptest.OIDCProvider, store.SSOConnection) {
	t.Helper()
	clientID, secret := "pg-"+rand.Text(), rand.Text()
	op := idptest.StartOIDCProvider(t, idptest.OIDCClient{
		ID: clientID, Secret: secret, RedirectURIs: []string{e.url(partner, "/.partnergate/callback/oidc")}, ClaimsInIDToken: true,
	})
	c := e.createConnection(t, store.SSOConnection{ID: id, PartnerID: partner, Name: "Zitadel " + id, Preset: "generic-oidc", Protocol: "oidc", Enabled: true, JIT: jit},
		connection.Config{OIDC: &connection.OIDC{
			Issuer: op.Issuer, ClientID: clientID, SealedSecret: connection.SealSecret(e.box, partner, id, secret),
			Scopes: []string{"openid", "email", "profile"},
		}, Mapping: oidcMapping})
	return op, c
}

// samlOpts tune a SAML connection before it is stored.
type samlOpts struct {
	idpInitiated bool
	disabled     bool
	noJIT        bool
	domains      []string
	mapping      *preset.Mapping
	// trust, when set, is an IdP already running (for another SP) that
	// the connection trusts instead of one started for it.
	trust *idptest.SAMLIdP
}

// samlConn starts SimpleSAMLphp for the partner's SP (its entity id, ACS,
// this connection's SLO URL and a fresh SP certificate) and stores the
// connection that trusts it.
func (e *ssoEnv) samlConn(t *testing.T, partner, id string, o samlOpts) (*idptest.SAMLIdP, store.SSOConnection) {
	t.Helper()
	key, cert, err := saml.NewKeyPair(partner+" SP", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := connection.SealSPKey(e.box, partner, id, key)
	if err != nil {
		t.Fatal(err)
	}
	idp := o.trust
	if idp == nil {
		idp = idptest.StartSimpleSAMLphp(t, idptest.SAMLServiceProvider{
			EntityID:       e.url(partner, preset.MetadataPath),
			ACSURL:         e.url(partner, preset.ACSPath),
			SLOURL:         e.url(partner, "/.partnergate/saml/slo?connection="+id),
			CertificatePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		})
	}
	m := samlMapping
	if o.mapping != nil {
		m = *o.mapping
	}
	c := e.createConnection(t, store.SSOConnection{
		ID: id, PartnerID: partner, Name: "SimpleSAMLphp " + id, Preset: "generic-saml", Protocol: "saml",
		Enabled: !o.disabled, JIT: !o.noJIT, Domains: o.domains,
	}, connection.Config{SAML: &connection.SAML{
		MetadataXML: string(idp.MetadataXML), SignRequests: true, AllowIdPInitiated: o.idpInitiated,
		SPCertificate: cert.Raw, SealedSPKey: sealed,
	}, Mapping: m})
	return idp, c
}

// browser is a cookie-keeping HTTP client that reaches *.localhost hosts
// at the test server (Go cannot resolve them) and everything else, the
// IdPs on 127.0.0.1, directly. It notes every session cookie it is given.
type browser struct {
	c   *http.Client
	jar *cookiejar.Jar

	mu       sync.Mutex
	sessions []string // non-empty pg_session values set on any response
	// stop, when set, ends redirect-following before a request to a URL
	// it matches: the response leading there is returned as is.
	stop func(*url.URL) bool
}

func (e *ssoEnv) browser(t *testing.T) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	target := e.srv.Listener.Addr().String()
	var d net.Dialer
	b := &browser{jar: jar}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if host, _, _ := net.SplitHostPort(addr); strings.HasSuffix(host, ".localhost") {
			addr = target
		}
		return d.DialContext(ctx, network, addr)
	}}
	t.Cleanup(tr.CloseIdleConnections)
	b.c = &http.Client{
		Jar:       jar,
		Transport: recordingTransport{next: tr, b: b},
		Timeout:   20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if b.stop != nil && b.stop(req.URL) {
				return http.ErrUseLastResponse
			}
			if len(via) > 20 {
				return fmt.Errorf("too many redirects")
			}
			return nil
		},
	}
	return b
}

type recordingTransport struct {
	next http.RoundTripper
	b    *browser
}

func (rt recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// Pages are fetched as a browser would, so the gateway answers with
	// redirects to the login page rather than bare 401s.
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "text/html")
	}
	resp, err := rt.next.RoundTrip(r)
	if err == nil {
		for _, c := range resp.Cookies() {
			if c.Name == "pg_session" && c.Value != "" {
				rt.b.mu.Lock()
				rt.b.sessions = append(rt.b.sessions, c.Value)
				rt.b.mu.Unlock()
			}
		}
	}
	return resp, err
}

// sessionsIssued is how many session cookies this browser was given.
func (b *browser) sessionsIssued() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sessions)
}

func (b *browser) lastSession() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.sessions) == 0 {
		return ""
	}
	return b.sessions[len(b.sessions)-1]
}

type page struct {
	status int
	url    *url.URL
	header http.Header
	body   string
}

func (b *browser) do(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: resp.StatusCode, url: resp.Request.URL, header: resp.Header, body: string(body)}
}

func (b *browser) get(t *testing.T, u string) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return b.do(t, req)
}

func (b *browser) post(t *testing.T, u string, form url.Values) page {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(t, req)
}

// whoami asks the app, as an API client (no redirect to the login page),
// who this browser is on host; "" with the status when nobody.
func (b *browser) whoami(t *testing.T, e *ssoEnv, partner string) (map[string]string, int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.url(partner, "/whoami"), nil)
	req.Header.Set("Accept", "text/plain")
	p := b.do(t, req)
	if p.status != http.StatusOK {
		return nil, p.status
	}
	return parseEcho(p.body), p.status
}

func parseEcho(body string) map[string]string {
	out := map[string]string{}
	for line := range strings.Lines(body) {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), ": "); ok {
			out[k] = v
		} else if k, ok := strings.CutSuffix(strings.TrimSpace(line), ":"); ok {
			out[k] = ""
		}
	}
	return out
}

// htmlForm is a parsed <form>: its action and its named inputs' values.
type htmlForm struct {
	action string
	fields url.Values
}

// findForm returns the first form on the page with an input named field.
func findForm(body, field string) (htmlForm, bool) {
	for _, f := range allForms(body) {
		if _, ok := f.fields[field]; ok {
			return f, true
		}
	}
	return htmlForm{}, false
}

// allForms returns the page's forms with their inputs' values.
func allForms(body string) []htmlForm {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil
	}
	var forms []*htmlForm
	var walk func(n *html.Node, cur *htmlForm)
	walk = func(n *html.Node, cur *htmlForm) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				cur = &htmlForm{action: htmlAttr(n, "action"), fields: url.Values{}}
				forms = append(forms, cur)
			case "input", "textarea":
				// An unchecked box is not sent, as in a browser.
				if cur != nil && htmlAttr(n, "name") != "" && (htmlAttr(n, "type") != "checkbox" || hasAttr(n, "checked")) {
					cur.fields.Set(htmlAttr(n, "name"), htmlAttr(n, "value"))
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	out := make([]htmlForm, len(forms))
	for i, f := range forms {
		out[i] = *f
	}
	return out
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func htmlAttr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// links returns the href of every <a> whose text contains text.
func links(body, text string) []string {
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		return nil
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "a" && strings.Contains(nodeText(n), text) {
			out = append(out, htmlAttr(n, "href"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func nodeText(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var s strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		s.WriteString(nodeText(c))
	}
	return s.String()
}

func resolve(t *testing.T, base *url.URL, ref string) string {
	t.Helper()
	u, err := base.Parse(ref)
	if err != nil {
		t.Fatalf("resolve %q: %v", ref, err)
	}
	return u.String()
}

// submitForm posts a form as the page's browser would.
func (b *browser) submitForm(t *testing.T, from page, f htmlForm) page {
	t.Helper()
	return b.post(t, resolve(t, from.url, f.action), f.fields)
}

// samlLogin goes from start (a gateway page that leaves for the IdP) to
// the IdP's response form, logging in as username: it returns that form
// without posting it, so a test can post, replay or misdirect it.
func (b *browser) samlLogin(t *testing.T, idp *idptest.SAMLIdP, start, username string) (page, htmlForm) {
	t.Helper()
	p := b.get(t, start)
	for range 5 {
		if f, ok := findForm(p.body, "SAMLResponse"); ok {
			return p, f
		}
		if f, ok := findForm(p.body, "SAMLRequest"); ok {
			// The gateway's auto-posting page, in case it chose POST.
			p = b.submitForm(t, p, f)
			continue
		}
		if f, ok := findForm(p.body, "password"); ok {
			u := idp.User(t, username)
			f.fields.Set("username", u.Username)
			f.fields.Set("password", u.Password)
			p = b.submitForm(t, p, f)
			continue
		}
		break
	}
	t.Fatalf("no SAMLResponse reached from %s; last page %s (%d):\n%s", start, p.url, p.status, p.body)
	return page{}, htmlForm{}
}

// oidcLogin goes from start to the OP's login form, logs in and follows
// the redirects back (or stops where b.stop says).
func (b *browser) oidcLogin(t *testing.T, op *idptest.OIDCProvider, start string) page {
	t.Helper()
	p := b.get(t, start)
	f, ok := findForm(p.body, "password")
	if !ok {
		t.Fatalf("no OP login form from %s; landed on %s (%d):\n%s", start, p.url, p.status, p.body)
	}
	f.fields.Set("username", op.Username)
	f.fields.Set("password", op.Password)
	return b.submitForm(t, p, f)
}

// errorReference is the reference code an SSO error page shows.
func errorReference(body string) string {
	_, after, ok := strings.Cut(body, "Reference for your administrator: <code>")
	if !ok {
		return ""
	}
	ref, _, _ := strings.Cut(after, "</code>")
	return ref
}

// failures lists a connection's recorded failures, newest first.
func (e *ssoEnv) failures(t *testing.T, partner, connID string) []store.SSOFailure {
	t.Helper()
	fs, err := e.st.ListSSOFailures(context.Background(), partner, connID, 50)
	if err != nil {
		t.Fatal(err)
	}
	return fs
}

// wantFailure checks that the connection's newest failure has the code.
func (e *ssoEnv) wantFailure(t *testing.T, partner, connID, code string) {
	t.Helper()
	fs := e.failures(t, partner, connID)
	if len(fs) == 0 || fs[0].Code != code {
		t.Errorf("failures of %s/%s = %+v, want newest %s", partner, connID, fs, code)
	}
}

// wantRefused checks what a user sees when SSO refuses them: the status,
// the reference code on the error page, and no session.
func wantRefused(t *testing.T, b *browser, p page, status int, code string) {
	t.Helper()
	if p.status != status {
		t.Errorf("status %d at %s, want %d:\n%s", p.status, p.url, status, p.body)
	}
	if got := errorReference(p.body); got != code {
		t.Errorf("reference %q, want %q", got, code)
	}
	if n := b.sessionsIssued(); n != 0 {
		t.Errorf("%d session cookies issued, want none", n)
	}
}

func (e *ssoEnv) users(t *testing.T, partner string) []store.User {
	t.Helper()
	us, err := e.st.ListUsers(context.Background(), partner, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return us
}
