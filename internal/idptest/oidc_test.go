package idptest

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const rpCallback = "http://rp.example.test/callback"

type oidcClaims struct {
	Email         string `json:"email"`
	EmailVerified bool   `json:"email_verified"`
	Nonce         string `json:"nonce"`
}

// rpResult is what an RP holds after a successful code flow.
type rpResult struct {
	idToken  *oidc.IDToken
	token    *oauth2.Token
	provider *oidc.Provider
	config   *oauth2.Config
}

// codeFlow runs the authorization code flow with PKCE as a browser and an
// RP would, and returns the verified ID token and the token response. A
// login the OP refuses is a *loginError.
func codeFlow(t *testing.T, p *OIDCProvider, c OIDCClient, password string) (*rpResult, error) {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	cfg := &oauth2.Config{
		ClientID:     c.ID,
		ClientSecret: c.Secret,
		RedirectURL:  c.RedirectURIs[0],
		Scopes:       []string{oidc.ScopeOpenID, "email", "profile"},
		// Explicit: auto-detection retries with client_secret_post after a
		// failure and turns a PKCE error into a misleading invalid_client.
		Endpoint: oauth2.Endpoint{
			AuthURL:   provider.Endpoint().AuthURL,
			TokenURL:  provider.Endpoint().TokenURL,
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
	verifier := oauth2.GenerateVerifier()
	state, nonce := rand.Text(), rand.Text()
	authURL := cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce))

	// Follow redirects inside the OP, stop at the RP's callback (which
	// does not exist).
	browser := newBrowser(t)
	browser.CheckRedirect = func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), c.RedirectURIs[0]) {
			return http.ErrUseLastResponse
		}
		return nil
	}
	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	page := resp.Request.URL
	body := readBody(t, resp)
	if !strings.HasSuffix(page.Path, "/login/username") {
		t.Fatalf("authorize landed on %s (%s)\n%s", page, resp.Status, body)
	}
	form := findForm(t, body, "password")
	if form.fields["id"] == "" {
		t.Fatalf("login form has no auth request id: %v", form.fields)
	}
	form.fields["username"] = p.Username
	form.fields["password"] = password
	resp, err = browser.PostForm(form.resolve(t, page), form.values())
	if err != nil {
		t.Fatalf("post login: %v", err)
	}
	body = readBody(t, resp)
	if resp.StatusCode != http.StatusFound {
		return nil, &loginError{status: resp.Status, body: body}
	}
	cb, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cb.Query().Get("state"); got != state {
		t.Fatalf("state = %q, want %q", got, state)
	}
	code := cb.Query().Get("code")
	if code == "" {
		t.Fatalf("callback without code: %s", cb)
	}

	tok, err := cfg.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("token exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		t.Fatal("token response has no id_token")
	}
	idToken, err := provider.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idToken.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idToken.Nonce, nonce)
	}
	return &rpResult{idToken: idToken, token: tok, provider: provider, config: cfg}, nil
}

type loginError struct{ status, body string }

func (e *loginError) Error() string { return "login refused: " + e.status }

func TestOIDCProviderCodeFlowPKCE(t *testing.T) {
	client := OIDCClient{ID: "web-" + rand.Text(), Secret: rand.Text(), RedirectURIs: []string{rpCallback}, ClaimsInIDToken: true}
	p := StartOIDCProvider(t, client)
	if p.Username != "test-user@127.0.0.1" {
		t.Errorf("username = %q", p.Username)
	}
	rp, err := codeFlow(t, p, client, p.Password)
	if err != nil {
		t.Fatal(err)
	}
	idToken := rp.idToken
	var claims oidcClaims
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != p.Email || !claims.EmailVerified {
		t.Errorf("email = %q (verified %v), want %q verified", claims.Email, claims.EmailVerified, p.Email)
	}
	if idToken.Issuer != p.Issuer {
		t.Errorf("iss = %q, want %q", idToken.Issuer, p.Issuer)
	}
}

func TestOIDCProviderClaimsAtUserinfo(t *testing.T) {
	client := OIDCClient{ID: "web-" + rand.Text(), Secret: rand.Text(), RedirectURIs: []string{rpCallback}}
	p := StartOIDCProvider(t, client)
	rp, err := codeFlow(t, p, client, p.Password)
	if err != nil {
		t.Fatal(err)
	}
	idToken := rp.idToken
	var claims oidcClaims
	if err := idToken.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Email != "" {
		t.Errorf("ID token carries email %q though the client did not ask for claims in it", claims.Email)
	}
	ctx := context.Background()
	info, err := rp.provider.UserInfo(ctx, rp.config.TokenSource(ctx, rp.token))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if info.Subject != idToken.Subject {
		t.Errorf("userinfo sub = %q, ID token sub = %q", info.Subject, idToken.Subject)
	}
	if info.Email != p.Email {
		t.Errorf("userinfo email = %q, want %q", info.Email, p.Email)
	}
}

func TestOIDCProviderWrongPassword(t *testing.T) {
	client := OIDCClient{ID: "web-" + rand.Text(), Secret: rand.Text(), RedirectURIs: []string{rpCallback}}
	p := StartOIDCProvider(t, client)
	_, err := codeFlow(t, p, client, "not-"+p.Password)
	le, ok := err.(*loginError)
	if !ok {
		t.Fatalf("wrong password: err = %v, want the login form again", err)
	}
	if !strings.Contains(le.body, `name="password"`) {
		t.Errorf("wrong password did not show the login form again:\n%s", le.body)
	}
}
