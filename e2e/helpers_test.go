package e2e

// Helpers the tests share on top of the harness: starting nodes with a
// partner seeded, signing in, posting forms and waiting for an answer.

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
)

// starter starts a node on some store; it fills in the store of cfg.
type starter = func(t *testing.T, cfg nodeConfig) *node

// onFile starts a node on a new embedded store.
func onFile(t *testing.T, cfg nodeConfig) *node {
	cfg.store = "file " + t.TempDir()
	return startNode(t, cfg)
}

// onRedis starts a node on a new Redis of its own.
func onRedis(t *testing.T, cfg nodeConfig) *node {
	cfg.store = "redis " + redistest.Start(t).URL()
	return startNode(t, cfg)
}

// onStore starts nodes on the given store, so several can share it.
func onStore(store string) starter {
	return func(t *testing.T, cfg nodeConfig) *node {
		cfg.store = store
		return startNode(t, cfg)
	}
}

// startApp starts a node with start and extra options in front of a new
// app.
func startApp(t *testing.T, start starter, options ...string) (*node, *upstream) {
	t.Helper()
	up := startUpstream(t)
	return start(t, nodeConfig{upstream: up.addr, options: options}), up
}

// startAcme is startApp with the acme partner and its user alice seeded.
func startAcme(t *testing.T, start starter, options ...string) (*node, *upstream) {
	t.Helper()
	n, up := startApp(t, start, options...)
	n.seedAcme(t)
	return n, up
}

// startSignedIn is startAcme with alice signed in on a new client.
func startSignedIn(t *testing.T, start starter) (*node, *upstream, *http.Client) {
	t.Helper()
	n, up := startAcme(t, start)
	return n, up, n.signIn(t, partnerHost("acme"), acmeEmail, acmePassword)
}

// seedAcme creates the acme partner with alice and returns alice's id.
func (n *node) seedAcme(t *testing.T) string {
	t.Helper()
	return n.seedPartner(t, "acme", "Acme Corp", acmeEmail, acmePassword)
}

// seedGlobex creates the globex partner with hank and returns hank's id.
func (n *node) seedGlobex(t *testing.T) string {
	t.Helper()
	return n.seedPartner(t, "globex", "Globex Corporation", globexEmail, globexPass)
}

// startPair runs two nodes on one new Redis in front of one app, and
// seeds acme through a once both run, so b learns of it by event.
func startPair(t *testing.T) (a, b *node) {
	t.Helper()
	r := redistest.Start(t)
	up := startUpstream(t)
	a = startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	b = a.twin(t)
	a.seedAcme(t)
	b.waitHost(t, partnerHost("acme"))
	return a, b
}

// twin starts another node with this node's config (a shared store).
func (n *node) twin(t *testing.T) *node {
	t.Helper()
	return startNode(t, n.config)
}

// signIn returns a new client signed in on host.
func (n *node) signIn(t *testing.T, host, email, password string) *http.Client {
	t.Helper()
	c := n.client()
	n.mustLogin(t, c, host, email, password)
	return c
}

// sessionHeader is a Cookie header carrying c's session on host.
func (n *node) sessionHeader(t *testing.T, c *http.Client, host string) http.Header {
	t.Helper()
	return http.Header{"Cookie": {"pg_session=" + sessionCookieFor(t, c, n.url(host, "/"))}}
}

// loginPage loads host's login page with a new client and returns the
// client, the form's URL and its CSRF token.
func (n *node) loginPage(t *testing.T, host string) (c *http.Client, loginURL, token string) {
	t.Helper()
	c = n.client()
	loginURL = n.url(host, "/.partnergate/login")
	return c, loginURL, csrf(t, c, loginURL)
}

// reached sends an API GET that must be proxied (status 200) and returns
// the request as the app got it.
func (u *upstream) reached(t *testing.T, c *http.Client, target string, header http.Header) *http.Request {
	t.Helper()
	if resp := get(t, c, target, header); resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, want 200", resp.StatusCode)
	}
	return u.last(t)
}

// poll calls send, pausing between tries, until it answers one of want or
// within has passed, and returns the last answer.
func poll(within, pause time.Duration, send func() *http.Response, want ...int) *http.Response {
	deadline := time.Now().Add(within)
	for {
		resp := send()
		if slices.Contains(want, resp.StatusCode) || time.Now().After(deadline) {
			return resp
		}
		time.Sleep(pause)
	}
}

// checkFailedClosed checks an answer given while the store is down: 503
// with Retry-After, and the session cookie left as it was.
func checkFailedClosed(t *testing.T, name string, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("%s: status %d, want 503", name, resp.StatusCode)
	}
	if resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: 503 without Retry-After", name)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == "pg_session" {
			t.Errorf("%s: the session cookie was touched: %v", name, ck)
		}
	}
}

// jarCookie returns the value of c's cookie name for u.
func jarCookie(t *testing.T, c *http.Client, u, name string) string {
	t.Helper()
	parsed, _ := url.Parse(u)
	for _, ck := range c.Jar.Cookies(parsed) {
		if ck.Name == name {
			return ck.Value
		}
	}
	t.Fatalf("no %s cookie for %s", name, u)
	return ""
}

// formRequest is a POST of form to u.
func formRequest(u string, form url.Values) (*http.Request, error) {
	req, err := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return req, nil
}

// postForm posts a form with extra headers and returns the buffered answer.
func postForm(t *testing.T, c *http.Client, u string, form url.Values, header http.Header) *http.Response {
	t.Helper()
	req, err := formRequest(u, form)
	if err != nil {
		t.Fatal(err)
	}
	return send(t, c, req, header)
}

// postLogin sends one sign-in form with an already fetched CSRF token and
// returns the status; it never calls t.Fatal, so goroutines may use it.
func postLogin(c *http.Client, loginURL, token, email, password string, header http.Header) (int, error) {
	req, err := formRequest(loginURL, url.Values{"email": {email}, "password": {password}, "csrf_token": {token}, "return_to": {"/"}})
	if err != nil {
		return 0, err
	}
	resp, err := roundTrip(c, req, header)
	if err != nil {
		return 0, err
	}
	return resp.StatusCode, nil
}
