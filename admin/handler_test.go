package admin

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"

	"github.com/partnergate/partnergate/store"
)

// failingStore breaks chosen calls the way a backend does.
type failingStore struct {
	store.Store
	listErr    error
	publishErr error
}

func (s *failingStore) ListPartners(ctx context.Context) ([]store.Partner, error) {
	if s.listErr != nil {
		return nil, s.listErr
	}
	return s.Store.ListPartners(ctx)
}

func (s *failingStore) Publish(ctx context.Context, e store.Event) error {
	if s.publishErr != nil {
		return s.publishErr
	}
	return s.Store.Publish(ctx, e)
}

func TestStoreFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"unavailable", fmt.Errorf("bolt: dial: %w", store.ErrUnavailable), http.StatusServiceUnavailable, "unavailable"},
		{"other", fmt.Errorf("bolt: secret detail %w", errBroken), http.StatusInternalServerError, "internal_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			e.h.store = &failingStore{Store: e.store, listErr: tt.err}
			rec := e.call("GET", "/api/v1/partners", "")
			assertError(t, rec, tt.status, tt.code, "")
			if tt.status == http.StatusServiceUnavailable && rec.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After")
			}
			if strings.Contains(rec.Body.String(), "bolt") {
				t.Errorf("body reveals the cause: %s", rec.Body)
			}
			// The cause is logged, once, for the operator.
			logged := e.logs.FilterMessage("admin request").FilterFieldKey("error").All()
			if len(logged) != 1 || !strings.Contains(fmt.Sprint(logged[0].ContextMap()["error"]), "bolt") {
				t.Errorf("error log = %v", logged)
			}
		})
	}
}

// A failed publish does not undo or fail a stored change.
func TestPublishFailureIsLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.h.store = &failingStore{Store: e.store, publishErr: errBroken}
	e.mustCall("POST", "/api/v1/partners", `{"id": "acme", "name": "Acme"}`, http.StatusCreated)
	if n := e.logs.FilterMessage("publish change event").Len(); n != 1 {
		t.Errorf("publish failures logged %d times, want 1", n)
	}
}

func TestContentTypes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	for _, ct := range []string{"application/json; charset=utf-8", "Application/JSON", "application/merge-patch+json"} {
		rec := e.do(request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"name": "Acme"}`, contentType: ct})
		if rec.Code != http.StatusOK {
			t.Errorf("%q: status %d %s", ct, rec.Code, rec.Body)
		}
	}
}

func TestHead(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	rec := e.do(request{method: "HEAD", path: "/api/v1/partners/acme"})
	if rec.Code != http.StatusOK {
		t.Errorf("HEAD = %d", rec.Code)
	}
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	id := e.createUser("acme", `{"email": "a@example.com", "password": "`+alicePassword+`"}`)
	e.call("PATCH", "/api/v1/partners/acme/users/"+id, `{"password": "`+newPassword+`"}`)
	e.do(request{method: "GET", path: "/api/v1/partners", auth: []string{"Bearer " + testKey2 + "x"}})

	entries := e.logs.FilterMessage("admin request").All()
	if len(entries) != 4 {
		t.Fatalf("logged %d requests, want 4", len(entries))
	}
	want := []map[string]any{
		{"method": "POST", "route": "POST /api/v1/partners", "status": int64(201)},
		{"method": "POST", "route": "POST /api/v1/partners/{id}/users", "status": int64(201), "partner_id": "acme"},
		{"method": "PATCH", "route": "PATCH /api/v1/partners/{id}/users/{userId}", "status": int64(200), "partner_id": "acme", "user_id": id},
		{"method": "GET", "route": "", "status": int64(401), "code": "unauthorized"},
	}
	for i, entry := range entries {
		if entry.Level != zapcore.InfoLevel {
			t.Errorf("entry %d level %v", i, entry.Level)
		}
		got := entry.ContextMap()
		if len(got) != len(want[i]) {
			t.Errorf("entry %d = %v, want %v", i, got, want[i])
			continue
		}
		for k, v := range want[i] {
			if got[k] != v {
				t.Errorf("entry %d: %s = %v, want %v", i, k, got[k], v)
			}
		}
	}
	e.noLeak(alicePassword, newPassword, testKey, testKey2, "argon2id")
}
