package admin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/internal/clocktest"
	"github.com/partnergate/partnergate/session"
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

// env is one handler over a fresh store, with everything it touches
// recorded. Sessions are real: a session.Manager on the same store,
// reached through the gateway's resolver as the portal reaches it.
type env struct {
	t        testing.TB
	h        *Handler
	store    *recordingStore
	revoker  *recordingRevoker
	sessions *session.Manager
	dir      *gateway.Directory
	audit    *audit.Log
	logs     *observer.ObservedLogs
	clock    *clocktest.Clock

	mu     sync.Mutex
	bodies []string // every response body, to search for leaked secrets
}

// newEnv runs on the embedded store; newEnvOn picks the backend.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, "bolt")
}

// backends are the stores every cross-cutting admin test runs on.
var backends = []string{"bolt", "redis"}

func openBackend(t testing.TB, backend string) store.Store {
	t.Helper()
	switch backend {
	case "bolt":
		db, err := bolt.Open(filepath.Join(t.TempDir(), "partnergate.db"))
		if err != nil {
			t.Fatalf("open bolt: %v", err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	case "redis":
		return redisStore(t)
	}
	t.Fatalf("unknown backend %q", backend)
	return nil
}

var testSecret = bytes.Repeat([]byte("k"), 32)

// testSecretsKey seals SSO connection secrets in tests.
var testSecretsKey = bytes.Repeat([]byte("s"), 32)

func newEnvOn(t testing.TB, backend string, opts ...func(*Config)) *env {
	t.Helper()
	raw := openBackend(t, backend)
	e := &env{
		t:     t,
		store: &recordingStore{Store: raw},
		clock: clocktest.New(t0),
	}
	core, logs := observer.New(zap.DebugLevel)
	e.logs = logs
	var err error
	e.sessions, err = session.NewManager(session.Config{Store: raw, MACKey: testSecret, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	e.sessions.SetHealthy(true)
	e.revoker = &recordingRevoker{next: e.sessions}
	e.dir = gateway.NewDirectory(testBase, raw.ListPartners)
	e.audit, err = audit.New(audit.Config{Store: raw, Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Store:        e.store,
		OperatorKeys: []OperatorKey{{Name: "ops", Key: testKey}, {Name: "ops2", Key: testKey2}},
		BaseDomain:   testBase,
		Revoker:      e.revoker,
		Sessions:     gateway.SessionResolver{Directory: e.dir, Sessions: e.sessions},
		Audit:        e.audit,
		SecretKey:    testSecret,
		SecretsKey:   testSecretsKey,
		Logger:       zap.New(core),
		Now:          e.clock.Now,
	}
	for _, o := range opts {
		o(&cfg)
	}
	e.h, err = New(cfg)
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
	remoteAddr         string // default: httptest's 192.0.2.1:1234
	header             http.Header
}

func (e *env) do(r request) *httptest.ResponseRecorder {
	e.t.Helper()
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.remoteAddr != "" {
		req.RemoteAddr = r.remoteAddr
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
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
	// Every answer any test sees must be one openapi.json describes, so
	// the document cannot drift from the code unnoticed.
	validateResponse(e.t, req, rec)
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

// state is everything the admin API can change, but the audit trail.
type state struct {
	Partners []store.Partner
	Users    map[string][]store.User
	Sessions map[string][]store.Session
	Groups   map[string][]store.Group
	Members  map[string][]string
	Mappings map[string][]store.RoleMapping
	Tokens   map[string][]store.Token
	// Policies holds each partner's stored policy and, under "", the
	// governance baseline, as JSON text ("" when none).
	Policies map[string]string
	// Brandings holds each partner's branding and logo as text ("" when
	// none): the fields, the logo version and a hash of the logo's bytes.
	Brandings map[string]string
}

func (e *env) snapshot() state {
	e.t.Helper()
	ctx := context.Background()
	ps, err := e.store.ListPartners(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	slices.SortFunc(ps, func(a, b store.Partner) int { return strings.Compare(a.ID, b.ID) })
	s := state{
		Partners: ps, Users: map[string][]store.User{}, Sessions: map[string][]store.Session{},
		Groups: map[string][]store.Group{}, Members: map[string][]string{},
		Mappings: map[string][]store.RoleMapping{}, Tokens: map[string][]store.Token{},
		Policies: map[string]string{}, Brandings: map[string]string{},
	}
	must := func(err error) {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	policyText := func(rec store.PolicyRecord, err error) string {
		if errors.Is(err, store.ErrNotFound) {
			return ""
		}
		must(err)
		return string(rec.Policy) + " " + rec.UpdatedAt.String()
	}
	s.Policies[""] = policyText(e.store.GetGovernance(ctx))
	for _, p := range ps {
		s.Policies[p.ID] = policyText(e.store.GetPolicy(ctx, p.ID))
		s.Brandings[p.ID] = e.brandingText(ctx, p.ID)
		us, err := e.store.ListUsers(ctx, p.ID, store.Page{})
		must(err)
		s.Users[p.ID] = us
		for _, u := range us {
			ss, err := e.store.ListUserSessions(ctx, p.ID, u.ID)
			must(err)
			s.Sessions[p.ID+"/"+u.ID] = ss
		}
		gs, err := e.store.ListGroups(ctx, p.ID, store.Page{})
		must(err)
		s.Groups[p.ID] = gs
		for _, g := range gs {
			ms, err := e.store.ListGroupMembers(ctx, p.ID, g.ID, store.Page{})
			must(err)
			s.Members[p.ID+"/"+g.ID] = ms
		}
		s.Mappings[p.ID], err = e.store.ListRoleMappings(ctx, p.ID)
		must(err)
		for _, k := range tokenKinds {
			ts, err := e.store.ListTokens(ctx, p.ID, k.kind)
			must(err)
			s.Tokens[p.ID] = append(s.Tokens[p.ID], ts...)
		}
		links, err := e.store.ListTokens(ctx, p.ID, store.SetupToken)
		must(err)
		s.Tokens[p.ID] = append(s.Tokens[p.ID], links...)
	}
	return s
}

// brandingText is the partner's stored branding and logo, "" when none.
func (e *env) brandingText(ctx context.Context, partnerID string) string {
	e.t.Helper()
	var out string
	b, err := e.store.GetBranding(ctx, partnerID)
	switch {
	case err == nil:
		j, _ := json.Marshal(b)
		out = string(j)
	case !errors.Is(err, store.ErrNotFound):
		e.t.Fatal(err)
	}
	logo, version, err := e.store.GetLogo(ctx, partnerID)
	switch {
	case err == nil:
		out += fmt.Sprintf(" logo %s %x", version, sha256.Sum256(logo))
	case !errors.Is(err, store.ErrNotFound):
		e.t.Fatal(err)
	}
	return out
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

// recordingRevoker records calls, then passes them to the real session
// manager, or fails with err when it is set.
type recordingRevoker struct {
	next  Revoker
	mu    sync.Mutex
	calls []revocation
	err   error
}

func (r *recordingRevoker) RevokeUser(ctx context.Context, partnerID, userID string) error {
	r.mu.Lock()
	if r.err != nil {
		defer r.mu.Unlock()
		return r.err
	}
	r.calls = append(r.calls, revocation{partnerID, userID})
	r.mu.Unlock()
	return r.next.RevokeUser(ctx, partnerID, userID)
}

func (r *recordingRevoker) Revoke(ctx context.Context, partnerID, sessionID string) error {
	r.mu.Lock()
	if r.err != nil {
		defer r.mu.Unlock()
		return r.err
	}
	r.calls = append(r.calls, revocation{partnerID, "session:" + sessionID})
	r.mu.Unlock()
	return r.next.Revoke(ctx, partnerID, sessionID)
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

// onEachStore runs test once per store backend, in parallel.
func onEachStore(t *testing.T, test func(t *testing.T, backend string)) {
	t.Helper()
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, backend)
		})
	}
}
