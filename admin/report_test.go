package admin

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/partnergate/partnergate/store"
)

func TestPolicyReport(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		for _, p := range []string{"acme", "globex", "initech"} {
			e.createPartner(p)
		}
		// acme tightens two fields; restating the baseline's methods and
		// minimum length tightens nothing.
		e.mustCall("PUT", "/api/v1/partners/acme/policy", `{"mfa": {"required": true, "methods": ["sms", "push", "totp", "webauthn"]},
			"session": {"idle_timeout": "15m"}, "password": {"min_length": 12}}`, http.StatusOK)

		// acme: two active users, one enrolled; a suspended enrolled user
		// is not counted, and recovery codes alone are no enrollment.
		enrolled := e.createUser("acme", `{"email": "enrolled@acme.example"}`)
		codesOnly := e.createUser("acme", `{"email": "codes@acme.example"}`)
		suspended := e.createUser("acme", `{"email": "suspended@acme.example", "active": false}`)
		e.addMFA("acme", enrolled, store.MFAMethod{ID: "mfa_a", Kind: store.MFATOTP, Name: "Phone", Secret: totpSeed})
		e.addMFA("acme", enrolled, store.MFAMethod{ID: "mfa_b", Kind: store.MFARecovery, Secret: recoveryState})
		e.addMFA("acme", codesOnly, store.MFAMethod{ID: "mfa_c", Kind: store.MFARecovery, Secret: recoveryState})
		e.addMFA("acme", suspended, store.MFAMethod{ID: "mfa_d", Kind: store.MFAWebAuthn, Name: "Key", Secret: webauthnState, CredentialID: credentialID})
		// initech: one of three, a share rounded to three decimals.
		for i, email := range []string{"a@initech.example", "b@initech.example", "c@initech.example"} {
			id := e.createUser("initech", `{"email": "`+email+`"}`)
			if i == 0 {
				e.addMFA("initech", id, store.MFAMethod{ID: "mfa_i", Kind: store.MFASMS, Name: "Phone ending 1234", Secret: totpSeed})
			}
		}

		body := e.mustCall("GET", "/api/v1/policy-report", "", http.StatusOK)
		var report struct {
			Baseline json.RawMessage `json:"baseline"`
			Data     json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(body, &report); err != nil {
			t.Fatal(err)
		}
		assertJSON(t, report.Data, `[
			{"partner_id": "acme", "name": "ACME", "stricter": ["mfa.required", "session.idle_timeout"], "mfa_enrolled": 1, "active_users": 2, "mfa_share": 0.5},
			{"partner_id": "globex", "name": "GLOBEX", "stricter": [], "mfa_enrolled": 0, "active_users": 0, "mfa_share": 0},
			{"partner_id": "initech", "name": "INITECH", "stricter": [], "mfa_enrolled": 1, "active_users": 3, "mfa_share": 0.333}
		]`)
		var gov struct {
			Policy json.RawMessage `json:"policy"`
		}
		e.mustJSON("GET", "/api/v1/governance", "", http.StatusOK, &gov)
		assertJSON(t, report.Baseline, string(gov.Policy))

		// A baseline tightened past acme's own value is in force, so the
		// field is no longer one where acme goes further.
		e.mustCall("PUT", "/api/v1/governance", `{"session": {"idle_timeout": "10m"}}`, http.StatusOK)
		var after struct {
			Data []struct {
				PartnerID string   `json:"partner_id"`
				Stricter  []string `json:"stricter"`
			} `json:"data"`
		}
		e.mustJSON("GET", "/api/v1/policy-report", "", http.StatusOK, &after)
		if got := after.Data[0]; got.PartnerID != "acme" || len(got.Stricter) != 1 || got.Stricter[0] != "mfa.required" {
			t.Errorf("acme after the baseline tightened: %+v", got)
		}

		// Partner admins, even of every partner listed, get 403.
		_, acme := e.newToken("acme", `{"name": "automation"}`)
		_, readOnly := e.newToken("acme", `{"name": "reporting", "read_only": true}`)
		for _, tok := range []string{acme, readOnly} {
			rec := e.do(request{method: "GET", path: "/api/v1/policy-report", auth: bearer(tok)})
			assertError(t, rec, http.StatusForbidden, "forbidden", "")
		}
		e.noLeak(string(totpSeed), string(recoveryState), string(webauthnState), credentialID)
	})
}
