package gateway_test

import (
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/store"
)

// enrolApp signs user in on b and sets up an authenticator app at the
// second step, through to the session; the policy must require MFA.
func enrolApp(t *testing.T, e *ssoEnv, b *browser, user store.User) {
	t.Helper()
	p := b.passwordStep(t, e, user.Email, mfaPassword)
	m := secretPattern.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no authenticator app setup at %s:\n%s", p.url, p.body)
	}
	codes := b.submitCode(t, p, "/mfa/enroll", code(t, m[1], e.clock.Now()), false)
	if app := b.submitForm(t, codes, formPosting(t, codes, "/mfa/continue")); b.sessionsIssued() != 1 {
		t.Fatalf("app enrolment: at %s, %d sessions", app.url, b.sessionsIssued())
	}
}

// methodsOf is the user's stored methods by id, secrets included, so two
// snapshots differ when a method was added, removed or replaced.
func methodsOf(t *testing.T, e *ssoEnv, userID string) map[string]string {
	t.Helper()
	methods, err := e.st.ListMFAMethods(context.Background(), "acme", userID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range methods {
		out[m.ID] = string(m.Kind) + ":" + string(m.Secret)
	}
	return out
}

// finishIfCodes continues past a recovery-codes page if the pending
// sign-in reached one: a session started there is what an enrolment
// gives.
func finishIfCodes(t *testing.T, e *ssoEnv, b *browser) {
	t.Helper()
	p := b.get(t, e.url("acme", "/.partnergate/mfa"))
	for _, f := range allForms(p.body) {
		if strings.HasSuffix(f.action, "/mfa/continue") {
			b.submitForm(t, p, f)
		}
	}
}

var dataCSRF = regexp.MustCompile(`data-csrf="([^"]+)"`)

const (
	registerBegin  = "/.partnergate/mfa/webauthn/register/begin"
	registerFinish = "/.partnergate/mfa/webauthn/register/finish"
)

// TestReviewEnrolmentNeedsSecondStep: whoever has only the password of a
// user with an authenticator app cannot register a security key of their
// own with the CSRF token of the challenge page: begin is refused, and
// nothing the attempt leads to adds a method, replaces the recovery codes
// or starts a session.
func TestReviewEnrolmentNeedsSecondStep(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["totp", "webauthn"]}}`)
		enrolApp(t, e, e.browser(t), ann)
		before := methodsOf(t, e, ann.ID)

		attacker := e.browser(t)
		p := attacker.passwordStep(t, e, ann.Email, mfaPassword)
		token := formPosting(t, p, "/mfa/totp").fields.Get("csrf_token")
		begun := attacker.postJSON(t, e.url("acme", registerBegin), token, "")
		if begun.status != http.StatusConflict || !strings.Contains(begun.header.Get("Content-Type"), "application/json") || !strings.Contains(begun.body, `"error"`) {
			t.Errorf("register/begin at an enrolled user's challenge: %d %s", begun.status, begun.body)
		}
		if begun.status == http.StatusOK {
			finished := attacker.postJSON(t, e.url("acme", registerFinish), token, newSoftKey(t, e, "acme").create(t, begun.body))
			t.Errorf("register/finish after it: %d %s", finished.status, finished.body)
		}
		finishIfCodes(t, e, attacker)
		if attacker.sessionsIssued() != 0 {
			t.Errorf("the attacker holds %d sessions", attacker.sessionsIssued())
		}
		if after := methodsOf(t, e, ann.ID); !maps.Equal(before, after) {
			t.Errorf("ann's methods changed: %d before, %d after", len(before), len(after))
		}
	})
}

// TestReviewEnrolmentRecheckedAtFinish: an enrolment of any kind begun
// while the user had no method is refused at its finish if another
// enrolment finished meanwhile: no second method, the other's recovery
// codes kept, no session.
func TestReviewEnrolmentRecheckedAtFinish(t *testing.T) {
	t.Parallel()
	// senders are the test's own SMS outbox and push device.
	type senders struct {
		outbox *smsOutbox
		dev    *pushDevice
	}
	type finisher func(t *testing.T, e *ssoEnv, s senders, b *browser, p page, meanwhile func()) page
	for kind, finish := range map[string]finisher{
		"authenticator app": func(t *testing.T, e *ssoEnv, _ senders, b *browser, p page, meanwhile func()) page {
			secret := secretPattern.FindStringSubmatch(p.body)[1]
			meanwhile()
			return b.submitCode(t, p, "/mfa/enroll", code(t, secret, e.clock.Now()), false)
		},
		"text message": func(t *testing.T, e *ssoEnv, s senders, b *browser, p page, meanwhile func()) page {
			f := formPosting(t, p, "/mfa/sms/enroll")
			f.fields.Set("phone", annPhone)
			p = b.submitForm(t, p, f)
			meanwhile()
			return b.submitCode(t, p, "/mfa/sms/verify", s.outbox.lastCode(t, annPhone), false)
		},
		"push": func(t *testing.T, e *ssoEnv, s senders, b *browser, p page, meanwhile func()) page {
			f := formPosting(t, p, "/mfa/push/enroll")
			f.fields.Set("device_id", "device-1")
			p = b.submitForm(t, p, f)
			if st := s.dev.answer(t, e, s.dev.last(t), pushNumber(t, p), true, s.dev.signed(e)); st != http.StatusOK {
				t.Fatalf("answer: %d", st)
			}
			meanwhile()
			return b.submitForm(t, p, formPosting(t, p, "/mfa/push/continue"))
		},
		"security key": func(t *testing.T, e *ssoEnv, _ senders, b *browser, p page, meanwhile func()) page {
			token := dataCSRF.FindStringSubmatch(p.body)[1]
			begun := b.postJSON(t, e.url("acme", registerBegin), token, "")
			if begun.status != http.StatusOK {
				t.Fatalf("register/begin: %d %s", begun.status, begun.body)
			}
			meanwhile()
			return b.postJSON(t, e.url("acme", registerFinish), token, newSoftKey(t, e, "acme").create(t, begun.body))
		},
	} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			onEachBackend(t, func(t *testing.T, backend string) {
				s := senders{outbox: new(smsOutbox), dev: newPushDevice(t)}
				e := newSSOEnv(t, backend, "acme").withSenders(t, s.outbox, s.dev.sender(t), s.dev.secret)
				ann := e.mfaUser(t, "acme")
				e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["totp", "webauthn", "sms", "push"]}}`)
				var before map[string]string
				meanwhile := func() {
					// Another sign-in of ann's enrols an app and is shown
					// its recovery codes.
					enrolApp(t, e, e.browser(t), ann)
					before = methodsOf(t, e, ann.ID)
				}
				b := e.browser(t)
				got := finish(t, e, s, b, b.passwordStep(t, e, ann.Email, mfaPassword), meanwhile)
				if got.status != http.StatusConflict {
					t.Errorf("finish after another enrolment: %d at %s", got.status, got.url)
				}
				finishIfCodes(t, e, b)
				if b.sessionsIssued() != 0 {
					t.Errorf("%d sessions", b.sessionsIssued())
				}
				if after := methodsOf(t, e, ann.ID); !maps.Equal(before, after) {
					t.Errorf("ann's methods changed: %d before, %d after", len(before), len(after))
				}
			})
		})
	}
}

