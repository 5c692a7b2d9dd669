package oidc

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/partnergate/partnergate/sso"
)

// Finish completes a sign-in from the IdP's redirect: it checks the
// callback against s, exchanges the code with the PKCE verifier, verifies
// the ID token and, if cfg.Userinfo, adds the userinfo claims.
func (c *Client) Finish(ctx context.Context, cfg Config, s Start, callback url.Values) (sso.Claims, error) {
	if e := callback.Get("error"); e != "" {
		facts := []sso.Fact{{Label: "Error", Value: truncate(e, 100)}}
		if d := callback.Get("error_description"); d != "" {
			facts = append(facts, sso.Fact{Label: "Description", Value: truncate(d, 300)})
		}
		return sso.Claims{}, sso.Fail(sso.IdPError, "The identity provider refused the sign-in.", facts...)
	}
	p, err := c.provider(ctx, cfg.Issuer)
	if err != nil {
		return sso.Claims{}, err
	}
	// RFC 9207: the iss parameter tells which IdP answered, so a response
	// of one partner's IdP cannot be replayed into another's flow.
	if iss, ok := callback["iss"]; ok || p.issParam {
		got := ""
		if ok {
			got = iss[0]
		}
		if got != cfg.Issuer {
			return sso.Claims{}, sso.Fail(sso.UnknownIssuer, "The sign-in response names another identity provider than the connection's.",
				sso.Fact{Label: "Expected issuer", Value: cfg.Issuer}, sso.Fact{Label: "Received", Value: truncate(got, 200)})
		}
	}
	if s.State == "" || subtle.ConstantTimeCompare([]byte(callback.Get("state")), []byte(s.State)) != 1 {
		return sso.Claims{}, sso.Fail(sso.InvalidState, "The sign-in response does not belong to the sign-in this browser started.")
	}
	code := callback.Get("code")
	if code == "" {
		return sso.Claims{}, sso.Fail(sso.Malformed, "The identity provider's response carries no authorization code.")
	}

	tok, err := c.exchange(ctx, cfg, p, code, s.Verifier)
	if err != nil {
		return sso.Claims{}, err
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return sso.Claims{}, sso.Fail(sso.Malformed, "The identity provider's token response carries no ID token; check that the openid scope is allowed.")
	}
	cl, err := c.verifyJWT(ctx, p, raw, "ID token")
	if err != nil {
		return sso.Claims{}, err
	}
	if err := c.checkIDToken(cfg, s, cl); err != nil {
		return sso.Claims{}, err
	}
	attrs := cl.attributes()
	if cfg.Userinfo {
		info, err := c.userinfo(ctx, p, tok)
		if err != nil {
			return sso.Claims{}, err
		}
		if got := info.str("sub"); got != cl.str("sub") {
			return sso.Claims{}, sso.Fail(sso.UserinfoMismatch, "The identity provider's userinfo answered for another user than the ID token.",
				sso.Fact{Label: "ID token subject", Value: cl.str("sub")}, sso.Fact{Label: "Userinfo subject", Value: got})
		}
		// The ID token is signed and userinfo is not: what both hold is
		// taken from the ID token.
		for name, vals := range info.attributes() {
			if _, ok := attrs[name]; !ok {
				attrs[name] = vals
			}
		}
	}
	return sso.Claims{Subject: cl.str("sub"), SessionID: cl.str("sid"), Issuer: cl.str("iss"), Attributes: attrs}, nil
}

func (c *Client) exchange(ctx context.Context, cfg Config, p *provider, code, verifier string) (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	tok, err := oauthConfig(cfg, p).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err == nil {
		return tok, nil
	}
	if re, ok := errors.AsType[*oauth2.RetrieveError](err); ok {
		facts := []sso.Fact{{Label: "Token endpoint", Value: p.tokenURL}}
		if re.Response != nil {
			facts = append(facts, sso.Fact{Label: "HTTP status", Value: re.Response.Status})
		}
		if re.ErrorCode != "" {
			facts = append(facts, sso.Fact{Label: "Error", Value: truncate(re.ErrorCode, 100)})
		}
		if re.ErrorDescription != "" {
			facts = append(facts, sso.Fact{Label: "Description", Value: truncate(re.ErrorDescription, 300)})
		}
		// The response body is left out of the cause: it is the IdP's to
		// word and may echo what was sent.
		return nil, sso.Wrap(sso.CodeExchange, "The identity provider refused to exchange the authorization code for tokens.",
			fmt.Errorf("token endpoint refused the code: %s", re.ErrorCode), facts...)
	}
	return nil, sso.Wrap(sso.Unreachable, "The identity provider's token endpoint could not be reached.", err,
		sso.Fact{Label: "Token endpoint", Value: p.tokenURL})
}

