package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/mfa/passkey"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// The WebAuthn second step: security keys and passkeys, registered at an
// enrolment or used at a challenge. Each ceremony is kept as a ticket of
// the pending sign-in, used up when the browser answers.

const maxWebAuthnBody = 64 << 10

// serveWebAuthn answers mfa/webauthn/{register,login}/{begin,finish}.
func (g *Gateway) serveWebAuthn(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	kind, step, ok := strings.Cut(strings.TrimPrefix(route, "mfa/webauthn/"), "/")
	if !strings.HasPrefix(route, "mfa/webauthn/") || !ok || (kind != "register" && kind != "login") || (step != "begin" && step != "finish") {
		return false
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return true
	}
	// A script's request: the CSRF token comes in a header, and the
	// answer is JSON.
	if !sameOrigin(r) || !g.checkCSRFValue(r, p, "mfa", r.Header.Get("X-CSRF-Token")) {
		writeJSONError(w, http.StatusForbidden, "This page expired. Reload it and try again.")
		return true
	}
	g.withPending(w, r, p, func(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
		if !allows(pd.pol, policy.WebAuthn) {
			writeJSONError(w, http.StatusForbidden, "Security keys are not allowed by your organization.")
			return
		}
		if step == "begin" {
			g.beginWebAuthn(w, r, p, pd, kind)
			return
		}
		g.finishWebAuthn(w, r, p, pd, kind)
	})
	return true
}

func allows(pol policy.Policy, m policy.Method) bool {
	for _, x := range pol.MFAMethods() {
		if x == m {
			return true
		}
	}
	return false
}

// relyingParty is the partner's site as WebAuthn knows it: its host
// without the port, at the origin the browser sees: https when this
// server terminated TLS, else the configured scheme (a proxy in front
// terminating it), else http.
func (g *Gateway) relyingParty(r *http.Request, p *Partner) passkey.RP {
	host := strings.ToLower(r.Host)
	scheme := "http"
	switch {
	case r.TLS != nil:
		scheme = "https"
	case g.cfg.Scheme != "":
		scheme = g.cfg.Scheme
	}
	return passkey.RP{ID: normalizeHost(host), Name: p.Name, Origins: []string{scheme + "://" + host}}
}

func verification(pol policy.Policy) passkey.Verification {
	if pol.PasswordlessMode() == policy.PasswordlessRequired {
		return passkey.VerificationRequired
	}
	return passkey.VerificationPreferred
}

// webauthnUser is the user with the security keys they registered.
func (g *Gateway) webauthnUser(ctx context.Context, p *Partner, u store.User) (passkey.User, map[string]store.MFAMethod, error) {
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, u.ID)
	if err != nil {
		return passkey.User{}, nil, err
	}
	pu := passkey.User{ID: []byte(u.ID), Name: u.Email, DisplayName: u.Name}
	if pu.DisplayName == "" {
		pu.DisplayName = u.Email
	}
	byCredential := map[string]store.MFAMethod{}
	for _, m := range methods {
		if m.Kind != store.MFAWebAuthn {
			continue
		}
		var c passkey.Credential
		if err := g.openState(m, &c); err != nil {
			return passkey.User{}, nil, err
		}
		pu.Credentials = append(pu.Credentials, c)
		byCredential[c.IDString()] = m
	}
	return pu, byCredential, nil
}

func (g *Gateway) beginWebAuthn(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, kind string) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	if kind == "register" {
		err := g.mayEnrol(ctx, p, pd)
		if errors.Is(err, errEnrolled) {
			g.record(r, p, signInEvent{action: "user.mfa_enroll", user: pd.user, email: pd.user.Email, reason: "already_enrolled"})
			writeJSONError(w, http.StatusConflict, msgEnrolled)
			return
		}
		if err != nil {
			g.webauthnUnavailable(w, p, err)
			return
		}
	}
	u, _, err := g.webauthnUser(ctx, p, pd.user)
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	var options []byte
	var c passkey.Ceremony
	if kind == "register" {
		// Where passkeys may sign in alone, the key is registered as one
		// (discoverable), so it can.
		options, c, err = passkey.BeginRegistration(g.relyingParty(r, p), u, verification(pd.pol), pd.pol.PasswordlessMode() != policy.PasswordlessOff)
	} else {
		options, c, err = passkey.BeginLogin(g.relyingParty(r, p), u, verification(pd.pol))
	}
	if err != nil {
		g.cfg.Logger.Info("WebAuthn ceremony not begun", zap.String("partner", p.ID), zap.Error(err))
		writeJSONError(w, http.StatusConflict, "No security key is registered for this account.")
		return
	}
	b, err := json.Marshal(c)
	if err == nil {
		err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, ceremonyKey(pd.secret, kind), b, passkey.CeremonyTTL)
	}
	if errors.Is(err, store.ErrAlreadyExists) {
		// A ceremony this sign-in began before and abandoned: the new
		// one replaces it.
		if _, err = g.cfg.MFA.Store.TakeTicket(ctx, p.ID, ceremonyKey(pd.secret, kind)); err == nil {
			err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, ceremonyKey(pd.secret, kind), b, passkey.CeremonyTTL)
		}
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(options)
}

