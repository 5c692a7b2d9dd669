package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/store"
)

// SCIM writes the user fields the gateway sends upstream (X-Auth-Name,
// X-Auth-Email) and the portal shows, so it holds them to the admin
// API's rules: a name bounded and free of control and bidi characters,
// every email one bare address.
func TestSecurityUserFieldsValidated(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		for i, c := range []struct{ name, old, new string }{
			{"CRLF in displayName", `"externalId"`, `"displayName": "Dana\r\nX-Auth-Roles: admin", "externalId"`},
			{"bidi in givenName", `"Dana"`, `"Dana\u202e"`},
			{"long displayName", `"externalId"`, `"displayName": "` + strings.Repeat("x", 201) + `", "externalId"`},
			{"email with CRLF", `"value": "dana@acme.example"`, `"value": "dana@acme.example\r\nX-Evil: 1"`},
			{"email not an address", `"value": "dana@acme.example"`, `"value": "<script>alert(1)</script>"`},
			{"email with a display name", `"value": "dana@acme.example"`, `"value": "Boss <boss@acme.example>"`},
			{"bad alternative email", `"primary": true}`, `"primary": true}, {"value": "x\ny@acme.example"}`},
		} {
			body := strings.Replace(danaJSON, c.old, c.new, 1)
			body = strings.ReplaceAll(body, "dana@acme.example", fmt.Sprintf("dana%d@acme.example", i))
			body = strings.Replace(body, `"00u1"`, fmt.Sprintf(`"00u1-%d"`, i), 1)
			if rec, _ := e.call(acme, "POST", "/scim/v2/acme/Users", body); rec.Code != http.StatusBadRequest {
				t.Errorf("%s: %d %s", c.name, rec.Code, rec.Body)
			}
		}
		rec, created := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		path := "/scim/v2/acme/Users/" + created["id"].(string)
		for name, body := range map[string]string{
			"displayName": `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "displayName", "value": "x\u0000y"}]}`,
			"email":       `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "emails[primary eq true].value", "value": "a@b\r\nc"}]}`,
		} {
			if rec, _ := e.call(acme, "PATCH", path, body); rec.Code != http.StatusBadRequest {
				t.Errorf("PATCH %s: %d %s", name, rec.Code, rec.Body)
			}
		}
	})
}

// failingMembers fails the second membership write of a request, as a
// store that goes away mid-request would.
type failingMembers struct {
	*spyStore
	writes int
}

func (s *failingMembers) AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	if s.writes++; s.writes > 1 {
		return errors.New("store went away")
	}
	return s.spyStore.AddGroupMembers(ctx, partnerID, groupID, userIDs)
}

// A membership change that fails half way still announces itself: the
// batches written before the failure change access, and the nodes must
// drop what they cached, or a removed member keeps a group's roles.
func TestSecurityPartialMembershipWriteAnnounced(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		rec, g := e.call(acme, "POST", "/scim/v2/acme/Groups", `{"displayName": "ops"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("group: %d %s", rec.Code, rec.Body)
		}
		var members []string
		for i := range memberBatch + 1 {
			u := store.User{ID: fmt.Sprintf("u_%05d", i), PartnerID: "acme", Email: fmt.Sprintf("m%d@acme.example", i), Active: true}
			if err := e.store.CreateUser(t.Context(), u); err != nil {
				t.Fatal(err)
			}
			members = append(members, fmt.Sprintf(`{"value": %q}`, u.ID))
		}
		fs := &failingMembers{spyStore: e.spy}
		h, err := New(Config{Store: fs, Revoker: e.revoked, Audit: e.trail})
		if err != nil {
			t.Fatal(err)
		}
		e.h = h
		e.spy.takeEvents()
		rec, _ = e.call(acme, "PATCH", "/scim/v2/acme/Groups/"+g["id"].(string), `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "add", "path": "members", "value": [`+strings.Join(members, ",")+`]}]}`)
		if rec.Code < 500 {
			t.Fatalf("PATCH with a failing store: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", "u_00000"); len(u.Groups) != 1 {
			t.Fatalf("first batch not written: %+v", u)
		}
		events := e.spy.takeEvents()
		if !slices.ContainsFunc(events, func(ev store.Event) bool { return ev.Kind == store.AccessChanged && ev.PartnerID == "acme" }) {
			t.Errorf("events after a partial membership write: %v", events)
		}
	})
}

// Another partner's users and groups answer 404 or invalidValue by every
// route: by id, as a member, in a .search, and through a $ref.
func TestSecurityOtherPartnersObjects(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme, globex := e.tokens["acme"], e.tokens["globex"]
		_, u := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON)
		_, g := e.call(acme, "POST", "/scim/v2/acme/Groups", `{"displayName": "ops"}`)
		uid, gid := u["id"].(string), g["id"].(string)
		for _, path := range []string{"/scim/v2/globex/Users/" + uid, "/scim/v2/globex/Groups/" + gid} {
			if rec, _ := e.call(globex, "GET", path, ""); rec.Code != http.StatusNotFound {
				t.Errorf("GET %s with globex's token: %d", path, rec.Code)
			}
		}
		_, gg := e.call(globex, "POST", "/scim/v2/globex/Groups", `{"displayName": "ops"}`)
		for name, body := range map[string]string{
			"value": `[{"value": "` + uid + `"}]`,
			"$ref":  `[{"value": "` + uid + `", "$ref": "https://sso.example/scim/v2/acme/Users/` + uid + `"}]`,
		} {
			rec, _ := e.call(globex, "PATCH", "/scim/v2/globex/Groups/"+gg["id"].(string), `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "add", "path": "members", "value": `+body+`}]}`)
			if rec.Code != http.StatusBadRequest {
				t.Errorf("member by %s of another partner: %d %s", name, rec.Code, rec.Body)
			}
		}
		if got, _ := e.store.GetUser(t.Context(), "acme", uid); len(got.Groups) != 0 {
			t.Errorf("acme's user joined %v", got.Groups)
		}
		for _, path := range []string{"/scim/v2/globex/.search", "/scim/v2/globex/Users/.search"} {
			rec, list := e.call(globex, "POST", path, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "id eq \"`+uid+`\" or userName eq \"dana@acme.example\""}`)
			if rec.Code != http.StatusOK || list["totalResults"] != float64(0) {
				t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
		for _, path := range []string{"/scim/v2/acme%2f/Users", "/scim/v2/globex/../acme/Users", "/scim/v2/%61cme/Users"} {
			if rec, _ := e.call(globex, "GET", path, ""); rec.Code == http.StatusOK {
				t.Errorf("GET %s with globex's token: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}

// Passwords a directory sends are hashed in the process's bounded slots:
// with every slot taken, a create carrying a password is told to retry
// and nothing is written, rather than queue argon2 work without bound.
func TestSecurityPasswordHashingBounded(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		e.h.hashing = password.NewLimiter(1, 20*time.Millisecond)
		release, err := e.h.hashing.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer release()
		body := strings.Replace(danaJSON, `"active": true`, `"active": true, "password": "a long enough passphrase"`, 1)
		rec, _ := e.call(e.tokens["acme"], "POST", "/scim/v2/acme/Users", body)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Fatalf("create with every hashing slot taken: %d %s", rec.Code, rec.Body)
		}
		if _, err := e.store.GetUserByUserName(t.Context(), "acme", "dana@acme.example"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("the refused create left a user behind: %v", err)
		}
	})
}
