package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/clocktest"

	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/partnergate/partnergate/sso"
)

// testOP is a minimal OpenID provider whose token endpoint answers
// whatever ID token a test minted, so every check can be hit on purpose.
type testOP struct {
	srv *httptest.Server

	mu          sync.Mutex
	key         *jose.JSONWebKey
	published   []jose.JSONWebKey
	idToken     string
	tokenErr    string
	userinfo    map[string]any
	tokenForms  []url.Values
	discoveryOK bool
	issParam    bool

	discoveries atomic.Int32
}

const (
	testClientID = "partner-client"
	testSecret   = "s3cret"
	testRedirect = "https://gateway.example/callback"
)

func newOP(t *testing.T) *testOP {
	t.Helper()
	op := &testOP{discoveryOK: true}
	op.rotate(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		op.discoveries.Add(1)
		op.mu.Lock()
		ok, issParam := op.discoveryOK, op.issParam
		op.mu.Unlock()
		if !ok {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		u := op.srv.URL
		writeJSON(w, http.StatusOK, map[string]any{
			"issuer":                 u,
			"authorization_endpoint": u + "/authorize",
			"token_endpoint":         u + "/token",
			"userinfo_endpoint":      u + "/userinfo",
			"jwks_uri":               u + "/jwks",
			"authorization_response_iss_parameter_supported": issParam,
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		op.mu.Lock()
		defer op.mu.Unlock()
		writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: op.published})
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, secret, ok := r.BasicAuth()
		if !ok || id != testClientID || secret != testSecret {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
			return
		}
		if err := r.ParseForm(); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
			return
		}
		op.mu.Lock()
		defer op.mu.Unlock()
		op.tokenForms = append(op.tokenForms, r.PostForm)
		if op.tokenErr != "" {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": op.tokenErr, "error_description": "code is invalid or already used"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": "access-" + op.srv.URL, "token_type": "Bearer", "expires_in": 300, "id_token": op.idToken,
		})
	})
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer access-"+op.srv.URL {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		op.mu.Lock()
		defer op.mu.Unlock()
		writeJSON(w, http.StatusOK, op.userinfo)
	})
	op.srv = httptest.NewServer(mux)
	t.Cleanup(op.srv.Close)
	return op
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func newKey(t *testing.T) *jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &jose.JSONWebKey{Key: k, KeyID: rand.Text()[:8], Algorithm: string(jose.ES256), Use: "sig"}
}

// rotate replaces the signing key; the old one leaves the JWKS.
func (op *testOP) rotate(t *testing.T) {
	k := newKey(t)
	op.mu.Lock()
	defer op.mu.Unlock()
	op.key = k
	op.published = []jose.JSONWebKey{k.Public()}
}

func (op *testOP) config() Config {
	return Config{Issuer: op.srv.URL, ClientID: testClientID, ClientSecret: testSecret,
		Scopes: []string{"email"}, RedirectURL: testRedirect}
}

func (op *testOP) set(f func(op *testOP)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	f(op)
}

// claims are the claims of a valid ID token for a sign-in with nonce.
func (op *testOP) claims(nonce string) map[string]any {
	now := time.Now()
	return map[string]any{
		"iss": op.srv.URL, "aud": testClientID, "sub": "user-1", "sid": "session-1",
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "nonce": nonce,
		"email": "ada@partner.example",
	}
}

func (op *testOP) sign(t *testing.T, claims map[string]any) string {
	op.mu.Lock()
	k := op.key
	op.mu.Unlock()
	return signWith(t, k, claims)
}