func (g *Gateway) finishWebAuthn(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, kind string) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxWebAuthnBody))
	if err != nil {
		writeJSONError(w, http.StatusBadRequest, "The security key's answer was too large.")
		return
	}
	// Used up before it is checked: an answer works once.
	b, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, ceremonyKey(pd.secret, kind))
	if errors.Is(err, store.ErrNotFound) {
		writeJSONError(w, http.StatusBadRequest, "This check expired. Try again.")
		return
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	var c passkey.Ceremony
	if err := json.Unmarshal(b, &c); err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	u, byCredential, err := g.webauthnUser(ctx, p, pd.user)
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	if kind == "register" {
		g.finishRegistration(ctx, w, r, p, pd, u, c, body)
		return
	}
	g.finishLogin(ctx, w, r, p, pd, u, byCredential, c, body)
}

// finishRegistration enrols the new security key, as an app is
// enrolled: if the sign-in still may, with new recovery codes shown once
// before the session starts.
func (g *Gateway) finishRegistration(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, u passkey.User, c passkey.Ceremony, body []byte) {
	cred, err := passkey.FinishRegistration(g.relyingParty(r, p), u, c, body, g.cfg.Now())
	if err != nil {
		g.webauthnRefused(w, r, p, pd, "user.mfa_enroll", err)
		return
	}
	err = g.enrol(ctx, r, p, pd, store.MFAMethod{Kind: store.MFAWebAuthn, Name: "Security key", CredentialID: cred.IDString()}, cred)
	if errors.Is(err, errEnrolled) {
		writeJSONError(w, http.StatusConflict, msgEnrolled)
		return
	}
	if err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": g.cfg.Prefix + "mfa"})
}

// finishLogin checks the key against the user's own and moves its sign
// count.
func (g *Gateway) finishLogin(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, u passkey.User, byCredential map[string]store.MFAMethod, c passkey.Ceremony, body []byte) {
	now := g.cfg.Now()
	cred, err := passkey.FinishLogin(g.relyingParty(r, p), u, c, body, now)
	if err != nil {
		g.webauthnRefused(w, r, p, pd, "mfa.verify", err)
		return
	}
	m, ok := byCredential[cred.IDString()]
	if !ok {
		g.webauthnRefused(w, r, p, pd, "mfa.verify", passkey.ErrVerification)
		return
	}
	if _, err := g.cfg.MFA.Store.UpdateMFAMethod(ctx, p.ID, pd.user.ID, m.ID, func(cur store.MFAMethod) (store.MFAMethod, error) {
		sealed, err := g.sealState(cur, cred)
		cur.Secret, cur.LastUsedAt = sealed, now.UTC().Truncate(time.Millisecond)
		return cur, err
	}); err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, ok: true, reason: string(store.MFAWebAuthn)})
	// The session starts on the script's next navigation, through the
	// same door as a code: the pending sign-in, which now records the
	// passed check, is used up there.
	pd.WebAuthnPassed = true
	if err := g.savePending(ctx, p, pd); err != nil {
		g.webauthnUnavailable(w, p, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"next": g.cfg.Prefix + "mfa/webauthn/done?csrf=" + g.csrfToken(w, r, p, "mfa")})
}

func (g *Gateway) webauthnRefused(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, action string, err error) {
	reason := "webauthn_failed"
	if errors.Is(err, passkey.ErrExpired) {
		reason = "webauthn_expired"
	}
	g.record(r, p, signInEvent{action: action, user: pd.user, email: pd.user.Email, reason: reason})
	g.cfg.Logger.Info("WebAuthn refused", zap.String("partner", p.ID), zap.String("user", pd.user.ID), zap.Error(err))
	writeJSONError(w, http.StatusUnauthorized, "Your security key could not be verified. Try again, or use another way.")
}

func (g *Gateway) webauthnUnavailable(w http.ResponseWriter, p *Partner, err error) {
	g.cfg.Logger.Error("WebAuthn unavailable", zap.String("partner", p.ID), zap.Error(err))
	w.Header().Set("Retry-After", "5")
	writeJSONError(w, http.StatusServiceUnavailable, msgUnavailable)
}

// webauthnDone ends a second step a WebAuthn ceremony of this very
// pending sign-in passed.
func (g *Gateway) webauthnDone(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	if !pd.WebAuthnPassed || !g.checkCSRFValue(r, p, "mfa", r.URL.Query().Get("csrf")) {
		g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "Your security key could not be verified. Try again, or use another way.")
		return
	}
	g.passSecondStep(w, r, p, pd)
}

func (g *Gateway) webauthnButton(w http.ResponseWriter, r *http.Request, p *Partner, kind string) *templates.WebAuthnButton {
	label := "Use your security key"
	if kind == "register" {
		label = "Set up a security key or passkey"
	}
	return &templates.WebAuthnButton{
		Label: label, Kind: kind,
		Begin: g.cfg.Prefix + "mfa/webauthn/" + kind + "/begin", Finish: g.cfg.Prefix + "mfa/webauthn/" + kind + "/finish",
		CSRFToken: g.csrfToken(w, r, p, "mfa"), ScriptURL: g.cfg.Prefix + "assets/webauthn.js",
	}
}

func ceremonyKey(pendingSecret, kind string) string {
	return "mfa-webauthn:" + kind + ":" + hashHex(pendingSecret)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeJSONError(w http.ResponseWriter, status int, message string) {
	writeJSON(w, status, map[string]string{"error": message})
}
