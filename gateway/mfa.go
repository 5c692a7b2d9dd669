package gateway

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/mfa/notify"
	"github.com/partnergate/partnergate/mfa/recovery"
	"github.com/partnergate/partnergate/mfa/totp"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// MFA is what the second sign-in step needs. Nil signs users in after
// the first step whatever their policy says: only for setups without
// partners that require MFA.
type MFA struct {
	Store MFAStore
	// Secrets seals TOTP seeds and recovery codes, bound to their
	// partner, user and method.
	Secrets *secretbox.Box
	// SMS sends one-time codes by text message; nil means SMS is not
	// offered here even where a policy allows it.
	SMS notify.SMS
	// Push sends approval requests to users' devices; nil means push is
	// not offered. PushSecret is the key the devices' answers are signed
	// with (the push webhook's secret): without it no answer could be
	// trusted, so push is not offered either.
	Push       notify.Push
	PushSecret []byte
}

// MFAStore is what the second step reads and writes.
type MFAStore interface {
	store.MFAMethods
	store.Tickets
	store.Counters
	GetUser(ctx context.Context, partnerID, id string) (store.User, error)
}

const (
	// pendingTTL bounds the time between the first and second step.
	pendingTTL    = 10 * time.Minute
	mfaCookieBase = "pg_mfa"
	deviceBase    = "pg_device"
	// mfaAttemptsDefault bounds wrong codes when the policy has no
	// lockout: a six-digit code must never be guessable at leisure.
	mfaAttemptsDefault = 10
)

// signInVia says how the first step was passed, carried through the
// second.
type signInVia struct {
	Method string `json:"m"` // "password" or "sso"
	// For SSO: the connection and the IdP's names of the user and its
	// session, for logout coming from the IdP.
	Connection string `json:"c,omitempty"`
	IdPSubject string `json:"s,omitempty"`
	IdPSession string `json:"i,omitempty"`
	// IdPMFA: the IdP says it did a second factor itself.
	IdPMFA bool `json:"f,omitempty"`
	// Created: this sign-in provisioned the user.
	Created bool `json:"n,omitempty"`
}

// pending is a sign-in between its first and second step, kept as a
// ticket under the hash of its cookie.
type pending struct {
	UserID   string    `json:"u"`
	ReturnTo string    `json:"r"`
	Via      signInVia `json:"v"`
	// Enrolling holds the authenticator app being set up, sealed, if any.
	Enrolling []byte `json:"e,omitempty"`
	// Codes are the recovery codes made at enrolment, sealed, shown once
	// before the session starts.
	Codes []byte `json:"k,omitempty"`
	// WebAuthnPassed: a security key passed a ceremony of this sign-in.
	WebAuthnPassed bool `json:"w,omitempty"`
}

// finishFirstStep decides whether the sign-in needs a second step and
// either asks for it or starts the session.
func (g *Gateway) finishFirstStep(w http.ResponseWriter, r *http.Request, p *Partner, user store.User, returnTo string, via signInVia) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	pol, err := g.policyOf(ctx, p)
	if err != nil {
		g.loginUnavailable(w, r, p, user.Email, returnTo, err)
		return
	}
	need, err := g.needsSecondStep(ctx, r, p, user, pol, via)
	if err != nil {
		g.loginUnavailable(w, r, p, user.Email, returnTo, err)
		return
	}
	if !need {
		g.startSession(w, r, p, user, returnTo, via)
		return
	}
	secret := rand.Text() + rand.Text()
	b, err := json.Marshal(pending{UserID: user.ID, ReturnTo: returnTo, Via: via})
	if err == nil {
		err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, pendingKey(secret), b, pendingTTL)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, user.Email, returnTo, err)
		return
	}
	// A new first step replaces any earlier one of this browser.
	g.endPending(ctx, r, p)
	http.SetCookie(w, g.flowCookie(r, mfaCookieBase, secret, int(pendingTTL.Seconds())))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.cfg.Prefix+"mfa", http.StatusSeeOther)
}