// gatedAdds holds every add of a method other than recovery codes until
// n have arrived, so n enrolments reach the store together, each past
// whatever the gateway checked before its add.
type gatedAdds struct {
	gateway.MFAStore
	n    int
	mu   sync.Mutex
	seen int
	open chan struct{}
}

func newGatedAdds(n int) *gatedAdds { return &gatedAdds{n: n, open: make(chan struct{})} }

// wait blocks until n adds arrived, or long enough that they never will:
// then opened says so.
func (g *gatedAdds) wait(kind store.MFAKind) {
	if kind == store.MFARecovery {
		return
	}
	g.mu.Lock()
	if g.seen++; g.seen == g.n {
		close(g.open)
	}
	g.mu.Unlock()
	select {
	case <-g.open:
	case <-time.After(10 * time.Second):
	}
}

func (g *gatedAdds) opened() bool {
	select {
	case <-g.open:
		return true
	default:
		return false
	}
}

func (g *gatedAdds) AddMFAMethod(ctx context.Context, m store.MFAMethod) error {
	g.wait(m.Kind)
	return g.MFAStore.AddMFAMethod(ctx, m)
}

func (g *gatedAdds) AddMFAMethodIfNone(ctx context.Context, m store.MFAMethod, kinds []store.MFAKind) error {
	g.wait(m.Kind)
	return g.MFAStore.AddMFAMethodIfNone(ctx, m, kinds)
}

