package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/store"
)

const (
	alicePassword = "alice's long secret"
	newPassword   = "a brand new passphrase"
)

var userIDPattern = regexp.MustCompile(`^u_[a-z2-7]{20}$`)

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	ctx := context.Background()

	assertJSON(t, e.mustCall("GET", "/api/v1/partners/acme/users", "", http.StatusOK), `{"data": [], "next_cursor": null}`)

	rec := e.call("POST", "/api/v1/partners/acme/users",
		`{"email": "Alice@Example.com", "name": "Alice Doe", "password": "`+alicePassword+`"}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", rec.Code, rec.Body)
	}
	assertHeaders(t, rec)
	var created struct{ ID string }
	_ = json.Unmarshal(rec.Body.Bytes(), &created)
	id := created.ID
	if !userIDPattern.MatchString(id) {
		t.Errorf("user id %q does not match %v", id, userIDPattern)
	}
	if got, want := rec.Header().Get("Location"), "/api/v1/partners/acme/users/"+id; got != want {
		t.Errorf("Location = %q, want %q", got, want)
	}
	alice := fmt.Sprintf(`{"id": %q, "email": "Alice@Example.com", "name": "Alice Doe", "active": true,
		"status": "active", "groups": [], "created_at": %q, "updated_at": %q}`, id, testTime, testTime)
	assertJSON(t, rec.Body.Bytes(), alice)
	assertJSON(t, e.mustCall("GET", "/api/v1/partners/acme/users/"+id, "", http.StatusOK), alice)

	stored, err := e.store.GetUser(ctx, "acme", id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := password.Verify(stored.PasswordHash, alicePassword); !ok || err != nil {
		t.Errorf("stored hash does not verify: %v, %v", ok, err)
	}

	// No password, inactive: a user who will sign in through SSO later.
	bob := e.createUser("acme", `{"email": "bob@example.com", "active": false}`)
	if u, _ := e.store.GetUser(ctx, "acme", bob); u.PasswordHash != "" || u.Active || u.Name != "" {
		t.Errorf("bob stored as %+v", u)
	}
	var list listJSON[userJSON]
	_ = json.Unmarshal(e.mustCall("GET", "/api/v1/partners/acme/users", "", http.StatusOK), &list)
	if len(list.Data) != 2 || list.Data[0].ID > list.Data[1].ID {
		t.Errorf("list = %+v, want both users ordered by id", list.Data)
	}

	e.clock.Advance(time.Hour)
	later := t0.Add(time.Hour).Format(time.RFC3339Nano)
	assertJSON(t, e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id,
		`{"email": "alice@new.example", "name": "Alice D.", "password": "`+newPassword+`"}`, http.StatusOK),
		fmt.Sprintf(`{"id": %q, "email": "alice@new.example", "name": "Alice D.", "active": true,
		"status": "active", "groups": [], "created_at": %q, "updated_at": %q}`, id, testTime, later))
	stored, _ = e.store.GetUser(ctx, "acme", id)
	if ok, _ := password.Verify(stored.PasswordHash, newPassword); !ok {
		t.Errorf("new password does not verify")
	}
	// A password change ends the sessions the old password opened.
	if got, want := e.revoker.revoked(), []revocation{{"acme", id}}; !reflect.DeepEqual(got, want) {
		t.Errorf("after a password change revoked %v, want %v", got, want)
	}
	e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id, `{"name": "Alice"}`, http.StatusOK)
	if got := e.revoker.revoked(); len(got) != 1 {
		t.Errorf("a name change revoked sessions: %v", got)
	}

	// Merge-patch null clears the name and the password, ending sessions.
	e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id, `{"name": null, "password": null}`, http.StatusOK)
	if stored, _ = e.store.GetUser(ctx, "acme", id); stored.PasswordHash != "" || stored.Name != "" {
		t.Errorf("after null patch: %+v", stored)
	}
	if got := e.revoker.revoked(); len(got) != 2 {
		t.Errorf("clearing the password revoked %d times in all, want 2", len(got))
	}

	// Deactivation ends sessions; so does repeating it.
	e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id, `{"active": false}`, http.StatusOK)
	e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id, `{"active": false}`, http.StatusOK)
	e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id, `{"active": true}`, http.StatusOK)
	if got, want := e.revoker.revoked(), slices.Repeat([]revocation{{"acme", id}}, 4); !reflect.DeepEqual(got, want) {
		t.Errorf("revoked %v, want %v", got, want)
	}

	rec = e.call("DELETE", "/api/v1/partners/acme/users/"+id, "")
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("delete = %d %q", rec.Code, rec.Body)
	}
	if got := e.revoker.revoked(); len(got) != 5 || got[4] != (revocation{"acme", id}) {
		t.Errorf("delete did not revoke: %v", got)
	}
	assertError(t, e.call("GET", "/api/v1/partners/acme/users/"+id, ""), http.StatusNotFound, "not_found", "")
	// The email is free again.
	e.createUser("acme", `{"email": "ALICE@new.example"}`)

	var userEvents []store.Event
	for _, ev := range e.store.published() {
		if ev.Kind == store.UserChanged {
			userEvents = append(userEvents, ev)
		}
	}
	changed := store.Event{Kind: store.UserChanged, PartnerID: "acme", ID: id}
	// Six PATCHes, then the delete's deactivation and removal.
	want := slices.Repeat([]store.Event{changed}, 8)
	if !reflect.DeepEqual(userEvents, want) {
		t.Errorf("user events %v, want %v", userEvents, want)
	}
	e.noLeak(alicePassword, newPassword, "argon2id")
}

func TestUserErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	e.createPartner("beta")
	alice := e.createUser("acme", `{"email": "alice@example.com", "password": "`+alicePassword+`"}`)
	e.createUser("acme", `{"email": "bob@example.com"}`)
	betaUser := e.createUser("beta", `{"email": "carol@example.com"}`)
	acmeUsers := "/api/v1/partners/acme/users"
	aliceURL := acmeUsers + "/" + alice

	tests := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
	}{
		// 401 comes before everything, even a bad body or route.
		{"no key", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com"}`, auth: []string{}}, 401, "unauthorized", ""},
		{"bad key, bad body", request{method: "POST", path: acmeUsers, body: `{`, auth: []string{"Bearer nope"}}, 401, "unauthorized", ""},
		// 400.
		{"client id", request{method: "POST", path: acmeUsers, body: `{"id": "u_mine", "email": "x@example.com"}`}, 400, "read_only_field", "id"},
		{"partner_id", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "partner_id": "beta"}`}, 400, "unknown_field", "partner_id"},
		{"password_hash", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "password_hash": "$argon2id$"}`}, 400, "unknown_field", "password_hash"},
		{"case-folded password", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "Password": "` + newPassword + `"}`}, 400, "unknown_field", "Password"},
		{"active string", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "active": "yes"}`}, 400, "invalid_type", "active"},
		{"email number", request{method: "POST", path: acmeUsers, body: `{"email": 1}`}, 400, "invalid_type", "email"},
		{"password number", request{method: "PATCH", path: aliceURL, body: `{"password": 123456789012}`}, 400, "invalid_type", "password"},
		{"patch id", request{method: "PATCH", path: aliceURL, body: `{"id": "u_other"}`}, 400, "read_only_field", "id"},
		{"patch created_at", request{method: "PATCH", path: aliceURL, body: `{"created_at": "2020-01-01T00:00:00Z"}`}, 400, "read_only_field", "created_at"},
		{"malformed", request{method: "PATCH", path: aliceURL, body: `{"active": fals}`}, 400, "invalid_json", ""},
		{"too large", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "name": "` + strings.Repeat("n", 65<<10) + `"}`}, 413, "body_too_large", ""},
		// 409.
		{"email taken", request{method: "POST", path: acmeUsers, body: `{"email": "alice@example.com"}`}, 409, "conflict", "email"},
		{"email taken, other case", request{method: "POST", path: acmeUsers, body: `{"email": "ALICE@Example.COM"}`}, 409, "conflict", "email"},
		{"patch to taken email", request{method: "PATCH", path: aliceURL, body: `{"email": "Bob@example.com"}`}, 409, "conflict", "email"},
		// 422.
		{"email missing", request{method: "POST", path: acmeUsers, body: `{"name": "X"}`}, 422, "validation_failed", "email"},
		{"email null", request{method: "POST", path: acmeUsers, body: `{"email": null}`}, 422, "validation_failed", "email"},
		{"email not an address", request{method: "POST", path: acmeUsers, body: `{"email": "not-an-email"}`}, 422, "validation_failed", "email"},
		{"email display name", request{method: "POST", path: acmeUsers, body: `{"email": "Eve <eve@example.com>"}`}, 422, "validation_failed", "email"},
		{"email angle brackets", request{method: "POST", path: acmeUsers, body: `{"email": "<eve@example.com>"}`}, 422, "validation_failed", "email"},
		{"email list", request{method: "POST", path: acmeUsers, body: `{"email": "eve@example.com, mallory@example.com"}`}, 422, "validation_failed", "email"},
		{"email spaces", request{method: "POST", path: acmeUsers, body: `{"email": " eve@example.com"}`}, 422, "validation_failed", "email"},
		{"email too long", request{method: "POST", path: acmeUsers, body: `{"email": "` + strings.Repeat("e", 250) + `@x.com"}`}, 422, "validation_failed", "email"},
		{"password short", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "password": "short"}`}, 422, "validation_failed", "password"},
		{"password blank", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "password": "              "}`}, 422, "validation_failed", "password"},
		{"password too long", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "password": "` + strings.Repeat("p", 1025) + `"}`}, 422, "validation_failed", "password"},
		{"name too long", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "name": "` + strings.Repeat("n", 201) + `"}`}, 422, "validation_failed", "name"},
		{"name control", request{method: "POST", path: acmeUsers, body: `{"email": "x@example.com", "name": "a\u0007"}`}, 422, "validation_failed", "name"},
		{"patch email null", request{method: "PATCH", path: aliceURL, body: `{"email": null}`}, 422, "validation_failed", "email"},
		{"patch active null", request{method: "PATCH", path: aliceURL, body: `{"active": null}`}, 422, "validation_failed", "active"},
		{"patch password short", request{method: "PATCH", path: aliceURL, body: `{"password": "tiny"}`}, 422, "validation_failed", "password"},
		// 404.
		{"list, unknown partner", request{method: "GET", path: "/api/v1/partners/nope/users"}, 404, "not_found", ""},
		{"create, unknown partner", request{method: "POST", path: "/api/v1/partners/nope/users", body: `{"email": "x@example.com"}`}, 404, "not_found", ""},
		{"unknown user", request{method: "GET", path: acmeUsers + "/u_aaaaaaaaaaaaaaaaaaaa"}, 404, "not_found", ""},
		{"patch unknown user", request{method: "PATCH", path: acmeUsers + "/u_aaaaaaaaaaaaaaaaaaaa", body: `{"name": "X"}`}, 404, "not_found", ""},
		{"delete unknown user", request{method: "DELETE", path: acmeUsers + "/u_aaaaaaaaaaaaaaaaaaaa"}, 404, "not_found", ""},
		{"acme user under beta", request{method: "GET", path: "/api/v1/partners/beta/users/" + alice}, 404, "not_found", ""},
		{"patch acme user under beta", request{method: "PATCH", path: "/api/v1/partners/beta/users/" + alice, body: `{"active": false}`}, 404, "not_found", ""},
		{"delete acme user under beta", request{method: "DELETE", path: "/api/v1/partners/beta/users/" + alice}, 404, "not_found", ""},
		{"beta user under acme", request{method: "DELETE", path: acmeUsers + "/" + betaUser}, 404, "not_found", ""},
		{"user of unknown partner", request{method: "GET", path: "/api/v1/partners/nope/users/" + alice}, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rec *httptest.ResponseRecorder
			e.unchanged(func() { rec = e.do(tt.req) })
			assertError(t, rec, tt.status, tt.code, tt.field)
		})
	}
	e.noLeak(alicePassword, newPassword, "argon2id")
}

func TestRevocationFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("deactivate", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@example.com"}`)
		e.revoker.failWith(fmt.Errorf("redis down: %w", store.ErrUnavailable))
		rec := e.call("PATCH", "/api/v1/partners/acme/users/"+id, `{"active": false}`)
		assertError(t, rec, http.StatusServiceUnavailable, "revocation_failed", "")
		if rec.Header().Get("Retry-After") == "" {
			t.Errorf("503 without Retry-After")
		}
		// The safe half stays done; repeating the request finishes it.
		if u, _ := e.store.GetUser(ctx, "acme", id); u.Active {
			t.Errorf("user still active after failed revocation")
		}
		e.revoker.failWith(nil)
		e.mustCall("PATCH", "/api/v1/partners/acme/users/"+id, `{"active": false}`, http.StatusOK)
		if got := e.revoker.revoked(); len(got) != 1 {
			t.Errorf("retry revoked %v", got)
		}
	})

	t.Run("delete user", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@example.com"}`)
		e.revoker.failWith(errBroken)
		assertError(t, e.call("DELETE", "/api/v1/partners/acme/users/"+id, ""), http.StatusInternalServerError, "revocation_failed", "")
		u, err := e.store.GetUser(ctx, "acme", id)
		if err != nil || u.Active {
			t.Errorf("user after failed delete: %+v, %v; want kept and inactive", u, err)
		}
	})

	t.Run("delete partner", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		e.createPartner("acme")
		e.createUser("acme", `{"email": "a@example.com"}`)
		e.revoker.failWith(errBroken)
		e.unchanged(func() {
			assertError(t, e.call("DELETE", "/api/v1/partners/acme", ""), http.StatusInternalServerError, "revocation_failed", "")
		})
	})
}