// needsSecondStep: enrolled users always take it (unless this device is
// remembered or their IdP did it and the policy accepts that); others
// only when the policy requires MFA.
func (g *Gateway) needsSecondStep(ctx context.Context, r *http.Request, p *Partner, user store.User, pol policy.Policy, via signInVia) (bool, error) {
	if g.cfg.MFA == nil {
		return false, nil
	}
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, user.ID)
	if err != nil {
		return false, fmt.Errorf("list MFA methods: %w", err)
	}
	// Enrolled counts whatever the policy now allows: narrowing the
	// allowed methods must not turn a user's second step off. One whose
	// methods are all disallowed sets up an allowed one at that step.
	enrolled := slices.ContainsFunc(methods, func(m store.MFAMethod) bool { return m.Kind != store.MFARecovery })
	if !enrolled && !pol.MFARequired() {
		return false, nil
	}
	if via.IdPMFA && pol.AcceptIdPMFA() {
		return false, nil
	}
	return !g.rememberedDevice(r, p, user, methods, pol), nil
}

// usable are the enrolled methods the policy allows, recovery codes
// aside.
func usable(methods []store.MFAMethod, pol policy.Policy) []store.MFAMethod {
	kinds := usableKinds(pol)
	var out []store.MFAMethod
	for _, m := range methods {
		if slices.Contains(kinds, m.Kind) {
			out = append(out, m)
		}
	}
	return out
}

// usableKinds are the kinds of method usable counts: one list, so the
// store's check at enrolment (enrol) refuses exactly what usable shows.
func usableKinds(pol policy.Policy) []store.MFAKind {
	var out []store.MFAKind
	for _, m := range pol.MFAMethods() {
		if k := store.MFAKind(m); k != store.MFARecovery {
			out = append(out, k)
		}
	}
	return out
}

// startSession starts the session of a sign-in that passed every step.
func (g *Gateway) startSession(w http.ResponseWriter, r *http.Request, p *Partner, user store.User, returnTo string, via signInVia) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	// A new session on every sign-in, and the old one ended, so a session
	// id planted before sign-in is worth nothing after it.
	if err := g.endSessions(ctx, r, p); err != nil {
		g.cfg.Logger.Warn("end previous session", zap.String("partner", p.ID), zap.Error(err))
	}
	cookie, id, err := g.cfg.Sessions.Issue(ctx, user, g.clientIP(r), r.UserAgent())
	if errors.Is(err, session.ErrNoSession) {
		// Deactivated or given a new password while this sign-in checked
		// the old one.
		g.record(r, p, signInEvent{action: "signin", user: user, email: user.Email, reason: "account_changed", connection: via.Connection})
		g.showLogin(w, r, p, http.StatusUnauthorized, user.Email, msgBadCredentials, returnTo)
		return
	}
	if err != nil {
		g.loginUnavailable(w, r, p, user.Email, returnTo, err)
		return
	}
	if via.Method == "sso" {
		g.rememberIdPSession(ctx, p, via.Connection, via.IdPSubject, via.IdPSession, user.ID, id)
	}
	g.record(r, p, signInEvent{action: "signin", user: user, email: user.Email, ok: true, connection: via.Connection})
	if via.Created {
		g.record(r, p, signInEvent{action: "user.provision", user: user, email: user.Email, ok: true, connection: via.Connection})
	}
	g.cfg.Logger.Info("signed in", zap.String("partner", p.ID), zap.String("user", user.ID), zap.String("via", via.Method))
	http.SetCookie(w, g.sessionCookie(r, cookie, int(math.Ceil(id.ExpiresAt.Sub(g.cfg.Now()).Seconds()))))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, safeReturnPath(returnTo, g.cfg.Prefix), http.StatusSeeOther)
}

// serveMFA answers the second step's routes; false when route is none.
func (g *Gateway) serveMFA(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	if g.cfg.MFA == nil || (route != "mfa" && !strings.HasPrefix(route, "mfa/")) {
		return false
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case route == "mfa" && get:
		g.withPending(w, r, p, g.showMFA)
	case route == "mfa/totp" && r.Method == http.MethodPost:
		g.withPendingForm(w, r, p, g.verifyTOTP)
	case route == "mfa/recovery" && r.Method == http.MethodPost:
		g.withPendingForm(w, r, p, g.verifyRecovery)
	case route == "mfa/enroll" && r.Method == http.MethodPost:
		g.withPendingForm(w, r, p, g.finishEnrolment)
	case route == "mfa/qr.png" && get:
		g.withPending(w, r, p, g.enrolmentQR)
	case route == "mfa/continue" && r.Method == http.MethodPost:
		g.withPendingForm(w, r, p, g.continueAfterCodes)
	case route == "mfa/cancel" && r.Method == http.MethodPost:
		g.withPendingForm(w, r, p, g.cancelPending)
	case route == "mfa/webauthn/done" && get:
		g.withPending(w, r, p, g.webauthnDone)
	case g.serveWebAuthn(w, r, p, route):
	case g.serveSMS(w, r, p, route):
	case g.servePush(w, r, p, route):
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
	}
	return true
}

