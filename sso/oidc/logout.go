package oidc

import (
	"context"
	"strings"
	"time"

	"github.com/partnergate/partnergate/sso"
)

const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// LogoutToken is a verified back-channel logout token: whom it logs out
// (the subject, the IdP's session id, or both), and its id and expiry,
// for the caller to refuse a replay of it.
type LogoutToken struct {
	Subject   string
	SessionID string
	ID        string
	Expires   time.Time
}

// VerifyLogoutToken verifies a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.4, §2.6) from cfg's IdP.
func (c *Client) VerifyLogoutToken(ctx context.Context, cfg Config, raw string) (tok LogoutToken, err error) {
	// An explicit type other than the logout token's (an access token's
	// at+jwt, say) is another kind of token; the generic "JWT" that many
	// IdPs still send is let through to the claim checks.
	if typ := strings.ToLower(headerField(raw, "typ")); typ != "" && typ != "jwt" && typ != "logout+jwt" && typ != "application/logout+jwt" {
		return tok, sso.Fail(sso.Malformed, "The token is not a logout token: its type says otherwise.", sso.Fact{Label: "Type", Value: truncate(typ, 100)})
	}
	p, err := c.provider(ctx, cfg.Issuer)
	if err != nil {
		return tok, err
	}
	cl, err := c.verifyJWT(ctx, p, raw, "logout token")
	if err != nil {
		return tok, err
	}
	if iss := cl.str("iss"); iss != cfg.Issuer {
		return tok, sso.Fail(sso.UnknownIssuer, "The logout token was issued by another identity provider than the connection's.",
			sso.Fact{Label: "Expected issuer", Value: cfg.Issuer}, sso.Fact{Label: "Received", Value: truncate(iss, 200)})
	}
	if err := checkAudience(cfg.ClientID, cl, "logout token"); err != nil {
		return tok, err
	}
	now := c.now()
	if _, ok, err := cl.date("iat"); err != nil || !ok {
		return tok, sso.Wrap(sso.Malformed, "The logout token has no valid issue time (iat).", err)
	}
	exp, ok, err := cl.date("exp")
	if err != nil || !ok {
		return tok, sso.Wrap(sso.Malformed, "The logout token has no valid expiry time (exp).", err)
	}
	if now.After(exp.Add(sso.Skew)) {
		return tok, sso.Fail(sso.Expired, "The logout token has expired.",
			sso.TimeFact("Token expires", exp), sso.TimeFact("Server time", now))
	}
	events, _ := cl["events"].(map[string]any)
	if _, ok := events[backChannelLogoutEvent].(map[string]any); !ok {
		return tok, sso.Fail(sso.Malformed, "The token is not a logout token: it lacks the back-channel logout event.",
			sso.Fact{Label: "Expected event", Value: backChannelLogoutEvent})
	}
	// A nonce marks an ID token; refusing it keeps an ID token from being
	// replayed as a logout token.
	if _, ok := cl["nonce"]; ok {
		return tok, sso.Fail(sso.Malformed, "The logout token carries a nonce, which only ID tokens may.")
	}
	tok = LogoutToken{Subject: cl.str("sub"), SessionID: cl.str("sid"), ID: cl.str("jti"), Expires: exp}
	if tok.Subject == "" && tok.SessionID == "" {
		return LogoutToken{}, sso.Fail(sso.Malformed, "The logout token names neither a user (sub) nor a session (sid).")
	}
	if tok.ID == "" {
		return LogoutToken{}, sso.Fail(sso.Malformed, "The logout token has no id (jti), so a replay of it could not be told apart.")
	}
	return tok, nil
}
