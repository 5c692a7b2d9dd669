package gateway_test

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/store"
)

const sloPath = "/.partnergate/saml/slo?connection="

// sessionAlive reports whether the app accepts a session cookie value,
// presented by a browser that has nothing else.
func (e *ssoEnv) sessionAlive(t *testing.T, partner, value string) bool {
	t.Helper()
	if value == "" {
		t.Fatal("no session cookie to check")
	}
	b := e.browser(t)
	req, _ := http.NewRequest(http.MethodGet, e.url(partner, "/whoami"), nil)
	req.Header.Set("Accept", "text/plain")
	req.AddCookie(&http.Cookie{Name: "pg_session", Value: value})
	p := b.do(t, req)
	switch p.status {
	case http.StatusOK:
		return true
	case http.StatusUnauthorized:
		return false
	}
	t.Fatalf("whoami with a session cookie: %d:\n%s", p.status, p.body)
	return false
}

// SAML single logout started at SimpleSAMLphp ends the session the IdP
// session signed in, and only that one.
func TestSSOSAMLSingleLogout(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		idp, c := e.samlConn(t, "acme", "ssp", samlOpts{})
		signIn := func() *browser {
			b := e.browser(t)
			at, resp := b.samlLogin(t, idp, e.url("acme", startPath+c.ID), "alice")
			if app := b.submitForm(t, at, resp); app.status != http.StatusOK {
				t.Fatalf("sign-in: %d at %s:\n%s", app.status, app.url, app.body)
			}
			return b
		}
		// Two IdP sessions of one user, in two browsers.
		leaving, staying := signIn(), signIn()

		// A LogoutRequest anyone could write (unsigned, naming alice) is
		// refused and ends nothing.
		forged := fmt.Sprintf(`<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_forged" Version="2.0" IssueInstant="%s" Destination="%s"><saml:Issuer>%s</saml:Issuer><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">alice@example.com</saml:NameID></samlp:LogoutRequest>`,
			time.Now().UTC().Format(time.RFC3339), e.url("acme", sloPath+c.ID), idp.EntityID)
		var deflated bytes.Buffer
		fw, _ := flate.NewWriter(&deflated, flate.DefaultCompression)
		fw.Write([]byte(forged))
		fw.Close()
		attacker := e.browser(t)
		got := attacker.get(t, e.url("acme", sloPath+c.ID+"&SAMLRequest="+url.QueryEscape(base64.StdEncoding.EncodeToString(deflated.Bytes()))))
		if got.status != http.StatusBadRequest || errorReference(got.body) != "unsigned" {
			t.Errorf("unsigned LogoutRequest: %d ref %q, want 400 unsigned", got.status, errorReference(got.body))
		}
		if !e.sessionAlive(t, "acme", leaving.lastSession()) || !e.sessionAlive(t, "acme", staying.lastSession()) {
			t.Fatal("an unsigned LogoutRequest ended a session")
		}

		returnTo := idp.BaseURL + "/saml2/idp/metadata.php"
		// Note the IdP's LogoutRequest as it passes, to replay it later.
		var logoutRequest string
		leaving.stop = func(u *url.URL) bool {
			if strings.HasPrefix(u.Path, sloPath[:strings.Index(sloPath, "?")]) && u.Query().Get("SAMLRequest") != "" && logoutRequest == "" {
				logoutRequest = u.String()
			}
			return false
		}
		p := leaving.get(t, idp.BaseURL+"/saml2/idp/SingleLogoutService.php?ReturnTo="+url.QueryEscape(returnTo))
		// Whichever binding the IdP and gateway pick, play the browser.
		for range 5 {
			f, ok := findForm(p.body, "SAMLRequest")
			if !ok {
				f, ok = findForm(p.body, "SAMLResponse")
			}
			if !ok {
				break
			}
			p = leaving.submitForm(t, p, f)
		}
		if p.url.String() != returnTo || p.status != http.StatusOK {
			t.Errorf("logout ended at %s (%d), want back at %s:\n%.2000s", p.url, p.status, returnTo, p.body)
		}
		if e.sessionAlive(t, "acme", leaving.lastSession()) {
			t.Error("the session of the IdP session that logged out is still alive")
		}
		if !e.sessionAlive(t, "acme", staying.lastSession()) {
			t.Error("the other IdP session's sign-in was ended too")
		}
		if logoutRequest == "" {
			t.Fatal("the IdP's LogoutRequest did not pass through the browser as a redirect")
		}
		again := e.browser(t).get(t, logoutRequest)
		if again.status != http.StatusBadRequest || errorReference(again.body) != "replay" {
			t.Errorf("a replayed LogoutRequest: %d ref %q, want 400 replay", again.status, errorReference(again.body))
		}
	})
}

// miniOP is just enough of an OpenID Provider to sign users in with the
// session ids the test chooses and to sign logout tokens with its key:
// the zitadel example OP neither puts sid in ID tokens nor sends logout
// tokens.
type miniOP struct {
	issuer, clientID string
	key              *rsa.PrivateKey

	mu    sync.Mutex
	who   map[string]any            // claims of whoever signs in next
	codes map[string]map[string]any // code → ID token claims
}