// pendingOf is the browser's pending sign-in: its cookie's ticket and the
// user, still active.
type pendingOf struct {
	secret string
	pending
	user store.User
	pol  policy.Policy
}

func (g *Gateway) withPending(w http.ResponseWriter, r *http.Request, p *Partner, next func(http.ResponseWriter, *http.Request, *Partner, pendingOf)) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	secret, n := findCookie(r.Header, cookieName(r, mfaCookieBase))
	if n != 1 || secret == "" {
		g.pendingExpired(w, r, p)
		return
	}
	b, err := g.cfg.MFA.Store.GetTicket(ctx, p.ID, pendingKey(secret))
	if errors.Is(err, store.ErrNotFound) {
		g.pendingExpired(w, r, p)
		return
	}
	if err != nil {
		g.loginUnavailable(w, r, p, "", "", err)
		return
	}
	var pd pending
	if err := json.Unmarshal(b, &pd); err != nil {
		g.loginUnavailable(w, r, p, "", "", fmt.Errorf("decode pending sign-in: %w", err))
		return
	}
	u, err := g.cfg.MFA.Store.GetUser(ctx, p.ID, pd.UserID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Active) {
		g.pendingExpired(w, r, p)
		return
	}
	if err != nil {
		g.loginUnavailable(w, r, p, "", "", err)
		return
	}
	pol, err := g.policyOf(ctx, p)
	if err != nil {
		g.loginUnavailable(w, r, p, u.Email, pd.ReturnTo, err)
		return
	}
	next(w, r, p, pendingOf{secret: secret, pending: pd, user: u, pol: pol})
}

// withPendingForm is withPending for a posted form, after its origin and
// CSRF checks.
func (g *Gateway) withPendingForm(w http.ResponseWriter, r *http.Request, p *Partner, next func(http.ResponseWriter, *http.Request, *Partner, pendingOf)) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Bad Request: malformed form", http.StatusBadRequest)
		return
	}
	if !sameOrigin(r) || !g.checkCSRF(r, p, "mfa") {
		g.pendingExpired(w, r, p)
		return
	}
	g.withPending(w, r, p, next)
}

func (g *Gateway) pendingExpired(w http.ResponseWriter, r *http.Request, p *Partner) {
	http.SetCookie(w, g.flowCookie(r, mfaCookieBase, "", -1))
	g.showLogin(w, r, p, http.StatusUnauthorized, "", "This sign-in expired. Please sign in again.", "")
}

// showMFA asks for a code of an enrolled method, or sets one up when the
// user has none the policy allows.
func (g *Gateway) showMFA(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	g.renderMFA(w, r, p, pd, http.StatusOK, "")
}

func (g *Gateway) renderMFA(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, status int, msg string) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	if pd.Codes != nil {
		g.showCodes(w, r, p, pd)
		return
	}
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, pd.user.ID)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	enrolled := usable(methods, pd.pol)
	has := func(kind store.MFAKind) bool {
		return slices.ContainsFunc(enrolled, func(m store.MFAMethod) bool { return m.Kind == kind })
	}
	if len(enrolled) == 0 {
		if !allows(pd.pol, policy.TOTP) && !allows(pd.pol, policy.WebAuthn) && !g.smsOffered(pd.pol) && !g.pushOffered(pd.pol) {
			// Nothing this page can set up: refuse rather than let the
			// sign-in through without its second step.
			g.cfg.Logger.Warn("second step impossible: no allowed method this gateway offers", zap.String("partner", p.ID), zap.String("user", pd.user.ID))
			g.showLogin(w, r, p, http.StatusForbidden, pd.user.Email, "Your organization requires a verification method that cannot be set up here. Contact your administrator.", pd.ReturnTo)
			return
		}
		g.renderEnrolment(w, r, p, pd, status, msg)
		return
	}
	page := templates.MFA{
		Page: g.page(r.Context(), p, "Verify it's you"), Email: pd.user.Email,
		RecoveryAction: g.cfg.Prefix + "mfa/recovery",
		CSRFToken:      g.csrfToken(w, r, p, "mfa"), RememberDays: int(pd.pol.RememberDevice().Hours() / 24),
		Error: msg, CancelURL: g.cfg.Prefix + "login",
	}
	if has(store.MFATOTP) {
		page.TOTPAction = g.cfg.Prefix + "mfa/totp"
	}
	if has(store.MFAWebAuthn) {
		page.WebAuthn = g.webauthnButton(w, r, p, "login")
		allowScripts(w)
	}
	if g.smsOffered(pd.pol) {
		for _, m := range enrolled {
			if m.Kind == store.MFASMS {
				page.SMSPhones = append(page.SMSPhones, templates.Choice{Value: m.ID, Label: m.Name})
			}
		}
		if len(page.SMSPhones) > 0 {
			page.SMSAction = g.cfg.Prefix + "mfa/sms/send"
		}
	}
	if has(store.MFAPush) && g.pushOffered(pd.pol) {
		page.PushAction = g.cfg.Prefix + "mfa/push/send"
	}
	g.render(w, status, templates.PageMFA, page)
}

