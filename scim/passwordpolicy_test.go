package scim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/governance"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
)

// TestPasswordPolicy: a password a client sends meets the partner's
// effective password rule, or is refused with 400 invalidValue naming the
// rule and changing nothing; a change keeps the replaced password in the
// history, and resending the current password is no change.
func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		ctx := t.Context()
		if err := e.store.PutPolicy(ctx, "acme", store.PolicyRecord{
			Policy: json.RawMessage(`{"password": {"min_length": 14, "history": 2}}`),
		}); err != nil {
			t.Fatal(err)
		}
		src := governance.New(e.store, policy.Policy{})
		src.SetHealthy(true)
		e.h.policies = src
		acme := e.tokens["acme"]
		withPassword := func(pw string) string {
			return strings.Replace(danaJSON, `"active": true`, `"active": true, "password": "`+pw+`"`, 1)
		}
		refused := func(what string, rec *httptest.ResponseRecorder, says string) {
			t.Helper()
			body := rec.Body.String()
			if rec.Code != http.StatusBadRequest || !strings.Contains(body, `"invalidValue"`) || !strings.Contains(body, says) {
				t.Errorf("%s: %d %s, want 400 invalidValue saying %q", what, rec.Code, body, says)
			}
		}

		for _, tc := range []struct{ pw, says string }{
			{"ChickenWing101", "this password is too common; choose another"},
			{"short", "password must be at least 14 characters"},
		} {
			rec, _ := e.call(acme, "POST", "/scim/v2/acme/Users", withPassword(tc.pw))
			refused("create with "+tc.pw, rec, tc.says)
		}
		if us, err := e.store.ListUsers(ctx, "acme", store.Page{}); err != nil || len(us) != 0 {
			t.Fatalf("refused creates left users %v (%v)", us, err)
		}

		rec, created := e.call(acme, "POST", "/scim/v2/acme/Users", withPassword("first passphrase 1"))
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		id := created["id"].(string)
		u, err := e.store.GetUser(ctx, "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		first := u.PasswordHash
		if u.PasswordChangedAt.IsZero() || len(u.PasswordHistory) != 0 {
			t.Errorf("created: changed at %v, history %v", u.PasswordChangedAt, u.PasswordHistory)
		}

		// A replace resending the current password changes nothing.
		revokes := len(e.revoked.list())
		if rec, _ := e.call(acme, "PUT", "/scim/v2/acme/Users/"+id, withPassword("first passphrase 1")); rec.Code != http.StatusOK {
			t.Fatalf("replace with the same password: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(ctx, "acme", id); u.PasswordHash != first || len(e.revoked.list()) != revokes {
			t.Error("resending the current password changed it or ended sessions")
		}

		patchPassword := func(pw string) *httptest.ResponseRecorder {
			rec, _ := e.call(acme, "PATCH", "/scim/v2/acme/Users/"+id,
				`{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "password", "value": "`+pw+`"}]}`)
			return rec
		}
		if rec := patchPassword("second passphrase 2"); rec.Code != http.StatusOK {
			t.Fatalf("patch password: %d %s", rec.Code, rec.Body)
		}
		u, _ = e.store.GetUser(ctx, "acme", id)
		if ok, _ := password.Verify(u.PasswordHash, "second passphrase 2"); !ok || len(u.PasswordHistory) != 1 || u.PasswordHistory[0] != first {
			t.Errorf("after a patch: new password stored %v, history of %d", ok, len(u.PasswordHistory))
		}
		refused("patch back to the first password", patchPassword("first passphrase 1"), "password must differ from your last 2 passwords")
		rec, _ = e.call(acme, "PUT", "/scim/v2/acme/Users/"+id, withPassword("short"))
		refused("replace with a short password", rec, "password must be at least 14 characters")
		if v, _ := e.store.GetUser(ctx, "acme", id); v.PasswordHash != u.PasswordHash || len(v.PasswordHistory) != 1 {
			t.Error("a refused password changed the user")
		}
	})
}
