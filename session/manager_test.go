package session

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/clocktest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
)

var testKey = []byte(strings.Repeat("k", 32))

type fixture struct {
	store *bolt.Store
	clock *clocktest.Clock
	alice store.User
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	s, err := bolt.Open(filepath.Join(t.TempDir(), "pg.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	for _, id := range []string{"acme", "globex"} {
		if err := s.CreatePartner(ctx, store.Partner{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	alice := store.User{ID: "u1", PartnerID: "acme", Email: "alice@acme.example", Name: "Alice", Active: true}
	if err := s.CreateUser(ctx, alice); err != nil {
		t.Fatal(err)
	}
	return &fixture{store: s, clock: clocktest.New(time.Now()), alice: alice}
}

// node starts a manager following the store's events, as one gateway node.
func (f *fixture) node(t testing.TB, cfg Config) *Manager {
	t.Helper()
	cfg.Store, cfg.MACKey = f.store, testKey
	if cfg.Now == nil {
		cfg.Now = f.clock.Now
	}
	m, err := NewManager(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.store.Watch(ctx, m.HandleEvent, m.SetHealthy)
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, m.healthy.Load)
	return m
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 2s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestIssueAndLookup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.node(t, Config{})
	ctx := context.Background()
	cookie, issued, err := m.Issue(ctx, f.alice, "203.0.113.9", "test-agent")
	if err != nil {
		t.Fatal(err)
	}
	if len(cookie) != tokenLen {
		t.Fatalf("cookie length %d, want %d", len(cookie), tokenLen)
	}
	got, err := m.Lookup(ctx, "acme", cookie)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != "u1" || got.Email != "alice@acme.example" || got.PartnerID != "acme" || got.SessionID != issued.SessionID {
		t.Errorf("identity %+v, want alice of acme", got)
	}
	stored, err := f.store.GetSession(ctx, "acme", issued.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored.ID, cookie) || stored.ID == cookie {
		t.Error("the store holds the cookie value itself")
	}
	if stored.IP != "203.0.113.9" || stored.UserAgent != "test-agent" {
		t.Errorf("stored session %+v lacks IP and user agent", stored)
	}
}

func TestLookupRefusesForeignAndBrokenCookies(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.node(t, Config{})
	ctx := context.Background()
	cookie, _, err := m.Issue(ctx, f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	flipped := []byte(cookie)
	flipped[3] ^= 1
	other, err := NewManager(Config{Store: f.store, MACKey: []byte(strings.Repeat("x", 32))})
	if err != nil {
		t.Fatal(err)
	}
	other.SetHealthy(true)
	for name, tc := range map[string]struct {
		m               *Manager
		partner, cookie string
	}{
		"other partner":        {m, "globex", cookie},
		"flipped bit":          {m, "acme", string(flipped)},
		"truncated":            {m, "acme", cookie[:len(cookie)-1]},
		"padded":               {m, "acme", cookie + "A"},
		"empty":                {m, "acme", ""},
		"not base64":           {m, "acme", strings.Repeat("*", tokenLen)},
		"other deployment key": {other, "acme", cookie},
	} {
		if _, err := tc.m.Lookup(ctx, tc.partner, tc.cookie); !errors.Is(err, ErrNoSession) {
			t.Errorf("%s: got %v, want ErrNoSession", name, err)
		}
	}
}

func TestUnhealthyFailsClosed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.node(t, Config{})
	ctx := context.Background()
	cookie, _, err := m.Issue(ctx, f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	m.SetHealthy(false)
	if _, err := m.Lookup(ctx, "acme", cookie); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("lookup while unhealthy: got %v, want ErrUnavailable", err)
	}
	if _, _, err := m.Issue(ctx, f.alice, "", ""); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("issue while unhealthy: got %v, want ErrUnavailable", err)
	}
	// A revocation while this node was deaf must win once it hears again.
	sid, _ := m.SessionID("acme", cookie)
	if err := f.store.DeleteSession(ctx, "acme", sid); err != nil {
		t.Fatal(err)
	}
	m.SetHealthy(true)
	if _, err := m.Lookup(ctx, "acme", cookie); !errors.Is(err, ErrNoSession) {
		t.Fatalf("after recovery: got %v, want ErrNoSession for the session revoked meanwhile", err)
	}
}

func TestRevokeReachesOtherNode(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.node(t, Config{}), f.node(t, Config{})
	ctx := context.Background()
	cookie, id, err := a.Issue(ctx, f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Lookup(ctx, "acme", cookie); err != nil {
		t.Fatalf("node b: %v", err)
	}
	if err := a.Revoke(ctx, "acme", id.SessionID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := b.Lookup(ctx, "acme", cookie)
		return errors.Is(err, ErrNoSession)
	})
}

func TestRevokeUserEndsEverySession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	a, b := f.node(t, Config{}), f.node(t, Config{})
	ctx := context.Background()
	var cookies []string
	for range 3 {
		c, _, err := a.Issue(ctx, f.alice, "", "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.Lookup(ctx, "acme", c); err != nil {
			t.Fatal(err)
		}
		cookies = append(cookies, c)
	}
	if err := a.RevokeUser(ctx, "acme", "u1"); err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies {
		waitFor(t, func() bool {
			_, errA := a.Lookup(ctx, "acme", c)
			_, errB := b.Lookup(ctx, "acme", c)
			return errors.Is(errA, ErrNoSession) && errors.Is(errB, ErrNoSession)
		})
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.node(t, Config{Lifetime: time.Hour, IdleTimeout: 10 * time.Minute, TouchEvery: time.Minute})
	ctx := context.Background()
	cookie, _, err := m.Issue(ctx, f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	// Activity every 9 minutes keeps it alive past the idle timeout…
	for range 5 {
		f.clock.Advance(9 * time.Minute)
		if _, err := m.Lookup(ctx, "acme", cookie); err != nil {
			t.Fatalf("active session refused at %v: %v", f.clock.Now(), err)
		}
	}
	// …a second node sees that activity through the store, once the
	// background write has landed…
	sid, _ := m.SessionID("acme", cookie)
	waitFor(t, func() bool {
		s, err := f.store.GetSession(ctx, "acme", sid)
		return err == nil && s.LastSeenAt.Equal(f.clock.Now().UTC())
	})
	other := f.node(t, Config{Lifetime: time.Hour, IdleTimeout: 10 * time.Minute, TouchEvery: time.Minute})
	waitFor(t, func() bool { _, err := other.Lookup(ctx, "acme", cookie); return err == nil })
	// …but never past the absolute lifetime.
	f.clock.Advance(16 * time.Minute)
	if _, err := m.Lookup(ctx, "acme", cookie); !errors.Is(err, ErrNoSession) {
		t.Fatalf("past lifetime: got %v, want ErrNoSession", err)
	}

	idle, _, err := m.Issue(ctx, f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(10 * time.Minute)
	if _, err := m.Lookup(ctx, "acme", idle); !errors.Is(err, ErrNoSession) {
		t.Fatalf("idle session: got %v, want ErrNoSession", err)
	}
}

func TestInactiveUserHasNoSession(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.node(t, Config{})
	ctx := context.Background()
	cookie, _, err := m.Issue(ctx, f.alice, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.UpdateUser(ctx, "acme", "u1", func(u store.User) (store.User, error) {
		u.Active = false
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.store.Publish(ctx, store.Event{Kind: store.UserChanged, PartnerID: "acme", ID: "u1"}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		_, err := m.Lookup(ctx, "acme", cookie)
		return errors.Is(err, ErrNoSession)
	})
}

// TestIssueAfterConcurrentChange covers a sign-in that checked the password
// while an admin deactivated the user or set a new password: the admin's
// revocation found no session, so Issue must not leave one behind.
func TestIssueAfterConcurrentChange(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := f.node(t, Config{})
	ctx := context.Background()
	checked := f.alice
	checked.PasswordHash = "the hash the sign-in verified"
	if _, _, err := m.Issue(ctx, checked, "", ""); !errors.Is(err, ErrNoSession) {
		t.Errorf("password changed meanwhile: got %v, want ErrNoSession", err)
	}
	if _, err := f.store.UpdateUser(ctx, "acme", "u1", func(u store.User) (store.User, error) {
		u.Active = false
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := m.Issue(ctx, f.alice, "", ""); !errors.Is(err, ErrNoSession) {
		t.Errorf("deactivated meanwhile: got %v, want ErrNoSession", err)
	}
	if left, err := f.store.ListUserSessions(ctx, "acme", "u1"); err != nil || len(left) != 0 {
		t.Errorf("sessions left behind: %v, %v", left, err)
	}
}
