package gateway

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/mfa/notify"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// The SMS second step: a six-digit code texted to an enrolled phone, or
// to a phone being enrolled. The code lives in a ticket of the pending
// sign-in, as a keyed hash, never in the clear: not in the store, not in
// logs, not in the audit trail.

const (
	// smsCodeTTL is how long a texted code works.
	smsCodeTTL = 5 * time.Minute
	// smsSendsPerSignIn and smsSendsPerHour bound texts: each costs the
	// operator money and lands on a phone someone may not want to be
	// flooded, and every new code is another guess at the six digits.
	smsSendsPerSignIn = 3
	smsSendsPerHour   = 5
	// smsCodeAttempts kills a code after this many wrong tries, so a
	// code cannot be guessed even within the user-wide lockout.
	smsCodeAttempts = 5
)

// smsCode is a code sent during one pending sign-in, kept as a ticket
// keyed to it.
type smsCode struct {
	// Hash is the code's MAC under this sign-in, compared in constant time.
	Hash     string    `json:"h"`
	Expires  time.Time `json:"x"`
	Attempts int       `json:"a"`
	// MethodID is the enrolled phone texted at a challenge; Enrol, at an
	// enrolment, is the phone being set up, sealed to partner and user.
	MethodID string `json:"m,omitempty"`
	Enrol    []byte `json:"p,omitempty"`
	// Ending is the phone's last digits, the only part ever shown.
	Ending string `json:"e"`
}

// smsPhone is an SMS method's sealed state.
type smsPhone struct {
	Phone string `json:"phone"`
}

// smsOffered: the policy allows SMS and this gateway can send it.
func (g *Gateway) smsOffered(pol policy.Policy) bool {
	return g.cfg.MFA.SMS != nil && allows(pol, policy.SMS)
}

// serveSMS answers mfa/sms and mfa/sms/{enroll,send,resend,verify}.
func (g *Gateway) serveSMS(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	if route != "mfa/sms" && !strings.HasPrefix(route, "mfa/sms/") {
		return false
	}
	guard := func(next func(http.ResponseWriter, *http.Request, *Partner, pendingOf)) func(http.ResponseWriter, *http.Request, *Partner, pendingOf) {
		return func(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
			if !g.smsOffered(pd.pol) {
				g.renderMFA(w, r, p, pd, http.StatusForbidden, "Text messages are not available for your account.")
				return
			}
			next(w, r, p, pd)
		}
	}
	post := r.Method == http.MethodPost
	switch {
	case route == "mfa/sms" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		g.withPending(w, r, p, guard(g.showSMSCode))
	case route == "mfa/sms/enroll" && post:
		g.withPendingForm(w, r, p, guard(g.sendSMSEnrol))
	case route == "mfa/sms/send" && post:
		g.withPendingForm(w, r, p, guard(g.sendSMSChallenge))
	case route == "mfa/sms/resend" && post:
		g.withPendingForm(w, r, p, guard(g.resendSMS))
	case route == "mfa/sms/verify" && post:
		g.withPendingForm(w, r, p, guard(g.verifySMS))
	default:
		return false
	}
	return true
}

func smsKey(pd pendingOf) string { return "mfa-sms:" + hashHex(pd.secret) }

// smsMAC binds a code to its pending sign-in, so a hash read from the
// store neither reveals the code without the key nor fits another ticket.
func (g *Gateway) smsMAC(pd pendingOf, code string) string {
	m := hmac.New(sha256.New, g.cfg.CSRFKey)
	m.Write([]byte("mfa-sms\x00" + hashHex(pd.secret) + "\x00" + code))
	return hex.EncodeToString(m.Sum(nil))
}

func smsEnrolBinding(partnerID, userID string) []byte {
	return []byte("mfa-sms-enrol/" + partnerID + "/" + userID)
}

// normalizePhone accepts the spaces, dashes, dots and brackets people type
// in numbers; what remains must be E.164.
func normalizePhone(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '-', '.', '(', ')', '\u00a0':
			return -1
		}
		return r
	}, strings.TrimSpace(s))
	return s, notify.ValidE164(s)
}

// phoneEnding is the last four digits, what a user recognises their
// number by and all of it that pages and method names show.
func phoneEnding(phone string) string {
	if len(phone) < 4 {
		return ""
	}
	return phone[len(phone)-4:]
}

