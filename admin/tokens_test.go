package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var tokenPattern = regexp.MustCompile(`^pgat\.acme\.(t_[a-z2-7]{20})\.([A-Za-z0-9_-]{43})$`)

// TestAdminTokenLifecycle follows one admin token from creation to
// revocation: the secret is shown once and stored only as a hash, it
// reaches its own partner for reads and writes, and revoking it locks it
// out at once.
func TestAdminTokenLifecycle(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		tokens := "/api/v1/partners/acme/admin-tokens"

		rec := e.call("POST", tokens, `{"name": "automation"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		assertHeaders(t, rec)
		created := decodeAs[map[string]any](t, rec.Body.Bytes())
		secret, _ := created["token"].(string)
		m := tokenPattern.FindStringSubmatch(secret)
		if m == nil {
			t.Fatalf("token %q does not read pgat.acme.<id>.<secret>", secret)
		}
		id := created["id"].(string)
		if m[1] != id {
			t.Errorf("token names id %q, response id %q", m[1], id)
		}
		if got, want := rec.Header().Get("Location"), tokens+"/"+id; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		want := fmt.Sprintf(`{"id": %q, "name": "automation", "read_only": false, "created_by": "operator:ops",
			"created_at": %q, "expires_at": null, "expired": false}`, id, testTime)
		delete(created, "token")
		b, _ := json.Marshal(created)
		assertJSON(t, b, want)

		// Only the secret's SHA-256 is kept: a copy of the store
		// cannot be replayed as a credential.
		stored, err := e.store.GetToken(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(m[2]))
		if stored.SecretHash != hex.EncodeToString(sum[:]) || stored.Kind != store.AdminToken {
			t.Errorf("stored token %+v, want kind admin and the secret's SHA-256 hex", stored)
		}
		if raw, _ := json.Marshal(stored); strings.Contains(string(raw), m[2]) {
			t.Errorf("the stored token holds the secret: %s", raw)
		}

		// Reading the token back never shows the secret again.
		for _, path := range []string{tokens, tokens + "/" + id} {
			body := e.mustCall("GET", path, "", http.StatusOK)
			if strings.Contains(string(body), m[2]) || strings.Contains(string(body), `"token"`) {
				t.Errorf("GET %s shows the secret: %s", path, body)
			}
		}
		assertJSON(t, e.mustCall("GET", tokens+"/"+id, "", http.StatusOK), want)
		assertJSON(t, e.mustCall("GET", tokens, "", http.StatusOK), `{"data": [`+want+`]}`)

		// The token reads and writes its own partner...
		auth := bearer(secret)
		if rec := e.do(request{method: "GET", path: "/api/v1/partners/acme/users", auth: auth}); rec.Code != http.StatusOK {
			t.Errorf("token read = %d %s", rec.Code, rec.Body)
		}
		rec = e.do(request{method: "POST", path: "/api/v1/partners/acme/users", body: `{"email": "made@acme.example"}`, auth: auth})
		if rec.Code != http.StatusCreated {
			t.Errorf("token write = %d %s", rec.Code, rec.Body)
		}
		assertJSON(t, e.do(request{method: "GET", path: "/api/v1/me", auth: auth}).Body.Bytes(),
			`{"kind": "admin_token", "name": "automation", "partner_id": "acme", "read_only": false}`)
		// ...and nothing else.
		e.unchanged(func() {
			assertError(t, e.do(request{method: "GET", path: "/api/v1/partners/globex/users", auth: auth}), http.StatusNotFound, "not_found", "")
			assertError(t, e.do(request{method: "POST", path: "/api/v1/partners/globex/users", body: `{"email": "x@globex.example"}`, auth: auth}), http.StatusNotFound, "not_found", "")
			assertError(t, e.do(request{method: "GET", path: "/api/v1/partners", auth: auth}), http.StatusForbidden, "forbidden", "")
		})

		// Revocation takes effect on the very next request.
		rec = e.call("DELETE", tokens+"/"+id, "")
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("revoke = %d %s", rec.Code, rec.Body)
		}
		assertError(t, e.do(request{method: "GET", path: "/api/v1/partners/acme/users", auth: auth}), http.StatusUnauthorized, "unauthorized", "")
		assertError(t, e.call("GET", tokens+"/"+id, ""), http.StatusNotFound, "not_found", "")
		assertError(t, e.call("DELETE", tokens+"/"+id, ""), http.StatusNotFound, "not_found", "")
		assertJSON(t, e.mustCall("GET", tokens, "", http.StatusOK), `{"data": []}`)
	})
}

// TestReadOnlyToken checks a read-only token reads everything of its
// partner and is refused every write with read_only_token.
func TestReadOnlyToken(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		user := e.createUser("acme", `{"email": "a@acme.example"}`)
		var tok struct {
			ID       string
			Token    string
			ReadOnly bool `json:"read_only"`
		}
		e.mustJSON("POST", "/api/v1/partners/acme/admin-tokens", `{"name": "reporting", "read_only": true}`, http.StatusCreated, &tok)
		if !tok.ReadOnly {
			t.Errorf("created token is not marked read-only")
		}
		auth := bearer(tok.Token)
		for _, path := range []string{"/api/v1/me", "/api/v1/partners/acme", "/api/v1/partners/acme/users", "/api/v1/partners/acme/users/" + user, "/api/v1/partners/acme/admin-tokens", "/api/v1/partners/acme/audit"} {
			if rec := e.do(request{method: "GET", path: path, auth: auth}); rec.Code != http.StatusOK {
				t.Errorf("GET %s with a read-only token = %d %s", path, rec.Code, rec.Body)
			}
		}
		writes := []request{
			{method: "POST", path: "/api/v1/partners/acme/users", body: `{"email": "new@acme.example"}`},
			{method: "PATCH", path: "/api/v1/partners/acme/users/" + user, body: `{"name": "Renamed"}`},
			{method: "DELETE", path: "/api/v1/partners/acme/users/" + user},
			{method: "POST", path: "/api/v1/partners/acme/admin-tokens", body: `{"name": "escalate"}`},
			{method: "DELETE", path: "/api/v1/partners/acme/admin-tokens/" + tok.ID},
		}
		for _, req := range writes {
			req.auth = auth
			e.unchanged(func() {
				assertError(t, e.do(req), http.StatusForbidden, "read_only_token", "")
			})
		}
	})
}

// TestTokenExpiry checks a token with an expiry works until then and is
// refused with token_expired after, while listings flag it.
func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		expires := e.clock.Now().Add(time.Hour).UTC()
		var tok struct {
			ID, Token string
			ExpiresAt time.Time `json:"expires_at"`
		}
		e.mustJSON("POST", "/api/v1/partners/acme/admin-tokens",
			`{"name": "short-lived", "expires_at": "`+expires.Format(time.RFC3339Nano)+`"}`, http.StatusCreated, &tok)
		if !tok.ExpiresAt.Equal(expires) {
			t.Errorf("expires_at = %v, want %v", tok.ExpiresAt, expires)
		}
		read := request{method: "GET", path: "/api/v1/partners/acme/users", auth: bearer(tok.Token)}
		if rec := e.do(read); rec.Code != http.StatusOK {
			t.Fatalf("before expiry = %d %s", rec.Code, rec.Body)
		}
		e.clock.Advance(time.Hour - time.Millisecond)
		if rec := e.do(read); rec.Code != http.StatusOK {
			t.Fatalf("a millisecond before expiry = %d %s", rec.Code, rec.Body)
		}
		e.clock.Advance(time.Millisecond)
		rec := e.do(read)
		assertError(t, rec, http.StatusUnauthorized, "token_expired", "")
		if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("WWW-Authenticate = %q", got)
		}
		var got struct{ Expired bool }
		e.mustJSON("GET", "/api/v1/partners/acme/admin-tokens/"+tok.ID, "", http.StatusOK, &got)
		if !got.Expired {
			t.Errorf("an expired token is listed as not expired")
		}
		// The right secret of an expired token is no guess: it must
		// not count towards the lockout of the token or the address.
		for range authFailuresPerToken + 1 {
			assertError(t, e.do(read), http.StatusUnauthorized, "token_expired", "")
		}
	})
}

// TestTokenCreateErrors covers the requests a token creation refuses;
// none of them may create anything.
func TestTokenCreateErrors(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.newToken("acme", `{"name": "automation"}`)
		now := e.clock.Now()
		at := func(d time.Duration) string { return now.Add(d).Format(time.RFC3339Nano) }
		tests := []struct {
			name, body  string
			status      int
			code, field string
			details     []string // every field the error names, if checked
		}{
			{"expires in the past", `{"name": "x", "expires_at": "` + at(-time.Second) + `"}`, 422, "validation_failed", "expires_at", nil},
			{"expires now", `{"name": "x", "expires_at": "` + at(0) + `"}`, 422, "validation_failed", "expires_at", nil},
			{"expires beyond two years", `{"name": "x", "expires_at": "` + at(maxTokenLifetime+time.Second) + `"}`, 422, "validation_failed", "expires_at", nil},
			{"no name and bad expiry", `{"expires_at": "` + at(-time.Hour) + `"}`, 422, "validation_failed", "name", []string{"name", "expires_at"}},
			{"blank name", `{"name": "   "}`, 422, "validation_failed", "name", nil},
			{"expiry not a time", `{"name": "x", "expires_at": "tomorrow"}`, 400, "invalid_type", "expires_at", nil},
			{"read_only not a bool", `{"name": "x", "read_only": "yes"}`, 400, "invalid_type", "read_only", nil},
			{"duplicate name", `{"name": "automation"}`, 409, "conflict", "name", nil},
			{"duplicate name, other case", `{"name": "AUTOMATION"}`, 409, "conflict", "name", nil},
			{"unknown field", `{"name": "x", "scopes": ["all"]}`, 400, "unknown_field", "scopes", nil},
			{"partner_id", `{"name": "x", "partner_id": "globex"}`, 400, "unknown_field", "partner_id", nil},
			{"client-chosen secret", `{"name": "x", "token": "pgat.acme.t_aaaaaaaaaaaaaaaaaaaa.secret"}`, 400, "read_only_field", "token", nil},
			{"client-chosen id", `{"name": "x", "id": "t_mine"}`, 400, "read_only_field", "id", nil},
			{"created_by", `{"name": "x", "created_by": "operator:ops"}`, 400, "read_only_field", "created_by", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.unchanged(func() {
					rec := e.call("POST", "/api/v1/partners/acme/admin-tokens", tt.body)
					assertError(t, rec, tt.status, tt.code, tt.field)
					if got := detailFields(t, rec.Body.Bytes()); tt.details != nil && !slices.Equal(got, tt.details) {
						t.Errorf("details name %v, want %v", got, tt.details)
					}
				})
			})
		}
		// Just inside the limit is fine.
		e.mustCall("POST", "/api/v1/partners/acme/admin-tokens", `{"name": "long-lived", "expires_at": "`+at(maxTokenLifetime)+`"}`, http.StatusCreated)
	})
}

// detailFields lists the fields a validation error's details name, in
// order.
func detailFields(t testing.TB, body []byte) []string {
	t.Helper()
	var env struct {
		Error struct{ Details []problem } `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("error body: %v: %s", err, body)
	}
	var out []string
	for _, d := range env.Error.Details {
		out = append(out, d.Field)
	}
	return out
}

