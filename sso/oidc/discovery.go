package oidc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/partnergate/partnergate/sso"
)

// maxBody bounds what is read from an IdP, so a broken one cannot make the
// gateway buffer without end.
const maxBody = 1 << 20

// provider is what discovery learned about one issuer.
type provider struct {
	issuer      string
	authURL     string
	tokenURL    string
	userinfoURL string
	jwksURL     string
	// issParam is RFC 9207 support: the IdP promises an iss parameter on
	// every authorization response.
	issParam bool
	keys     *gooidc.RemoteKeySet
}

// cacheEntry is an issuer's discovery outcome, good until until. A failed
// refresh keeps the previous provider (p set, err nil) so that an IdP's
// blip does not break sign-ins that would verify with the keys known.
type cacheEntry struct {
	p     *provider
	err   error
	until time.Time
}

// provider returns the issuer's discovery, fetching it on first use and
// after expiry. Concurrent callers share one fetch, and a caller gives up
// when its own ctx ends without cancelling the fetch for the others.
func (c *Client) provider(ctx context.Context, issuer string) (*provider, error) {
	c.mu.Lock()
	e, ok := c.cache[issuer]
	c.mu.Unlock()
	if ok && c.now().Before(e.until) {
		return e.p, e.err
	}
	ch := c.flight.DoChan(issuer, func() (any, error) {
		// A flight that ended between the look-up above and this one has
		// just filled the cache; fetching again would double the load.
		c.mu.Lock()
		e, ok := c.cache[issuer]
		c.mu.Unlock()
		if ok && c.now().Before(e.until) {
			return e.p, e.err
		}
		p, err := c.discover(context.WithoutCancel(ctx), issuer)
		c.mu.Lock()
		defer c.mu.Unlock()
		prev := c.cache[issuer]
		now := c.now()
		switch {
		case err == nil:
			// Keeping the key set keeps its cached keys across refreshes.
			if prev.p != nil && prev.p.jwksURL == p.jwksURL {
				p.keys = prev.p.keys
			}
			c.cache[issuer] = cacheEntry{p: p, until: now.Add(c.cacheTTL)}
		case prev.p != nil:
			c.cache[issuer] = cacheEntry{p: prev.p, until: now.Add(c.failureTTL)}
			return prev.p, nil
		default:
			c.cache[issuer] = cacheEntry{err: err, until: now.Add(c.failureTTL)}
		}
		return p, err
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nil, r.Err
		}
		return r.Val.(*provider), nil
	case <-ctx.Done():
		return nil, sso.Wrap(sso.Unreachable, "The identity provider's discovery document was still loading when the sign-in was abandoned.",
			ctx.Err(), sso.Fact{Label: "Issuer", Value: issuer})
	}
}

func (c *Client) discover(ctx context.Context, issuer string) (*provider, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	unreachable := func(msg string, err error, facts ...sso.Fact) error {
		return sso.Wrap(sso.Unreachable, msg, err, append([]sso.Fact{{Label: "Issuer", Value: issuer}}, facts...)...)
	}
	wellKnown := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, wellKnown, nil)
	if err != nil {
		return nil, sso.Wrap(sso.Misconfigured, "The connection's issuer is not a valid URL.", err,
			sso.Fact{Label: "Issuer", Value: issuer})
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, unreachable("The identity provider's discovery document could not be fetched.", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, unreachable("The identity provider's discovery document could not be fetched.",
			fmt.Errorf("discovery answered %s", resp.Status),
			sso.Fact{Label: "HTTP status", Value: resp.Status}, sso.Fact{Label: "URL", Value: wellKnown})
	}
	var doc struct {
		Issuer      string `json:"issuer"`
		AuthURL     string `json:"authorization_endpoint"`
		TokenURL    string `json:"token_endpoint"`
		UserinfoURL string `json:"userinfo_endpoint"`
		JWKSURL     string `json:"jwks_uri"`
		ISSParam    bool   `json:"authorization_response_iss_parameter_supported"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, unreachable("The identity provider's discovery document could not be read.", err)
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, unreachable("The identity provider's discovery document is not valid JSON.", err,
			sso.Fact{Label: "URL", Value: wellKnown})
	}
	if doc.Issuer != issuer {
		// Usually a typo or a trailing slash in the connection's settings;
		// accepting it would let tokens of the discovered issuer through.
		return nil, sso.Fail(sso.Misconfigured, "The identity provider's discovery document names another issuer than the connection.",
			sso.Fact{Label: "Configured issuer", Value: issuer}, sso.Fact{Label: "Issuer in discovery document", Value: doc.Issuer})
	}
	if doc.AuthURL == "" || doc.TokenURL == "" || doc.JWKSURL == "" {
		return nil, unreachable("The identity provider's discovery document lacks the authorization, token or keys endpoint.",
			fmt.Errorf("incomplete discovery document"), sso.Fact{Label: "URL", Value: wellKnown})
	}
	if err := requireHTTPS(issuer, []endpoint{
		{"authorization_endpoint", doc.AuthURL},
		{"token_endpoint", doc.TokenURL},
		{"jwks_uri", doc.JWKSURL},
		{"userinfo_endpoint", doc.UserinfoURL},
	}); err != nil {
		return nil, err
	}
	return &provider{
		issuer:      issuer,
		authURL:     doc.AuthURL,
		tokenURL:    doc.TokenURL,
		userinfoURL: doc.UserinfoURL,
		jwksURL:     doc.JWKSURL,
		issParam:    doc.ISSParam,
		keys:        gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), c.http), doc.JWKSURL),
	}, nil
}

// endpoint is a URL a discovery document names, under its field's name.
type endpoint struct{ name, url string }

// requireHTTPS fails when an https issuer's discovery document names a
// plain http endpoint: the client secret and codes would cross the
// network in the clear, and anyone on the path could swap the keys that
// verify ID tokens, undoing what the https issuer promised. An empty URL
// is an absent endpoint, not an insecure one.
func requireHTTPS(issuer string, endpoints []endpoint) error {
	if u, err := url.Parse(issuer); err != nil || !strings.EqualFold(u.Scheme, "https") {
		return nil
	}
	for _, e := range endpoints {
		if e.url == "" {
			continue
		}
		if u, err := url.Parse(e.url); err != nil || !strings.EqualFold(u.Scheme, "https") {
			return sso.Fail(sso.Misconfigured, "The identity provider's discovery document names an endpoint that is not https although the issuer is.",
				sso.Fact{Label: "Issuer", Value: issuer}, sso.Fact{Label: "Endpoint", Value: e.name}, sso.Fact{Label: "URL", Value: e.url})
		}
	}
	return nil
}
