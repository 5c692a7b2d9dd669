package gateway_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/mfa/notify"
	"github.com/partnergate/partnergate/store"
)

// pushDevice is a push service and the user's device in one: a webhook
// receiver that checks the gateway's signature and keeps each request,
// and the device that answers one through its callback, signed as the
// real one signs.
type pushDevice struct {
	secret []byte
	srv    *httptest.Server

	mu   sync.Mutex
	seen []pushSeen
}

type pushSeen struct {
	Type        string `json:"type"`
	Target      string `json:"target"`
	ChallengeID string `json:"challenge_id"`
	Email       string `json:"email"`
	Choices     []int  `json:"choices"`
	CallbackURL string `json:"callback_url"`
	// Number must not be sent: the device may not know the answer.
	Number *int `json:"number"`
}

func newPushDevice(t *testing.T) *pushDevice {
	t.Helper()
	d := &pushDevice{secret: bytes.Repeat([]byte("p"), 32)}
	d.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.VerifySignature(d.secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), 0); err != nil {
			t.Errorf("push webhook: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var s pushSeen
		if err := json.Unmarshal(body, &s); err != nil || s.Type != "push" || s.Number != nil {
			t.Errorf("push webhook body %s: %v", body, err)
		}
		d.mu.Lock()
		d.seen = append(d.seen, s)
		d.mu.Unlock()
	}))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *pushDevice) sender(t *testing.T) notify.Push {
	t.Helper()
	w, err := notify.NewWebhook(notify.WebhookConfig{URL: d.srv.URL, Secret: d.secret})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (d *pushDevice) last(t *testing.T) pushSeen {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.seen) == 0 {
		t.Fatal("no push request sent")
	}
	return d.seen[len(d.seen)-1]
}

// sign makes the signature header of body at the gateway's time.
func sign(secret []byte, at time.Time, body []byte) string {
	ts := strconv.FormatInt(at.Unix(), 10)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// answer posts the device's answer to s's callback with signature (""
// for none) and returns the status.
func (d *pushDevice) answer(t *testing.T, e *ssoEnv, s pushSeen, choice int, approve bool, signature func([]byte) string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"challenge_id": s.ChallengeID, "choice": choice, "approve": approve})
	u, err := url.Parse(s.CallbackURL)
	if err != nil || u.Host != e.host("acme") || u.Path != "/.partnergate/mfa/push/answer" {
		t.Fatalf("callback URL %q", s.CallbackURL)
	}
	// The gateway says https (as behind a TLS proxy); the test server
	// speaks http.
	u.Scheme = "http"
	req, _ := http.NewRequest(http.MethodPost, u.String(), bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if signature != nil {
		req.Header.Set(notify.SignatureHeader, signature(body))
	}
	target := e.srv.Listener.Addr().String()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var dl net.Dialer
		return dl.DialContext(ctx, network, target)
	}}}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func (d *pushDevice) signed(e *ssoEnv) func([]byte) string {
	return func(b []byte) string { return sign(d.secret, e.clock.Now(), b) }
}

var pushNumberPattern = regexp.MustCompile(`class="push-number"[^>]*>(\d+)<`)

func pushNumber(t *testing.T, p page) int {
	t.Helper()
	m := pushNumberPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no number on %s:\n%s", p.url, p.body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// otherChoice is a choice the page did not show.
func otherChoice(t *testing.T, s pushSeen, number int) int {
	t.Helper()
	for _, c := range s.Choices {
		if c != number {
			return c
		}
	}
	t.Fatalf("choices %v", s.Choices)
	return 0
}

func pushStatus(t *testing.T, e *ssoEnv, b *browser) string {
	t.Helper()
	p := b.get(t, e.url("acme", "/.partnergate/mfa/push/status"))
	var v struct{ Status string }
	if err := json.Unmarshal([]byte(p.body), &v); err != nil {
		t.Fatalf("status: %d %s", p.status, p.body)
	}
	return v.Status
}

// pushChallengePage signs ann in up to the page of a sent push request.
func pushChallengePage(t *testing.T, e *ssoEnv, b *browser) page {
	t.Helper()
	p := b.passwordStep(t, e, "ann@acme.example", mfaPassword)
	p = b.submitForm(t, p, formPosting(t, p, "/mfa/push/send"))
	if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/mfa/push") {
		t.Fatalf("after Send a push request: %d at %s:\n%s", p.status, p.url, p.body)
	}
	return p
}

