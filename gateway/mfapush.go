package gateway

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
	"unicode"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/mfa/notify"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// The push second step: an approve-or-deny request sent to the user's
// device, answered by the device posting to a signed callback. Number
// matching: the page shows a number the device does not get, so a user
// approving a request they did not start (push fatigue) cannot pick the
// right one but by luck.
//
// A challenge is a ticket under its id, naming the pending sign-in that
// asked for it; the pending sign-in finds its challenge through a second
// ticket keyed to it. So an answer reaches one challenge only, and only
// the sign-in that sent it can continue on it, once.

const (
	// pushTTL is how long a request can be answered: long enough to find
	// the phone, short enough that a stale prompt is no use to anyone.
	pushTTL = 2 * time.Minute
	// Push sends are bounded as texts are: each prompt interrupts the
	// user, and fatigue is the attack.
	pushSendsPerSignIn = 3
	pushSendsPerHour   = 10
	// maxPushAnswer bounds the callback body; an answer is under 200 bytes.
	maxPushAnswer = 4 << 10
	// maxPushTarget bounds the device id a user types at enrolment.
	maxPushTarget = 200
)

// Push challenge states.
const (
	pushPending  = ""
	pushApproved = "approved"
	pushDenied   = "denied"
	pushExpired  = "expired"
)

type pushChallenge struct {
	// Pending is the hash of the pending sign-in's cookie.
	Pending string    `json:"p"`
	UserID  string    `json:"u"`
	Email   string    `json:"e"`
	Number  int       `json:"n"`
	Expires time.Time `json:"x"`
	// MethodID is the enrolled device asked at a challenge; Enrol, at an
	// enrolment, is the target being set up, sealed to partner and user.
	MethodID string `json:"m,omitempty"`
	Enrol    []byte `json:"t,omitempty"`
	State    string `json:"s,omitempty"`
}

// pushTarget is a push method's sealed state.
type pushTarget struct {
	Target string `json:"target"`
}

// pushAnswer is what the device posts to the callback.
type pushAnswer struct {
	ChallengeID string `json:"challenge_id"`
	Choice      int    `json:"choice"`
	Approve     bool   `json:"approve"`
}

// pushOffered: the policy allows push and this gateway can both send a
// request and check the answer's signature.
func (g *Gateway) pushOffered(pol policy.Policy) bool {
	return g.cfg.MFA.Push != nil && len(g.cfg.MFA.PushSecret) > 0 && allows(pol, policy.Push)
}

// servePush answers mfa/push and mfa/push/{enroll,send,status,continue,answer}.
func (g *Gateway) servePush(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	if route != "mfa/push" && !strings.HasPrefix(route, "mfa/push/") {
		return false
	}
	guard := func(next func(http.ResponseWriter, *http.Request, *Partner, pendingOf)) func(http.ResponseWriter, *http.Request, *Partner, pendingOf) {
		return func(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
			if !g.pushOffered(pd.pol) {
				g.renderMFA(w, r, p, pd, http.StatusForbidden, "Push requests are not available for your account.")
				return
			}
			next(w, r, p, pd)
		}
	}
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	post := r.Method == http.MethodPost
	switch {
	case route == "mfa/push" && get:
		g.withPending(w, r, p, guard(g.showPush))
	case route == "mfa/push/status" && get:
		g.pushStatus(w, r, p)
	case route == "mfa/push/enroll" && post:
		g.withPendingForm(w, r, p, guard(g.sendPushEnrol))
	case route == "mfa/push/send" && post:
		g.withPendingForm(w, r, p, guard(g.sendPushChallenge))
	case route == "mfa/push/continue" && post:
		g.withPendingForm(w, r, p, guard(g.continuePush))
	case route == pushAnswerRoute && post:
		g.answerPush(w, r, p)
	default:
		return false
	}
	return true
}

// pushAnswerRoute is where devices' answers arrive, through the push
// service.
const pushAnswerRoute = "mfa/push/answer"

func pushKey(id string) string      { return "mfa-push:" + hashHex(id) }
func pushOfKey(pd pendingOf) string { return "mfa-push-of:" + hashHex(pd.secret) }
func pushEnrolBinding(partnerID, userID string) []byte {
	return []byte("mfa-push-enrol/" + partnerID + "/" + userID)
}

