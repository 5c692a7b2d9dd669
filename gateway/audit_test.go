package gateway_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
)

// Every sign-in outcome reaches the partner's trail with who, from where
// and why; a flood of refused attempts leaves one event, not one each.
func TestSignInsAreAudited(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{AccountFailures: 2, IPAttempts: 100, Window: time.Minute})
	if w := f.postLogin(t, "192.0.2.7", testEmail, "wrong password here", false); w.Code != http.StatusUnauthorized {
		t.Fatalf("wrong password: %d", w.Code)
	}
	if w := f.postLogin(t, "192.0.2.7", "nobody@acme.example", "wrong password here", false); w.Code != http.StatusUnauthorized {
		t.Fatalf("unknown user: %d", w.Code)
	}
	if w := f.postLogin(t, "192.0.2.8", testEmail, testPassword, false); w.Code != http.StatusSeeOther {
		t.Fatalf("right password: %d", w.Code)
	}
	for range 2 {
		f.postLogin(t, "192.0.2.9", testEmail, "wrong password here", false)
	}
	for range 3 {
		if w := f.postLogin(t, "192.0.2.9", testEmail, "wrong password here", false); w.Code != http.StatusTooManyRequests {
			t.Fatalf("over the limit: %d", w.Code)
		}
	}

	page, err := f.cfg.Audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "signin"}})
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ actorID, name, outcome, reason, ip string }
	var got []row
	for i := len(page.Events) - 1; i >= 0; i-- {
		e := page.Events[i]
		got = append(got, row{e.Actor.ID, e.Actor.Name, string(e.Outcome), e.Reason, e.SourceIP})
	}
	want := []row{
		{"u-alice", testEmail, "failure", "bad_credentials", "192.0.2.7"},
		{"", "nobody@acme.example", "failure", "bad_credentials", "192.0.2.7"},
		{"u-alice", testEmail, "success", "", "192.0.2.8"},
		{"u-alice", testEmail, "failure", "bad_credentials", "192.0.2.9"},
		{"u-alice", testEmail, "failure", "bad_credentials", "192.0.2.9"},
		{"u-alice", testEmail, "failure", "rate_limited", "192.0.2.9"},
	}
	if len(got) != len(want) {
		t.Fatalf("events:\n got  %v\n want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %v, want %v", i, got[i], want[i])
		}
	}
	if v, err := f.cfg.Audit.Verify(t.Context(), "acme"); err != nil || !v.OK {
		t.Errorf("chain after sign-ins: %+v, %v", v, err)
	}
}
