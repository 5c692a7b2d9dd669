package gateway_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
	"github.com/partnergate/partnergate/templates"
)

const (
	testHost     = "acme.apps.localhost"
	testEmail    = "alice@acme.example"
	testPassword = "correct horse battery staple"
)

type fixture struct {
	gw       *gateway.Gateway
	cfg      gateway.Config
	sessions *session.Manager
	store    *bolt.Store
	alice    store.User
}

// newFixture builds a Gateway on the embedded store with partner acme and
// its user alice (password testPassword).
func newFixture(tb testing.TB, limits gateway.Limits) *fixture {
	tb.Helper()
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(tb.TempDir(), "partnergate.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	if err := db.CreatePartner(ctx, store.Partner{ID: "acme", Name: "Acme Corp"}); err != nil {
		tb.Fatal(err)
	}
	hash, err := password.Hash(testPassword)
	if err != nil {
		tb.Fatal(err)
	}
	alice := store.User{ID: "u-alice", PartnerID: "acme", Email: testEmail, Name: "Alice Anders", PasswordHash: hash, Active: true}
	if err := db.CreateUser(ctx, alice); err != nil {
		tb.Fatal(err)
	}
	sessions, err := session.NewManager(session.Config{Store: db, MACKey: []byte(strings.Repeat("s", 32))})
	if err != nil {
		tb.Fatal(err)
	}
	sessions.SetHealthy(true)
	dir := gateway.NewDirectory("apps.localhost", db.ListPartners)
	if err := dir.Reload(ctx); err != nil {
		tb.Fatal(err)
	}
	tpl, err := templates.Parse()
	if err != nil {
		tb.Fatal(err)
	}
	trail, err := audit.New(audit.Config{Store: db})
	if err != nil {
		tb.Fatal(err)
	}
	cfg := gateway.Config{
		Directory: dir,
		Sessions:  sessions,
		Store:     db,
		Templates: tpl,
		Audit:     trail,
		CSRFKey:   []byte(strings.Repeat("c", 32)),
		Limits:    limits,
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{gw: gw, cfg: cfg, sessions: sessions, store: db, alice: alice}
}

// serve runs one request through the gateway and reports whether it would
// have gone upstream.
func (f *fixture) serve(r *http.Request) (*httptest.ResponseRecorder, bool) {
	w := httptest.NewRecorder()
	_, ok := f.gw.Serve(w, r)
	return w, ok
}

var csrfField = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// loginForm fetches the login page as a browser at ip and returns the form
// token with the CSRF cookie it came with.
func (f *fixture) loginForm(t *testing.T, secure bool) (token string, cookie *http.Cookie) {
	t.Helper()
	r := httptest.NewRequest("GET", "http://"+testHost+"/.partnergate/login", nil)
	if secure {
		r.TLS = &tls.ConnectionState{}
	}
	w, _ := f.serve(r)
	m := csrfField.FindStringSubmatch(w.Body.String())
	cookies := w.Result().Cookies()
	if m == nil || len(cookies) != 1 {
		t.Fatalf("login page: status %d, token %v, cookies %v", w.Code, m, cookies)
	}
	return m[1], cookies[0]
}

func (f *fixture) postLogin(t *testing.T, ip, email, pw string, secure bool) *httptest.ResponseRecorder {
	t.Helper()
	token, csrf := f.loginForm(t, secure)
	form := url.Values{"email": {email}, "password": {pw}, "csrf_token": {token}}
	r := httptest.NewRequest("POST", "http://"+testHost+"/.partnergate/login", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(csrf)
	r.RemoteAddr = ip + ":40000"
	if secure {
		r.TLS = &tls.ConnectionState{}
	}
	w, _ := f.serve(r)
	return w
}

func TestHTTPSCookiesAreHostPrefixed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	_, csrf := f.loginForm(t, true)
	if csrf.Name != "__Host-pg_csrf" || !csrf.Secure || csrf.Domain != "" || csrf.Path != "/" {
		t.Errorf("CSRF cookie under HTTPS: %+v, want __Host-pg_csrf, Secure, host-only, Path=/", csrf)
	}
	w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, true)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: status %d, want 303", w.Code)
	}
	var got *http.Cookie
	for _, c := range w.Result().Cookies() {
		if strings.HasSuffix(c.Name, "pg_session") {
			got = c
		}
	}
	if got == nil || got.Name != "__Host-pg_session" || !got.Secure || !got.HttpOnly || got.Domain != "" ||
		got.Path != "/" || got.SameSite != http.SameSiteLaxMode || got.MaxAge <= 0 {
		t.Fatalf("session cookie under HTTPS: %+v, want __Host-pg_session, Secure, HttpOnly, SameSite=Lax, host-only, Path=/, Max-Age", got)
	}
	// The __Host- cookie is the session; a plain-named one is not, so an
	// attacker on plain HTTP cannot plant one that HTTPS would trust.
	r := httptest.NewRequest("GET", "http://"+testHost+"/", nil)
	r.TLS = &tls.ConnectionState{}
	r.AddCookie(&http.Cookie{Name: "pg_session", Value: got.Value})
	if w, ok := f.serve(r); ok || w.Code != http.StatusUnauthorized {
		t.Errorf("plain-named cookie under HTTPS: status %d passed=%v, want 401", w.Code, ok)
	}
	r.Header.Del("Cookie")
	r.AddCookie(got)
	if _, ok := f.serve(r); !ok {
		t.Error("the __Host- session cookie was refused")
	}
}