func (g *Gateway) sendSMSEnrol(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	if g.hasUsable(ctx, w, r, p, pd) {
		return
	}
	phone, ok := normalizePhone(r.PostForm.Get("phone"))
	if !ok {
		g.renderEnrolment(w, r, p, pd, http.StatusBadRequest, "Enter your mobile number with its country code, such as +1 555 010 1234.")
		return
	}
	sealed, err := json.Marshal(smsPhone{Phone: phone})
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	tk := smsCode{Enrol: g.cfg.MFA.Secrets.Seal(sealed, smsEnrolBinding(p.ID, pd.user.ID)), Ending: phoneEnding(phone)}
	g.sendSMSCode(ctx, w, r, p, pd, phone, tk)
}

func (g *Gateway) sendSMSChallenge(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	m, err := g.cfg.MFA.Store.GetMFAMethod(ctx, p.ID, pd.user.ID, r.PostForm.Get("method_id"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && m.Kind != store.MFASMS) {
		g.renderMFA(w, r, p, pd, http.StatusBadRequest, "That phone is no longer set up. Choose another way.")
		return
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	var st smsPhone
	if err := g.openState(m, &st); err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	g.sendSMSCode(ctx, w, r, p, pd, st.Phone, smsCode{MethodID: m.ID, Ending: phoneEnding(st.Phone)})
}

// resendSMS texts a new code to the phone of the current one, in its
// place.
func (g *Gateway) resendSMS(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	tk, ok := g.smsTicket(ctx, w, r, p, pd)
	if !ok {
		return
	}
	if tk.Enrol == nil {
		r.PostForm.Set("method_id", tk.MethodID)
		g.sendSMSChallenge(w, r, p, pd)
		return
	}
	b, err := g.cfg.MFA.Secrets.Open(tk.Enrol, smsEnrolBinding(p.ID, pd.user.ID))
	var st smsPhone
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	g.sendSMSCode(ctx, w, r, p, pd, st.Phone, smsCode{Enrol: tk.Enrol, Ending: tk.Ending})
}

// smsTicket reads the pending sign-in's current code; false when it
// answered (none: back to the choice of methods).
func (g *Gateway) smsTicket(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) (smsCode, bool) {
	var tk smsCode
	b, err := g.cfg.MFA.Store.GetTicket(ctx, p.ID, smsKey(pd))
	if errors.Is(err, store.ErrNotFound) {
		g.renderMFA(w, r, p, pd, http.StatusOK, "")
		return tk, false
	}
	if err == nil {
		err = json.Unmarshal(b, &tk)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return tk, false
	}
	return tk, true
}

// sendSMSCode makes a new code for tk, replacing any earlier one of this
// sign-in, and texts it, within the sending limits.
func (g *Gateway) sendSMSCode(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, phone string, tk smsCode) {
	back := func(status int, msg string) { g.backToStep(w, r, p, pd, tk.Enrol != nil, status, msg) }
	allowed, err := g.admitSend(ctx, p, pd, "sms", smsSendsPerSignIn, smsSendsPerHour)
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	if !allowed {
		g.record(r, p, signInEvent{action: "mfa.sms_send", user: pd.user, email: pd.user.Email, reason: "rate_limited"})
		back(http.StatusTooManyRequests, "Too many codes were sent. Wait a while, or choose another way.")
		return
	}
	code, err := sixDigits()
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	tk.Hash, tk.Expires, tk.Attempts = g.smsMAC(pd, code), g.cfg.Now().Add(smsCodeTTL), 0
	if err := g.putSMSTicket(ctx, p, pd, tk); err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	// The origin-bound line lets browsers offer the code for this site
	// only (WebOTP), which also tells a phished user the site is wrong.
	text := fmt.Sprintf("Your %s verification code is %s. It expires in 5 minutes. Never share it.\n\n@%s #%s", p.Name, code, normalizeHost(r.Host), code)
	if err := g.cfg.MFA.SMS.SendSMS(ctx, phone, text); err != nil {
		// The sender's errors name neither the number nor the text.
		g.cfg.Logger.Warn("send SMS code", zap.String("partner", p.ID), zap.String("user", pd.user.ID), zap.Error(err))
		g.record(r, p, signInEvent{action: "mfa.sms_send", user: pd.user, email: pd.user.Email, reason: "send_failed"})
		g.dropSMSTicket(ctx, p, pd)
		back(http.StatusBadGateway, "We couldn't send a text message just now. Try again, or choose another way.")
		return
	}
	g.record(r, p, signInEvent{action: "mfa.sms_send", user: pd.user, email: pd.user.Email, ok: true})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.cfg.Prefix+"mfa/sms", http.StatusSeeOther)
}

func (g *Gateway) putSMSTicket(ctx context.Context, p *Partner, pd pendingOf, tk smsCode) error {
	b, err := json.Marshal(tk)
	if err != nil {
		return err
	}
	g.dropSMSTicket(ctx, p, pd)
	// The store's expiry is a backstop; the code's own, read against the
	// gateway's clock, is the one that counts.
	return g.cfg.MFA.Store.PutTicket(ctx, p.ID, smsKey(pd), b, max(tk.Expires.Sub(g.cfg.Now()), time.Second))
}

func (g *Gateway) dropSMSTicket(ctx context.Context, p *Partner, pd pendingOf) {
	if _, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, smsKey(pd)); err != nil && !errors.Is(err, store.ErrNotFound) {
		g.cfg.Logger.Warn("drop SMS code", zap.String("partner", p.ID), zap.Error(err))
	}
}

