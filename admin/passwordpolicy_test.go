package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/partnergate/partnergate/password"
)

// TestPasswordPolicyEnforced: passwords set through the API meet the
// partner's effective rule; a refusal is a 422 naming the rule that
// changes nothing, and a change keeps the replaced password in the
// history the policy asks for.
func TestPasswordPolicyEnforced(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	e.mustCall("PUT", "/api/v1/partners/acme/policy",
		`{"password": {"min_length": 14, "require": ["digit"], "history": 2}}`, http.StatusOK)
	users := "/api/v1/partners/acme/users"
	id := e.createUser("acme", `{"email": "alice@example.com", "password": "first passphrase 1"}`)
	pwURL := users + "/" + id + "/password"
	ctx := context.Background()
	u, err := e.store.GetUser(ctx, "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if u.PasswordChangedAt.IsZero() || len(u.PasswordHistory) != 0 {
		t.Errorf("created user: changed at %v, history %v; want the creation time and none", u.PasswordChangedAt, u.PasswordHistory)
	}
	first := u.PasswordHash

	for _, tc := range []struct {
		name, method, path, body, says string
	}{
		{"create, short", "POST", users, `{"email": "b@example.com", "password": "short 1"}`, "password must be at least 14 characters"},
		{"create, no digit", "POST", users, `{"email": "b@example.com", "password": "no digits in this one"}`, "password must include a digit"},
		{"create, common", "POST", users, `{"email": "b@example.com", "password": "ChickenWing101"}`, "this password is too common; choose another"},
		{"put, short", "PUT", pwURL, `{"password": "short 1"}`, "password must be at least 14 characters"},
		{"put, common", "PUT", pwURL, `{"password": "chickenwing101"}`, "this password is too common; choose another"},
		{"put, current", "PUT", pwURL, `{"password": "first passphrase 1"}`, "password must differ from your last 2 passwords"},
		{"patch, current", "PATCH", users + "/" + id, `{"password": "first passphrase 1"}`, "password must differ from your last 2 passwords"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			e.unchanged(func() { rec = e.call(tc.method, tc.path, tc.body) })
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "password")
			var body struct {
				Error struct{ Message string } `json:"error"`
			}
			_ = json.Unmarshal(rec.Body.Bytes(), &body)
			if body.Error.Message != tc.says {
				t.Errorf("message %q, want %q", body.Error.Message, tc.says)
			}
		})
	}

	e.mustCall("PUT", pwURL, `{"password": "second passphrase 2"}`, http.StatusNoContent)
	e.mustCall("PATCH", users+"/"+id, `{"password": "third passphrase 3"}`, http.StatusOK)
	u, err = e.store.GetUser(ctx, "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := password.Verify(u.PasswordHash, "third passphrase 3"); !ok {
		t.Error("the last password set is not stored")
	}
	if len(u.PasswordHistory) != 2 || u.PasswordHistory[1] != first {
		t.Fatalf("history holds %d entries, want the 2 replaced ones, newest first", len(u.PasswordHistory))
	}
	// The first password is now third in line: history 2 lets it back.
	rec := e.call("PUT", pwURL, `{"password": "second passphrase 2"}`)
	assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "password")
	e.mustCall("PUT", pwURL, `{"password": "first passphrase 1"}`, http.StatusNoContent)
	e.noLeak("first passphrase 1", "second passphrase 2", "third passphrase 3")
}
