package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/mfa/notify"
	"github.com/partnergate/partnergate/store"
)

// smsOutbox is an SMS sender that keeps the messages: the SMS interface
// is ours, and the Twilio sender has its own tests in notify.
type smsOutbox struct {
	mu   sync.Mutex
	sent []smsMessage
}

type smsMessage struct{ to, text string }

func (o *smsOutbox) SendSMS(_ context.Context, to, text string) error {
	if !notify.ValidE164(to) {
		return notify.ErrInvalidNumber
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, smsMessage{to, text})
	return nil
}

func (o *smsOutbox) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sent)
}

var smsCodePattern = regexp.MustCompile(`code is (\d{6})\.`)

// lastCode is the code of the newest message, which must have gone to to.
func (o *smsOutbox) lastCode(t *testing.T, to string) string {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("no text message sent")
	}
	m := o.sent[len(o.sent)-1]
	if m.to != to {
		t.Fatalf("texted %q, want %q", m.to, to)
	}
	c := smsCodePattern.FindStringSubmatch(m.text)
	if c == nil {
		t.Fatalf("no code in %q", m.text)
	}
	return c[1]
}

// withSenders serves the env's gateway again with SMS and push senders,
// on a server of its own. The scheme is https so that push callback URLs
// pass the webhook sender's checks; pushDevice answers over plain http.
func (e *ssoEnv) withSenders(t *testing.T, sms notify.SMS, push notify.Push, pushSecret []byte, options ...func(*gateway.Config)) *ssoEnv {
	t.Helper()
	cfg := e.cfg
	cfg.Scheme = "https"
	cfg.MFA = &gateway.MFA{Store: e.st, Secrets: e.box, SMS: sms, Push: push, PushSecret: pushSecret}
	for _, o := range options {
		o(&cfg)
	}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				t.Errorf("gateway panicked serving %s %s: %v", r.Method, r.URL, v)
				http.Error(w, "panic", http.StatusInternalServerError)
			}
		}()
		if _, ok := gw.Serve(w, r); ok {
			fmt.Fprintln(w, "app")
		}
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	e2 := *e
	e2.cfg, e2.srv, e2.port = cfg, srv, port
	return &e2
}

// formPosting finds the page's form whose action ends in suffix.
func formPosting(t *testing.T, from page, suffix string) htmlForm {
	t.Helper()
	for _, f := range allForms(from.body) {
		if strings.HasSuffix(f.action, suffix) {
			return f
		}
	}
	t.Fatalf("no form posting to …%s on %s:\n%s", suffix, from.url, from.body)
	return htmlForm{}
}

// addMethod stores an enrolled method for the user, sealed as the
// gateway seals it.
func (e *ssoEnv) addMethod(t *testing.T, partner, userID string, kind store.MFAKind, name string, state any) store.MFAMethod {
	t.Helper()
	b, err := json.Marshal(state)
	if err != nil {
		t.Fatal(err)
	}
	now := e.clock.Now().UTC().Truncate(time.Millisecond)
	m := store.MFAMethod{ID: store.NewID("mfa_"), PartnerID: partner, UserID: userID, Kind: kind, Name: name, CreatedAt: now, LastUsedAt: now}
	m.Secret = e.box.Seal(b, []byte("mfa/"+string(kind)+"/"+partner+"/"+userID+"/"+m.ID))
	if err := e.st.AddMFAMethod(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	return m
}

const annPhone = "+15550101234"

// smsChallenge signs ann in up to the code page of a texted code.
func smsChallenge(t *testing.T, e *ssoEnv, b *browser) page {
	t.Helper()
	p := b.passwordStep(t, e, "ann@acme.example", mfaPassword)
	p = b.submitForm(t, p, formPosting(t, p, "/mfa/sms/send"))
	if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/mfa/sms") {
		t.Fatalf("after Text me a code: %d at %s:\n%s", p.status, p.url, p.body)
	}
	return p
}

