package admin

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/policy"
)

type errorBody struct {
	Error struct {
		Code    string
		Field   string
		Details []problem
	}
}

// TestPartnerPolicyTightensOnly: a partner admin sets a stricter policy;
// one looser on any field is refused whole, naming each field with the
// value asked and the platform's limit, and nothing changes.
func TestPartnerPolicyTightensOnly(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		_, token := e.newToken("acme", `{"name": "it"}`)
		as := func(method, path, body string) []byte {
			rec := e.do(request{method: method, path: path, body: body, auth: []string{"Bearer " + token}})
			if rec.Code >= 300 {
				t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
			}
			return rec.Body.Bytes()
		}
		pol := "/api/v1/partners/acme/policy"
		as("PUT", pol, `{"mfa": {"required": true, "methods": ["webauthn", "totp"]}, "session": {"max_lifetime": "4h"}, "password": {"min_length": 16}, "sso_required": true}`)
		var eff effectiveJSON
		if err := json.Unmarshal(as("GET", pol+"/effective", ""), &eff); err != nil {
			t.Fatal(err)
		}
		if !eff.Effective.MFARequired() || !slices.Equal(eff.Effective.MFAMethods(), []policy.Method{policy.WebAuthn, policy.TOTP}) ||
			eff.Effective.MaxLifetime().Hours() != 4 || eff.Effective.MinLength() != 16 || !eff.Effective.SSOIsRequired() ||
			eff.Effective.IdleTimeout().Hours() != 1 || len(eff.Overridden) != 0 {
			t.Errorf("effective policy %+v, overridden %v", eff.Effective, eff.Overridden)
		}

		e.unchanged(func() {
			rec := e.do(request{method: "PUT", path: pol, auth: []string{"Bearer " + token},
				body: `{"mfa": {"methods": ["webauthn", "totp", "carrier-pigeon"]}}`})
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "mfa.methods")
			rec = e.do(request{method: "PUT", path: pol, auth: []string{"Bearer " + token},
				body: `{"session": {"max_lifetime": "24h"}, "password": {"min_length": 8}, "lockout": {"threshold": 0}}`})
			var body errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusUnprocessableEntity || body.Error.Code != "policy_loosens_baseline" {
				t.Fatalf("loosening: %d %s", rec.Code, rec.Body)
			}
			want := map[string][2]string{
				"session.max_lifetime": {`"24h0m0s"`, `"12h0m0s"`},
				"password.min_length":  {"8", "12"},
				"lockout.threshold":    {"0", "5"},
			}
			if len(body.Error.Details) != len(want) {
				t.Errorf("details %+v, want one per loosened field", body.Error.Details)
			}
			for _, d := range body.Error.Details {
				if w, ok := want[d.Field]; !ok || d.Asked != w[0] || d.Limit != w[1] || d.Message == "" {
					t.Errorf("detail %+v, want asked %s and limit %s", d, w[0], w[1])
				}
			}
			assertError(t, e.do(request{method: "PUT", path: pol, auth: []string{"Bearer " + token}, body: `{"mfa": {"required": "yes"}}`}),
				http.StatusBadRequest, "invalid_type", "mfa.required")
			assertError(t, e.do(request{method: "PUT", path: pol, auth: []string{"Bearer " + token}, body: `{"mfa": {"requried": true}}`}),
				http.StatusBadRequest, "unknown_field", "requried")
			assertError(t, e.do(request{method: "PUT", path: "/api/v1/governance", auth: []string{"Bearer " + token}, body: `{}`}),
				http.StatusForbidden, "forbidden", "")
		})

		// The trail names what changed.
		trail := string(e.mustCall("GET", "/api/v1/partners/acme/audit?action=policy.update", "", http.StatusOK))
		if !strings.Contains(trail, "session.max_lifetime") || !strings.Contains(trail, "sso_required") {
			t.Errorf("audit of the policy change: %s", trail)
		}
	})
}

// TestBaselineTightenedLater: an operator tightening the baseline under a
// partner's stored policy puts the baseline in force and says which
// fields it overrode; the partner's own values stay stored.
func TestBaselineTightenedLater(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		pol := "/api/v1/partners/acme/policy"
		e.mustCall("PUT", pol, `{"session": {"max_lifetime": "8h", "idle_timeout": "10m"}}`, http.StatusOK)
		var gov governanceJSON
		e.mustJSON("PUT", "/api/v1/governance", `{"session": {"max_lifetime": "2h"}, "sso_required": true}`, http.StatusOK, &gov)
		if gov.Source != "operator" || gov.Policy.MaxLifetime().Hours() != 2 || gov.Policy.MinLength() != 12 {
			t.Errorf("governance after PUT: %+v", gov)
		}
		var eff effectiveJSON
		e.mustJSON("GET", pol+"/effective", "", http.StatusOK, &eff)
		if !slices.Equal(eff.Overridden, []string{"session.max_lifetime"}) || eff.Effective.MaxLifetime().Hours() != 2 ||
			eff.Effective.IdleTimeout().Minutes() != 10 || !eff.Effective.SSOIsRequired() {
			t.Errorf("effective %+v, overridden %v", eff.Effective, eff.Overridden)
		}
		var own policyJSON
		e.mustJSON("GET", pol, "", http.StatusOK, &own)
		if own.Policy.MaxLifetime().Hours() != 8 {
			t.Errorf("the partner's own value was rewritten: %+v", own.Policy)
		}
		e.mustCall("DELETE", pol, "", http.StatusNoContent)
		e.mustJSON("GET", pol+"/effective", "", http.StatusOK, &eff)
		if eff.Effective.IdleTimeout().Hours() != 1 || len(eff.Overridden) != 0 {
			t.Errorf("after reset: %+v %v", eff.Effective, eff.Overridden)
		}
	})
}