// pushCallbackURL is the partner site's answer endpoint, at the origin
// the browser sees, as WebAuthn's relying party is found.
func (g *Gateway) pushCallbackURL(r *http.Request) string {
	scheme := "http"
	switch {
	case r.TLS != nil:
		scheme = "https"
	case g.cfg.Scheme != "":
		scheme = g.cfg.Scheme
	}
	return scheme + "://" + strings.ToLower(r.Host) + g.cfg.Prefix + pushAnswerRoute
}

// isPushAnswer: r is the push service's callback with a device's answer.
func (g *Gateway) isPushAnswer(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == g.cfg.Prefix+pushAnswerRoute
}

func (g *Gateway) sendPushEnrol(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	if g.hasUsable(ctx, w, r, p, pd) {
		return
	}
	target := strings.TrimSpace(r.PostForm.Get("device_id"))
	if target == "" || len(target) > maxPushTarget || strings.ContainsFunc(target, unicode.IsControl) {
		g.renderEnrolment(w, r, p, pd, http.StatusBadRequest, "Enter the device ID your sign-in app shows.")
		return
	}
	b, err := json.Marshal(pushTarget{Target: target})
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	// The device is stored only once it approved a request: an id typed
	// wrong must not become the user's only second factor.
	g.sendPush(ctx, w, r, p, pd, target, pushChallenge{Enrol: g.cfg.MFA.Secrets.Seal(b, pushEnrolBinding(p.ID, pd.user.ID))})
}

func (g *Gateway) sendPushChallenge(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	methods, err := g.cfg.MFA.Store.ListMFAMethods(ctx, p.ID, pd.user.ID)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	for _, m := range methods {
		if m.Kind != store.MFAPush {
			continue
		}
		var st pushTarget
		if err := g.openState(m, &st); err != nil {
			g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
			return
		}
		g.sendPush(ctx, w, r, p, pd, st.Target, pushChallenge{MethodID: m.ID})
		return
	}
	g.renderMFA(w, r, p, pd, http.StatusBadRequest, "No device is set up for push requests. Choose another way.")
}

// sendPush makes a challenge for this sign-in, in place of any earlier
// one, and sends it to target.
func (g *Gateway) sendPush(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, target string, ch pushChallenge) {
	back := func(status int, msg string) { g.backToStep(w, r, p, pd, ch.Enrol != nil, status, msg) }
	allowed, err := g.admitSend(ctx, p, pd, "push", pushSendsPerSignIn, pushSendsPerHour)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	if !allowed {
		g.record(r, p, signInEvent{action: "mfa.push_send", user: pd.user, email: pd.user.Email, reason: "rate_limited"})
		back(http.StatusTooManyRequests, "Too many push requests were sent. Wait a while, or choose another way.")
		return
	}
	number, choices, err := notify.NumberChoices()
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	id := rand.Text() + rand.Text()
	ch.Pending, ch.UserID, ch.Email = hashHex(pd.secret), pd.user.ID, pd.user.Email
	ch.Number, ch.Expires, ch.State = number, g.cfg.Now().Add(pushTTL), pushPending
	g.dropPush(ctx, p, pd)
	b, err := json.Marshal(ch)
	if err == nil {
		err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, pushKey(id), b, pushTTL)
	}
	if err == nil {
		err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, pushOfKey(pd), []byte(id), pendingTTL)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	err = g.cfg.MFA.Push.SendPush(ctx, notify.PushRequest{
		Target: target, ID: id, Partner: p.Name, Email: pd.user.Email,
		Number: number, Choices: choices, ExpiresAt: ch.Expires, CallbackURL: g.pushCallbackURL(r),
	})
	if err != nil {
		g.cfg.Logger.Warn("send push request", zap.String("partner", p.ID), zap.String("user", pd.user.ID), zap.Error(err))
		g.record(r, p, signInEvent{action: "mfa.push_send", user: pd.user, email: pd.user.Email, reason: "send_failed"})
		g.dropPush(ctx, p, pd)
		back(http.StatusBadGateway, "We couldn't reach your device just now. Try again, or choose another way.")
		return
	}
	g.record(r, p, signInEvent{action: "mfa.push_send", user: pd.user, email: pd.user.Email, ok: true})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.cfg.Prefix+"mfa/push", http.StatusSeeOther)
}

