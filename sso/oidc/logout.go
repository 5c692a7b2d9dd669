package oidc

import (
	"context"

	"github.com/partnergate/partnergate/sso"
)

const backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// VerifyLogoutToken verifies a back-channel logout token (OpenID Connect
// Back-Channel Logout 1.0 §2.6) from cfg's IdP and returns whom it logs
// out: the subject, the IdP's session id, or both.
func (c *Client) VerifyLogoutToken(ctx context.Context, cfg Config, raw string) (subject, sessionID string, err error) {
	p, err := c.provider(ctx, cfg.Issuer)
	if err != nil {
		return "", "", err
	}
	cl, err := c.verifyJWT(ctx, p, raw, "logout token")
	if err != nil {
		return "", "", err
	}
	if iss := cl.str("iss"); iss != cfg.Issuer {
		return "", "", sso.Fail(sso.UnknownIssuer, "The logout token was issued by another identity provider than the connection's.",
			sso.Fact{Label: "Expected issuer", Value: cfg.Issuer}, sso.Fact{Label: "Received", Value: truncate(iss, 200)})
	}
	if err := checkAudience(cfg.ClientID, cl, "logout token"); err != nil {
		return "", "", err
	}
	now := c.now()
	if _, ok, err := cl.date("iat"); err != nil || !ok {
		return "", "", sso.Wrap(sso.Malformed, "The logout token has no valid issue time (iat).", err)
	}
	exp, ok, err := cl.date("exp")
	if err != nil {
		return "", "", sso.Wrap(sso.Malformed, "The logout token's expiry time (exp) is not a number.", err)
	}
	if ok && now.After(exp.Add(sso.Skew)) {
		return "", "", sso.Fail(sso.Expired, "The logout token has expired.",
			sso.TimeFact("Token expires", exp), sso.TimeFact("Server time", now))
	}
	events, _ := cl["events"].(map[string]any)
	if _, ok := events[backChannelLogoutEvent].(map[string]any); !ok {
		return "", "", sso.Fail(sso.Malformed, "The token is not a logout token: it lacks the back-channel logout event.",
			sso.Fact{Label: "Expected event", Value: backChannelLogoutEvent})
	}
	// A nonce marks an ID token; refusing it keeps an ID token from being
	// replayed as a logout token.
	if _, ok := cl["nonce"]; ok {
		return "", "", sso.Fail(sso.Malformed, "The logout token carries a nonce, which only ID tokens may.")
	}
	subject, sessionID = cl.str("sub"), cl.str("sid")
	if subject == "" && sessionID == "" {
		return "", "", sso.Fail(sso.Malformed, "The logout token names neither a user (sub) nor a session (sid).")
	}
	return subject, sessionID, nil
}
