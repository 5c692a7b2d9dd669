package oidc

import (
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"

	"github.com/partnergate/partnergate/sso"
)

// TestZitadelExampleOP signs in against a real OpenID provider, zitadel's
// example OP, driving its login form the way a browser would.
func TestZitadelExampleOP(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	const clientID, secret, redirect = "gateway", "gateway-secret", "http://rp.test/callback"
	// RegisterClients fills a map global to the example's storage, read by
	// NewStorage: no other test in this package uses it.
	storage.RegisterClients(storage.WebClient(clientID, secret, redirect))
	router := exampleop.SetupServer(issuer, storage.NewStorage(storage.NewUserStore(issuer)), nil, false)
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: router}}
	srv.Start()
	t.Cleanup(srv.Close)

	c := New(Options{})
	cfg := Config{Issuer: issuer, ClientID: clientID, ClientSecret: secret,
		Scopes: []string{"email", "profile"}, RedirectURL: redirect, Userinfo: true}
	s := newStart()
	authURL, err := c.AuthCodeURL(t.Context(), cfg, s)
	if err != nil {
		t.Fatal(err)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var callback *url.URL
	browser := &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), redirect) {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}

	resp, err := browser.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`name="id" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no login form at %s: %s", resp.Request.URL, page)
	}
	resp, err = browser.PostForm(resp.Request.URL.ResolveReference(&url.URL{Path: "/login/username"}).String(), url.Values{
		"id":       {string(m[1])},
		"username": {"test-user@" + l.Addr().(*net.TCPAddr).IP.String()},
		"password": {"verysecure"},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if callback == nil {
		t.Fatalf("login ended at %s (%s), not at the redirect URI", resp.Request.URL, resp.Status)
	}

	claims, err := c.Finish(t.Context(), cfg, s, callback.Query())
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "id1" || claims.Issuer != issuer {
		t.Errorf("subject %q issuer %q, want id1 and %s", claims.Subject, claims.Issuer, issuer)
	}
	if got := claims.Attributes["email"]; len(got) != 1 || got[0] != "test-user@zitadel.ch" {
		t.Errorf("email = %q", got)
	}

	// The code is single-use: a second exchange is the IdP's to refuse.
	_, err = c.Finish(t.Context(), cfg, s, callback.Query())
	wantFailure(t, err, sso.CodeExchange, "Error", "invalid_grant")
}