// allowScripts widens the page's policy for the WebAuthn script, which
// loads from the site and calls back to it; nothing else changes.
func allowScripts(w http.ResponseWriter) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
}

// renderEnrolment sets up an authenticator app: a new secret is made once
// per pending sign-in and kept sealed in its ticket until the first code
// proves the app has it.
func (g *Gateway) renderEnrolment(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, status int, msg string) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	page := templates.MFAEnroll{
		Page: g.page(r.Context(), p, "Set up two-step verification"), Email: pd.user.Email,
		CSRFToken: g.csrfToken(w, r, p, "mfa"), Error: msg, CancelURL: g.cfg.Prefix + "login",
	}
	if allows(pd.pol, policy.TOTP) {
		e, err := g.enrolment(ctx, p, &pd)
		if err != nil {
			g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
			return
		}
		page.QRURL, page.Secret, page.Action = g.cfg.Prefix+"mfa/qr.png", groupedSecret(e.Secret), g.cfg.Prefix+"mfa/enroll"
	}
	if allows(pd.pol, policy.WebAuthn) {
		page.WebAuthn = g.webauthnButton(w, r, p, "register")
		allowScripts(w)
	}
	if g.smsOffered(pd.pol) {
		page.SMSAction = g.cfg.Prefix + "mfa/sms/enroll"
	}
	if g.pushOffered(pd.pol) {
		page.PushAction = g.cfg.Prefix + "mfa/push/enroll"
	}
	g.render(w, status, templates.PageMFAEnroll, page)
}