func startMiniOP(t *testing.T, clientID string) *miniOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &miniOP{clientID: clientID, key: key, codes: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{
			"issuer": op.issuer, "authorization_endpoint": op.issuer + "/authorize", "token_endpoint": op.issuer + "/token",
			"jwks_uri": op.issuer + "/jwks", "id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		code := rand.Text()
		op.mu.Lock()
		cl := map[string]any{"nonce": q.Get("nonce")}
		for k, v := range op.who {
			cl[k] = v
		}
		op.codes[code] = cl
		op.mu.Unlock()
		http.Redirect(w, r, q.Get("redirect_uri")+"?"+url.Values{"code": {code}, "state": {q.Get("state")}}.Encode(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		op.mu.Lock()
		cl, ok := op.codes[r.PostForm.Get("code")]
		delete(op.codes, r.PostForm.Get("code"))
		op.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"error": "invalid_grant"})
			return
		}
		now := time.Now().Unix()
		cl["iss"], cl["aud"], cl["iat"], cl["exp"] = op.issuer, op.clientID, now, now+300
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"access_token": rand.Text(), "token_type": "Bearer", "expires_in": 300, "id_token": op.sign(t, op.key, cl),
		})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	op.issuer = srv.URL
	return op
}

func (op *miniOP) sign(t *testing.T, key *rsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// logoutClaims are a logout token's claims for sub and/or sid.
func (op *miniOP) logoutClaims(sub, sid string) map[string]any {
	cl := map[string]any{
		"iss": op.issuer, "aud": op.clientID, "iat": time.Now().Unix(), "exp": time.Now().Add(2 * time.Minute).Unix(), "jti": rand.Text(),
		"events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}},
	}
	if sub != "" {
		cl["sub"] = sub
	}
	if sid != "" {
		cl["sid"] = sid
	}
	return cl
}

// OIDC back-channel logout ends what the verified token names: one IdP
// session by sid, or every session of the user by sub; a token that does
// not verify ends nothing.
func TestSSOOIDCBackChannelLogout(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		op := startMiniOP(t, "pg-client")
		c := e.createConnection(t, store.SSOConnection{ID: "mini", PartnerID: "acme", Protocol: "oidc", Preset: "generic-oidc", Enabled: true, JIT: true},
			connection.Config{OIDC: &connection.OIDC{
				Issuer: op.issuer, ClientID: op.clientID, SealedSecret: connection.SealSecret(e.box, "acme", "mini", "s3cret"),
				Scopes: []string{"openid", "email"},
			}, Mapping: oidcMapping})
		signIn := func(sub, sid, email string) string {
			op.mu.Lock()
			op.who = map[string]any{"sub": sub, "sid": sid, "email": email}
			op.mu.Unlock()
			b := e.browser(t)
			if p := b.get(t, e.url("acme", startPath+c.ID)); p.status != http.StatusOK || b.sessionsIssued() != 1 {
				t.Fatalf("sign-in of %s/%s: %d at %s:\n%s", sub, sid, p.status, p.url, p.body)
			}
			return b.lastSession()
		}
		a1 := signIn("user-1", "sid-a", "dana@example.com")
		a2 := signIn("user-1", "sid-b", "dana@example.com")
		other := signIn("user-2", "sid-c", "erin@example.com")

		logout := func(token string) int {
			t.Helper()
			b := e.browser(t)
			p := b.post(t, e.url("acme", "/.partnergate/oidc/logout?connection="+c.ID), url.Values{"logout_token": {token}})
			if p.status != http.StatusOK && !strings.Contains(p.body, "invalid_request") {
				t.Errorf("logout answer %d without an error code: %s", p.status, p.body)
			}
			return p.status
		}
		alive := func() [3]bool {
			return [3]bool{e.sessionAlive(t, "acme", a1), e.sessionAlive(t, "acme", a2), e.sessionAlive(t, "acme", other)}
		}

		// Refused tokens first, so any session they ended would show.
		unknown := e.browser(t).post(t, e.url("acme", "/.partnergate/oidc/logout?connection=nope"),
			url.Values{"logout_token": {op.sign(t, op.key, op.logoutClaims("user-1", ""))}})
		if unknown.status != http.StatusBadRequest {
			t.Errorf("logout for an unknown connection: %d, want 400", unknown.status)
		}
		otherKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		unsigned := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			base64.RawURLEncoding.EncodeToString(must(json.Marshal(op.logoutClaims("user-1", "")))) + "."
		wrongAud := op.logoutClaims("user-1", "")
		wrongAud["aud"] = "someone-else"
		withNonce := op.logoutClaims("user-1", "")
		withNonce["nonce"] = "n"
		for name, token := range map[string]string{
			"unsigned":       unsigned,
			"wrong audience": op.sign(t, op.key, wrongAud),
			"unknown key":    op.sign(t, otherKey, op.logoutClaims("user-1", "")),
			"ID token":       op.sign(t, op.key, withNonce),
		} {
			if status := logout(token); status != http.StatusBadRequest {
				t.Errorf("%s logout token: %d, want 400", name, status)
			}
		}
		if got := alive(); got != [3]bool{true, true, true} {
			t.Fatalf("after refused logout tokens sessions alive = %v, want all", got)
		}

		if status := logout(op.sign(t, op.key, op.logoutClaims("user-1", "sid-a"))); status != http.StatusOK {
			t.Fatalf("logout by sid: %d", status)
		}
		if got := alive(); got != [3]bool{false, true, true} {
			t.Errorf("after logout of sid-a sessions alive = %v, want only sid-a's ended", got)
		}
		bySub := op.sign(t, op.key, op.logoutClaims("user-1", ""))
		if status := logout(bySub); status != http.StatusOK {
			t.Fatalf("logout by sub: %d", status)
		}
		if got := alive(); got != [3]bool{false, false, true} {
			t.Errorf("after logout of user-1 sessions alive = %v, want user-2's only", got)
		}
		// Replayed, the same token would end the user's next session too.
		again := signIn("user-1", "sid-d", "dana@example.com")
		if status := logout(bySub); status != http.StatusBadRequest {
			t.Errorf("a replayed logout token: %d, want 400", status)
		}
		if !e.sessionAlive(t, "acme", again) {
			t.Error("a replayed logout token ended a later session")
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
