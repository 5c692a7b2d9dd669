package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/mfa/passkey"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// Passwordless sign-in with a passkey: the user picks a passkey the
// browser knows for this site, and a passkey with user verification is
// both factors at once. The ceremony is bound to the browser by a cookie
// and, once passed, hands over to a plain navigation that starts the
// session.

const (
	passkeyCookieBase = "pg_passkey"
	msgNoPasskey      = "Your organization does not allow signing in with a passkey alone."
)

// passkeyLogin is a passwordless ceremony between begin and done.
type passkeyLogin struct {
	Ceremony passkey.Ceremony `json:"c"`
	ReturnTo string           `json:"r"`
	// UserID is set once the ceremony passed.
	UserID string `json:"u,omitempty"`
}

// passkeyAllowed: the policy lets users sign in with a passkey alone.
func passkeyAllowed(pol policy.Policy) bool {
	return pol.PasswordlessMode() != policy.PasswordlessOff && allows(pol, policy.WebAuthn) && !pol.SSOIsRequired()
}

func (g *Gateway) servePasskey(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	if g.cfg.MFA == nil {
		return false
	}
	switch {
	case route == "passkey/begin" && r.Method == http.MethodPost:
		g.beginPasskey(w, r, p)
	case route == "passkey/finish" && r.Method == http.MethodPost:
		g.finishPasskey(w, r, p)
	case route == "passkey/done" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		g.passkeyDone(w, r, p)
	case route == "passkey/begin" || route == "passkey/finish" || route == "passkey/done":
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	default:
		return false
	}
	return true
}

// passkeyButton offers a passkey on the login page, when the policy
// allows one.
func (g *Gateway) passkeyButton(w http.ResponseWriter, r *http.Request, p *Partner, pol policy.Policy, returnTo string) *templates.WebAuthnButton {
	if g.cfg.MFA == nil || !passkeyAllowed(pol) {
		return nil
	}
	allowScripts(w)
	q := ""
	if returnTo != "/" {
		q = "?" + url.Values{"return_to": {returnTo}}.Encode()
	}
	return &templates.WebAuthnButton{
		Label: "Sign in with a passkey", Kind: "login",
		Begin: g.cfg.Prefix + "passkey/begin" + q, Finish: g.cfg.Prefix + "passkey/finish",
		CSRFToken: g.csrfToken(w, r, p, "passkey"), ScriptURL: g.cfg.Prefix + "assets/webauthn.js",
	}
}

