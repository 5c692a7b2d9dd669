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

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

var scimTokenPattern = regexp.MustCompile(`^pgsc\.acme\.(t_[a-z2-7]{20})\.([A-Za-z0-9_-]{43})$`)

// errorMessage is the message of an error answer.
func errorMessage(t testing.TB, body []byte) string {
	t.Helper()
	var env struct {
		Error struct{ Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("error body: %v: %s", err, body)
	}
	return env.Error.Message
}

// TestSCIMTokenLifecycle follows SCIM tokens from creation to revocation:
// the secret is shown once and stored only as a hash, two tokens are live
// at once so a client can rotate, and revoking one leaves the other.
func TestSCIMTokenLifecycle(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		tokens := "/api/v1/partners/acme/scim-tokens"

		expires := e.clock.Now().Add(24 * time.Hour).UTC()
		rec := e.call("POST", tokens, `{"name": "okta", "expires_at": "`+expires.Format(time.RFC3339Nano)+`"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		assertHeaders(t, rec)
		created := decodeAs[map[string]any](t, rec.Body.Bytes())
		secret, _ := created["token"].(string)
		m := scimTokenPattern.FindStringSubmatch(secret)
		if m == nil {
			t.Fatalf("token %q does not read pgsc.acme.<id>.<secret>", secret)
		}
		id := created["id"].(string)
		if m[1] != id {
			t.Errorf("token names id %q, response id %q", m[1], id)
		}
		if got, want := rec.Header().Get("Location"), tokens+"/"+id; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		// The admin token's shape without read_only: a SCIM token has no
		// such mode.
		want := fmt.Sprintf(`{"id": %q, "name": "okta", "created_by": "operator:ops",
			"created_at": %q, "expires_at": %q, "expired": false}`, id, testTime, expires.Format(time.RFC3339Nano))
		delete(created, "token")
		b, _ := json.Marshal(created)
		assertJSON(t, b, want)

		// Only the secret's SHA-256 is kept, under the SCIM kind, and it
		// is what the SCIM endpoint will check the secret against.
		stored, err := e.store.GetToken(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(m[2]))
		if stored.SecretHash != hex.EncodeToString(sum[:]) || stored.Kind != store.SCIMToken || stored.ReadOnly {
			t.Errorf("stored token %+v, want kind scim, not read-only, and the secret's SHA-256 hex", stored)
		}
		if raw, _ := json.Marshal(stored); strings.Contains(string(raw), m[2]) {
			t.Errorf("the stored token holds the secret: %s", raw)
		}
		partnerID, tokenID, s, ok := apitoken.Parse(apitoken.SCIMPrefix, secret)
		if !ok || partnerID != "acme" || tokenID != id || !apitoken.Verify(s, stored.SecretHash) {
			t.Errorf("the SCIM endpoint's check fails: %q %q %v", partnerID, tokenID, ok)
		}

		// A second token is live beside the first: the client switches
		// over before the old one is revoked.
		var second struct{ ID, Token string }
		e.mustJSON("POST", tokens, `{"name": "okta (rotated)"}`, http.StatusCreated, &second)
		wantSecond := fmt.Sprintf(`{"id": %q, "name": "okta (rotated)", "created_by": "operator:ops",
			"created_at": %q, "expires_at": null, "expired": false}`, second.ID, testTime)
		var list struct{ Data []json.RawMessage }
		e.mustJSON("GET", tokens, "", http.StatusOK, &list)
		if len(list.Data) != 2 {
			t.Fatalf("list holds %d tokens, want 2", len(list.Data))
		}

		// Reading tokens back never shows a secret again.
		for _, path := range []string{tokens, tokens + "/" + id, tokens + "/" + second.ID} {
			body := e.mustCall("GET", path, "", http.StatusOK)
			for _, sec := range []string{m[2], second.Token[strings.LastIndexByte(second.Token, '.')+1:]} {
				if strings.Contains(string(body), sec) || strings.Contains(string(body), `"token"`) {
					t.Errorf("GET %s shows a secret: %s", path, body)
				}
			}
		}
		assertJSON(t, e.mustCall("GET", tokens+"/"+id, "", http.StatusOK), want)
		assertJSON(t, e.mustCall("GET", tokens+"/"+second.ID, "", http.StatusOK), wantSecond)

		// Past its expiry the token is listed as expired.
		e.clock.Advance(24 * time.Hour)
		var got struct{ Expired bool }
		e.mustJSON("GET", tokens+"/"+id, "", http.StatusOK, &got)
		if !got.Expired {
			t.Error("an expired SCIM token is listed as not expired")
		}

		// Revoking the first leaves the second.
		rec = e.call("DELETE", tokens+"/"+id, "")
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("revoke = %d %s", rec.Code, rec.Body)
		}
		if _, err := e.store.GetToken(t.Context(), "acme", id); err == nil {
			t.Error("the revoked token is still stored")
		}
		for _, method := range []string{"GET", "DELETE"} {
			rec := e.call(method, tokens+"/"+id, "")
			assertError(t, rec, http.StatusNotFound, "not_found", "")
			if msg := errorMessage(t, rec.Body.Bytes()); msg != "SCIM token not found" {
				t.Errorf("%s of a revoked token says %q", method, msg)
			}
		}
		assertJSON(t, e.mustCall("GET", tokens, "", http.StatusOK), `{"data": [`+wantSecond+`]}`)
	})
}

// TestSCIMTokenKindsDoNotMix: a SCIM token is no admin token and an admin
// token no SCIM token, in every listing, read and revocation, and a SCIM
// token never opens the admin API.
func TestSCIMTokenKindsDoNotMix(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		adminID, admin := e.newToken("acme", `{"name": "ci"}`)
		// Names are unique within a kind only.
		scimID, scim := e.newSCIMToken("acme", `{"name": "ci"}`)
		const p = "/api/v1/partners/acme"

		var list struct{ Data []struct{ ID string } }
		e.mustJSON("GET", p+"/admin-tokens", "", http.StatusOK, &list)
		if len(list.Data) != 1 || list.Data[0].ID != adminID {
			t.Errorf("admin tokens = %+v, want only %s", list.Data, adminID)
		}
		e.mustJSON("GET", p+"/scim-tokens", "", http.StatusOK, &list)
		if len(list.Data) != 1 || list.Data[0].ID != scimID {
			t.Errorf("SCIM tokens = %+v, want only %s", list.Data, scimID)
		}

		e.unchanged(func() {
			for _, tt := range []struct{ path, msg string }{
				{p + "/admin-tokens/" + scimID, "admin token not found"},
				{p + "/scim-tokens/" + adminID, "SCIM token not found"},
			} {
				for _, method := range []string{"GET", "DELETE"} {
					rec := e.call(method, tt.path, "")
					assertError(t, rec, http.StatusNotFound, "not_found", "")
					if msg := errorMessage(t, rec.Body.Bytes()); msg != tt.msg {
						t.Errorf("%s %s says %q, want %q", method, tt.path, msg, tt.msg)
					}
				}
			}

			// A SCIM token is refused as an admin credential, on every
			// kind of route, as is one relabelled with the admin prefix.
			forged := apitoken.AdminPrefix + strings.TrimPrefix(scim, apitoken.SCIMPrefix)
			for _, tok := range []string{scim, forged} {
				for _, req := range []request{
					{method: "GET", path: "/api/v1/me"},
					{method: "GET", path: p + "/scim-tokens"},
					{method: "POST", path: p + "/scim-tokens", body: `{"name": "escalate"}`},
					{method: "GET", path: "/api/v1/partners"},
				} {
					req.auth = bearer(tok)
					rec := e.do(req)
					assertError(t, rec, http.StatusUnauthorized, "unauthorized", "")
					if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
						t.Errorf("WWW-Authenticate = %q", got)
					}
				}
			}
		})
		// The admin token, whose secret has the same shape, still works.
		if rec := e.do(request{method: "GET", path: p + "/scim-tokens", auth: bearer(admin)}); rec.Code != http.StatusOK {
			t.Errorf("the admin token = %d %s", rec.Code, rec.Body)
		}
	})
}

// TestSCIMTokenCreateErrors covers the requests a SCIM token creation
// refuses; none of them may create anything.
func TestSCIMTokenCreateErrors(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.newSCIMToken("acme", `{"name": "okta"}`)
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
			{"duplicate name", `{"name": "okta"}`, 409, "conflict", "name", nil},
			{"duplicate name, other case", `{"name": "OKTA"}`, 409, "conflict", "name", nil},
			// No read-only mode: the member is not one a SCIM token has.
			{"read_only", `{"name": "x", "read_only": true}`, 400, "unknown_field", "read_only", nil},
			{"read_only false", `{"name": "x", "read_only": false}`, 400, "unknown_field", "read_only", nil},
			{"unknown field", `{"name": "x", "scopes": ["all"]}`, 400, "unknown_field", "scopes", nil},
			{"kind", `{"name": "x", "kind": "admin"}`, 400, "unknown_field", "kind", nil},
			{"client-chosen secret", `{"name": "x", "token": "pgsc.acme.t_aaaaaaaaaaaaaaaaaaaa.secret"}`, 400, "read_only_field", "token", nil},
			{"client-chosen id", `{"name": "x", "id": "t_mine"}`, 400, "read_only_field", "id", nil},
			{"created_by", `{"name": "x", "created_by": "operator:ops"}`, 400, "read_only_field", "created_by", nil},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				e.unchanged(func() {
					rec := e.call("POST", "/api/v1/partners/acme/scim-tokens", tt.body)
					assertError(t, rec, tt.status, tt.code, tt.field)
					if got := detailFields(t, rec.Body.Bytes()); tt.details != nil && !slices.Equal(got, tt.details) {
						t.Errorf("details name %v, want %v", got, tt.details)
					}
				})
			})
		}
		// Just inside the limit is fine.
		e.mustCall("POST", "/api/v1/partners/acme/scim-tokens", `{"name": "long-lived", "expires_at": "`+at(maxTokenLifetime)+`"}`, http.StatusCreated)
	})
}

// TestSCIMTokenLimit checks a partner holds at most scimTokenKind.limit
// SCIM tokens, counted apart from its admin tokens, and revoking one makes
// room.
func TestSCIMTokenLimit(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		e.newToken("acme", `{"name": "ci"}`)
		var first string
		for i := range scimTokenKind.limit {
			id, _ := e.newSCIMToken("acme", fmt.Sprintf(`{"name": "scim %d"}`, i))
			if i == 0 {
				first = id
			}
		}
		e.unchanged(func() {
			rec := e.call("POST", "/api/v1/partners/acme/scim-tokens", `{"name": "one too many"}`)
			assertError(t, rec, http.StatusConflict, "conflict", "")
			if msg := errorMessage(t, rec.Body.Bytes()); !strings.Contains(msg, "SCIM tokens") {
				t.Errorf("message %q does not name SCIM tokens", msg)
			}
		})
		// Admin tokens and other partners have limits of their own.
		e.newToken("acme", `{"name": "another admin token"}`)
		e.newSCIMToken("globex", `{"name": "globex's first"}`)
		e.mustCall("DELETE", "/api/v1/partners/acme/scim-tokens/"+first, "", http.StatusNoContent)
		e.newSCIMToken("acme", `{"name": "replacement"}`)
		var list struct{ Data []tokenJSON }
		e.mustJSON("GET", "/api/v1/partners/acme/scim-tokens", "", http.StatusOK, &list)
		if len(list.Data) != scimTokenKind.limit {
			t.Errorf("acme lists %d SCIM tokens, want %d", len(list.Data), scimTokenKind.limit)
		}
	})
}

// TestSCIMTokenETag: a SCIM token read carries an ETag, and a revocation
// conditioned on a different version is refused.
func TestSCIMTokenETag(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		id, _ := e.newSCIMToken("acme", `{"name": "okta"}`)
		path := "/api/v1/partners/acme/scim-tokens/" + id
		tag := e.call("GET", path, "").Header().Get("ETag")
		if tag == "" {
			t.Fatal("SCIM token read without ETag")
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

// TestSCIMTokenAudit: creating and revoking a SCIM token, and a refused
// creation, are in the partner's trail under the token's own actions and
// target type, naming who did it and never the secret.
func TestSCIMTokenAudit(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		adminID, admin := e.newToken("acme", `{"name": "automation"}`)
		const tokens = "/api/v1/partners/acme/scim-tokens"
		rec := e.do(request{method: "POST", path: tokens, body: `{"name": "okta"}`, auth: bearer(admin)})
		if rec.Code != http.StatusCreated {
			t.Fatalf("create by an admin token = %d %s", rec.Code, rec.Body)
		}
		tok := decodeAs[struct {
			ID, Token string
			CreatedBy string `json:"created_by"`
		}](t, rec.Body.Bytes())
		if want := "admin_token:" + adminID; tok.CreatedBy != want {
			t.Errorf("created_by = %q, want %q", tok.CreatedBy, want)
		}
		// The secret was shown once, at creation; from here on no
		// response may carry it.
		e.mu.Lock()
		e.bodies = nil
		e.mu.Unlock()
		e.mustCall("POST", tokens, `{"name": "x", "read_only": true}`, http.StatusBadRequest)
		e.mustCall("DELETE", tokens+"/"+tok.ID, "", http.StatusNoContent)

		page := e.auditEvents("/api/v1/partners/acme/audit?action=scim_token.*")
		if got := eventActions(page.Events); !slices.Equal(got, []string{"scim_token.revoke", "scim_token.create", "scim_token.create"}) {
			t.Fatalf("trail = %v", got)
		}
		operator := audit.Actor{Type: audit.ActorOperator, ID: "ops", Name: "ops"}
		target := audit.Target{Type: "scim_token", ID: tok.ID}
		revoke, refused, create := page.Events[0], page.Events[1], page.Events[2]
		if revoke.Actor != operator || revoke.Target != target || revoke.Outcome != audit.Success || len(revoke.Changes) != 0 {
			t.Errorf("revoke event = %+v", revoke)
		}
		if refused.Actor != operator || refused.Outcome != audit.Failure || refused.Reason != "unknown_field" {
			t.Errorf("refused event = %+v", refused)
		}
		automation := audit.Actor{Type: audit.ActorAdminToken, ID: adminID, Name: "automation"}
		if create.Actor != automation || create.Target != target || create.Outcome != audit.Success ||
			!slices.Equal(create.Changes, []audit.Change{{Field: "name", To: "okta"}}) {
			t.Errorf("create event = %+v", create)
		}
		e.mustCall("GET", "/api/v1/partners/acme/audit/export", "", http.StatusOK)
		if len(e.auditBodies()) < 2 {
			t.Fatal("no audit answers recorded to search")
		}
		// Neither the token nor its secret alone is in any answer or log
		// line since, the audit trail's included.
		e.noLeak(tok.Token, tok.Token[strings.LastIndexByte(tok.Token, '.')+1:])
	})
}

// A SCIM token is the partner's directory integration: it is not bound to
// the admin who made it, so SCIM keeps working when that person leaves;
// created_by still names them.
func TestSCIMTokenNotBoundToCreator(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.clock.Set(time.Now()) // sessions expire in real time in the store
		w := e.buildWorld()
		host := "http://acme." + testBase
		cookie := http.Header{"Cookie": {"pg_session=" + w.adminCookie}}
		me := e.do(request{method: "GET", path: host + "/api/v1/me", auth: []string{}, header: cookie})
		csrf := decodeAs[struct {
			CSRF string `json:"csrf_token"`
		}](t, me.Body.Bytes()).CSRF
		rec := e.do(request{method: "POST", path: host + "/api/v1/partners/acme/scim-tokens", auth: []string{}, body: `{"name": "okta"}`,
			header: http.Header{"Cookie": cookie["Cookie"], "X-Csrf-Token": {csrf}}})
		if rec.Code != http.StatusCreated {
			t.Fatalf("create with an admin's session: %d %s", rec.Code, rec.Body)
		}
		id := decodeAs[struct{ ID string }](t, rec.Body.Bytes()).ID
		stored, err := e.store.GetToken(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if stored.OwnerID != "" || stored.CreatedBy != "user:"+w.acmeAdmin {
			t.Errorf("stored SCIM token: owner %q, created by %q", stored.OwnerID, stored.CreatedBy)
		}
	})
}