// checkIDToken runs the ID token checks of OpenID Connect Core §3.1.3.7
// after the signature, one code each, in the order an admin would fix
// them: who issued it, for whom, when, and for which sign-in.
func (c *Client) checkIDToken(cfg Config, s Start, cl claims) error {
	if iss := cl.str("iss"); iss != cfg.Issuer {
		return sso.Fail(sso.UnknownIssuer, "The ID token was issued by another identity provider than the connection's.",
			sso.Fact{Label: "Expected issuer", Value: cfg.Issuer}, sso.Fact{Label: "Received", Value: truncate(iss, 200)})
	}
	if err := checkAudience(cfg.ClientID, cl, "ID token"); err != nil {
		return err
	}
	if azp, ok := cl["azp"]; ok || len(cl.audience()) > 1 {
		got, _ := azp.(string)
		if got != cfg.ClientID {
			msg := "The ID token was issued to another client (azp) than this connection's."
			if !ok {
				msg = "The ID token names several audiences but no authorized party (azp)."
			}
			return sso.Fail(sso.WrongAudience, msg,
				sso.Fact{Label: "Expected authorized party", Value: cfg.ClientID}, sso.Fact{Label: "Received", Value: truncate(got, 200)})
		}
	}
	now := c.now()
	exp, ok, err := cl.date("exp")
	if err != nil || !ok {
		return sso.Wrap(sso.Malformed, "The ID token has no valid expiry time (exp).", err)
	}
	if now.After(exp.Add(sso.Skew)) {
		return sso.Fail(sso.Expired, "The ID token has expired; if it was just issued, the clocks of the identity provider and this service disagree.",
			sso.TimeFact("Token expires", exp), sso.TimeFact("Server time", now))
	}
	iat, ok, err := cl.date("iat")
	if err != nil || !ok {
		return sso.Wrap(sso.Malformed, "The ID token has no valid issue time (iat).", err)
	}
	if iat.After(now.Add(sso.Skew)) {
		return sso.Fail(sso.NotYetValid, "The ID token is issued in the future: the clocks of the identity provider and this service disagree.",
			sso.TimeFact("Token issued at", iat), sso.TimeFact("Server time", now))
	}
	if nonce := cl.str("nonce"); s.Nonce == "" || subtle.ConstantTimeCompare([]byte(nonce), []byte(s.Nonce)) != 1 {
		return sso.Fail(sso.NonceMismatch, "The ID token does not answer this sign-in: its nonce differs from the one sent.")
	}
	if cl.str("sub") == "" {
		return sso.Fail(sso.Malformed, "The ID token names no user (sub).")
	}
	return nil
}

func checkAudience(clientID string, cl claims, what string) error {
	aud := cl.audience()
	if !slices.Contains(aud, clientID) {
		return sso.Fail(sso.WrongAudience, fmt.Sprintf("The %s was issued for another client than this connection's.", what),
			sso.Fact{Label: "Expected audience", Value: clientID}, sso.Fact{Label: "Received", Value: truncate(strings.Join(aud, ", "), 300)})
	}
	return nil
}

func (c *Client) userinfo(ctx context.Context, p *provider, tok *oauth2.Token) (claims, error) {
	if p.userinfoURL == "" {
		return nil, sso.Fail(sso.Misconfigured, "The connection asks for userinfo but the identity provider publishes no userinfo endpoint.",
			sso.Fact{Label: "Issuer", Value: p.issuer})
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.userinfoURL, nil)
	if err != nil {
		return nil, sso.Wrap(sso.Misconfigured, "The identity provider's userinfo endpoint is not a valid URL.", err,
			sso.Fact{Label: "Userinfo endpoint", Value: p.userinfoURL})
	}
	req.Header.Set("Accept", "application/json")
	tok.SetAuthHeader(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, sso.Wrap(sso.Unreachable, "The identity provider's userinfo endpoint could not be reached.", err,
			sso.Fact{Label: "Userinfo endpoint", Value: p.userinfoURL})
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, sso.Wrap(sso.IdPError, "The identity provider's userinfo endpoint refused the request.",
			fmt.Errorf("userinfo answered %s", resp.Status),
			sso.Fact{Label: "Userinfo endpoint", Value: p.userinfoURL}, sso.Fact{Label: "HTTP status", Value: resp.Status})
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/jwt" {
		return nil, sso.Fail(sso.Malformed, "The identity provider answers userinfo as a signed JWT, which this connection does not accept; configure it to answer JSON.",
			sso.Fact{Label: "Userinfo endpoint", Value: p.userinfoURL})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, sso.Wrap(sso.Unreachable, "The identity provider's userinfo answer could not be read.", err,
			sso.Fact{Label: "Userinfo endpoint", Value: p.userinfoURL})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var cl claims
	if err := dec.Decode(&cl); err != nil || cl == nil {
		return nil, sso.Wrap(sso.Malformed, "The identity provider's userinfo answer is not a JSON object.", err,
			sso.Fact{Label: "Userinfo endpoint", Value: p.userinfoURL})
	}
	return cl, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