// dropPush ends the sign-in's challenge, if any.
func (g *Gateway) dropPush(ctx context.Context, p *Partner, pd pendingOf) {
	id, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pushOfKey(pd))
	if err == nil {
		_, err = g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pushKey(string(id)))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		g.cfg.Logger.Warn("drop push challenge", zap.String("partner", p.ID), zap.Error(err))
	}
}

// currentPush reads the sign-in's challenge; found is false when there is
// none (or it is gone from the store).
func (g *Gateway) currentPush(ctx context.Context, p *Partner, pd pendingOf) (id string, ch pushChallenge, found bool, err error) {
	b, err := g.cfg.MFA.Store.GetTicket(ctx, p.ID, pushOfKey(pd))
	if err == nil {
		id = string(b)
		b, err = g.cfg.MFA.Store.GetTicket(ctx, p.ID, pushKey(id))
	}
	if errors.Is(err, store.ErrNotFound) {
		return "", ch, false, nil
	}
	if err == nil {
		err = json.Unmarshal(b, &ch)
	}
	return id, ch, err == nil, err
}

func (g *Gateway) showPush(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	_, ch, found, err := g.currentPush(ctx, p, pd)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	if !found {
		g.renderMFA(w, r, p, pd, http.StatusOK, "")
		return
	}
	g.renderPush(w, r, p, pd, ch, http.StatusOK, "")
}

func (g *Gateway) renderPush(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, ch pushChallenge, status int, msg string) {
	allowScripts(w)
	g.render(w, status, templates.PageMFAPush, templates.MFAPush{
		Page: g.page(r.Context(), p, "Approve the request on your device"), Email: pd.user.Email, Number: ch.Number,
		Action: g.cfg.Prefix + "mfa/push/continue", StatusURL: g.cfg.Prefix + "mfa/push/status", ScriptURL: g.cfg.Prefix + "assets/push.js",
		CSRFToken: g.csrfToken(w, r, p, "mfa"), RememberDays: int(pd.pol.RememberDevice().Hours() / 24),
		Error: msg, BackURL: g.cfg.Prefix + "mfa", CancelURL: g.cfg.Prefix + "login",
	})
}

// pushStatus tells the page's script whether the device answered. It
// reveals only the state of the browser's own challenge.
func (g *Gateway) pushStatus(w http.ResponseWriter, r *http.Request, p *Partner) {
	status := pushExpired
	secret, n := findCookie(r.Header, cookieName(r, mfaCookieBase))
	if n == 1 && secret != "" {
		ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
		defer cancel()
		_, ch, found, err := g.currentPush(ctx, p, pendingOf{secret: secret})
		switch {
		case err != nil:
			writeJSONError(w, http.StatusServiceUnavailable, "Try again in a moment.")
			return
		case found && g.cfg.Now().Before(ch.Expires) && ch.State == pushPending:
			status = "pending"
		case found && g.cfg.Now().Before(ch.Expires):
			status = ch.State
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{"status": status})
}

// continuePush finishes the sign-in once its own challenge was approved,
// using the challenge up.
func (g *Gateway) continuePush(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	id, _, found, err := g.currentPush(ctx, p, pd)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	expired := func() {
		g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "The push request expired. Send a new one, or choose another way.")
	}
	if !found {
		expired()
		return
	}
	b, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pushKey(id))
	if errors.Is(err, store.ErrNotFound) {
		expired()
		return
	}
	var ch pushChallenge
	if err == nil {
		err = json.Unmarshal(b, &ch)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	if ch.Pending != hashHex(pd.secret) || ch.UserID != pd.user.ID || !g.cfg.Now().Before(ch.Expires) {
		g.dropPush(ctx, p, pd)
		expired()
		return
	}
	switch ch.State {
	case pushPending:
		// Not answered yet: the challenge stays for the next try.
		b, err := json.Marshal(ch)
		if err == nil {
			err = g.cfg.MFA.Store.PutTicket(ctx, p.ID, pushKey(id), b, max(ch.Expires.Sub(g.cfg.Now()), time.Second))
		}
		if err != nil {
			g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
			return
		}
		g.renderPush(w, r, p, pd, ch, http.StatusConflict, "Your device hasn't approved the request yet. Approve it there, then continue.")
		return
	case pushApproved:
	default:
		g.dropPush(ctx, p, pd)
		g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, reason: "push_denied"})
		g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "The push request was denied. If you didn't start this sign-in, tell your administrator.")
		return
	}
	g.dropPush(ctx, p, pd)
	if ch.Enrol != nil {
		var st pushTarget
		b, err := g.cfg.MFA.Secrets.Open(ch.Enrol, pushEnrolBinding(p.ID, pd.user.ID))
		if err == nil {
			err = json.Unmarshal(b, &st)
		}
		if err != nil {
			g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
			return
		}
		g.enrolMethod(w, r, p, pd, store.MFAPush, "Push device", st)
		return
	}
	g.passWithMethod(w, r, p, pd, store.MFAPush, ch.MethodID, "That device is no longer set up. Choose another way.")
}