// TestReviewConcurrentEnrolmentsStoreOne: two sign-ins of a user without
// a method, one setting up an app and one a security key, finish at the
// same instant: both passed every check before either was stored, yet
// one method is stored, the other finish is refused, and only the
// winner's recovery codes exist.
func TestReviewConcurrentEnrolmentsStoreOne(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		gate := newGatedAdds(2)
		e := newSSOEnv(t, backend, "acme").withSenders(t, nil, nil, nil, func(c *gateway.Config) {
			gate.MFAStore = c.MFA.Store
			c.MFA.Store = gate
		})
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["totp", "webauthn"]}}`)

		app, key := e.browser(t), e.browser(t)
		appPage := app.passwordStep(t, e, ann.Email, mfaPassword)
		secret := secretPattern.FindStringSubmatch(appPage.body)
		keyPage := key.passwordStep(t, e, ann.Email, mfaPassword)
		token := dataCSRF.FindStringSubmatch(keyPage.body)
		if secret == nil || token == nil {
			t.Fatalf("no app and security key setup:\n%s\n%s", appPage.body, keyPage.body)
		}
		begun := key.postJSON(t, e.url("acme", registerBegin), token[1], "")
		if begun.status != http.StatusOK {
			t.Fatalf("register/begin: %d %s", begun.status, begun.body)
		}
		created := newSoftKey(t, e, "acme").create(t, begun.body)

		var appDone, keyDone page
		var wg sync.WaitGroup
		wg.Go(func() { appDone = app.submitCode(t, appPage, "/mfa/enroll", code(t, secret[1], e.clock.Now()), false) })
		wg.Go(func() { keyDone = key.postJSON(t, e.url("acme", registerFinish), token[1], created) })
		wg.Wait()
		if !gate.opened() {
			t.Fatal("the two enrolments did not reach the store together")
		}

		statuses := []int{appDone.status, keyDone.status}
		if slices.Sort(statuses); !slices.Equal(statuses, []int{http.StatusOK, http.StatusConflict}) {
			t.Errorf("finishes: app %d, security key %d; want one 200 and one 409", appDone.status, keyDone.status)
		}
		methods, err := e.st.ListMFAMethods(context.Background(), "acme", ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, m := range methods {
			kinds = append(kinds, string(m.Kind))
		}
		slices.Sort(kinds)
		want := []string{"recovery", "totp"}
		if keyDone.status == http.StatusOK {
			want = []string{"recovery", "webauthn"}
		}
		if !slices.Equal(kinds, want) {
			t.Errorf("ann's methods: %v, want %v", kinds, want)
		}
	})
}

// TestReviewSecurityKeyEnrolAndSignIn: the way in the refusals above
// close stays open to a user without a method: a security key is set up
// at the second step, then passes the next one, and signs in alone as a
// passkey.
func TestReviewSecurityKeyEnrolAndSignIn(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true, "methods": ["webauthn"]}}`)
		key := enrolKey(t, e, ann)

		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		token := dataCSRF.FindStringSubmatch(p.body)[1]
		begun := b.postJSON(t, e.url("acme", "/.partnergate/mfa/webauthn/login/begin"), token, "")
		passed := b.postJSON(t, e.url("acme", "/.partnergate/mfa/webauthn/login/finish"), token, key.get(t, begun.body))
		var next struct{ Next string }
		if err := json.Unmarshal([]byte(passed.body), &next); err != nil || passed.status != http.StatusOK || next.Next == "" {
			t.Fatalf("security key at the second step: %d %s", passed.status, passed.body)
		}
		if app := b.get(t, e.url("acme", next.Next)); app.url.Path != "/inbox" || b.sessionsIssued() != 1 {
			t.Fatalf("after the key: at %s, %d sessions", app.url, b.sessionsIssued())
		}

		if b := e.browser(t); passkeySignIn(t, e, b, key, nil) != http.StatusOK || b.sessionsIssued() != 1 {
			t.Fatalf("a passkey sign-in: %d sessions", b.sessionsIssued())
		}
	})
}

// enrolKey sets up a security key for user at a sign-in, through to the
// session; the policy must require MFA and allow security keys.
func enrolKey(t *testing.T, e *ssoEnv, user store.User) *softKey {
	t.Helper()
	b := e.browser(t)
	p := b.passwordStep(t, e, user.Email, mfaPassword)
	m := dataCSRF.FindStringSubmatch(p.body)
	if m == nil || !strings.Contains(p.body, `data-webauthn="register"`) {
		t.Fatalf("no security key setup at %s:\n%s", p.url, p.body)
	}
	key := newSoftKey(t, e, "acme")
	begun := b.postJSON(t, e.url("acme", registerBegin), m[1], "")
	if begun.status != http.StatusOK {
		t.Fatalf("register/begin: %d %s", begun.status, begun.body)
	}
	if done := b.postJSON(t, e.url("acme", registerFinish), m[1], key.create(t, begun.body)); done.status != http.StatusOK {
		t.Fatalf("register/finish: %d %s", done.status, done.body)
	}
	finishIfCodes(t, e, b)
	if b.sessionsIssued() != 1 {
		t.Fatalf("after the key's setup: %d sessions", b.sessionsIssued())
	}
	return key
}

