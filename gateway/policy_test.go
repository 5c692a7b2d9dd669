package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/governance"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
)

// withPolicy rebuilds the fixture's gateway on the partner policy own,
// read through the governance source as in production.
func (f *fixture) withPolicy(t *testing.T, own string) *governance.Source {
	t.Helper()
	src := governance.New(f.store, policy.Policy{})
	src.SetHealthy(true)
	if own != "" {
		if err := f.store.PutPolicy(context.Background(), "acme", store.PolicyRecord{Policy: json.RawMessage(own)}); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg.Policies = src
	gw, err := gateway.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	return src
}

// TestSSORequiredRefusesPasswords: with sso_required the login page has no
// password field, and a right password posted anyway signs nobody in.
func TestSSORequiredRefusesPasswords(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	f.withPolicy(t, `{"sso_required": true}`)
	page, _ := f.serve(httptest.NewRequest("GET", "http://"+testHost+"/.partnergate/login", nil))
	if strings.Contains(page.Body.String(), `name="password"`) {
		t.Error("the login page offers a password field although SSO is required")
	}
	w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "single sign-on") || hasSessionCookie(w.Result()) {
		t.Errorf("a right password under sso_required: %d, session %v:\n%s", w.Code, hasSessionCookie(w.Result()), w.Body)
	}
}

// TestPolicyChangeTakesHoldAtOnce: a partner turning SSO-only on is in
// force at the next sign-in, once the change's event arrives.
func TestPolicyChangeTakesHoldAtOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	src := f.withPolicy(t, "")
	if w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false); w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in before the change: %d", w.Code)
	}
	if err := f.store.PutPolicy(context.Background(), "acme", store.PolicyRecord{Policy: json.RawMessage(`{"sso_required": true}`)}); err != nil {
		t.Fatal(err)
	}
	src.HandleEvent(store.Event{Kind: store.PolicyChanged, PartnerID: "acme"})
	if w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false); w.Code != http.StatusForbidden {
		t.Errorf("sign-in after the change: %d, want 403", w.Code)
	}
}

// TestAllowedIPRanges: outside the policy's ranges neither the sign-in
// page nor a live session reaches anything.
func TestAllowedIPRanges(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false)
	if w.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", w.Code)
	}
	session := sessionCookie(w.Result())
	f.withPolicy(t, `{"allowed_ip_ranges": ["10.0.0.0/8", "2001:db8::/32"]}`)
	for _, tc := range []struct {
		ip      string
		allowed bool
	}{{"10.1.2.3", true}, {"2001:db8::7", true}, {"192.0.2.1", false}, {"11.0.0.1", false}} {
		r := httptest.NewRequest("GET", "http://"+testHost+"/reports", nil)
		r.RemoteAddr = tc.ip + ":40000"
		if strings.Contains(tc.ip, ":") {
			r.RemoteAddr = "[" + tc.ip + "]:40000"
		}
		r.AddCookie(session)
		got, upstream := f.serve(r)
		if upstream != tc.allowed || (!tc.allowed && got.Code != http.StatusForbidden) {
			t.Errorf("session from %s: upstream %v, status %d", tc.ip, upstream, got.Code)
		}
		r = httptest.NewRequest("GET", "http://"+testHost+"/.partnergate/login", nil)
		r.RemoteAddr = "[" + strings.Trim(tc.ip, "[]") + "]:40000"
		if got, _ := f.serve(r); (got.Code == http.StatusOK) != tc.allowed {
			t.Errorf("login page from %s: %d", tc.ip, got.Code)
		}
	}
}

// TestLockoutFollowsPolicy: the partner's lockout threshold replaces the
// default account limit.
func TestLockoutFollowsPolicy(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	f.withPolicy(t, `{"lockout": {"threshold": 2, "duration": "1h"}}`)
	for i := range 2 {
		if w := f.postLogin(t, "192.0.2.1", testEmail, "wrong password here", false); w.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, w.Code)
		}
	}
	if w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false); w.Code != http.StatusTooManyRequests {
		t.Errorf("after 2 failures under a threshold of 2, the right password: %d, want 429", w.Code)
	}
}

// brokenPolicies cannot read any policy.
type brokenPolicies struct{}

func (brokenPolicies) Effective(context.Context, string) (policy.Policy, error) {
	return policy.Policy{}, errors.Join(store.ErrUnavailable, errors.New("connection refused"))
}

// TestPolicyUnavailableFailsClosed: when the policy cannot be read, no
// request goes through on a guess.
func TestPolicyUnavailableFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false)
	session := sessionCookie(w.Result())
	f.cfg.Policies = brokenPolicies{}
	gw, err := gateway.New(f.cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw
	r := httptest.NewRequest("GET", "http://"+testHost+"/reports", nil)
	r.AddCookie(session)
	got, upstream := f.serve(r)
	if upstream || got.Code != http.StatusServiceUnavailable || got.Header().Get("Retry-After") == "" {
		t.Errorf("with the policy unreadable: upstream %v, status %d", upstream, got.Code)
	}
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "pg_session") && c.Value != "" {
			return c
		}
	}
	return &http.Cookie{Name: "pg_session"}
}

func hasSessionCookie(resp *http.Response) bool { return sessionCookie(resp).Value != "" }

// TestPasswordMaxAge: a password older than the policy's max_age no
// longer signs in, while a right one says why only after it was right.
func TestPasswordMaxAge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	if _, err := f.store.UpdateUser(context.Background(), "acme", f.alice.ID, func(u store.User) (store.User, error) {
		u.PasswordChangedAt = time.Now().Add(-100 * 24 * time.Hour)
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	f.withPolicy(t, `{"password": {"max_age": "2160h"}}`)
	w := f.postLogin(t, "192.0.2.1", testEmail, testPassword, false)
	if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "expired") || hasSessionCookie(w.Result()) {
		t.Errorf("a 100-day-old password under a 90-day max age: %d, session %v", w.Code, hasSessionCookie(w.Result()))
	}
	if w := f.postLogin(t, "192.0.2.1", testEmail, "a wrong password here", false); strings.Contains(w.Body.String(), "expired") {
		t.Error("a wrong password learned the account's password expired")
	}
}