// TestSMSEnrolThenChallenge: a user without a method sets up a phone at
// sign-in (number, texted code, recovery codes); the phone is stored
// sealed; the next sign-in texts a code that finishes it, once.
func TestSMSEnrolThenChallenge(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		outbox := new(smsOutbox)
		core, logs := observer.New(zap.DebugLevel)
		e := newSSOEnv(t, backend, "acme").withSenders(t, outbox, nil, nil, func(c *gateway.Config) { c.Logger = zap.New(core) })
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["sms"]}}`)
		var codesSent []string
		defer func() {
			// Neither the codes nor the full number reach the log or the
			// audit trail.
			page, err := e.cfg.Audit.Query(context.Background(), "acme", audit.Query{Limit: audit.MaxLimit})
			if err != nil {
				t.Fatal(err)
			}
			trail, _ := json.Marshal(page.Events)
			var logged strings.Builder
			for _, entry := range logs.All() {
				b, _ := json.Marshal(entry.ContextMap())
				logged.WriteString(entry.Message)
				logged.Write(b)
			}
			if !strings.Contains(string(trail), "mfa.sms_send") {
				t.Errorf("no SMS sends audited: %s", trail)
			}
			for _, secret := range append(codesSent, "5550101234") {
				if strings.Contains(string(trail), secret) || strings.Contains(logged.String(), secret) {
					t.Errorf("%q appears in the audit trail or the log", secret)
				}
			}
		}()
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		f := formPosting(t, p, "/mfa/sms/enroll")
		f.fields.Set("phone", "not a number")
		if bad := b.submitForm(t, p, f); bad.status != http.StatusBadRequest || outbox.count() != 0 {
			t.Fatalf("a bad number: %d, %d texts", bad.status, outbox.count())
		}
		f.fields.Set("phone", "+1 555-010-1234")
		p = b.submitForm(t, p, f)
		if !strings.HasSuffix(p.url.Path, "/mfa/sms") || !strings.Contains(p.body, "1234") || strings.Contains(p.body, "5550101234") {
			t.Fatalf("code page: at %s:\n%s", p.url, p.body)
		}
		sent := outbox.lastCode(t, annPhone)
		codesSent = append(codesSent, sent)
		if wrong := b.submitCode(t, p, "/mfa/sms/verify", wrongCode(sent), false); wrong.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
			t.Fatalf("a wrong code: %d, %d sessions", wrong.status, b.sessionsIssued())
		}
		codes := b.submitCode(t, p, "/mfa/sms/verify", sent, false)
		if !strings.Contains(codes.body, "recovery codes") || b.sessionsIssued() != 0 {
			t.Fatalf("after the right code: %d sessions:\n%s", b.sessionsIssued(), codes.body)
		}
		if app := b.submitForm(t, codes, formPosting(t, codes, "/mfa/continue")); app.url.Path != "/inbox" || b.sessionsIssued() != 1 {
			t.Fatalf("after the codes: at %s, %d sessions", app.url, b.sessionsIssued())
		}
		methods, err := e.st.ListMFAMethods(context.Background(), "acme", ann.ID)
		if err != nil || len(methods) != 2 {
			t.Fatalf("methods: %+v, %v", methods, err)
		}
		for _, m := range methods {
			if m.Kind == store.MFASMS && m.Name != "Phone ending 1234" {
				t.Errorf("SMS method named %q", m.Name)
			}
			if strings.Contains(string(m.Secret), "5550101234") {
				t.Errorf("method %s stores the phone number in the clear", m.Kind)
			}
		}

		// The next sign-in: a code is texted, works once.
		b2 := e.browser(t)
		p = smsChallenge(t, e, b2)
		sent = outbox.lastCode(t, annPhone)
		codesSent = append(codesSent, sent)
		if app := b2.submitCode(t, p, "/mfa/sms/verify", sent, false); app.url.Path != "/inbox" || b2.sessionsIssued() != 1 {
			t.Fatalf("challenge: at %s, %d sessions:\n%s", app.url, b2.sessionsIssued(), app.body)
		}
		b3 := e.browser(t)
		p = smsChallenge(t, e, b3)
		if again := b3.submitCode(t, p, "/mfa/sms/verify", sent, false); again.status != http.StatusUnauthorized || b3.sessionsIssued() != 0 {
			t.Errorf("a used code at the next sign-in: %d, %d sessions", again.status, b3.sessionsIssued())
		}
	})
}

func wrongCode(c string) string {
	if c == "000000" {
		return "111111"
	}
	return "000000"
}

// TestSMSCodeRefusals: a code expires after 5 minutes, is single-use,
// dies at its fifth wrong try, and at most 3 are sent per sign-in.
func TestSMSCodeRefusals(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		outbox := new(smsOutbox)
		e := newSSOEnv(t, backend, "acme").withSenders(t, outbox, nil, nil)
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}, "lockout": {"threshold": 50, "duration": "15m"}}`)
		e.addMethod(t, "acme", ann.ID, store.MFASMS, "Phone ending 1234", map[string]string{"phone": annPhone})
		// Each case starts with the user's counters clear, as an hour
		// later would.
		fresh := func(t *testing.T) {
			for _, key := range []string{"mfa:user:" + ann.ID, "mfa-sms-user:" + ann.ID} {
				if err := e.st.ResetCounter(context.Background(), "acme", key); err != nil {
					t.Fatal(err)
				}
			}
		}

		t.Run("expiry", func(t *testing.T) {
			fresh(t)
			b := e.browser(t)
			p := smsChallenge(t, e, b)
			sent := outbox.lastCode(t, annPhone)
			e.clock.Advance(5*time.Minute + time.Second)
			if late := b.submitCode(t, p, "/mfa/sms/verify", sent, false); late.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
				t.Errorf("an expired code: %d, %d sessions", late.status, b.sessionsIssued())
			}
		})
		t.Run("single use", func(t *testing.T) {
			fresh(t)
			b := e.browser(t)
			p := smsChallenge(t, e, b)
			sent := outbox.lastCode(t, annPhone)
			// Two tabs of one sign-in post the code: one session.
			b.submitCode(t, p, "/mfa/sms/verify", sent, false)
			if again := b.submitCode(t, p, "/mfa/sms/verify", sent, false); again.status != http.StatusUnauthorized || b.sessionsIssued() != 1 {
				t.Errorf("a code posted twice: %d, %d sessions", again.status, b.sessionsIssued())
			}
		})
		t.Run("wrong code limit", func(t *testing.T) {
			fresh(t)
			b := e.browser(t)
			p := smsChallenge(t, e, b)
			sent := outbox.lastCode(t, annPhone)
			for i := range 5 {
				if wrong := b.submitCode(t, p, "/mfa/sms/verify", wrongCode(sent), false); wrong.status != http.StatusUnauthorized {
					t.Fatalf("wrong code %d: %d", i+1, wrong.status)
				}
			}
			// The user-wide lockout (5 by default) would refuse the next
			// try anyway: lift it, so what refuses it is the dead code.
			fresh(t)
			if dead := b.submitCode(t, p, "/mfa/sms/verify", sent, false); dead.status != http.StatusUnauthorized || !strings.Contains(dead.body, "no longer valid") || b.sessionsIssued() != 0 {
				t.Errorf("the right code after 5 wrong ones: %d, %d sessions", dead.status, b.sessionsIssued())
			}
		})
		t.Run("send throttle", func(t *testing.T) {
			fresh(t)
			b := e.browser(t)
			before := outbox.count()
			p := smsChallenge(t, e, b)
			for range 2 {
				p = b.submitForm(t, p, formPosting(t, p, "/mfa/sms/resend"))
			}
			if outbox.count() != before+3 {
				t.Fatalf("3 sends: %d texts", outbox.count()-before)
			}
			fourth := b.submitForm(t, p, formPosting(t, p, "/mfa/sms/resend"))
			if fourth.status != http.StatusTooManyRequests || outbox.count() != before+3 {
				t.Errorf("a 4th send: %d, %d texts", fourth.status, outbox.count()-before)
			}
			// The code of the 3rd send still works.
			if app := b.submitCode(t, p, "/mfa/sms/verify", outbox.lastCode(t, annPhone), false); app.url.Path != "/inbox" {
				t.Errorf("the last code sent: at %s (%d)", app.url, app.status)
			}
			// Across sign-ins, 5 an hour: a new sign-in gets 2 more.
			b2 := e.browser(t)
			p = smsChallenge(t, e, b2)
			p = b2.submitForm(t, p, formPosting(t, p, "/mfa/sms/resend"))
			if sixth := b2.submitForm(t, p, formPosting(t, p, "/mfa/sms/resend")); sixth.status != http.StatusTooManyRequests || outbox.count() != before+5 {
				t.Errorf("a 6th send in the hour: %d, %d texts", sixth.status, outbox.count()-before)
			}
		})
	})
}

// TestSMSNotOfferedWithoutSender: a policy allowing SMS offers nothing
// where no sender is configured.
func TestSMSNotOfferedWithoutSender(t *testing.T) {
	t.Parallel()
	e := newSSOEnv(t, "bolt", "acme")
	ann := e.mfaUser(t, "acme")
	e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["sms", "totp"]}}`)
	b := e.browser(t)
	p := b.passwordStep(t, e, ann.Email, mfaPassword)
	if strings.Contains(p.body, "/mfa/sms/") || !strings.Contains(p.body, "/mfa/enroll") {
		t.Errorf("enrolment without an SMS sender:\n%s", p.body)
	}
	if refused := b.post(t, e.url("acme", "/.partnergate/mfa/sms/enroll"), nil); refused.status == http.StatusOK && strings.Contains(refused.body, "/mfa/sms/verify") {
		t.Error("an SMS enrolment went ahead without a sender")
	}
}
