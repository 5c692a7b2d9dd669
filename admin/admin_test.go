package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
)

const (
	testKey  = "test-operator-key-0123456789"
	testKey2 = "second-operator-key-abcdefgh"
	testBase = "apps.localhost"
)

// t0 is the fake clock's start; responses show it as testTime.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 890_000_000, time.UTC)

const testTime = "2025-03-04T05:06:07.89Z"

// env is one handler over a fresh bbolt file, with everything it touches
// recorded.
type env struct {
	t       testing.TB
	h       *Handler
	store   *recordingStore
	revoker *recordingRevoker
	logs    *observer.ObservedLogs
	clock   *clock

	mu     sync.Mutex
	bodies []string // every response body, to search for leaked secrets
}

func newEnv(t testing.TB) *env {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "partnergate.db"))
	if err != nil {
		t.Fatalf("open bolt: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	e := &env{
		t:       t,
		store:   &recordingStore{Store: db},
		revoker: &recordingRevoker{},
		clock:   &clock{now: t0},
	}
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	e.h, err = New(Config{
		Store:        e.store,
		OperatorKeys: []string{testKey, testKey2},
		BaseDomain:   testBase,
		Revoker:      e.revoker,
		Logger:       zap.New(core),
		Now:          e.clock.Now,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return e
}

// request is one call to the handler. Zero values mean: operator key,
// JSON content type when there is a body.
type request struct {
	method, path, body string
	auth               []string // Authorization values; nil means "Bearer testKey"
	contentType        string
}

func (e *env) do(r request) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.auth == nil {
		req.Header.Set("Authorization", "Bearer "+testKey)
	}
	for _, a := range r.auth {
		req.Header.Add("Authorization", a)
	}
	switch {
	case r.contentType != "":
		req.Header.Set("Content-Type", r.contentType)
	case r.body != "":
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	e.mu.Lock()
	e.bodies = append(e.bodies, rec.Body.String())
	e.mu.Unlock()
	return rec
}

// call is do for the common case.
func (e *env) call(method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(request{method: method, path: path, body: body})
}

// mustCall asserts the status and returns the body.
func (e *env) mustCall(method, path, body string, want int) []byte {
	e.t.Helper()
	rec := e.call(method, path, body)
	if rec.Code != want {
		e.t.Fatalf("%s %s = %d %s, want %d", method, path, rec.Code, rec.Body, want)
	}
	return rec.Body.Bytes()
}

func (e *env) createPartner(id string, hostnames ...string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]any{"id": id, "name": strings.ToUpper(id), "hostnames": hostnames})
	e.mustCall("POST", "/api/v1/partners", string(b), http.StatusCreated)
}

// createUser returns the new user's id.
func (e *env) createUser(partnerID, body string) string {
	e.t.Helper()
	var u struct{ ID string }
	if err := json.Unmarshal(e.mustCall("POST", "/api/v1/partners/"+partnerID+"/users", body, http.StatusCreated), &u); err != nil {
		e.t.Fatal(err)
	}
	return u.ID
}

// state is everything the admin API can change.
type state struct {
	Partners []store.Partner
	Users    map[string][]store.User
}

func (e *env) snapshot() state {
	e.t.Helper()
	ctx := context.Background()
	ps, err := e.store.ListPartners(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	s := state{Partners: ps, Users: map[string][]store.User{}}
	for _, p := range ps {
		us, err := e.store.ListUsers(ctx, p.ID, store.Page{})
		if err != nil {
			e.t.Fatal(err)
		}
		s.Users[p.ID] = us
	}
	return s
}

// unchanged runs f and asserts it changed no stored state, published no
// event and revoked nothing.
func (e *env) unchanged(f func()) {
	e.t.Helper()
	before, events, revokes := e.snapshot(), len(e.store.published()), len(e.revoker.revoked())
	f()
	if after := e.snapshot(); !reflect.DeepEqual(after, before) {
		e.t.Errorf("store changed:\nbefore %+v\nafter  %+v", before, after)
	}
	if got := e.store.published(); len(got) != events {
		e.t.Errorf("events published: %v", got[events:])
	}
	if got := e.revoker.revoked(); len(got) != revokes {
		e.t.Errorf("revocations: %v", got[revokes:])
	}
}

// noLeak asserts no response body and no log line ever held secret.
func (e *env) noLeak(secrets ...string) {
	e.t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, s := range secrets {
		for _, b := range e.bodies {
			if strings.Contains(b, s) {
				e.t.Errorf("response body contains secret %q: %s", s, b)
			}
		}
		for _, entry := range e.logs.All() {
			line, _ := json.Marshal(entry.ContextMap())
			if strings.Contains(entry.Message, s) || strings.Contains(string(line), s) {
				e.t.Errorf("log entry contains secret %q: %s %s", s, entry.Message, line)
			}
		}
	}
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// recordingStore records published events and passes everything through.
type recordingStore struct {
	store.Store
	mu     sync.Mutex
	events []store.Event
}

func (s *recordingStore) Publish(ctx context.Context, e store.Event) error {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
	return s.Store.Publish(ctx, e)
}

func (s *recordingStore) published() []store.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]store.Event(nil), s.events...)
}

type revocation struct{ partnerID, userID string }

// recordingRevoker records calls and fails with err when it is set.
type recordingRevoker struct {
	mu    sync.Mutex
	calls []revocation
	err   error
}

func (r *recordingRevoker) RevokeUser(_ context.Context, partnerID, userID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.calls = append(r.calls, revocation{partnerID, userID})
	return nil
}

func (r *recordingRevoker) revoked() []revocation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]revocation(nil), r.calls...)
}

func (r *recordingRevoker) failWith(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = err
}

// assertJSON compares two JSON documents by value.
func assertJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		var gi bytes.Buffer
		_ = json.Indent(&gi, got, "", "  ")
		t.Errorf("body:\n%s\nwant:\n%s", gi.String(), want)
	}
}

// assertError checks an error response: status, envelope and headers.
func assertError(t *testing.T, rec *httptest.ResponseRecorder, status int, code, field string) {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status = %d, want %d (body %s)", rec.Code, status, rec.Body)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Field   string `json:"field"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("error body is not the envelope: %v: %s", err, rec.Body)
	}
	if body.Error.Code != code || body.Error.Field != field || body.Error.Message == "" {
		t.Errorf("error = %+v, want code %q field %q and a message", body.Error, code, field)
	}
	assertHeaders(t, rec)
}

func assertHeaders(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if rec.Code != http.StatusNoContent {
		if got := rec.Header().Get("Content-Type"); got != "application/json" {
			t.Errorf("Content-Type = %q, want application/json", got)
		}
	}
}

var errBroken = errors.New("broken on purpose")