func TestFailureLimitPerIP(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{AccountFailures: 100, IPAttempts: 3, Window: time.Minute})
	for i := range 3 {
		if w := f.postLogin(t, "192.0.2.7", "guess"+string(rune('a'+i))+"@acme.example", "some wrong password", false); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, w.Code)
		}
	}
	if w := f.postLogin(t, "192.0.2.7", testEmail, testPassword, false); w.Code != http.StatusTooManyRequests {
		t.Errorf("right password from a blocked address: status %d, want 429", w.Code)
	}
	if w := f.postLogin(t, "198.51.100.1", testEmail, testPassword, false); w.Code != http.StatusSeeOther {
		t.Errorf("right password from another address: status %d, want 303", w.Code)
	}
}

// TestUnknownUserTakesAsLong checks that a sign-in for an email nobody has
// costs what a wrong password costs, so timing does not reveal accounts.
func TestUnknownUserTakesAsLong(t *testing.T) {
	f := newFixture(t, gateway.Limits{AccountFailures: 1000, IPAttempts: 1000, Window: time.Minute})
	fastest := func(email string) time.Duration {
		var times []time.Duration
		for range 5 {
			token, csrf := f.loginForm(t, false)
			form := url.Values{"email": {email}, "password": {"not the password 123"}, "csrf_token": {token}}
			r := httptest.NewRequest("POST", "http://"+testHost+"/.partnergate/login", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.AddCookie(csrf)
			start := time.Now()
			f.serve(r)
			times = append(times, time.Since(start))
		}
		return slices.Min(times)
	}
	known, unknown := fastest(testEmail), fastest("nobody@acme.example")
	if ratio := float64(unknown) / float64(known); ratio < 0.5 || ratio > 2 {
		t.Errorf("unknown user %v vs wrong password %v: ratio %.2f, want within 0.5–2", unknown, known, ratio)
	}
}

func TestUnhealthySessionsFailClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	cookie, _, err := f.sessions.Issue(context.Background(), f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.sessions.SetHealthy(false)
	r := httptest.NewRequest("GET", "http://"+testHost+"/app", nil)
	r.AddCookie(&http.Cookie{Name: "pg_session", Value: cookie})
	r.Header.Set("X-Auth-User", "spoofed")
	w, ok := f.serve(r)
	if ok || w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" {
		t.Errorf("store unhealthy: status %d passed=%v Retry-After=%q, want 503 with Retry-After", w.Code, ok, w.Header().Get("Retry-After"))
	}
	if len(w.Result().Cookies()) != 0 {
		t.Errorf("store unhealthy: cookies changed: %v", w.Result().Cookies())
	}
	if w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false); w.Code != http.StatusServiceUnavailable {
		t.Errorf("sign-in while unhealthy: status %d, want 503", w.Code)
	}
}

func TestCrossSiteLoginRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	for _, origin := range []string{"http://evil.example", "null", "http://globex.apps.localhost"} {
		token, csrf := f.loginForm(t, false)
		form := url.Values{"email": {testEmail}, "password": {testPassword}, "csrf_token": {token}}
		r := httptest.NewRequest("POST", "http://"+testHost+"/.partnergate/login", strings.NewReader(form.Encode()))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Origin", origin)
		r.AddCookie(csrf)
		w, _ := f.serve(r)
		if w.Code != http.StatusForbidden || strings.Contains(w.Header().Get("Set-Cookie"), "pg_session") {
			t.Errorf("Origin %s: status %d, want 403 and no session", origin, w.Code)
		}
	}
}

func TestReservedRoutes(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/.partnergate/login", http.StatusOK},
		{"HEAD", "/.partnergate/login", http.StatusOK},
		{"PUT", "/.partnergate/login", http.StatusMethodNotAllowed},
		{"DELETE", "/.partnergate/logout", http.StatusMethodNotAllowed},
		{"GET", "/.partnergate/assets/style.css", http.StatusOK},
		{"GET", "/.partnergate/assets/../../etc/passwd", http.StatusBadRequest},
		{"GET", "/.partnergate/assets/missing.css", http.StatusNotFound},
		{"GET", "/.partnergate/password", http.StatusGone},
		{"PUT", "/.partnergate/password", http.StatusMethodNotAllowed},
		{"GET", "/.partnergate/nothing", http.StatusNotFound},
	} {
		r := httptest.NewRequest(tc.method, "http://"+testHost+tc.path, nil)
		w, ok := f.serve(r)
		if ok || w.Code != tc.want {
			t.Errorf("%s %s: status %d passed=%v, want %d and never upstream", tc.method, tc.path, w.Code, ok, tc.want)
		}
	}
}
