package gateway_test

import (
	"context"
	"errors"
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
	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
)

const (
	newEmail    = "nina@acme.example"
	newPassword = "a brand new passphrase"
)

// invitee adds nina, an active user with no password yet, as an
// administrator creating a user before inviting them would.
func (f *fixture) invitee(t *testing.T) store.User {
	t.Helper()
	u := store.User{ID: "u-nina", PartnerID: "acme", Email: newEmail, Name: "Nina Noor", Active: true}
	if err := f.store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// issue plays the admin side: it creates a link and returns its token.
func (f *fixture) issue(t *testing.T, partnerID, userID string, purpose invite.Purpose) string {
	t.Helper()
	token, err := invite.Issue(context.Background(), f.store, partnerID, userID, purpose, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return token
}

func (f *fixture) user(t *testing.T, id string) store.User {
	t.Helper()
	u, err := f.store.GetUser(context.Background(), "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// openLink is a browser following the emailed link to host.
func (f *fixture) openLink(t *testing.T, host, token string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", "http://"+host+"/.partnergate/password?token="+url.QueryEscape(token), nil)
	r.Header.Set("Accept", "text/html")
	w, ok := f.serve(r)
	if ok {
		t.Fatal("the password page went upstream")
	}
	return w
}

// passwordBrowser is a browser holding the set-password form: its CSRF
// cookie and the form's token.
type passwordBrowser struct {
	host   string
	csrf   string
	cookie *http.Cookie
}

// openForm opens the link and fails unless it shows the form.
func (f *fixture) openForm(t *testing.T, host, token string) passwordBrowser {
	t.Helper()
	w := f.openLink(t, host, token)
	m := csrfField.FindStringSubmatch(w.Body.String())
	cookies := w.Result().Cookies()
	if w.Code != http.StatusOK || m == nil || len(cookies) != 1 {
		t.Fatalf("link on %s: status %d, CSRF token %v, cookies %v; want the form", host, w.Code, m, cookies)
	}
	return passwordBrowser{host: host, csrf: m[1], cookie: cookies[0]}
}

// submit posts the form with the given fields on top of the CSRF token.
func (f *fixture) submit(t *testing.T, b passwordBrowser, fields url.Values) *httptest.ResponseRecorder {
	t.Helper()
	form := url.Values{"csrf_token": {b.csrf}}
	for k, v := range fields {
		form[k] = v
	}
	r := httptest.NewRequest("POST", "http://"+b.host+"/.partnergate/password", strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.Header.Set("Origin", "http://"+b.host)
	r.AddCookie(b.cookie)
	w, ok := f.serve(r)
	if ok {
		t.Fatal("the password form went upstream")
	}
	return w
}

func choose(token, pw, confirm string) url.Values {
	return url.Values{"token": {token}, "password": {pw}, "password_confirm": {confirm}}
}

var tokenField = regexp.MustCompile(`<input type="hidden" name="token" value="([^"]*)">`)

// checkTokenShown fails unless the link's token appears in the page only
// as the form's hidden field (inForm) or not at all.
func checkTokenShown(t *testing.T, w *httptest.ResponseRecorder, token string, inForm bool) {
	t.Helper()
	body := w.Body.String()
	want := 0
	if inForm {
		want = 1
		if m := tokenField.FindStringSubmatch(body); m == nil || m[1] != token {
			t.Errorf("status %d: hidden token field = %v, want %q", w.Code, m, token)
		}
	}
	if got := strings.Count(body, token); got != want {
		t.Errorf("status %d: token appears %d times in the page, want %d", w.Code, got, want)
	}
	for name, v := range w.Header() {
		if strings.Contains(strings.Join(v, " "), token) {
			t.Errorf("status %d: header %s carries the token", w.Code, name)
		}
	}
}

func checkPageHeaders(t *testing.T, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Header()
	for name, want := range map[string]string{
		"Cache-Control":   "no-store",
		"Referrer-Policy": "same-origin",
		"X-Frame-Options": "DENY",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("status %d: %s = %q, want %q", w.Code, name, got, want)
		}
	}
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("status %d: Content-Security-Policy = %q", w.Code, csp)
	}
}

// TestInvitationFlow follows an invitation from the admin's link to a
// password that signs in, through the mistakes a person makes on the way.
func TestInvitationFlow(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	nina := f.invitee(t)
	token := f.issue(t, "acme", nina.ID, invite.Invitation)

	w := f.openLink(t, testHost, token)
	if w.Code != http.StatusOK {
		t.Fatalf("open link: status %d, want 200", w.Code)
	}
	checkPageHeaders(t, w)
	checkTokenShown(t, w, token, true)
	body := w.Body.String()
	for _, want := range []string{`value="` + newEmail + `"`, "Welcome to Acme Corp", `action="/.partnergate/password"`} {
		if !strings.Contains(body, want) {
			t.Errorf("form does not hold %q", want)
		}
	}
	b := f.openForm(t, testHost, token)

	for _, tc := range []struct {
		name, pw, confirm, says string
	}{
		{"mismatch", newPassword, newPassword + "!", "The passwords do not match."},
		{"too short", "short", "short", "Password must be at least 12 characters."},
		{"blank", strings.Repeat(" ", 12), strings.Repeat(" ", 12), "Password must not be only whitespace."},
	} {
		w := f.submit(t, b, choose(token, tc.pw, tc.confirm))
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: status %d, want 422", tc.name, w.Code)
		}
		if !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("%s: page does not say %q", tc.name, tc.says)
		}
		checkPageHeaders(t, w)
		checkTokenShown(t, w, token, true)
		if w := f.openLink(t, testHost, token); w.Code != http.StatusOK {
			t.Fatalf("%s used the link up: opening it again answers %d", tc.name, w.Code)
		}
		if u := f.user(t, nina.ID); u.PasswordHash != "" {
			t.Fatalf("%s set a password", tc.name)
		}
	}

	w = f.submit(t, b, choose(token, newPassword, newPassword))
	if w.Code != http.StatusOK {
		t.Fatalf("valid password: status %d, want 200:\n%s", w.Code, w.Body)
	}
	checkPageHeaders(t, w)
	checkTokenShown(t, w, token, false)
	if body := w.Body.String(); !strings.Contains(body, "Your password is set") || !strings.Contains(body, `href="/.partnergate/login"`) {
		t.Errorf("success page does not confirm and link to sign-in:\n%s", body)
	}
	u := f.user(t, nina.ID)
	if ok, err := password.Verify(u.PasswordHash, newPassword); !ok || err != nil {
		t.Fatalf("stored hash does not verify the new password: %v, %v", ok, err)
	}
	if u.InviteID != "" {
		t.Errorf("user still has a live link %q", u.InviteID)
	}

	w = f.openLink(t, testHost, token)
	if w.Code != http.StatusGone {
		t.Errorf("used link opened: status %d, want 410", w.Code)
	}
	checkPageHeaders(t, w)
	checkTokenShown(t, w, token, false)
	w = f.submit(t, b, choose(token, "another fine passphrase", "another fine passphrase"))
	if w.Code != http.StatusGone {
		t.Errorf("used link posted: status %d, want 410", w.Code)
	}
	checkTokenShown(t, w, token, false)
	if after := f.user(t, nina.ID); after.PasswordHash != u.PasswordHash {
		t.Error("a used link changed the password")
	}

	if w := f.postLogin(t, "192.0.2.9", newEmail, newPassword, false); w.Code != http.StatusSeeOther {
		t.Errorf("sign-in with the new password: status %d, want 303", w.Code)
	}
}

// TestPasswordReset: the new password ends every session, old password
// included, and lifts a lockout earned against the old one.
func TestPasswordReset(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{AccountFailures: 2, IPAttempts: 100, Window: time.Minute})
	cookie, _, err := f.sessions.Issue(context.Background(), f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		f.postLogin(t, "192.0.2.1", testEmail, "a wrong guess at it", false)
	}
	if w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false); w.Code != http.StatusTooManyRequests {
		t.Fatalf("locked account: status %d, want 429", w.Code)
	}

	token := f.issue(t, "acme", f.alice.ID, invite.PasswordReset)
	b := f.openForm(t, testHost, token)
	w := f.submit(t, b, choose(token, newPassword, newPassword))
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "signed out everywhere") {
		t.Fatalf("reset: status %d, want 200 and the sessions' end announced:\n%s", w.Code, w.Body)
	}

	if _, err := f.sessions.Lookup(context.Background(), "acme", cookie); !errors.Is(err, session.ErrNoSession) {
		t.Errorf("session from before the reset: %v, want ErrNoSession", err)
	}
	if w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false); w.Code != http.StatusUnauthorized {
		t.Errorf("old password: status %d, want 401", w.Code)
	}
	if w := f.postLogin(t, "192.0.2.1", testEmail, newPassword, false); w.Code != http.StatusSeeOther {
		t.Errorf("new password: status %d, want 303", w.Code)
	}
}

