package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
)

// An IdP ends sessions by its own names for them: the OIDC sid or SAML
// SessionIndex, or only the subject. Each sign-in through a connection
// leaves tickets from those names to the session it started and the
// user, living as long as the session can.

func idpSessionKey(connectionID, sid string) string {
	return "sso-sid:" + connectionID + ":" + hashHex(sid)
}

func idpSubjectKey(connectionID, subject string) string {
	return "sso-sub:" + connectionID + ":" + hashHex(subject)
}

// rememberIdPSession records which session a sign-in started under the
// IdP's names. A failure is logged: the user is signed in either way, and
// a logout from the IdP then falls back to the subject, or is missed.
func (g *Gateway) rememberIdPSession(ctx context.Context, p *Partner, connectionID, subject, sid, userID string, id *session.Identity) {
	ttl := id.ExpiresAt.Sub(g.cfg.Now())
	if ttl <= 0 {
		return
	}
	t := g.cfg.SSO.Store
	if sid != "" {
		key := idpSessionKey(connectionID, sid)
		var sessions []string
		if b, err := t.TakeTicket(ctx, p.ID, key); err == nil {
			_ = json.Unmarshal(b, &sessions)
		}
		sessions = append(sessions, id.SessionID)
		if len(sessions) > maxLogoutSessions {
			sessions = sessions[len(sessions)-maxLogoutSessions:]
		}
		b, _ := json.Marshal(sessions)
		if err := t.PutTicket(ctx, p.ID, key, b, ttl); err != nil {
			g.cfg.Logger.Warn("IdP session not remembered", zap.String("partner", p.ID), zap.String("connection", connectionID), zap.Error(err))
		}
	}
	if subject != "" {
		key := idpSubjectKey(connectionID, subject)
		if _, err := t.TakeTicket(ctx, p.ID, key); err != nil && !errors.Is(err, store.ErrNotFound) {
			g.cfg.Logger.Warn("IdP subject not remembered", zap.String("partner", p.ID), zap.Error(err))
			return
		}
		if err := t.PutTicket(ctx, p.ID, key, []byte(userID), max(ttl, g.subjectTTL())); err != nil {
			g.cfg.Logger.Warn("IdP subject not remembered", zap.String("partner", p.ID), zap.String("connection", connectionID), zap.Error(err))
		}
	}
}

// samlLogoutReplayWindow outlasts the time crewjam accepts a
// LogoutRequest after it was issued, with room for clock skew.
const samlLogoutReplayWindow = 10 * time.Minute

// subjectTTL keeps the subject's user past one session, as later
// sessions of the same user each renew it.
func (g *Gateway) subjectTTL() time.Duration { return 24 * time.Hour }

// endIdPSession ends the sessions an IdP names: those of its session id
// when it gives one, else every session of the subject's user.
func (g *Gateway) endIdPSession(ctx context.Context, p *Partner, c conn, subject, sid string) (int, error) {
	t := g.cfg.SSO.Store
	if sid != "" {
		b, err := t.TakeTicket(ctx, p.ID, idpSessionKey(c.ID, sid))
		if errors.Is(err, store.ErrNotFound) {
			return 0, nil
		}
		if err != nil {
			return 0, err
		}
		var sessions []string
		if err := json.Unmarshal(b, &sessions); err != nil {
			return 0, err
		}
		var errs []error
		for _, s := range sessions {
			if err := g.cfg.Sessions.Revoke(ctx, p.ID, s); err != nil && !errors.Is(err, store.ErrNotFound) {
				errs = append(errs, err)
			}
		}
		return len(sessions), errors.Join(errs...)
	}
	b, err := t.GetTicket(ctx, p.ID, idpSubjectKey(c.ID, subject))
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return 1, g.cfg.Sessions.RevokeUser(ctx, p.ID, string(b))
}