// TestPushEnrolThenChallenge: a device is set up at sign-in once it
// approved a request with the page's number, stored sealed; the next
// sign-in is approved the same way.
func TestPushEnrolThenChallenge(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		dev := newPushDevice(t)
		e := newSSOEnv(t, backend, "acme").withSenders(t, nil, dev.sender(t), dev.secret)
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["push"]}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		f := formPosting(t, p, "/mfa/push/enroll")
		f.fields.Set("device_id", "device-7f3a9c")
		p = b.submitForm(t, p, f)
		number := pushNumber(t, p)
		s := dev.last(t)
		if s.Target != "device-7f3a9c" || s.Email != ann.Email {
			t.Errorf("push request: %+v", s)
		}
		if got := pushStatus(t, e, b); got != "pending" {
			t.Errorf("status before the answer: %q", got)
		}
		// Continuing before the device answers changes nothing.
		if early := b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue")); early.status != http.StatusConflict || b.sessionsIssued() != 0 {
			t.Fatalf("continue before the answer: %d, %d sessions", early.status, b.sessionsIssued())
		}
		if st := dev.answer(t, e, s, number, true, dev.signed(e)); st != http.StatusOK {
			t.Fatalf("answer: %d", st)
		}
		if got := pushStatus(t, e, b); got != "approved" {
			t.Errorf("status after approval: %q", got)
		}
		codes := b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue"))
		if !strings.Contains(codes.body, "recovery codes") || b.sessionsIssued() != 0 {
			t.Fatalf("after approval: %d sessions:\n%s", b.sessionsIssued(), codes.body)
		}
		if app := b.submitForm(t, codes, formPosting(t, codes, "/mfa/continue")); app.url.Path != "/inbox" || b.sessionsIssued() != 1 {
			t.Fatalf("after the codes: at %s, %d sessions", app.url, b.sessionsIssued())
		}
		methods, err := e.st.ListMFAMethods(context.Background(), "acme", ann.ID)
		if err != nil || len(methods) != 2 {
			t.Fatalf("methods: %+v, %v", methods, err)
		}
		for _, m := range methods {
			if m.Kind == store.MFAPush && m.Name != "Push device" {
				t.Errorf("push method named %q", m.Name)
			}
			if strings.Contains(string(m.Secret), "device-7f3a9c") {
				t.Errorf("method %s stores the push target in the clear", m.Kind)
			}
		}

		b2 := e.browser(t)
		p = pushChallengePage(t, e, b2)
		if st := dev.answer(t, e, dev.last(t), pushNumber(t, p), true, dev.signed(e)); st != http.StatusOK {
			t.Fatalf("answer: %d", st)
		}
		if app := b2.submitForm(t, p, formPosting(t, p, "/mfa/push/continue")); app.url.Path != "/inbox" || b2.sessionsIssued() != 1 {
			t.Fatalf("challenge: at %s, %d sessions", app.url, b2.sessionsIssued())
		}
	})
}