func TestNewerLinkReplacesOlder(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	nina := f.invitee(t)
	first := f.issue(t, "acme", nina.ID, invite.Invitation)
	b := f.openForm(t, testHost, first)
	second := f.issue(t, "acme", nina.ID, invite.Invitation)

	if w := f.openLink(t, testHost, first); w.Code != http.StatusGone {
		t.Errorf("replaced link opened: status %d, want 410", w.Code)
	}
	if w := f.submit(t, b, choose(first, newPassword, newPassword)); w.Code != http.StatusGone {
		t.Errorf("replaced link posted: status %d, want 410", w.Code)
	}
	if u := f.user(t, nina.ID); u.PasswordHash != "" {
		t.Fatal("a replaced link set the password")
	}
	if w := f.submit(t, b, choose(second, newPassword, newPassword)); w.Code != http.StatusOK {
		t.Errorf("newer link: status %d, want 200", w.Code)
	}
}

func TestLinkOnAnotherPartnersHost(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	ctx := context.Background()
	if err := f.store.CreatePartner(ctx, store.Partner{ID: "globex", Name: "Globex"}); err != nil {
		t.Fatal(err)
	}
	if err := f.cfg.Directory.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	hank := store.User{ID: "u-hank", PartnerID: "globex", Email: "hank@globex.example", Active: true}
	if err := f.store.CreateUser(ctx, hank); err != nil {
		t.Fatal(err)
	}
	const globexHost = "globex.apps.localhost"
	token := f.issue(t, "acme", f.alice.ID, invite.PasswordReset)

	if w := f.openLink(t, globexHost, token); w.Code != http.StatusGone {
		t.Errorf("acme's link on globex: status %d, want 410", w.Code)
	}
	// A browser holding a valid globex form posts acme's token there.
	b := f.openForm(t, globexHost, f.issue(t, "globex", hank.ID, invite.Invitation))
	if w := f.submit(t, b, choose(token, newPassword, newPassword)); w.Code != http.StatusGone {
		t.Errorf("acme's link posted on globex: status %d, want 410", w.Code)
	}
	if u := f.user(t, f.alice.ID); u.PasswordHash != f.alice.PasswordHash {
		t.Error("another partner's host changed the password")
	}
}

