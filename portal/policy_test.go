package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// ownPolicy is the partner's own policy as the API stores it.
func (e *env) ownPolicy(partnerID string) string {
	e.t.Helper()
	var p struct {
		Policy json.RawMessage `json:"policy"`
	}
	e.apiJSON("GET", "/api/v1/partners/"+partnerID+"/policy", nil, &p)
	return string(p.Policy)
}

func TestPolicyEditor(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		page := b.get("/policy")
		for _, want := range []string{"Security policy", `placeholder="baseline: 12"`, "Platform baseline (Optional)", "Platform limit: <strong>12h</strong>", "Lockout threshold", "Allowed IP ranges", "You have not set a policy of your own"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("editor lacks %q", want)
			}
		}
		res := b.form("/policy", "/policy", url.Values{
			"mfa.required": {"true"}, "password.min_length": {"16"}, "session.idle_timeout": {"30m"},
			"mfa.methods.mode": {"set"}, "mfa.methods": {"webauthn", "totp"},
		})
		if res.status != http.StatusSeeOther {
			t.Fatalf("save: %d\n%s", res.status, res.body)
		}
		want := `{"mfa":{"required":true,"methods":["webauthn","totp"]},"session":{"idle_timeout":"30m0s"},"password":{"min_length":16}}`
		if got := e.ownPolicy("acme"); got != want {
			t.Errorf("stored %s, want %s", got, want)
		}
		page = b.get("/policy?done=policy_saved")
		for _, want := range []string{"Security policy saved.", `value="16"`, `value="30m"`, "Custom policy", "In force: <strong>Required</strong>", "Reset to the platform baseline"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("saved editor lacks %q", want)
			}
		}
		if res := b.form("/policy", "/policy/reset", nil); res.status != http.StatusSeeOther {
			t.Fatalf("reset: %d\n%s", res.status, res.body)
		}
		if got := e.ownPolicy("acme"); got != "{}" {
			t.Errorf("after reset: %s", got)
		}
	})
}

func TestPolicyLooseningIsRefused(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.apiJSON("PUT", "/api/v1/partners/acme/policy", map[string]any{"password": map[string]any{"min_length": 14}}, nil)
		before := e.ownPolicy("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		res := b.form("/policy", "/policy", url.Values{"password.min_length": {"8"}, "session.max_lifetime": {"24h"}})
		if res.status != http.StatusUnprocessableEntity {
			t.Fatalf("loosening: %d\n%s", res.status, res.body)
		}
		for _, want := range []string{
			"You asked 8; the platform's limit is 12.",
			"You asked 24h; the platform's limit is 12h.",
			"a partner may only raise the minimum length",
			`value="8"`, `value="24h"`,
		} {
			if !strings.Contains(res.body, want) {
				t.Errorf("refusal lacks %q\n%s", want, res.body)
			}
		}
		if after := e.ownPolicy("acme"); after != before {
			t.Errorf("a refused write changed the policy: %s", after)
		}
		// A value the API cannot read is its refusal too.
		res = b.form("/policy", "/policy", url.Values{"session.idle_timeout": {"soon"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "is not a duration") {
			t.Errorf("bad duration: %d\n%s", res.status, res.body)
		}
	})
}

func TestPolicyForgedCSRF(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	if res := b.post("/policy", url.Values{"csrf": {"forged"}, "password.min_length": {"20"}}); res.status != http.StatusForbidden {
		t.Errorf("forged csrf: %d", res.status)
	}
	if got := e.ownPolicy("acme"); got != "{}" {
		t.Errorf("policy changed: %s", got)
	}
}