// passkeySignIn signs in on b with key alone from the login page, running
// between begin and finish, and returns finish's status.
func passkeySignIn(t *testing.T, e *ssoEnv, b *browser, key *softKey, between func()) int {
	t.Helper()
	login := b.get(t, e.url("acme", "/.partnergate/login"))
	m := regexp.MustCompile(`data-begin="([^"]+)"[^>]*data-csrf="([^"]+)"`).FindStringSubmatch(login.body)
	if m == nil {
		t.Fatalf("no passkey button:\n%s", login.body)
	}
	begun := b.postJSON(t, e.url("acme", m[1]), m[2], "")
	if begun.status != http.StatusOK {
		t.Fatalf("passkey/begin: %d %s", begun.status, begun.body)
	}
	if between != nil {
		between()
	}
	finished := b.postJSON(t, e.url("acme", "/.partnergate/passkey/finish"), m[2], key.get(t, begun.body))
	if finished.status == http.StatusOK {
		b.get(t, e.url("acme", "/.partnergate/passkey/done"))
	}
	return finished.status
}

// TestReviewPasskeyFinishFollowsPolicy: a passkey sign-in begun while the
// policy allowed it is refused at its finish once the policy requires SSO
// or turns passkeys off.
func TestReviewPasskeyFinishFollowsPolicy(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		key := enrolKey(t, e, ann)
		for _, doc := range []string{`{"sso_required": true}`, `{"password": {"passwordless": "off"}}`} {
			e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
			b := e.browser(t)
			status := passkeySignIn(t, e, b, key, func() { e.setPolicy(t, "acme", doc) })
			if status != http.StatusForbidden || b.sessionsIssued() != 0 {
				t.Errorf("passkey finished after the policy became %s: %d, %d sessions", doc, status, b.sessionsIssued())
			}
		}
	})
}

// TestReviewNarrowedMethodsKeepSecondStep: a user whose only method the
// policy no longer allows still takes the second step, where an allowed
// method is offered, and the password alone starts no session.
func TestReviewNarrowedMethodsKeepSecondStep(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		e.setPolicy(t, "acme", `{"mfa": {"required": true}}`)
		enrolApp(t, e, e.browser(t), ann)
		e.setPolicy(t, "acme", `{"mfa": {"required": false, "methods": ["webauthn"]}}`)
		b := e.browser(t)
		p := b.passwordStep(t, e, ann.Email, mfaPassword)
		if !strings.HasSuffix(p.url.Path, "/.partnergate/mfa") || b.sessionsIssued() != 0 {
			t.Fatalf("after the password: at %s, %d sessions", p.url, b.sessionsIssued())
		}
		if !strings.Contains(p.body, `data-webauthn="register"`) || strings.Contains(p.body, "/mfa/totp") {
			t.Errorf("the second step does not offer a security key alone:\n%s", p.body)
		}
	})
}

// TestReviewSignInReturnsToReservedPages: a sign-in returns to the
// account page or the admin portal it was sent from, and to "/" from any
// other reserved path or a spelling of one.
func TestReviewSignInReturnsToReservedPages(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme")
		ann := e.mfaUser(t, "acme")
		signIn := func(b *browser, login page) page {
			t.Helper()
			f, ok := findForm(login.body, "password")
			if !ok {
				t.Fatalf("no login form at %s:\n%s", login.url, login.body)
			}
			f.fields.Set("email", ann.Email)
			f.fields.Set("password", mfaPassword)
			return b.submitForm(t, login, f)
		}
		b := e.browser(t)
		login := b.get(t, e.url("acme", "/.partnergate/account/security"))
		if acct := signIn(b, login); acct.url.Path != "/.partnergate/account/security" || acct.status != http.StatusOK {
			t.Errorf("signed in from the account page, at %s (%d)", acct.url, acct.status)
		}

		for returnTo, want := range map[string]string{
			"/.partnergate/admin/":                   "/.partnergate/admin/",
			"/.partnergate/admin/partners?page=2":    "/.partnergate/admin/partners?page=2",
			"/.partnergate/admin/../logout":          "/",
			"/.partnergate/admin/%2e%2e/logout":      "/",
			"/.partnergate/Admin/":                   "/",
			"/.partnergate/account/security/remove":  "/",
			"/.partnergate/account/security?x=1":     "/",
			"/.partnergate/logout":                   "/",
			"/.partnergate/admin/%252e%252e/logout/": "/",
		} {
			b := e.browser(t)
			login := b.get(t, e.url("acme", "/.partnergate/login?return_to="+url.QueryEscape(returnTo)))
			b.stop = func(*url.URL) bool { return true }
			if got := signIn(b, login); got.status != http.StatusSeeOther || got.header.Get("Location") != want {
				t.Errorf("return_to %s: %d to %q, want %q", returnTo, got.status, got.header.Get("Location"), want)
			}
		}
	})
}