func groupedSecret(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// enrolment is the pending sign-in's authenticator app setup, made on
// first use and kept, sealed, with the pending sign-in.
func (g *Gateway) enrolment(ctx context.Context, p *Partner, pd *pendingOf) (totp.Enrollment, error) {
	var e totp.Enrollment
	if pd.Enrolling != nil {
		b, err := g.cfg.MFA.Secrets.Open(pd.Enrolling, enrolBinding(p.ID, pd.user.ID))
		if err == nil {
			err = json.Unmarshal(b, &e)
		}
		return e, err
	}
	e, err := totp.Enroll(p.Name, pd.user.Email)
	if err != nil {
		return e, err
	}
	b, err := json.Marshal(totp.Enrollment{Secret: e.Secret, URL: e.URL})
	if err != nil {
		return e, err
	}
	pd.Enrolling = g.cfg.MFA.Secrets.Seal(b, enrolBinding(p.ID, pd.user.ID))
	return e, g.savePending(ctx, p, *pd)
}

func (g *Gateway) enrolmentQR(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	if pd.Enrolling == nil {
		http.NotFound(w, r)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	e, err := g.enrolment(ctx, p, &pd)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	png, err := totp.QRCode(e.URL)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(png)
}

// finishEnrolment stores the app once its first code checks, with a new
// set of recovery codes shown before the session starts.
func (g *Gateway) finishEnrolment(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	if !g.admitCode(w, r, p, pd) {
		return
	}
	if pd.Enrolling == nil {
		g.renderMFA(w, r, p, pd, http.StatusOK, "")
		return
	}
	e, err := g.enrolment(ctx, p, &pd)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	st, ok := totp.Verify(totp.State{Secret: e.Secret}, r.PostForm.Get("code"), g.cfg.Now())
	if !ok {
		g.record(r, p, signInEvent{action: "user.mfa_enroll", user: pd.user, email: pd.user.Email, reason: "bad_code"})
		g.renderEnrolment(w, r, p, pd, http.StatusUnauthorized, "That code didn't match. Check the time on your phone and try the newest code.")
		return
	}
	g.enrolMethod(w, r, p, pd, store.MFATOTP, "Authenticator app", st)
}

// replaceRecovery stores a user's new recovery codes in place of any old.
func (g *Gateway) replaceRecovery(ctx context.Context, p *Partner, userID string, st recovery.State, now time.Time) error {
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, userID)
	if err != nil {
		return err
	}
	for _, m := range methods {
		if m.Kind == store.MFARecovery {
			if err := g.cfg.MFA.Store.DeleteMFAMethod(ctx, p.ID, userID, m.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	m := store.MFAMethod{ID: store.NewID("mfa_"), PartnerID: p.ID, UserID: userID, Kind: store.MFARecovery, Name: "Recovery codes", CreatedAt: now, LastUsedAt: now}
	if m.Secret, err = g.sealState(m, st); err != nil {
		return err
	}
	return g.cfg.MFA.Store.AddMFAMethod(ctx, m)
}

func (g *Gateway) showCodes(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	b, err := g.cfg.MFA.Secrets.Open(pd.Codes, codesBinding(p.ID, pd.user.ID))
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	g.render(w, http.StatusOK, templates.PageMFACodes, templates.MFACodes{
		Page: g.page(r.Context(), p, "Save your recovery codes"), Codes: strings.Split(string(b), "\n"),
		Action: g.cfg.Prefix + "mfa/continue", CSRFToken: g.csrfToken(w, r, p, "mfa"),
	})
}

func (g *Gateway) continueAfterCodes(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	if pd.Codes == nil {
		g.renderMFA(w, r, p, pd, http.StatusOK, "")
		return
	}
	g.passSecondStep(w, r, p, pd)
}

func (g *Gateway) cancelPending(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	g.endPending(ctx, r, p)
	http.SetCookie(w, g.flowCookie(r, mfaCookieBase, "", -1))
	http.Redirect(w, r, g.cfg.Prefix+"login", http.StatusSeeOther)
}

// verifyTOTP checks a code against each of the user's apps, each check
// atomic with the step it uses up, so no code works twice.
func (g *Gateway) verifyTOTP(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	g.verifyCode(w, r, p, pd, store.MFATOTP, func(m store.MFAMethod, code string) (store.MFAMethod, bool, error) {
		var st totp.State
		if err := g.openState(m, &st); err != nil {
			return m, false, err
		}
		next, ok := totp.Verify(st, code, g.cfg.Now())
		if !ok {
			return m, false, nil
		}
		sealed, err := g.sealState(m, next)
		m.Secret = sealed
		return m, true, err
	})
}

func (g *Gateway) verifyRecovery(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	g.verifyCode(w, r, p, pd, store.MFARecovery, func(m store.MFAMethod, code string) (store.MFAMethod, bool, error) {
		var st recovery.State
		if err := g.openState(m, &st); err != nil {
			return m, false, err
		}
		next, ok := recovery.Use(st, code)
		if !ok {
			return m, false, nil
		}
		sealed, err := g.sealState(m, next)
		m.Secret = sealed
		return m, true, err
	})
}

// errWrongCode leaves a method unchanged when the code does not match it.
var errWrongCode = errors.New("wrong code")

func (g *Gateway) verifyCode(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, kind store.MFAKind, check func(store.MFAMethod, string) (store.MFAMethod, bool, error)) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	if !g.admitCode(w, r, p, pd) {
		return
	}
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, pd.user.ID)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	code := r.PostForm.Get("code")
	for _, m := range methods {
		if m.Kind != kind || (kind != store.MFARecovery && !slices.Contains(pd.pol.MFAMethods(), policy.Method(kind))) {
			continue
		}
		_, err := g.cfg.MFA.Store.UpdateMFAMethod(ctx, p.ID, pd.user.ID, m.ID, func(cur store.MFAMethod) (store.MFAMethod, error) {
			next, ok, err := check(cur, code)
			if err != nil {
				return cur, err
			}
			if !ok {
				return cur, errWrongCode
			}
			next.LastUsedAt = g.cfg.Now().UTC().Truncate(time.Millisecond)
			return next, nil
		})
		switch {
		case err == nil:
			g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, ok: true, reason: string(kind)})
			g.passSecondStep(w, r, p, pd)
			return
		case !errors.Is(err, errWrongCode) && !errors.Is(err, store.ErrNotFound):
			g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
			return
		}
	}
	g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, reason: "bad_code"})
	g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "That code didn't work. Try the newest code from your app, or a recovery code.")
}