// answerPush takes the device's answer. It comes from the push service,
// not the browser: no cookie, no CSRF token, only the webhook signature,
// checked on the raw body before anything in it is believed. A challenge
// is answered once; a wrong number counts as a denial, since a user
// picking blindly is exactly who number matching is meant to stop.
func (g *Gateway) answerPush(w http.ResponseWriter, r *http.Request, p *Partner) {
	if g.cfg.MFA.Push == nil || len(g.cfg.MFA.PushSecret) == 0 {
		http.NotFound(w, r)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxPushAnswer))
	if err != nil {
		writeJSONError(w, http.StatusRequestEntityTooLarge, "Answer too large.")
		return
	}
	if err := notify.VerifySignature(g.cfg.MFA.PushSecret, r.Header.Get(notify.SignatureHeader), body, g.cfg.Now(), 0); err != nil {
		g.cfg.Logger.Warn("push answer refused", zap.String("partner", p.ID), zap.Error(err))
		writeJSONError(w, http.StatusUnauthorized, "Invalid signature.")
		return
	}
	var a pushAnswer
	if err := json.Unmarshal(body, &a); err != nil || a.ChallengeID == "" {
		writeJSONError(w, http.StatusBadRequest, "Malformed answer.")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	// Taken, not read: of two answers racing, one decides.
	b, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, pushKey(a.ChallengeID))
	if errors.Is(err, store.ErrNotFound) {
		writeJSONError(w, http.StatusNotFound, "Unknown or expired request.")
		return
	}
	var ch pushChallenge
	if err == nil {
		err = json.Unmarshal(b, &ch)
	}
	if err != nil {
		g.cfg.Logger.Error("push answer", zap.String("partner", p.ID), zap.Error(err))
		writeJSONError(w, http.StatusServiceUnavailable, "Try again in a moment.")
		return
	}
	user := store.User{ID: ch.UserID, Email: ch.Email}
	if !g.cfg.Now().Before(ch.Expires) {
		g.record(r, p, signInEvent{action: "mfa.push_answer", user: user, email: ch.Email, reason: "expired"})
		writeJSONError(w, http.StatusGone, "The request expired.")
		return
	}
	put := func() error {
		b, err := json.Marshal(ch)
		if err != nil {
			return err
		}
		return g.cfg.MFA.Store.PutTicket(ctx, p.ID, pushKey(a.ChallengeID), b, max(ch.Expires.Sub(g.cfg.Now()), time.Second))
	}
	if ch.State != pushPending {
		if err := put(); err != nil {
			g.cfg.Logger.Error("push answer", zap.String("partner", p.ID), zap.Error(err))
		}
		writeJSONError(w, http.StatusConflict, "The request was already answered.")
		return
	}
	reason := ""
	switch {
	case !a.Approve:
		ch.State, reason = pushDenied, "denied"
	case a.Choice != ch.Number:
		ch.State, reason = pushDenied, "wrong_number"
	default:
		ch.State = pushApproved
	}
	if err := put(); err != nil {
		g.cfg.Logger.Error("push answer", zap.String("partner", p.ID), zap.Error(err))
		writeJSONError(w, http.StatusServiceUnavailable, "Try again in a moment.")
		return
	}
	g.record(r, p, signInEvent{action: "mfa.push_answer", user: user, email: ch.Email, ok: reason == "", reason: reason})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(map[string]string{"status": ch.State})
}
