package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
	pgredis "github.com/partnergate/partnergate/store/redis"
)

// revocations records the users whose sessions the handler ended.
type revocations struct {
	mu    sync.Mutex
	users []string
}

func (r *revocations) RevokeUser(_ context.Context, partnerID, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.users = append(r.users, partnerID+"/"+userID)
	return nil
}

func (r *revocations) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.users...)
}

// spyStore records the events the handler publishes, how it uses group
// member lists and how often it scans users.
type spyStore struct {
	store.Store
	mu     sync.Mutex
	events []store.Event
	// memberPages counts ListGroupMembers calls; maxBatch is the most
	// users one AddGroupMembers or RemoveGroupMembers named.
	memberPages, maxBatch int
	// userPages counts ListUsers calls.
	userPages int
}

func (s *spyStore) ListUsers(ctx context.Context, partnerID string, page store.Page) ([]store.User, error) {
	s.mu.Lock()
	s.userPages++
	s.mu.Unlock()
	return s.Store.ListUsers(ctx, partnerID, page)
}

// scans returns how many ListUsers calls the handler made.
func (s *spyStore) scans() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.userPages
}

func (s *spyStore) Publish(ctx context.Context, e store.Event) error {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	return s.Store.Publish(ctx, e)
}

func (s *spyStore) ListGroupMembers(ctx context.Context, partnerID, groupID string, page store.Page) ([]string, error) {
	s.mu.Lock()
	s.memberPages++
	s.mu.Unlock()
	return s.Store.ListGroupMembers(ctx, partnerID, groupID, page)
}

func (s *spyStore) AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	s.noteBatch(userIDs)
	return s.Store.AddGroupMembers(ctx, partnerID, groupID, userIDs)
}

func (s *spyStore) RemoveGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	s.noteBatch(userIDs)
	return s.Store.RemoveGroupMembers(ctx, partnerID, groupID, userIDs)
}

func (s *spyStore) noteBatch(userIDs []string) {
	s.mu.Lock()
	s.maxBatch = max(s.maxBatch, len(userIDs))
	s.mu.Unlock()
}

// takeEvents returns the events published since the last call.
func (s *spyStore) takeEvents() []store.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	events := s.events
	s.events = nil
	return events
}

func (s *spyStore) stats() (memberPages, maxBatch int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.memberPages, s.maxBatch
}

type env struct {
	t       testing.TB
	h       *Handler
	store   store.Store
	spy     *spyStore
	trail   *audit.Log
	revoked *revocations
	tokens  map[string]string // partner -> SCIM token
}

func openStore(t testing.TB, backend string) store.Store {
	t.Helper()
	var s store.Store
	var err error
	switch backend {
	case "bolt":
		s, err = bolt.Open(filepath.Join(t.TempDir(), "partnergate.db"))
	case "redis":
		s, err = pgredis.Open(t.Context(), redistest.Start(t).URL())
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

var backends = []string{"bolt", "redis"}

func onEachStore(t *testing.T, test func(t *testing.T, e *env)) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, newEnv(t, openStore(t, backend)))
		})
	}
}

