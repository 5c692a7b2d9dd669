package gateway

import (
	"context"
	"errors"
	"net/http"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/templates"
)

const (
	msgMismatch   = "The passwords do not match."
	msgNotSetBusy = "Your password could not be set right now. Please try again shortly."
)

// showPasswordLink answers the link in an invitation or password-reset
// email with the form, if the link still works.
func (g *Gateway) showPasswordLink(w http.ResponseWriter, r *http.Request, p *Partner) {
	token := r.URL.Query().Get("token")
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	link, user, err := invite.Check(ctx, g.cfg.Store, p.ID, token)
	if err != nil {
		g.linkRefused(w, p, err)
		return
	}
	g.showPasswordForm(w, r, p, http.StatusOK, link, user.Email, token, "")
}

// setPassword sets the password of the link's user and uses the link up.
// Every refusal before the link is redeemed leaves it working, so a typo
// does not cost the user a new email.
func (g *Gateway) setPassword(w http.ResponseWriter, r *http.Request, p *Partner) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: malformed form", http.StatusBadRequest)
		return
	}
	token := r.PostForm.Get("token")
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	// Checked first so that every later refusal can show the form again,
	// and so that no hashing is spent on a dead link.
	link, user, err := invite.Check(ctx, g.cfg.Store, p.ID, token)
	if err != nil {
		g.linkRefused(w, p, err)
		return
	}
	refuse := func(status int, msg string) {
		g.showPasswordForm(w, r, p, status, link, user.Email, token, msg)
	}
	if !sameOrigin(r) || !g.checkCSRF(r, p, "password") {
		refuse(http.StatusForbidden, msgExpiredForm)
		return
	}
	plain := r.PostForm.Get("password")
	if plain != r.PostForm.Get("password_confirm") {
		refuse(http.StatusUnprocessableEntity, msgMismatch)
		return
	}
	if err := password.Validate(plain); err != nil {
		refuse(http.StatusUnprocessableEntity, sentence(err.Error()))
		return
	}
	hash, err := g.hashPassword(r.Context(), plain)
	if err != nil {
		g.cfg.Logger.Error("hash new password", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(http.StatusServiceUnavailable, msgNotSetBusy)
		return
	}
	// Past this point a browser that goes away must not stop the change
	// half done, with a new password and the old sessions still alive.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.StoreTimeout)
	defer cancel()
	user, err = invite.Redeem(ctx, g.cfg.Store, p.ID, token, hash, g.cfg.Now())
	if errors.Is(err, invite.ErrInvalid) {
		// Used, replaced or suspended since the check above.
		g.linkRefused(w, p, err)
		return
	}
	if err != nil {
		g.cfg.Logger.Error("redeem password link", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(http.StatusServiceUnavailable, msgNotSetBusy)
		return
	}
	// Whoever knew the old password, or holds a session from it, is out.
	if err := g.cfg.Sessions.RevokeUser(ctx, p.ID, user.ID); err != nil {
		g.cfg.Logger.Error("password changed but sessions not revoked", zap.String("partner", p.ID), zap.String("user", user.ID), zap.Error(err))
	}
	// Failed attempts counted against the old password would otherwise
	// keep the owner of the new one locked out.
	if err := g.cfg.Store.ResetCounter(ctx, p.ID, userCounter(user.ID)); err != nil {
		g.cfg.Logger.Warn("reset sign-in failure count", zap.String("partner", p.ID), zap.Error(err))
	}
	g.record(r, p, signInEvent{action: "user.password_set", user: user, email: user.Email, ok: true})
	g.cfg.Logger.Info("password set from link", zap.String("partner", p.ID), zap.String("user", user.ID), zap.String("purpose", string(link.Purpose)))
	title := "Password changed"
	if link.Purpose == invite.Invitation {
		title = "Password set"
	}
	g.render(w, http.StatusOK, templates.PageSetPassword, templates.SetPassword{
		Page:     g.page(p, title),
		State:    templates.SetPasswordDone,
		Purpose:  string(link.Purpose),
		LoginURL: g.cfg.Prefix + "login",
	})
}

func (g *Gateway) showPasswordForm(w http.ResponseWriter, r *http.Request, p *Partner, status int, link invite.Link, email, token, msg string) {
	title := "Choose a new password"
	if link.Purpose == invite.Invitation {
		title = "Set your password"
	}
	g.render(w, status, templates.PageSetPassword, templates.SetPassword{
		Page:      g.page(p, title),
		State:     templates.SetPasswordForm,
		Purpose:   string(link.Purpose),
		Action:    g.cfg.Prefix + "password",
		CSRFToken: g.csrfToken(w, r, p, "password"),
		Token:     token,
		Email:     email,
		MinLength: password.MinLength,
		Error:     msg,
		LoginURL:  g.cfg.Prefix + "login",
	})
}

// linkRefused answers a link that cannot be used, or a store that cannot
// tell whether it can. An unusable link gets 410 Gone rather than 404: the
// address did exist for its owner and will not work again, so nobody
// should retry it. Unknown, used, expired and replaced links, and links of
// suspended users, all get this one answer, so it tells nobody which of
// these a link is.
func (g *Gateway) linkRefused(w http.ResponseWriter, p *Partner, err error) {
	if !errors.Is(err, invite.ErrInvalid) {
		g.cfg.Logger.Error("check password link", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Service Unavailable: try the link again shortly", http.StatusServiceUnavailable)
		return
	}
	g.cfg.Logger.Info("password link refused", zap.String("partner", p.ID))
	g.render(w, http.StatusGone, templates.PageSetPassword, templates.SetPassword{
		Page:     g.page(p, "Invalid link"),
		State:    templates.SetPasswordInvalid,
		LoginURL: g.cfg.Prefix + "login",
	})
}

// hashPassword hashes in one of the shared argon2 slots checkPassword
// uses, so setting passwords cannot exhaust memory either.
func (g *Gateway) hashPassword(ctx context.Context, plain string) (string, error) {
	release, err := g.cfg.Hashing.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return password.Hash(plain)
}

// sentence makes a rule's message, such as "password must be at least 12
// characters", read as a sentence on the page.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[n:] + "."
}