// sixDigits is a uniformly random code, 000000 to 999999.
func sixDigits() (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

func (g *Gateway) showSMSCode(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	tk, ok := g.smsTicket(ctx, w, r, p, pd)
	if !ok {
		return
	}
	g.renderSMSCode(w, r, p, pd, tk, http.StatusOK, "")
}

func (g *Gateway) renderSMSCode(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, tk smsCode, status int, msg string) {
	g.render(w, status, templates.PageMFASMS, templates.MFASMS{
		Page: g.page(r.Context(), p, "Enter the code we texted you"), Email: pd.user.Email, PhoneEnding: tk.Ending,
		Action: g.cfg.Prefix + "mfa/sms/verify", ResendAction: g.cfg.Prefix + "mfa/sms/resend",
		CSRFToken: g.csrfToken(w, r, p, "mfa"), RememberDays: int(pd.pol.RememberDevice().Hours() / 24),
		Error: msg, BackURL: g.cfg.Prefix + "mfa", CancelURL: g.cfg.Prefix + "login",
	})
}

// verifySMS checks a texted code. The ticket is taken, not read, so two
// concurrent tries cannot both use one code nor both count as the same
// attempt; a wrong code puts it back with one try fewer.
func (g *Gateway) verifySMS(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	if !g.admitCode(w, r, p, pd) {
		return
	}
	var tk smsCode
	b, err := g.cfg.MFA.Store.TakeTicket(ctx, p.ID, smsKey(pd))
	if errors.Is(err, store.ErrNotFound) {
		g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "That code is no longer valid. Send a new one.")
		return
	}
	if err == nil {
		err = json.Unmarshal(b, &tk)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	if !g.cfg.Now().Before(tk.Expires) {
		g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, reason: "sms_expired"})
		g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "That code expired. Send a new one.")
		return
	}
	code := strings.ReplaceAll(strings.TrimSpace(r.PostForm.Get("code")), " ", "")
	if !hmac.Equal([]byte(g.smsMAC(pd, code)), []byte(tk.Hash)) {
		g.record(r, p, signInEvent{action: "mfa.verify", user: pd.user, email: pd.user.Email, reason: "bad_code"})
		tk.Attempts++
		if tk.Attempts >= smsCodeAttempts {
			g.renderMFA(w, r, p, pd, http.StatusUnauthorized, "Too many wrong codes. Send a new one, or choose another way.")
			return
		}
		if err := g.putSMSTicket(ctx, p, pd, tk); err != nil {
			g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
			return
		}
		g.renderSMSCode(w, r, p, pd, tk, http.StatusUnauthorized, "That code didn't match. Check the newest text message and try again.")
		return
	}
	if tk.Enrol != nil {
		g.finishSMSEnrolment(w, r, p, pd, tk)
		return
	}
	// Removed since the code was sent, the phone proves nothing now.
	g.passWithMethod(w, r, p, pd, store.MFASMS, tk.MethodID, "That phone is no longer set up. Choose another way.")
}

// finishSMSEnrolment stores the phone whose code checked, with new
// recovery codes shown before the session starts, as the app's enrolment
// does.
func (g *Gateway) finishSMSEnrolment(w http.ResponseWriter, r *http.Request, p *Partner, pd pendingOf, tk smsCode) {
	var st smsPhone
	b, err := g.cfg.MFA.Secrets.Open(tk.Enrol, smsEnrolBinding(p.ID, pd.user.ID))
	if err == nil {
		err = json.Unmarshal(b, &st)
	}
	if err != nil {
		g.loginUnavailable(w, r, p, pd.user.Email, pd.ReturnTo, err)
		return
	}
	g.enrolMethod(w, r, p, pd, store.MFASMS, "Phone ending "+phoneEnding(st.Phone), st)
}