func (g *Gateway) beginPasskey(w http.ResponseWriter, r *http.Request, p *Partner) {
	if !sameOrigin(r) || !g.checkCSRFValue(r, p, "passkey", r.Header.Get("X-CSRF-Token")) {
		writeJSONError(w, http.StatusForbidden, "This page expired. Reload it and try again.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	if !g.passkeysAllowedNow(ctx, w, p) {
		return
	}
	// A passkey alone must prove its user: verification is required.
	options, c, err := passkey.BeginPasskeyLogin(g.relyingParty(r, p), passkey.VerificationRequired)
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	secret := randomToken()
	b, err := json.Marshal(passkeyLogin{Ceremony: c, ReturnTo: safeReturnPath(r.URL.Query().Get("return_to"), g.cfg.Prefix)})
	if err == nil {
		err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, passkeyKey(secret), b, passkey.CeremonyTTL)
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	http.SetCookie(w, g.flowCookie(r, passkeyCookieBase, secret, int(passkey.CeremonyTTL.Seconds())))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(options)
}

func (g *Gateway) finishPasskey(w http.ResponseWriter, r *http.Request, p *Partner) {
	if !sameOrigin(r) || !g.checkCSRFValue(r, p, "passkey", r.Header.Get("X-CSRF-Token")) {
		writeJSONError(w, http.StatusForbidden, "This page expired. Reload it and try again.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebAuthnBody))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "The passkey's answer was too large.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	secret, n := findCookie(r.Header, cookieName(r, passkeyCookieBase))
	if n != 1 || secret == "" {
		writeJSONError(w, http.StatusBadRequest, "This check expired. Try again.")
		return
	}
	// Used up before it is checked: an answer works once.
	b, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, passkeyKey(secret))
	if errors.Is(err, store.ErrNotFound) {
		writeJSONError(w, http.StatusBadRequest, "This check expired. Try again.")
		return
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	var pl passkeyLogin
	if err := json.Unmarshal(b, &pl); err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	// What begin allowed may have changed since (SSO required, passkeys
	// turned off): the policy of now decides.
	if !g.passkeysAllowedNow(ctx, w, p) {
		return
	}
	handle, err := passkey.UserHandleOf(body)
	if err != nil {
		writeJSONError(w, http.StatusUnauthorized, "This passkey is not one this site knows.")
		return
	}
	user, err := g.cfg.MFA.Store.GetUser(ctx, p.ID, string(handle))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !user.Active) {
		g.record(r, p, signInEvent{action: "signin", reason: "passkey_unknown"})
		writeJSONError(w, http.StatusUnauthorized, "This passkey is not one this site knows.")
		return
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	u, byCredential, err := g.webauthnUser(ctx, p, user)
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	now := g.cfg.Now()
	cred, err := passkey.FinishLogin(g.relyingParty(r, p), u, pl.Ceremony, body, now)
	m, known := byCredential[cred.IDString()]
	if err != nil || !known {
		g.record(r, p, signInEvent{action: "signin", user: user, email: user.Email, reason: "passkey_failed"})
		g.cfg.Logger.Info("passkey sign-in refused", zap.String("partner", p.ID), zap.Error(err))
		writeJSONError(w, http.StatusUnauthorized, "Your passkey could not be verified. Try again, or sign in another way.")
		return
	}
	if _, err := g.cfg.MFA.Store.UpdateMFAMethod(ctx, p.ID, user.ID, m.ID, func(cur store.MFAMethod) (store.MFAMethod, error) {
		sealed, err := g.sealState(cur, cred)
		cur.Secret, cur.LastUsedAt = sealed, now.UTC().Truncate(time.Millisecond)
		return cur, err
	}); err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	pl.UserID = user.ID
	if b, err = json.Marshal(pl); err == nil {
		err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, passkeyKey(secret), b, time.Minute)
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": g.cfg.Prefix + "passkey/done"})
}

// passkeyDone starts the session of a passed passkey ceremony of this
// browser.
func (g *Gateway) passkeyDone(w http.ResponseWriter, r *http.Request, p *Partner) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	secret, n := findCookie(r.Header, cookieName(r, passkeyCookieBase))
	var pl passkeyLogin
	var err error
	if n == 1 && secret != "" {
		var b []byte
		if b, err = g.cfg.MFA.Store.TakeTicket(ctx, p.ID, passkeyKey(secret)); err == nil {
			err = json.Unmarshal(b, &pl)
		}
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.loginUnavailable(w, r, p, "", "", err)
		return
	}
	http.SetCookie(w, g.flowCookie(r, passkeyCookieBase, "", -1))
	if pl.UserID == "" {
		g.showLogin(w, r, p, http.StatusUnauthorized, "", "This sign-in expired. Please sign in again.", "")
		return
	}
	user, err := g.cfg.MFA.Store.GetUser(ctx, p.ID, pl.UserID)
	if err != nil || !user.Active {
		g.showLogin(w, r, p, http.StatusUnauthorized, "", msgBadCredentials, pl.ReturnTo)
		return
	}
	g.startSession(w, r, p, user, pl.ReturnTo, signInVia{Method: "passkey"})
}

func passkeyKey(secret string) string { return "passkey-login:" + hashHex(secret) }

// randomToken is an unguessable value for a cookie or a link: 260 bits.
func randomToken() string { return rand.Text() + rand.Text() }

// passkeysAllowedNow reads the partner's policy and answers the refusal
// when it does not let a passkey sign anyone in alone. True when allowed.
func (g *Gateway) passkeysAllowedNow(ctx context.Context, w http.ResponseWriter, p *Partner) bool {
	pol, err := g.policyOf(ctx, p)
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return false
	}
	if !passkeyAllowed(pol) {
		writeJSONError(w, http.StatusForbidden, msgNoPasskey)
		return false
	}
	return true
}