// TestTokenCreatedByToken checks a partner admin token may mint another
// token and the new one names its creator.
func TestTokenCreatedByToken(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		parentID, parent := e.newToken("acme", `{"name": "parent"}`)
		rec := e.do(request{method: "POST", path: "/api/v1/partners/acme/admin-tokens", body: `{"name": "child"}`, auth: bearer(parent)})
		if rec.Code != http.StatusCreated {
			t.Fatalf("create by token = %d %s", rec.Code, rec.Body)
		}
		child := decodeAs[struct {
			ID, Token string
			CreatedBy string `json:"created_by"`
		}](t, rec.Body.Bytes())
		if want := "admin_token:" + parentID; child.CreatedBy != want {
			t.Errorf("created_by = %q, want %q", child.CreatedBy, want)
		}
		if stored, _ := e.store.GetToken(t.Context(), "acme", child.ID); stored.CreatedBy != "admin_token:"+parentID {
			t.Errorf("stored created_by = %q", stored.CreatedBy)
		}
		// The child works on its own, and outlives its parent.
		e.mustCall("DELETE", "/api/v1/partners/acme/admin-tokens/"+parentID, "", http.StatusNoContent)
		if rec := e.do(request{method: "GET", path: "/api/v1/partners/acme/users", auth: bearer(child.Token)}); rec.Code != http.StatusOK {
			t.Errorf("child token after parent's revocation = %d %s", rec.Code, rec.Body)
		}
	})
}

