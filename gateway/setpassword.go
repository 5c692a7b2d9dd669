package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
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
		g.linkRefused(w, r, p, err)
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
		g.linkRefused(w, r, p, err)
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
	pol, err := g.policyOf(r.Context(), p)
	if err != nil {
		g.cfg.Logger.Error("policy unavailable, password not set", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(http.StatusServiceUnavailable, msgNotSetBusy)
		return
	}
	hash, err := g.checkAndHash(r.Context(), password.RuleOf(pol), plain, user)
	var refused *passwordRefused
	if errors.As(err, &refused) {
		refuse(http.StatusUnprocessableEntity, sentence(refused.err.Error()))
		return
	}
	if err != nil {
		g.cfg.Logger.Error("hash new password", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(http.StatusServiceUnavailable, msgNotSetBusy)
		return
	}
	replaced := user.PasswordHash
	// Past this point a browser that goes away must not stop the change
	// half done, with a new password and the old sessions still alive.
	ctx, cancel = context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.StoreTimeout)
	defer cancel()
	user, err = invite.Redeem(ctx, g.cfg.Store, p.ID, token, hash, g.cfg.Now())
	if errors.Is(err, invite.ErrInvalid) {
		// Used, replaced or suspended since the check above.
		g.linkRefused(w, r, p, err)
		return
	}
	if err != nil {
		g.cfg.Logger.Error("redeem password link", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		refuse(http.StatusServiceUnavailable, msgNotSetBusy)
		return
	}
	g.recordPasswordChange(ctx, p, user.ID, hash, replaced, pol.History())
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
		Page:     g.page(r.Context(), p, title),
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
		Page:      g.page(r.Context(), p, title),
		State:     templates.SetPasswordForm,
		Purpose:   string(link.Purpose),
		Action:    g.cfg.Prefix + "password",
		CSRFToken: g.csrfToken(w, r, p, "password"),
		Token:     token,
		Email:     email,
		MinLength: g.minLength(r.Context(), p),
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
func (g *Gateway) linkRefused(w http.ResponseWriter, r *http.Request, p *Partner, err error) {
	if !errors.Is(err, invite.ErrInvalid) {
		g.cfg.Logger.Error("check password link", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Service Unavailable: try the link again shortly", http.StatusServiceUnavailable)
		return
	}
	g.cfg.Logger.Info("password link refused", zap.String("partner", p.ID))
	g.render(w, http.StatusGone, templates.PageSetPassword, templates.SetPassword{
		Page:     g.page(r.Context(), p, "Invalid link"),
		State:    templates.SetPasswordInvalid,
		LoginURL: g.cfg.Prefix + "login",
	})
}

// minLength is the partner's policy's minimum length, for the form's
// hint; the default policy's when the policy cannot be read, since the
// hint enforces nothing.
func (g *Gateway) minLength(ctx context.Context, p *Partner) int {
	pol, err := g.policyOf(ctx, p)
	if err != nil {
		pol = policy.Default()
	}
	return max(pol.MinLength(), 1)
}

// passwordRefused is a new password the partner's rule refuses; err's
// message is safe to show.
type passwordRefused struct{ err error }

func (e *passwordRefused) Error() string { return e.err.Error() }

// checkAndHash checks plain against rule and the user's current and
// earlier passwords, then hashes it, all in one of the shared argon2
// slots checkPassword uses: comparing with the history costs a hash per
// entry, and setting passwords must not exhaust memory either.
func (g *Gateway) checkAndHash(ctx context.Context, rule password.Rule, plain string, u store.User) (string, error) {
	release, err := g.cfg.Hashing.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	if err := rule.Check(plain, password.Previous(u.PasswordHash, u.PasswordHistory)); err != nil {
		return "", &passwordRefused{err}
	}
	return password.Hash(plain)
}

// recordPasswordChange notes, after the link set hash, when it was set
// and moves the password it replaced into the user's history, keeping as
// many as the policy asks. invite.Redeem sets the hash itself, so this is
// a second write: it changes nothing if the hash was replaced again in
// between, and a failure only loses the history entry, which is logged.
func (g *Gateway) recordPasswordChange(ctx context.Context, p *Partner, userID, hash, replaced string, keep int) {
	now := g.cfg.Now().UTC().Truncate(time.Millisecond)
	_, err := g.cfg.Store.UpdateUser(ctx, p.ID, userID, func(u store.User) (store.User, error) {
		if u.PasswordHash != hash {
			return u, nil
		}
		u.PasswordHistory = password.Remember(u.PasswordHistory, replaced, keep)
		u.PasswordChangedAt = now
		return u, nil
	})
	if err != nil {
		g.cfg.Logger.Error("password set but its change not recorded", zap.String("partner", p.ID), zap.String("user", userID), zap.Error(err))
	}
}

// sentence makes a rule's message, such as "password must be at least 12
// characters", read as a sentence on the page.
func sentence(msg string) string {
	r, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[n:] + "."
}