func signWith(t *testing.T, k *jose.JSONWebKey, claims map[string]any) string {
	t.Helper()
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func newStart() Start {
	return Start{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier()}
}

// signIn starts a sign-in, has the OP answer idToken and finishes it with
// the callback the OP would send, changed by edit.
func signIn(t *testing.T, c *Client, op *testOP, cfg Config, s Start, idToken string, edit func(url.Values)) (sso.Claims, error) {
	t.Helper()
	if _, err := c.AuthCodeURL(t.Context(), cfg, s); err != nil {
		t.Fatalf("AuthCodeURL: %v", err)
	}
	op.set(func(op *testOP) { op.idToken = idToken })
	cb := url.Values{"state": {s.State}, "code": {"code-1"}}
	if edit != nil {
		edit(cb)
	}
	return c.Finish(t.Context(), cfg, s, cb)
}

// wantFailure asserts err is a failure with code whose facts include label,
// with a value containing want.
func wantFailure(t *testing.T, err error, code sso.Code, label, want string) *sso.Failure {
	t.Helper()
	f, ok := errors.AsType[*sso.Failure](err)
	if !ok {
		t.Fatalf("error %v is not an *sso.Failure", err)
	}
	if f.Code != code {
		t.Fatalf("code = %s, want %s (%v)", f.Code, code, err)
	}
	if f.Message == "" {
		t.Error("failure has no message")
	}
	if label == "" {
		return f
	}
	for _, fact := range f.Facts {
		if fact.Label == label && strings.Contains(fact.Value, want) {
			return f
		}
	}
	t.Fatalf("no fact %q containing %q in %+v", label, want, f.Facts)
	return nil
}

func TestFinishFlattensClaims(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := New(Options{})
	cfg := op.config()
	cfg.Userinfo = true
	s := newStart()
	cl := op.claims(s.Nonce)
	cl["groups"] = []any{"admins", 7, true}
	cl["email_verified"] = true
	cl["employee_id"] = json.Number("12345678901234567890")
	cl["ratio"] = json.Number("1.5e3")
	cl["address"] = map[string]any{"country": "FR"}
	op.set(func(op *testOP) {
		op.userinfo = map[string]any{"sub": "user-1", "email": "other@evil.example", "locale": "fr-FR"}
	})

	got, err := signIn(t, c, op, cfg, s, op.sign(t, cl), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != "user-1" || got.SessionID != "session-1" || got.Issuer != op.srv.URL {
		t.Errorf("claims = %+v", got)
	}
	want := map[string][]string{
		"groups":         {"admins", "7", "true"},
		"email_verified": {"true"},
		"employee_id":    {"12345678901234567890"},
		"ratio":          {"1500"},
		"address":        {`{"country":"FR"}`},
		"email":          {"ada@partner.example"}, // the ID token wins over userinfo
		"locale":         {"fr-FR"},               // userinfo adds
		"sub":            {"user-1"},
	}
	for name, vals := range want {
		if !slices.Equal(got.Attributes[name], vals) {
			t.Errorf("%s = %q, want %q", name, got.Attributes[name], vals)
		}
	}
}

func TestPKCEVerifierMatchesChallenge(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := New(Options{})
	cfg := op.config()
	s := newStart()
	authURL, err := c.AuthCodeURL(t.Context(), cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	q := mustParse(t, authURL).Query()
	if q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" ||
		q.Get("state") != s.State || q.Get("nonce") != s.Nonce || q.Get("scope") != "openid email" {
		t.Fatalf("auth URL query = %v", q)
	}
	if _, err := signIn(t, c, op, cfg, s, op.sign(t, op.claims(s.Nonce)), nil); err != nil {
		t.Fatal(err)
	}
	op.mu.Lock()
	defer op.mu.Unlock()
	sum := sha256.Sum256([]byte(op.tokenForms[0].Get("code_verifier")))
	if got := base64.RawURLEncoding.EncodeToString(sum[:]); got != q.Get("code_challenge") {
		t.Errorf("S256(code_verifier) = %s, code_challenge = %s", got, q.Get("code_challenge"))
	}
	if op.tokenForms[0].Has("client_secret") {
		t.Error("client secret sent in the body, want client_secret_basic only")
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := New(Options{})
	cfg := op.config()
	for i := range 2 {
		s := newStart()
		if _, err := signIn(t, c, op, cfg, s, op.sign(t, op.claims(s.Nonce)), nil); err != nil {
			t.Fatalf("sign-in %d: %v", i, err)
		}
		op.rotate(t)
	}
}

func TestFinishRefusals(t *testing.T) {
	t.Parallel()
	now := time.Now()
	tests := []struct {
		name  string
		token func(t *testing.T, op *testOP, claims map[string]any) string
		edit  func(cb url.Values)
		setup func(op *testOP)
		code  sso.Code
		label string
		want  string
		also  string // a second fact label that must be present
	}{
		{name: "alg none", code: sso.BadSignature, label: "Algorithm", want: "none",
			token: func(t *testing.T, _ *testOP, cl map[string]any) string {
				p, _ := json.Marshal(cl)
				return base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
			}},
		{name: "key not in JWKS", code: sso.BadSignature, label: "Issuer",
			token: func(t *testing.T, _ *testOP, cl map[string]any) string { return signWith(t, newKey(t), cl) }},
		{name: "wrong iss", code: sso.UnknownIssuer, label: "Received", want: "https://other.example",
			token: edited(func(cl map[string]any) { cl["iss"] = "https://other.example" })},
		{name: "wrong aud", code: sso.WrongAudience, label: "Expected audience", want: testClientID,
			token: edited(func(cl map[string]any) { cl["aud"] = "another-client" })},
		{name: "several aud without azp", code: sso.WrongAudience, label: "Expected authorized party", want: testClientID,
			token: edited(func(cl map[string]any) { cl["aud"] = []string{testClientID, "another-client"} })},
		{name: "azp of another client", code: sso.WrongAudience, label: "Received", want: "another-client",
			token: edited(func(cl map[string]any) { cl["azp"] = "another-client" })},
		{name: "expired", code: sso.Expired, label: "Token expires", want: now.Add(-10 * time.Minute).UTC().Format(time.RFC3339), also: "Server time",
			token: edited(func(cl map[string]any) { cl["exp"] = now.Add(-10 * time.Minute).Unix() })},
		{name: "iat in the future", code: sso.NotYetValid, label: "Token issued at", want: now.Add(time.Hour).UTC().Format(time.RFC3339), also: "Server time",
			token: edited(func(cl map[string]any) { cl["iat"] = now.Add(time.Hour).Unix() })},
		{name: "wrong nonce", code: sso.NonceMismatch,
			token: edited(func(cl map[string]any) { cl["nonce"] = "replayed" })},
		{name: "wrong state", code: sso.InvalidState,
			edit: func(cb url.Values) { cb.Set("state", "forged") }},
		{name: "iss parameter of another issuer", code: sso.UnknownIssuer, label: "Received", want: "https://other.example",
			edit: func(cb url.Values) { cb.Set("iss", "https://other.example") }},
		{name: "iss parameter promised but missing", code: sso.UnknownIssuer, label: "Expected issuer",
			setup: func(op *testOP) { op.issParam = true }},
		{name: "IdP error", code: sso.IdPError, label: "Error", want: "access_denied", also: "Description",
			edit: func(cb url.Values) {
				cb.Set("error", "access_denied")
				cb.Set("error_description", "user is not assigned to the application")
			}},
		{name: "missing code", code: sso.Malformed,
			edit: func(cb url.Values) { cb.Del("code") }},
		{name: "code refused", code: sso.CodeExchange, label: "Error", want: "invalid_grant", also: "Description",
			setup: func(op *testOP) { op.tokenErr = "invalid_grant" }},
		{name: "userinfo of another subject", code: sso.UserinfoMismatch, label: "Userinfo subject", want: "user-2",
			setup: func(op *testOP) { op.userinfo = map[string]any{"sub": "user-2"} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			op := newOP(t)
			c := New(Options{})
			cfg := op.config()
			cfg.Userinfo = true
			op.set(func(op *testOP) { op.userinfo = map[string]any{"sub": "user-1"} })
			if tt.setup != nil {
				op.set(tt.setup)
			}
			s := newStart()
			token := edited(nil)
			if tt.token != nil {
				token = tt.token
			}
			_, err := signIn(t, c, op, cfg, s, token(t, op, op.claims(s.Nonce)), tt.edit)
			f := wantFailure(t, err, tt.code, tt.label, tt.want)
			if tt.also != "" && !slices.ContainsFunc(f.Facts, func(f sso.Fact) bool { return f.Label == tt.also }) {
				t.Errorf("no fact %q in %+v", tt.also, f.Facts)
			}
			assertNoSecrets(t, f, s)
		})
	}
}

// edited mints a token with the OP's key from claims changed by edit.
func edited(edit func(map[string]any)) func(*testing.T, *testOP, map[string]any) string {
	return func(t *testing.T, op *testOP, cl map[string]any) string {
		if edit != nil {
			edit(cl)
		}
		return op.sign(t, cl)
	}
}

func assertNoSecrets(t *testing.T, f *sso.Failure, s Start) {
	t.Helper()
	b, _ := json.Marshal(f)
	for _, secret := range []string{s.State, s.Nonce, s.Verifier, testSecret, "code-1", "eyJ"} {
		if strings.Contains(string(b)+f.Error(), secret) {
			t.Errorf("failure shows %q: %s / %v", secret, b, f)
		}
	}
}

// TestMixUp presents partner B's IdP's answers in partner A's flow.
func TestMixUp(t *testing.T) {
	t.Parallel()
	a, b := newOP(t), newOP(t)
	c := New(Options{})
	cfgA := a.config()

	s := newStart()
	fromB := b.sign(t, b.claims(s.Nonce)) // for the same client id, valid at B
	_, err := signIn(t, c, a, cfgA, s, fromB, nil)
	wantFailure(t, err, sso.BadSignature, "Issuer", a.srv.URL)

	s = newStart()
	_, err = signIn(t, c, a, cfgA, s, a.sign(t, a.claims(s.Nonce)), func(cb url.Values) { cb.Set("iss", b.srv.URL) })
	wantFailure(t, err, sso.UnknownIssuer, "Received", b.srv.URL)
}

func TestDiscoveryCached(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := New(Options{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := c.AuthCodeURL(t.Context(), op.config(), newStart()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := op.discoveries.Load(); n != 1 {
		t.Errorf("discovery fetched %d times, want 1", n)
	}
}

func TestDiscoveryFailureRememberedThenRetried(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	op.set(func(op *testOP) { op.discoveryOK = false })
	clock := clocktest.New(time.Now())
	c := New(Options{FailureTTL: 30 * time.Second, CacheTTL: time.Hour, Now: clock.Now})
	cfg := op.config()

	for range 3 {
		_, err := c.AuthCodeURL(t.Context(), cfg, newStart())
		wantFailure(t, err, sso.Unreachable, "Issuer", op.srv.URL)
	}
	if n := op.discoveries.Load(); n != 1 {
		t.Fatalf("discovery fetched %d times while failing, want 1", n)
	}

	op.set(func(op *testOP) { op.discoveryOK = true })
	clock.Advance(29 * time.Second)
	_, err := c.AuthCodeURL(t.Context(), cfg, newStart())
	wantFailure(t, err, sso.Unreachable, "Issuer", op.srv.URL)
	clock.Advance(2 * time.Second)
	if _, err := c.AuthCodeURL(t.Context(), cfg, newStart()); err != nil {
		t.Fatalf("after FailureTTL: %v", err)
	}
	if n := op.discoveries.Load(); n != 2 {
		t.Errorf("discovery fetched %d times, want 2", n)
	}

	// Past CacheTTL an IdP that fails again keeps the known document.
	op.set(func(op *testOP) { op.discoveryOK = false })
	clock.Advance(2 * time.Hour)
	if _, err := c.AuthCodeURL(t.Context(), cfg, newStart()); err != nil {
		t.Fatalf("refresh failure lost the cached document: %v", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	cfg := op.config()
	cfg.Issuer += "/"
	_, err := New(Options{}).AuthCodeURL(t.Context(), cfg, newStart())
	wantFailure(t, err, sso.Misconfigured, "Issuer in discovery document", op.srv.URL)
}

func TestBlackholedIssuerIsolated(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dialled := make(chan struct{})
	done := make(chan struct{})
	var conns []net.Conn
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			if conns == nil {
				close(dialled)
			}
			conns = append(conns, conn) // held open, never answered
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, conn := range conns {
			conn.Close()
		}
	})
	dead := Config{Issuer: "http://" + l.Addr().String(), ClientID: testClientID, RedirectURL: testRedirect}
	op := newOP(t)

	const timeout = time.Second
	c := New(Options{DiscoveryTimeout: timeout})
	deadErr := make(chan error, 1)
	began := time.Now()
	go func() {
		_, err := c.AuthCodeURL(context.Background(), dead, newStart())
		deadErr <- err
	}()
	select {
	case <-dialled:
	case <-time.After(timeout):
		t.Fatal("the blackholed issuer was never dialled")
	}

	start := time.Now()
	if _, err := c.AuthCodeURL(t.Context(), op.config(), newStart()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > timeout/4 {
		t.Errorf("healthy issuer took %v while another was blackholed", d)
	}
	select {
	case err := <-deadErr:
		t.Fatalf("blackholed issuer answered before the healthy one finished waiting: %v", err)
	default:
	}

	err = <-deadErr
	wantFailure(t, err, sso.Unreachable, "Issuer", dead.Issuer)
	if d := time.Since(began); d > 3*timeout {
		t.Errorf("blackholed discovery took %v, want about %v", d, timeout)
	}
}

func TestVerifyLogoutToken(t *testing.T) {
	t.Parallel()
	op := newOP(t)
	c := New(Options{})
	cfg := op.config()
	valid := func() map[string]any {
		now := time.Now()
		return map[string]any{
			"iss": op.srv.URL, "aud": testClientID, "sub": "user-1", "sid": "session-1",
			"iat": now.Unix(), "exp": now.Add(2 * time.Minute).Unix(), "jti": rand.Text(),
			"events": map[string]any{backChannelLogoutEvent: map[string]any{}},
		}
	}

	claims := valid()
	tok, err := c.VerifyLogoutToken(t.Context(), cfg, op.sign(t, claims))
	if err != nil || tok.Subject != "user-1" || tok.SessionID != "session-1" || tok.ID != claims["jti"] || tok.Expires.Unix() != claims["exp"] {
		t.Fatalf("valid token: %+v %v", tok, err)
	}
	op.mu.Lock()
	k := op.key
	op.mu.Unlock()
	typed := func(typ string) string {
		s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k}, (&jose.SignerOptions{}).WithType(jose.ContentType(typ)))
		if err != nil {
			t.Fatal(err)
		}
		payload, _ := json.Marshal(valid())
		jws, err := s.Sign(payload)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := jws.CompactSerialize()
		return raw
	}
	if _, err := c.VerifyLogoutToken(t.Context(), cfg, typed("logout+jwt")); err != nil {
		t.Errorf("an explicitly typed logout token: %v", err)
	}

	tests := []struct {
		name  string
		token func() string
		code  sso.Code
		label string
		want  string
	}{
		{"missing events", func() string { cl := valid(); delete(cl, "events"); return op.sign(t, cl) },
			sso.Malformed, "Expected event", backChannelLogoutEvent},
		{"nonce present", func() string { cl := valid(); cl["nonce"] = "n"; return op.sign(t, cl) },
			sso.Malformed, "", ""},
		{"wrong aud", func() string { cl := valid(); cl["aud"] = "another-client"; return op.sign(t, cl) },
			sso.WrongAudience, "Received", "another-client"},
		{"bad signature", func() string { return signWith(t, newKey(t), valid()) },
			sso.BadSignature, "Issuer", op.srv.URL},
		{"expired", func() string { cl := valid(); cl["exp"] = time.Now().Add(-time.Hour).Unix(); return op.sign(t, cl) },
			sso.Expired, "Server time", ""},
		{"neither sub nor sid", func() string { cl := valid(); delete(cl, "sub"); delete(cl, "sid"); return op.sign(t, cl) },
			sso.Malformed, "", ""},
		{"no jti", func() string { cl := valid(); delete(cl, "jti"); return op.sign(t, cl) },
			sso.Malformed, "", ""},
		{"no exp", func() string { cl := valid(); delete(cl, "exp"); return op.sign(t, cl) },
			sso.Malformed, "", ""},
		{"access token type", func() string { return typed("at+jwt") },
			sso.Malformed, "Type", "at+jwt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.VerifyLogoutToken(t.Context(), cfg, tt.token())
			wantFailure(t, err, tt.code, tt.label, tt.want)
		})
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