// TestTokenLimit checks a partner holds at most adminTokenKind.limit admin
// tokens, and revoking one makes room.
func TestTokenLimit(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		var first string
		for i := range adminTokenKind.limit {
			id, _ := e.newToken("acme", fmt.Sprintf(`{"name": "token %d"}`, i))
			if i == 0 {
				first = id
			}
		}
		e.unchanged(func() {
			assertError(t, e.call("POST", "/api/v1/partners/acme/admin-tokens", `{"name": "one too many"}`), http.StatusConflict, "conflict", "")
		})
		// The limit is per partner.
		e.newToken("globex", `{"name": "globex's first"}`)
		e.mustCall("DELETE", "/api/v1/partners/acme/admin-tokens/"+first, "", http.StatusNoContent)
		e.newToken("acme", `{"name": "replacement"}`)
		var list struct{ Data []tokenJSON }
		e.mustJSON("GET", "/api/v1/partners/acme/admin-tokens", "", http.StatusOK, &list)
		if len(list.Data) != adminTokenKind.limit {
			t.Errorf("acme lists %d tokens, want %d", len(list.Data), adminTokenKind.limit)
		}
	})
}

// TestTokenETag: a token read carries an ETag, and a revocation
// conditioned on a different version is refused.
func TestTokenETag(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		id, _ := e.newToken("acme", `{"name": "ci"}`)
		path := "/api/v1/partners/acme/admin-tokens/" + id
		tag := e.call("GET", path, "").Header().Get("ETag")
		if tag == "" {
			t.Fatal("token read without ETag")
		}
		e.unchanged(func() {
			rec := e.do(request{method: "DELETE", path: path, header: http.Header{"If-Match": {`"stale"`}}})
			assertError(t, rec, http.StatusPreconditionFailed, "precondition_failed", "")
		})
		if rec := e.do(request{method: "DELETE", path: path, header: http.Header{"If-Match": {tag}}}); rec.Code != http.StatusNoContent {
			t.Errorf("revoke with the current ETag: %d %s", rec.Code, rec.Body)
		}
	})
}