// oidcBackchannelLogout serves OpenID Connect Back-Channel Logout: the
// IdP posts a signed logout token, server to server.
func (g *Gateway) oidcBackchannelLogout(w http.ResponseWriter, r *http.Request, p *Partner) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeLogoutError(w, http.StatusBadRequest, "invalid_request", "malformed form")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout+g.ssoTimeout())
	defer cancel()
	c, err := g.loadConnection(ctx, p, r.URL.Query().Get("connection"))
	if err != nil || c.cfg.OIDC == nil {
		writeLogoutError(w, http.StatusBadRequest, "invalid_request", "unknown connection")
		return
	}
	cfg, err := g.oidcConfig(r, c)
	if err != nil {
		g.cfg.Logger.Error("back-channel logout: connection settings", zap.String("partner", p.ID), zap.Error(err))
		writeLogoutError(w, http.StatusInternalServerError, "server_error", "")
		return
	}
	tok, err := g.cfg.SSO.OIDC.VerifyLogoutToken(ctx, cfg, r.PostForm.Get("logout_token"))
	if err != nil {
		fail := sso.AsFailure(err)
		g.cfg.Logger.Info("back-channel logout refused", zap.String("partner", p.ID), zap.String("connection", c.ID), zap.String("code", string(fail.Code)))
		writeLogoutError(w, http.StatusBadRequest, "invalid_request", fail.Message)
		return
	}
	// A logout token works once: replayed, one holding only a subject
	// would end every later session of its user.
	err = g.cfg.SSO.Store.PutTicket(ctx, p.ID, "sso-logout:"+c.ID+":"+hashHex(tok.ID), []byte{1}, max(tok.Expires.Sub(g.cfg.Now())+sso.Skew, time.Second))
	if errors.Is(err, store.ErrAlreadyExists) {
		g.cfg.Logger.Info("back-channel logout token replayed", zap.String("partner", p.ID), zap.String("connection", c.ID))
		writeLogoutError(w, http.StatusBadRequest, "invalid_request", "This logout token was already used.")
		return
	}
	if err != nil {
		g.cfg.Logger.Error("back-channel logout not completed", zap.String("partner", p.ID), zap.Error(err))
		writeLogoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	n, err := g.endIdPSession(ctx, p, c, tok.Subject, tok.SessionID)
	if err != nil {
		g.cfg.Logger.Error("back-channel logout not completed", zap.String("partner", p.ID), zap.Error(err))
		writeLogoutError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "")
		return
	}
	g.recordIdPLogout(r, p, c, n)
	w.WriteHeader(http.StatusOK)
}

func writeLogoutError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": description})
}

// samlLogout serves SAML single logout started by the IdP: a signed
// LogoutRequest ends the sessions it names, and the browser goes back to
// the IdP with a signed LogoutResponse.
func (g *Gateway) samlLogout(w http.ResponseWriter, r *http.Request, p *Partner) {
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout+g.ssoTimeout())
	defer cancel()
	c, err := g.loadConnection(ctx, p, r.URL.Query().Get("connection"))
	if err != nil || c.cfg.SAML == nil {
		g.renderSSOError(w, r, p, http.StatusNotFound, "This sign-out link is not valid here.", "")
		return
	}
	cfg, err := g.samlConfig(ctx, r, c)
	if err != nil {
		g.cfg.Logger.Warn("SAML logout: connection settings", zap.String("partner", p.ID), zap.Error(err))
		g.renderSSOError(w, r, p, http.StatusBadGateway, msgSSOUnavailable, string(sso.AsFailure(err).Code))
		return
	}
	nameID, sessionIndex, requestID, err := saml.ParseLogoutRequest(cfg, r)
	if err != nil {
		fail := sso.AsFailure(err)
		g.cfg.Logger.Info("SAML logout refused", zap.String("partner", p.ID), zap.String("connection", c.ID), zap.String("code", string(fail.Code)))
		g.renderSSOError(w, r, p, http.StatusBadRequest, "This sign-out request could not be verified.", string(fail.Code))
		return
	}
	// A LogoutRequest works once: crewjam accepts one for about 90
	// seconds after its IssueInstant, and a replay of one naming only the
	// subject would end that user's newer sessions.
	err = g.cfg.SSO.Store.PutTicket(ctx, p.ID, "saml-logout:"+c.ID+":"+hashHex(requestID), []byte{1}, samlLogoutReplayWindow)
	if errors.Is(err, store.ErrAlreadyExists) {
		g.cfg.Logger.Info("SAML logout request replayed", zap.String("partner", p.ID), zap.String("connection", c.ID))
		g.renderSSOError(w, r, p, http.StatusBadRequest, "This sign-out request was already used.", string(sso.Replay))
		return
	}
	if err != nil {
		g.cfg.Logger.Error("SAML logout not completed", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		g.renderSSOError(w, r, p, http.StatusServiceUnavailable, msgUnavailable, "")
		return
	}
	n, err := g.endIdPSession(ctx, p, c, nameID, sessionIndex)
	if err != nil {
		g.cfg.Logger.Error("SAML logout not completed", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		g.renderSSOError(w, r, p, http.StatusServiceUnavailable, msgUnavailable, "")
		return
	}
	g.recordIdPLogout(r, p, c, n)
	// The browser that carried the request is signed out here too.
	if err := g.endSessions(ctx, r, p); err != nil {
		g.cfg.Logger.Warn("SAML logout: end this browser's session", zap.String("partner", p.ID), zap.Error(err))
	}
	http.SetCookie(w, g.sessionCookie(r, "", -1))
	resp, err := saml.LogoutResponse(cfg, requestID, r.FormValue("RelayState"))
	if err != nil {
		g.render(w, http.StatusOK, "signed_out", g.signedOutPage(r.Context(), p))
		return
	}
	if resp.Form != nil {
		g.renderSAMLPost(w, r, p, c.Name, resp.URL, resp.Form)
		return
	}
	http.Redirect(w, r, resp.URL, http.StatusFound)
}

func (g *Gateway) recordIdPLogout(r *http.Request, p *Partner, c conn, sessions int) {
	g.record(r, p, signInEvent{action: "signout.idp", ok: true, connection: c.ID, reason: map[bool]string{true: "sessions_ended", false: "no_session"}[sessions > 0]})
}