// admitCode counts a code attempt against the user; past the policy's
// lockout threshold the second step is refused for its duration.
func (g *Gateway) admitCode(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) bool {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	limit, window := pd.pol.LockoutThreshold(), pd.pol.LockoutDuration()
	if limit <= 0 {
		limit = mfaAttemptsDefault
	}
	if window <= 0 {
		window = g.cfg.Limits.Window
	}
	n, err := g.cfg.MFA.Store.Incr(ctx, p.ID, "mfa:user:"+pd.user.ID, window)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return false
	}
	if n > int64(limit) {
		if n == int64(limit)+1 {
			g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, reason: "rate_limited"})
		}
		g.render(w, http.StatusTooManyRequests, templates.PageMFA, templates.MFA{
			Page: g.page(r.Context(), p, "Verify it's you"), Email: pd.user.Email, Error: msgTooMany, CancelURL: g.cfg.Prefix + "login",
		})
		return false
	}
	return true
}

// passSecondStep ends the pending sign-in and starts the session,
// remembering the device when asked and allowed.
func (g *Gateway) passSecondStep(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	// Used up first: of two tabs finishing one sign-in, one session.
	if _, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pendingKey(pd.secret)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			g.pendingExpired(w, r, p)
			return
		}
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	if err := g.cfg.MFA.Store.ResetCounter(ctx, p.ID, "mfa:user:"+pd.user.ID); err != nil {
		g.cfg.Logger.Warn("reset MFA attempt count", zap.String("partner", p.ID), zap.Error(err))
	}
	http.SetCookie(w, g.flowCookie(r, mfaCookieBase, "", -1))
	if days := pd.pol.RememberDevice(); days > 0 && r.PostForm.Get("remember") == "on" {
		methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, pd.user.ID)
		if err != nil {
			// The sign-in stands; only the device goes unremembered.
			g.cfg.Logger.Warn("list MFA methods to remember a device", zap.String("partner", p.ID), zap.Error(err))
		} else {
			http.SetCookie(w, g.flowCookie(r, deviceBase, g.deviceToken(p, pd.user, methods, g.cfg.Now()), int(days.Seconds())))
		}
	}
	g.startSession(w, r, p, pd.user, pd.ReturnTo, pd.Via)
}

// deviceToken remembers that this browser passed the user's second step
// at issued; the policy's current remember_device decides how long it
// counts, so shortening it takes hold at once. It is bound to the user's
// methods and password as they are now: removing or resetting a method
// (the answer to a lost device) or changing the password forgets every
// device.
func (g *Gateway) deviceToken(p *Partner, user store.User, methods []store.MFAMethod, issued time.Time) string {
	payload := strconv.FormatInt(issued.Unix(), 10)
	return payload + "." + g.deviceMAC(p, user, methods, payload)
}

func (g *Gateway) deviceMAC(p *Partner, user store.User, methods []store.MFAMethod, payload string) string {
	var ids []string
	for _, m := range methods {
		if m.Kind != store.MFARecovery {
			ids = append(ids, m.ID)
		}
	}
	slices.Sort(ids)
	m := hmac.New(sha256.New, g.cfg.CSRFKey)
	m.Write([]byte("device\x00" + p.ID + "\x00" + user.ID + "\x00" + payload + "\x00" +
		strconv.FormatInt(user.PasswordChangedAt.UnixNano(), 10) + "\x00" + strings.Join(ids, ",")))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (g *Gateway) rememberedDevice(r *http.Request, p *Partner, user store.User, methods []store.MFAMethod, pol policy.Policy) bool {
	keep := pol.RememberDevice()
	if keep <= 0 {
		return false
	}
	for value := range cookieValues(r.Header, cookieName(r, deviceBase)) {
		payload, mac, ok := strings.Cut(value, ".")
		if !ok || !hmac.Equal([]byte(mac), []byte(g.deviceMAC(p, user, methods, payload))) {
			continue
		}
		issued, err := strconv.ParseInt(payload, 10, 64)
		if err == nil && g.cfg.Now().Before(time.Unix(issued, 0).Add(keep)) {
			return true
		}
	}
	return false
}

func (g *Gateway) savePending(ctx context.Context, p *Partner, pd pendingOf) error {
	b, err := json.Marshal(pd.pending)
	if err != nil {
		return err
	}
	if _, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pendingKey(pd.secret)); err != nil {
		return err
	}
	return g.cfg.MFA.Store.PutTicket(ctx, p.ID, pendingKey(pd.secret), b, pendingTTL)
}