// TestTokenDiesWithItsOwner: a token made by a partner admin carries that
// admin's rights, so it stops working once they are suspended or lose the
// role, and so does a token that token made; an operator's token stays.
func TestTokenDiesWithItsOwner(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.clock.Set(time.Now()) // sessions expire in real time in the store
		w := e.buildWorld()
		me := e.do(request{method: "GET", path: "http://acme." + testBase + "/api/v1/me", auth: []string{},
			header: http.Header{"Cookie": {"pg_session=" + w.adminCookie}}})
		csrf := decodeAs[struct {
			CSRF string `json:"csrf_token"`
		}](t, me.Body.Bytes()).CSRF
		made := e.do(request{method: "POST", path: "http://acme." + testBase + "/api/v1/partners/acme/admin-tokens", auth: []string{},
			body:   `{"name": "made by an admin"}`,
			header: http.Header{"Cookie": {"pg_session=" + w.adminCookie}, "X-Csrf-Token": {csrf}}})
		if made.Code != http.StatusCreated {
			t.Fatalf("create token with a session: %d %s", made.Code, made.Body)
		}
		owned := decodeAs[struct{ Token string }](t, made.Body.Bytes()).Token
		child := decodeAs[struct{ Token string }](t, e.do(request{method: "POST", path: "/api/v1/partners/acme/admin-tokens",
			auth: []string{"Bearer " + owned}, body: `{"name": "made by a token"}`}).Body.Bytes()).Token
		list := request{method: "GET", path: "/api/v1/partners/acme/users"}
		for name, tok := range map[string]string{"owned": owned, "child": child, "operator's": w.acmeToken} {
			list.auth = []string{"Bearer " + tok}
			if rec := e.do(list); rec.Code != http.StatusOK {
				t.Fatalf("%s token before: %d", name, rec.Code)
			}
		}
		e.mustCall("DELETE", "/api/v1/partners/acme/groups/"+w.group+"/members/"+w.acmeAdmin, "", http.StatusNoContent)
		for _, tok := range []string{owned, child} {
			list.auth = []string{"Bearer " + tok}
			assertError(t, e.do(list), http.StatusUnauthorized, "token_owner_not_admin", "")
		}
		list.auth = []string{"Bearer " + w.acmeToken}
		if rec := e.do(list); rec.Code != http.StatusOK {
			t.Errorf("operator's token after the admin lost the role: %d", rec.Code)
		}
		e.mustCall("POST", "/api/v1/partners/acme/groups/"+w.group+"/members", `{"members": ["`+w.acmeAdmin+`"]}`, http.StatusOK)
		e.mustCall("POST", "/api/v1/partners/acme/users/"+w.acmeAdmin+"/suspend", "", http.StatusOK)
		list.auth = []string{"Bearer " + owned}
		assertError(t, e.do(list), http.StatusUnauthorized, "token_owner_not_admin", "")
	})
}
