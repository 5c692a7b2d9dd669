package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/mfa/recovery"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// A signed-in user's own page of second factors: they see each and may
// remove one they lost. Adding one happens at sign-in, where the policy
// asks for it.

const accountRoute = "account/security"

func (g *Gateway) serveAccount(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	if g.cfg.MFA == nil || (route != accountRoute && route != accountRoute+"/remove") {
		return false
	}
	id, err := lookupSession(g.cfg.Sessions, r, p.ID)
	switch {
	case errors.Is(err, store.ErrUnavailable):
		g.unavailable(w, p, err)
		return true
	case err != nil:
		w.Header().Set("Cache-Control", "no-store")
		http.Redirect(w, r, g.cfg.Prefix+"login?return_to="+url.QueryEscape(g.cfg.Prefix+accountRoute), http.StatusFound)
		return true
	}
	switch {
	case route == accountRoute && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		notice := ""
		if r.URL.Query().Get("removed") == "1" {
			notice = "The method was removed."
		}
		g.showAccount(w, r, p, id, http.StatusOK, notice)
	case route == accountRoute+"/remove" && r.Method == http.MethodPost:
		g.removeOwnMethod(w, r, p, id)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	}
	return true
}

var kindLabels = map[store.MFAKind]string{
	store.MFATOTP: "Authenticator app", store.MFAWebAuthn: "Security key or passkey",
	store.MFASMS: "Text message", store.MFAPush: "Push notification", store.MFARecovery: "Recovery codes",
}

func (g *Gateway) showAccount(w http.ResponseWriter, r *http.Request, p *Partner, id *session.Identity, status int, notice string) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, id.UserID)
	if err != nil {
		g.unavailable(w, p, err)
		return
	}
	page := templates.AccountSecurity{
		Page: g.page(r.Context(), p, "Sign-in methods"), Email: id.Email, RemoveAction: g.cfg.Prefix + accountRoute + "/remove",
		CSRFToken: g.csrfToken(w, r, p, "account"), Notice: notice,
	}
	for _, m := range methods {
		am := templates.AccountMethod{ID: m.ID, Kind: kindLabels[m.Kind], Name: m.Name, Added: m.CreatedAt.Format("2 January 2006")}
		if m.Kind == store.MFARecovery {
			var st recovery.State
			if err := g.openState(m, &st); err == nil {
				am.Name = fmt.Sprintf("%d of %d left", recovery.Remaining(st), recovery.Count)
			}
		}
		if !m.LastUsedAt.IsZero() && !m.LastUsedAt.Equal(m.CreatedAt) {
			am.LastUsed = m.LastUsedAt.Format("2 January 2006")
		}
		page.Methods = append(page.Methods, am)
	}
	g.render(w, status, templates.PageAccount, page)
}

// freshSignIn is how recent a sign-in must be to remove a method.
const freshSignIn = 15 * time.Minute

const msgSignInAgain = "For your security, sign out and sign in again to remove a method: your sign-in is more than 15 minutes old."

// removeOwnMethod removes one of the signed-in user's methods, audited
// as theirs.
func (g *Gateway) removeOwnMethod(w http.ResponseWriter, r *http.Request, p *Partner, id *session.Identity) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: malformed form", http.StatusBadRequest)
		return
	}
	if !sameOrigin(r) || !g.checkCSRF(r, p, "account") {
		g.showAccount(w, r, p, id, http.StatusForbidden, "This page expired. Please try again.")
		return
	}
	// Removing a factor weakens the account, so only a fresh sign-in may:
	// a session left open, or taken, cannot strip the user's factors.
	if g.cfg.Now().Sub(id.IssuedAt) > freshSignIn {
		g.showAccount(w, r, p, id, http.StatusForbidden, msgSignInAgain)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	methodID := r.PostForm.Get("method")
	m, err := g.cfg.MFA.Store.GetMFAMethod(ctx, p.ID, id.UserID, methodID)
	if err == nil {
		err = g.cfg.MFA.Store.DeleteMFAMethod(ctx, p.ID, id.UserID, methodID)
	}
	if errors.Is(err, store.ErrNotFound) {
		g.showAccount(w, r, p, id, http.StatusNotFound, "That method is already gone.")
		return
	}
	if err != nil {
		g.cfg.Logger.Error("remove MFA method", zap.String("partner", p.ID), zap.Error(err))
		g.unavailable(w, p, err)
		return
	}
	g.record(r, p, signInEvent{action: "user.mfa_remove", user: store.User{ID: id.UserID}, email: id.Email, ok: true, reason: string(m.Kind)})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.cfg.Prefix+accountRoute+"?removed=1", http.StatusSeeOther)
}