// endPending drops the browser's pending sign-in, if any.
func (g *Gateway) endPending(ctx context.Context, r *http.Request, p *Partner) {
	for secret := range cookieValues(r.Header, cookieName(r, mfaCookieBase)) {
		if _, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pendingKey(secret)); err != nil && !errors.Is(err, store.ErrNotFound) {
			g.cfg.Logger.Warn("drop pending sign-in", zap.String("partner", p.ID), zap.Error(err))
		}
	}
}

// sealState seals a method's state for that partner, user and method.
func (g *Gateway) sealState(m store.MFAMethod, state any) ([]byte, error) {
	b, err := json.Marshal(state)
	if err != nil {
		return nil, err
	}
	return g.cfg.MFA.Secrets.Seal(b, methodBinding(m)), nil
}

func (g *Gateway) openState(m store.MFAMethod, state any) error {
	b, err := g.cfg.MFA.Secrets.Open(m.Secret, methodBinding(m))
	if err != nil {
		return fmt.Errorf("open MFA method %s: %w", m.ID, err)
	}
	return json.NewDecoder(bytes.NewReader(b)).Decode(state)
}

func methodBinding(m store.MFAMethod) []byte {
	return []byte("mfa/" + string(m.Kind) + "/" + m.PartnerID + "/" + m.UserID + "/" + m.ID)
}

func enrolBinding(partnerID, userID string) []byte {
	return []byte("mfa-enrol/" + partnerID + "/" + userID)
}

func codesBinding(partnerID, userID string) []byte {
	return []byte("mfa-codes/" + partnerID + "/" + userID)
}

func pendingKey(secret string) string { return "mfa-pending:" + hashHex(secret) }

// flowCookie is a host-only, HttpOnly, Lax cookie of a sign-in step.
func (g *Gateway) flowCookie(r *http.Request, base, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: cookieName(r, base), Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode,
	}
}

// admitSend counts a message a sign-in asks to send (a text, a push) on
// channel. The user's hourly count moves only for sends this sign-in may
// make, so one sign-in hammering its own limit does not use up the hour.
func (g *Gateway) admitSend(ctx context.Context, p *Partner, pd pendingOf, channel string, perSignIn, perHour int64) (bool, error) {
	n, err := g.cfg.MFA.Store.Incr(ctx, p.ID, "mfa-"+channel+"-sends:"+hashHex(pd.secret), pendingTTL)
	if err != nil || n > perSignIn {
		return false, err
	}
	m, err := g.cfg.MFA.Store.Incr(ctx, p.ID, "mfa-"+channel+"-user:"+pd.user.ID, time.Hour)
	return err == nil && m <= perHour, err
}

// backToStep shows the step a sign-in is at again, with a message: the
// enrolment, or the challenge.
func (g *Gateway) backToStep(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, enrolling bool, status int, msg string) {
	if enrolling {
		g.renderEnrolment(w, r, p, pd, status, msg)
		return
	}
	g.renderMFA(w, r, p, pd, status, msg)
}

// errEnrolled refuses an enrolment at a sign-in whose user already has a
// method the policy allows, or that already enrolled one: a second
// factor is added from an account page, not by whoever holds the
// password at a sign-in.
var errEnrolled = errors.New("a second factor is already enrolled")

const msgEnrolled = "Two-step verification is already set up for your account. Use it to continue."