func TestSuspendedUsersLinkFails(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	token := f.issue(t, "acme", f.alice.ID, invite.PasswordReset)
	b := f.openForm(t, testHost, token)
	if _, err := f.store.UpdateUser(context.Background(), "acme", f.alice.ID, func(u store.User) (store.User, error) {
		u.Active = false
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if w := f.openLink(t, testHost, token); w.Code != http.StatusGone {
		t.Errorf("suspended user's link opened: status %d, want 410", w.Code)
	}
	if w := f.submit(t, b, choose(token, newPassword, newPassword)); w.Code != http.StatusGone {
		t.Errorf("suspended user's link posted: status %d, want 410", w.Code)
	}
	if u := f.user(t, f.alice.ID); u.PasswordHash != f.alice.PasswordHash {
		t.Error("a suspended user's link changed the password")
	}
}

func TestSetPasswordNeedsCSRF(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	cookie, _, err := f.sessions.Issue(context.Background(), f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	token := f.issue(t, "acme", f.alice.ID, invite.PasswordReset)
	b := f.openForm(t, testHost, token)
	other := f.openForm(t, testHost, token)

	for name, post := range map[string]func() *httptest.ResponseRecorder{
		"no CSRF token": func() *httptest.ResponseRecorder {
			nb := b
			nb.csrf = ""
			return f.submit(t, nb, choose(token, newPassword, newPassword))
		},
		"another browser's CSRF token": func() *httptest.ResponseRecorder {
			nb := b
			nb.csrf = other.csrf
			return f.submit(t, nb, choose(token, newPassword, newPassword))
		},
		"no CSRF cookie": func() *httptest.ResponseRecorder {
			form := choose(token, newPassword, newPassword)
			form.Set("csrf_token", b.csrf)
			r := httptest.NewRequest("POST", "http://"+testHost+"/.partnergate/password", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w, _ := f.serve(r)
			return w
		},
		"cross-site origin": func() *httptest.ResponseRecorder {
			form := choose(token, newPassword, newPassword)
			form.Set("csrf_token", b.csrf)
			r := httptest.NewRequest("POST", "http://"+testHost+"/.partnergate/password", strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.Header.Set("Origin", "http://evil.example")
			r.AddCookie(b.cookie)
			w, _ := f.serve(r)
			return w
		},
	} {
		w := post()
		if w.Code != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", name, w.Code)
		}
		if u := f.user(t, f.alice.ID); u.PasswordHash != f.alice.PasswordHash || u.InviteID == "" {
			t.Fatalf("%s: the password or the link changed", name)
		}
	}
	if _, err := f.sessions.Lookup(context.Background(), "acme", cookie); err != nil {
		t.Errorf("refused forms ended a session: %v", err)
	}
	if w := f.submit(t, b, choose(token, newPassword, newPassword)); w.Code != http.StatusOK {
		t.Errorf("the link no longer works after refused forms: status %d", w.Code)
	}
}

// TestLinkWorksOnce races several submissions of one link: one sets the
// password, the others find it used.
func TestLinkWorksOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	nina := f.invitee(t)
	token := f.issue(t, "acme", nina.ID, invite.Invitation)
	b := f.openForm(t, testHost, token)

	const n = 4
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pw := newPassword + " " + strconv.Itoa(i)
			codes[i] = f.submit(t, b, choose(token, pw, pw)).Code
		})
	}
	wg.Wait()
	winner := -1
	for i, c := range codes {
		switch {
		case c == http.StatusOK && winner < 0:
			winner = i
		case c != http.StatusGone:
			t.Errorf("submission %d: status %d, want one 200 and the rest 410 (all: %v)", i, c, codes)
		}
	}
	if winner < 0 {
		t.Fatalf("no submission succeeded: %v", codes)
	}
	u := f.user(t, nina.ID)
	if ok, _ := password.Verify(u.PasswordHash, newPassword+" "+strconv.Itoa(winner)); !ok {
		t.Error("the stored password is not the one the successful submission chose")
	}
}