// newEnv serves SCIM from s, which holds the partners acme and globex,
// each with a SCIM token.
func newEnv(t testing.TB, s store.Store) *env {
	t.Helper()
	trail, err := audit.New(audit.Config{Store: s})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: s, spy: &spyStore{Store: s}, trail: trail, revoked: &revocations{}, tokens: map[string]string{}}
	if e.h, err = New(Config{Store: e.spy, Revoker: e.revoked, Audit: trail}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"acme", "globex"} {
		now := time.Now().UTC().Truncate(time.Millisecond)
		if err := s.CreatePartner(t.Context(), store.Partner{ID: p, Name: p, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		tok, hash := apitoken.New(apitoken.SCIMPrefix, p, "t_"+p)
		if err := s.CreateToken(t.Context(), store.Token{ID: "t_" + p, PartnerID: p, Kind: store.SCIMToken, Name: "directory", SecretHash: hash, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		e.tokens[p] = tok
	}
	return e
}

// call sends one SCIM request with partner's token.
func (e *env) call(token, method, path, body string) (*httptest.ResponseRecorder, Resource) {
	e.t.Helper()
	contentType := ""
	if body != "" {
		contentType = "application/scim+json"
	}
	return e.send(token, method, path, contentType, body)
}

// send is call with the body's Content-Type given.
func (e *env) send(token, method, path, contentType, body string) (*httptest.ResponseRecorder, Resource) {
	e.t.Helper()
	req := httptest.NewRequest(method, "https://sso.example"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var res Resource
	_ = json.Unmarshal(rec.Body.Bytes(), &res)
	return rec, res
}

const danaJSON = `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "dana@acme.example",
	"externalId": "00u1", "name": {"givenName": "Dana", "familyName": "Lee"},
	"emails": [{"value": "dana@acme.example", "type": "work", "primary": true}], "active": true}`

func TestUserLifecycle(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		rec, created := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON)
		if rec.Code != http.StatusCreated || rec.Header().Get("Content-Type") != "application/scim+json" {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		id := created["id"].(string)
		if rec.Header().Get("Location") != "https://sso.example/scim/v2/acme/Users/"+id {
			t.Errorf("Location = %q", rec.Header().Get("Location"))
		}
		if rec, _ := e.call(acme, "POST", "/scim/v2/acme/Users", strings.Replace(danaJSON, "dana@", "DANA@", 1)); rec.Code != http.StatusConflict || !strings.Contains(rec.Body.String(), `"uniqueness"`) {
			t.Errorf("duplicate userName in another case: %d %s", rec.Code, rec.Body)
		}
		for _, f := range []string{`userName eq "DANA@acme.example"`, `externalId eq "00u1"`, `emails.value eq "dana@acme.example"`, `name.givenName sw "Da"`} {
			rec, list := e.call(acme, "GET", "/scim/v2/acme/Users?filter="+urlQuery(f), "")
			if rec.Code != http.StatusOK || list["totalResults"] != float64(1) {
				t.Errorf("filter %s: %d %s", f, rec.Code, rec.Body)
			}
		}
		if rec, list := e.call(acme, "GET", "/scim/v2/acme/Users?filter="+urlQuery(`externalId eq "00U1"`), ""); rec.Code != http.StatusOK || list["totalResults"] != float64(0) {
			t.Errorf("externalId is case-exact: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(acme, "GET", "/scim/v2/acme/Users?filter="+urlQuery(`userName eqq "x"`), ""); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalidFilter") {
			t.Errorf("bad filter: %d %s", rec.Code, rec.Body)
		}
		// Okta deactivates with a PUT carrying active false: sessions end.
		rec, replaced := e.call(acme, "PUT", "/scim/v2/acme/Users/"+id, strings.Replace(danaJSON, `"active": true`, `"active": false`, 1))
		if rec.Code != http.StatusOK || replaced["active"] != false {
			t.Fatalf("deactivate: %d %s", rec.Code, rec.Body)
		}
		if got := e.revoked.list(); len(got) != 1 || got[0] != "acme/"+id {
			t.Errorf("revoked %v, want acme/%s", got, id)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Active {
			t.Error("stored user still active")
		}
		if rec, _ := e.call(acme, "DELETE", "/scim/v2/acme/Users/"+id, ""); rec.Code != http.StatusNoContent {
			t.Errorf("delete: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(acme, "GET", "/scim/v2/acme/Users/"+id, ""); rec.Code != http.StatusNotFound {
			t.Errorf("deleted user: %d", rec.Code)
		}
	})
}

// A token reaches its own partner only: on another partner's URL it is
// 401 and nothing changes.
func TestTokenScope(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		_, created := e.call(e.tokens["acme"], "POST", "/scim/v2/acme/Users", danaJSON)
		id := created["id"].(string)
		for _, req := range []struct{ method, path, body string }{
			{"GET", "/scim/v2/acme/Users", ""},
			{"GET", "/scim/v2/acme/Users/" + id, ""},
			{"PUT", "/scim/v2/acme/Users/" + id, danaJSON},
			{"DELETE", "/scim/v2/acme/Users/" + id, ""},
			{"POST", "/scim/v2/acme/Users", strings.Replace(danaJSON, "dana", "eve", -1)},
		} {
			for name, tok := range map[string]string{"globex's token": e.tokens["globex"], "no token": "", "garbage": "pgsc.acme.t_acme.xyz"} {
				if rec, _ := e.call(tok, req.method, req.path, req.body); rec.Code != http.StatusUnauthorized {
					t.Errorf("%s %s with %s: %d", req.method, req.path, name, rec.Code)
				}
			}
		}
		if u, err := e.store.GetUser(t.Context(), "acme", id); err != nil || !u.Active {
			t.Errorf("acme's user after the refusals: %+v, %v", u, err)
		}
		if rec, list := e.call(e.tokens["globex"], "GET", "/scim/v2/globex/Users", ""); rec.Code != http.StatusOK || list["totalResults"] != float64(0) {
			t.Errorf("globex sees: %d %s", rec.Code, rec.Body)
		}
	})
}

func TestDiscovery(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		for _, path := range []string{"ServiceProviderConfig", "ResourceTypes", "ResourceTypes/User", "Schemas", "Schemas/urn:ietf:params:scim:schemas:core:2.0:User"} {
			if rec, _ := e.call(e.tokens["acme"], "GET", "/scim/v2/acme/"+path, ""); rec.Code != http.StatusOK {
				t.Errorf("%s: %d %s", path, rec.Code, rec.Body)
			}
		}
		_, spc := e.call(e.tokens["acme"], "GET", "/scim/v2/acme/ServiceProviderConfig", "")
		if spc["bulk"].(map[string]any)["supported"] != false {
			t.Errorf("ServiceProviderConfig = %v", spc)
		}
	})
}

func urlQuery(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22").Replace(s)
}

// Entra deactivates with a PATCH whose value is the string "False", and
// pushes profile changes with capitalised ops, a path-less map and a
// filtered email path.
func TestEntraUserPatches(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		_, created := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON)
		id := created["id"].(string)
		path := "/scim/v2/acme/Users/" + id
		rec, res := e.call(acme, "PATCH", path, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
			{"op": "Replace", "value": {"displayName": "Dana L.", "name.givenName": "Danielle"}},
			{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "danielle@acme.example"},
			{"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Finance"}]}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("profile PATCH: %d %s", rec.Code, rec.Body)
		}
		if res["displayName"] != "Dana L." || res["name"].(map[string]any)["givenName"] != "Danielle" {
			t.Errorf("after PATCH: %v", res)
		}
		u, _ := e.store.GetUser(t.Context(), "acme", id)
		if u.Email != "danielle@acme.example" || u.Name != "Dana L." {
			t.Errorf("stored user: email %q, name %q", u.Email, u.Name)
		}
		if len(e.revoked.list()) != 0 {
			t.Errorf("a profile change revoked sessions: %v", e.revoked.list())
		}
		rec, res = e.call(acme, "PATCH", path, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`)
		if rec.Code != http.StatusOK || res["active"] != false {
			t.Fatalf("deactivating PATCH: %d %s", rec.Code, rec.Body)
		}
		if got := e.revoked.list(); len(got) != 1 {
			t.Errorf("deactivation revoked %v", got)
		}
		before, _ := e.store.GetUser(t.Context(), "acme", id)
		for name, body := range map[string]string{
			"bad path":     `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "emails[type eq", "value": "x"}]}`,
			"no schema":    `{"Operations": [{"op": "replace", "path": "active", "value": true}]}`,
			"unknown op":   `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "merge", "path": "active", "value": true}]}`,
			"wrong type":   `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": "maybe"}]}`,
			"not JSON":     `{"schemas": [`,
			"read-only id": `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "id", "value": "u_other"}]}`,
		} {
			if rec, _ := e.call(acme, "PATCH", path, body); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"detail"`) {
				t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
			}
		}
		if after, _ := e.store.GetUser(t.Context(), "acme", id); !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Error("a refused PATCH changed the user")
		}
	})
}