// TestPushRefusals: only an approval with the page's number, signed,
// in time, of this very sign-in's request, starts a session.
func TestPushRefusals(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		dev := newPushDevice(t)
		e := newSSOEnv(t, backend, "acme").withSenders(t, nil, dev.sender(t), dev.secret)
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		e.addMethod(t, "acme", ann.ID, store.MFAPush, "Push device", map[string]string{"target": "device-1"})
		refused := func(t *testing.T, b *browser, p page) {
			t.Helper()
			got := b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue"))
			if got.status != http.StatusUnauthorized || b.sessionsIssued() != 0 {
				t.Errorf("continue: %d, %d sessions", got.status, b.sessionsIssued())
			}
		}

		t.Run("wrong number", func(t *testing.T) {
			b := e.browser(t)
			p := pushChallengePage(t, e, b)
			s := dev.last(t)
			if st := dev.answer(t, e, s, otherChoice(t, s, pushNumber(t, p)), true, dev.signed(e)); st != http.StatusOK {
				t.Fatalf("answer: %d", st)
			}
			if got := pushStatus(t, e, b); got != "denied" {
				t.Errorf("status: %q", got)
			}
			// Answered once: a second answer, now right, changes nothing.
			if st := dev.answer(t, e, s, pushNumber(t, p), true, dev.signed(e)); st != http.StatusConflict {
				t.Errorf("a second answer: %d", st)
			}
			refused(t, b, p)
		})
		t.Run("deny", func(t *testing.T) {
			b := e.browser(t)
			p := pushChallengePage(t, e, b)
			dev.answer(t, e, dev.last(t), pushNumber(t, p), false, dev.signed(e))
			refused(t, b, p)
		})
		t.Run("another sign-in's challenge", func(t *testing.T) {
			victim, attacker := e.browser(t), e.browser(t)
			pv := pushChallengePage(t, e, victim)
			sv := dev.last(t)
			pa := pushChallengePage(t, e, attacker)
			if dev.last(t).ChallengeID == sv.ChallengeID {
				t.Fatal("two sign-ins share a challenge")
			}
			// The victim approves their own request; the attacker's
			// sign-in gains nothing from it.
			dev.answer(t, e, sv, pushNumber(t, pv), true, dev.signed(e))
			if got := attacker.submitForm(t, pa, formPosting(t, pa, "/mfa/push/continue")); got.status == http.StatusOK || attacker.sessionsIssued() != 0 {
				t.Errorf("continue on another sign-in's approval: %d, %d sessions", got.status, attacker.sessionsIssued())
			}
			if app := victim.submitForm(t, pv, formPosting(t, pv, "/mfa/push/continue")); app.url.Path != "/inbox" {
				t.Errorf("the approved sign-in: at %s", app.url)
			}
			// Used up: the approved challenge does not work twice.
			if again := victim.submitForm(t, pv, formPosting(t, pv, "/mfa/push/continue")); victim.sessionsIssued() != 1 {
				t.Errorf("continue twice: %d, %d sessions", again.status, victim.sessionsIssued())
			}
		})
		t.Run("unsigned or forged", func(t *testing.T) {
			b := e.browser(t)
			p := pushChallengePage(t, e, b)
			s, number := dev.last(t), pushNumber(t, p)
			forged := bytes.Repeat([]byte("x"), 32)
			for name, sig := range map[string]func([]byte) string{
				"unsigned":     nil,
				"other secret": func(body []byte) string { return sign(forged, e.clock.Now(), body) },
				"stale":        func(body []byte) string { return sign(dev.secret, e.clock.Now().Add(-10*time.Minute), body) },
				"other body":   func([]byte) string { return sign(dev.secret, e.clock.Now(), []byte(`{}`)) },
			} {
				if st := dev.answer(t, e, s, number, true, sig); st != http.StatusUnauthorized {
					t.Errorf("%s: %d", name, st)
				}
			}
			if got := pushStatus(t, e, b); got != "pending" {
				t.Errorf("status after forged answers: %q", got)
			}
			if early := b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue")); early.status != http.StatusConflict || b.sessionsIssued() != 0 {
				t.Errorf("continue after forged answers: %d, %d sessions", early.status, b.sessionsIssued())
			}
			dev.answer(t, e, s, number, true, dev.signed(e))
			if app := b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue")); app.url.Path != "/inbox" {
				t.Errorf("the genuine approval after forged ones: at %s", app.url)
			}
		})
		t.Run("expired", func(t *testing.T) {
			b := e.browser(t)
			p := pushChallengePage(t, e, b)
			e.clock.Advance(2*time.Minute + time.Second)
			if st := dev.answer(t, e, dev.last(t), pushNumber(t, p), true, dev.signed(e)); st == http.StatusOK {
				t.Errorf("an expired request answered: %d", st)
			}
			refused(t, b, p)
		})
	})
}

// TestReviewPushAnswerOutsideAllowedRanges: a partner's allowed IP ranges
// bind its users, not the push service: a signed answer from the
// service's network approves the sign-in, an unsigned one is refused,
// and no other reserved route opens to that network.
func TestReviewPushAnswerOutsideAllowedRanges(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		dev := newPushDevice(t)
		// Requests marked as the push service's come from its network,
		// the rest from the partner's office.
		addresses := func(c *gateway.Config) {
			c.ClientIP = func(r *http.Request) string {
				if r.Header.Get("X-Test-From") == "push-service" {
					return "203.0.113.9"
				}
				return "10.1.2.3"
			}
		}
		e := newSSOEnv(t, backend, "acme").withSenders(t, nil, dev.sender(t), dev.secret, addresses)
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}, "allowed_ip_ranges": ["10.0.0.0/8"]}`)
		e.addMethod(t, "acme", ann.ID, store.MFAPush, "Push device", map[string]string{"target": "device-1"})
		b := e.browser(t)
		p := pushChallengePage(t, e, b)
		s, number := dev.last(t), pushNumber(t, p)
		service := e.browser(t)
		post := func(path string, signed bool) int {
			t.Helper()
			body, _ := json.Marshal(map[string]any{"challenge_id": s.ChallengeID, "choice": number, "approve": true})
			req, _ := http.NewRequest(http.MethodPost, e.url("acme", path), bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Test-From", "push-service")
			if signed {
				req.Header.Set(notify.SignatureHeader, sign(dev.secret, e.clock.Now(), body))
			}
			return service.do(t, req).status
		}
		if st := post("/.partnergate/mfa/push/answer", false); st != http.StatusUnauthorized {
			t.Errorf("an unsigned answer from outside the ranges: %d", st)
		}
		if st := post("/.partnergate/login", true); st != http.StatusForbidden {
			t.Errorf("the login route from outside the ranges: %d", st)
		}
		if st := post("/.partnergate/mfa/push/answer", true); st != http.StatusOK {
			t.Fatalf("a signed answer from outside the ranges: %d", st)
		}
		if app := b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue")); app.url.Path != "/inbox" || b.sessionsIssued() != 1 {
			t.Errorf("after the approval: at %s, %d sessions", app.url, b.sessionsIssued())
		}
	})
}