// TestPasswordFormMinLength keeps the form's minlength in step with the
// rule the server enforces.
func TestPasswordFormMinLength(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	w := f.openLink(t, testHost, f.issue(t, "acme", f.alice.ID, invite.PasswordReset))
	m := regexp.MustCompile(`name="password" [^>]*minlength="(\d+)"`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatal("the new-password field has no minlength")
	}
	n, _ := strconv.Atoi(m[1])
	rule := password.RuleOf(policy.Default())
	if err := rule.Check(strings.Repeat("x", n-1), nil); !errors.Is(err, password.ErrTooShort) {
		t.Errorf("minlength %d: the default rule accepts %d characters (%v)", n, n-1, err)
	}
	if err := rule.Check(strings.Repeat("x", n), nil); err != nil {
		t.Errorf("minlength %d: the default rule refuses %d characters: %v", n, n, err)
	}
}

// TestPasswordLinkPolicy: the link enforces the partner's effective
// password rule (length, classes, the common list, history), says which
// rule refused, and records the replaced password in the history.
func TestPasswordLinkPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	f.withPolicy(t, `{"password":{"min_length":14,"require":["digit"],"history":2}}`)
	current, err := password.Hash("reused passphrase 1")
	if err != nil {
		t.Fatal(err)
	}
	older, err := password.Hash("older passphrase 2")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpdateUser(context.Background(), "acme", f.alice.ID, func(u store.User) (store.User, error) {
		u.PasswordHash, u.PasswordHistory = current, []string{older}
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	token := f.issue(t, "acme", f.alice.ID, invite.PasswordReset)
	w := f.openLink(t, testHost, token)
	if m := regexp.MustCompile(`name="password" [^>]*minlength="(\d+)"`).FindStringSubmatch(w.Body.String()); m == nil || m[1] != "14" {
		t.Errorf("the form's minlength is %v, want the policy's 14", m)
	}
	b := f.openForm(t, testHost, token)
	for _, tc := range []struct{ name, pw, says string }{
		{"too short", "short 1", "Password must be at least 14 characters."},
		{"no digit", "no digits in this one", "Password must include a digit."},
		{"common", "ChickenWing101", "This password is too common; choose another."},
		{"current", "reused passphrase 1", "Password must differ from your last 2 passwords."},
		{"earlier", "older passphrase 2", "Password must differ from your last 2 passwords."},
	} {
		w := f.submit(t, b, choose(token, tc.pw, tc.pw))
		if w.Code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: status %d, want 422", tc.name, w.Code)
		}
		if !strings.Contains(w.Body.String(), tc.says) {
			t.Errorf("%s: page does not say %q", tc.name, tc.says)
		}
		if w := f.openLink(t, testHost, token); w.Code != http.StatusOK {
			t.Fatalf("%s used the link up: opening it again answers %d", tc.name, w.Code)
		}
		if u := f.user(t, f.alice.ID); u.PasswordHash != current || len(u.PasswordHistory) != 1 {
			t.Fatalf("%s changed the password or its history", tc.name)
		}
	}

	before := time.Now().Add(-time.Second)
	if w := f.submit(t, b, choose(token, "fresh passphrase 3", "fresh passphrase 3")); w.Code != http.StatusOK {
		t.Fatalf("good password: status %d, want 200", w.Code)
	}
	u := f.user(t, f.alice.ID)
	if ok, _ := password.Verify(u.PasswordHash, "fresh passphrase 3"); !ok {
		t.Error("the new password was not stored")
	}
	if len(u.PasswordHistory) != 2 || u.PasswordHistory[0] != current || u.PasswordHistory[1] != older {
		t.Errorf("history = %v, want the replaced password then the older one", u.PasswordHistory)
	}
	if u.PasswordChangedAt.Before(before) {
		t.Errorf("PasswordChangedAt = %v, want the time of the change", u.PasswordChangedAt)
	}
}

// downStore fails every link lookup, as a store out of reach does.
type downStore struct{ gateway.Store }

func (downStore) GetTicket(context.Context, string, string) ([]byte, error) {
	return nil, store.ErrUnavailable
}

func TestPasswordLinkStoreUnavailable(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	token := f.issue(t, "acme", f.alice.ID, invite.PasswordReset)
	b := f.openForm(t, testHost, token)
	cfg := f.cfg
	cfg.Store = downStore{f.store}
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	for name, w := range map[string]*httptest.ResponseRecorder{
		"open":   f.openLink(t, testHost, token),
		"submit": f.submit(t, b, choose(token, newPassword, newPassword)),
	} {
		if w.Code != http.StatusServiceUnavailable || w.Header().Get("Retry-After") == "" || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: status %d, Retry-After %q, Cache-Control %q; want 503, Retry-After, no-store",
				name, w.Code, w.Header().Get("Retry-After"), w.Header().Get("Cache-Control"))
		}
		checkTokenShown(t, w, token, false)
	}
	if u := f.user(t, f.alice.ID); u.PasswordHash != f.alice.PasswordHash || u.InviteID == "" {
		t.Error("a refused request changed the user")
	}
}