// mayEnrol is nil when the pending sign-in may set up a method, else
// errEnrolled. Enrolments ask when they start, so a user who has a method
// is shown its challenge rather than a setup that would be refused. It is
// advice only: enrol has the store decide again as it adds the method.
func (g *Gateway) mayEnrol(ctx context.Context, p *Partner, pd pendingOf) error {
	if pd.Codes != nil {
		return errEnrolled
	}
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, pd.user.ID)
	if err != nil {
		return fmt.Errorf("list MFA methods: %w", err)
	}
	if len(usable(methods, pd.pol)) > 0 {
		return errEnrolled
	}
	return nil
}

// hasUsable refuses to start an enrolment mayEnrol refuses, showing the
// challenge instead. True when it answered.
func (g *Gateway) hasUsable(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) bool {
	err := g.mayEnrol(ctx, p, pd)
	switch {
	case errors.Is(err, errEnrolled):
		g.renderMFA(w, r, p, pd, http.StatusOK, "")
	case err != nil:
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
	}
	return err != nil
}

// enrol stores m, a method proven at this sign-in, with its state sealed,
// unless this sign-in already enrolled one or the user has a method the
// policy allows; the user's recovery codes are replaced by new ones, kept
// sealed in the pending sign-in to be shown once.
func (g *Gateway) enrol(ctx context.Context, r *http.Request, p *Partner, pd pendingOf, m store.MFAMethod, state any) error {
	refuse := func() error {
		g.record(r, p, signInEvent{action: "user.mfa_enroll", user: pd.user, email: pd.user.Email, reason: "already_enrolled"})
		return errEnrolled
	}
	if pd.Codes != nil {
		return refuse()
	}
	now := g.cfg.Now().UTC().Truncate(time.Millisecond)
	m.ID, m.PartnerID, m.UserID, m.CreatedAt, m.LastUsedAt = store.NewID("mfa_"), p.ID, pd.user.ID, now, now
	var err error
	if m.Secret, err = g.sealState(m, state); err != nil {
		return err
	}
	// The store checks for a method and adds this one in one step: a
	// check here first would let two enrolments finishing together both
	// pass it, and whoever holds only the password add a second factor
	// beside the user's first. m's own kind counts even if the policy
	// dropped it since the enrolment began, so such enrolments cannot
	// both land either.
	err = g.cfg.MFA.Store.AddMFAMethodIfNone(ctx, m, append(usableKinds(pd.pol), m.Kind))
	if errors.Is(err, store.ErrMFAEnrolled) {
		return refuse()
	}
	if err != nil {
		return err
	}
	g.record(r, p, signInEvent{action: "user.mfa_enroll", user: pd.user, email: pd.user.Email, ok: true, reason: string(m.Kind)})
	codes, rst, err := recovery.Generate()
	if err != nil {
		return err
	}
	if err := g.replaceRecovery(ctx, p, pd.user.ID, rst, now); err != nil {
		return err
	}
	pd.Enrolling = nil
	pd.Codes = g.cfg.MFA.Secrets.Seal([]byte(strings.Join(codes, "\n")), codesBinding(p.ID, pd.user.ID))
	return g.savePending(ctx, p, pd)
}

// enrolMethod enrols a method of kind proven at this sign-in and shows
// the new recovery codes before the session starts.
func (g *Gateway) enrolMethod(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, kind store.MFAKind, name string, state any) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	err := g.enrol(ctx, r, p, pd, store.MFAMethod{Kind: kind, Name: name}, state)
	if errors.Is(err, errEnrolled) {
		g.renderMFA(w, r, p, pd, http.StatusConflict, msgEnrolled)
		return
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.cfg.Prefix+"mfa", http.StatusSeeOther)
}

// passWithMethod ends a second step an enrolled method of kind passed:
// the method must still be there (it may have been removed since the
// code or request went out), and its use is recorded.
func (g *Gateway) passWithMethod(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, kind store.MFAKind, methodID, gone string) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	_, err := g.cfg.MFA.Store.UpdateMFAMethod(ctx, p.ID, pd.user.ID, methodID, func(m store.MFAMethod) (store.MFAMethod, error) {
		if m.Kind != kind {
			return m, store.ErrNotFound
		}
		m.LastUsedAt = g.cfg.Now().UTC().Truncate(time.Millisecond)
		return m, nil
	})
	if errors.Is(err, store.ErrNotFound) {
		g.renderMFA(w, r, p, pd, http.StatusUnauthorized, gone)
		return
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, ok: true, reason: string(kind)})
	g.passSecondStep(w, r, p, pd)
}
