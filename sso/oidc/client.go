package oidc

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/sync/singleflight"

	"github.com/partnergate/partnergate/sso"
)

// Config is one partner's connection to its identity provider.
type Config struct {
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes are requested at sign-in; "openid" is added if missing.
	Scopes      []string
	RedirectURL string
	// Userinfo also calls the userinfo endpoint, for IdPs that keep claims
	// such as email out of the ID token.
	Userinfo bool
}

// Start holds the secrets of one sign-in, generated and stored by the
// gateway between AuthCodeURL and Finish. Verifier comes from
// oauth2.GenerateVerifier.
type Start struct {
	State    string
	Nonce    string
	Verifier string
}

// Options tune a Client; zero values take the defaults.
type Options struct {
	// HTTPClient makes every call to identity providers; nil uses a
	// client of its own. Its Timeout is lowered to DiscoveryTimeout.
	HTTPClient *http.Client
	// DiscoveryTimeout bounds discovery, key, token and userinfo calls
	// (default 5s).
	DiscoveryTimeout time.Duration
	// CacheTTL is how long a discovery document is used before it is
	// fetched again (default 1h).
	CacheTTL time.Duration
	// FailureTTL is how long a failed discovery is remembered, so that a
	// dead IdP is not hammered by every sign-in (default 30s).
	FailureTTL time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Client is the relying party shared by every partner. It is safe for
// concurrent use.
type Client struct {
	http       *http.Client
	timeout    time.Duration
	cacheTTL   time.Duration
	failureTTL time.Duration
	now        func() time.Time

	mu     sync.Mutex
	cache  map[string]cacheEntry
	flight singleflight.Group
}

// New returns a Client; one per process is enough.
func New(o Options) *Client {
	c := &Client{
		timeout:    orDefault(o.DiscoveryTimeout, 5*time.Second),
		cacheTTL:   orDefault(o.CacheTTL, time.Hour),
		failureTTL: orDefault(o.FailureTTL, 30*time.Second),
		now:        o.Now,
		cache:      map[string]cacheEntry{},
	}
	if c.now == nil {
		c.now = time.Now
	}
	hc := http.Client{}
	if o.HTTPClient != nil {
		hc = *o.HTTPClient
	}
	// The key set fetches outside any request context, so the client's
	// own timeout is what keeps a silent IdP from holding it forever.
	if hc.Timeout == 0 || hc.Timeout > c.timeout {
		hc.Timeout = c.timeout
	}
	c.http = &hc
	return c
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// AuthCodeURL returns the URL of the IdP's authorization endpoint the
// browser is sent to, with state, nonce and the PKCE S256 challenge of s.
func (c *Client) AuthCodeURL(ctx context.Context, cfg Config, s Start) (string, error) {
	if s.State == "" || s.Nonce == "" || s.Verifier == "" {
		return "", sso.Fail(sso.Internal, "The sign-in could not start: its state, nonce or PKCE verifier is missing.")
	}
	p, err := c.provider(ctx, cfg.Issuer)
	if err != nil {
		return "", err
	}
	return oauthConfig(cfg, p).AuthCodeURL(s.State,
		oauth2.S256ChallengeOption(s.Verifier),
		oauth2.SetAuthURLParam("nonce", s.Nonce)), nil
}

func oauthConfig(cfg Config, p *provider) *oauth2.Config {
	scopes := cfg.Scopes
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	return &oauth2.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret,
		RedirectURL:  cfg.RedirectURL,
		Scopes:       scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:  p.authURL,
			TokenURL: p.tokenURL,
			// Auto-detection retries a failed exchange with the secret in
			// the body, and the IdP's answer to that retry (invalid_client)
			// hides the real error, such as a PKCE mismatch.
			AuthStyle: oauth2.AuthStyleInHeader,
		},
	}
}
