package session

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

// TestPartnerLengths: each partner's policy sets its sessions' lengths; a
// lifetime shortened later ends longer sessions at their next request,
// and lengths that cannot be read fail closed.
func TestPartnerLengths(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	var mu sync.Mutex
	lengths := Lengths{MaxLifetime: 2 * time.Hour, IdleTimeout: 30 * time.Minute}
	var broken error
	m := f.node(t, Config{Lengths: func(_ context.Context, partnerID string) (Lengths, error) {
		mu.Lock()
		defer mu.Unlock()
		if partnerID != "acme" {
			t.Errorf("lengths asked for partner %q", partnerID)
		}
		return lengths, broken
	}})
	set := func(l Lengths, err error) {
		mu.Lock()
		lengths, broken = l, err
		mu.Unlock()
	}
	ctx := context.Background()
	start := f.clock.Now()
	cookie, id, err := m.Issue(ctx, f.alice, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	if got := id.ExpiresAt.Sub(start); got < 2*time.Hour-time.Second || got > 2*time.Hour+time.Second {
		t.Errorf("session issued for %v, want the partner's 2h", got)
	}
	// Idle: 29 minutes apart is fine, 31 is not.
	f.clock.Advance(29 * time.Minute)
	if _, err := m.Lookup(ctx, "acme", cookie); err != nil {
		t.Fatalf("after 29 idle minutes: %v", err)
	}
	f.clock.Advance(31 * time.Minute)
	if _, err := m.Lookup(ctx, "acme", cookie); !errors.Is(err, ErrNoSession) {
		t.Errorf("after 31 idle minutes under a 30m idle timeout: %v", err)
	}

	// A lifetime shortened under a live session ends it.
	cookie, _, err = m.Issue(ctx, f.alice, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(20 * time.Minute)
	if _, err := m.Lookup(ctx, "acme", cookie); err != nil {
		t.Fatalf("20 minutes in: %v", err)
	}
	set(Lengths{MaxLifetime: 15 * time.Minute, IdleTimeout: 30 * time.Minute}, nil)
	if _, err := m.Lookup(ctx, "acme", cookie); !errors.Is(err, ErrNoSession) {
		t.Errorf("a 20-minute-old session under a 15m lifetime: %v", err)
	}

	// Lengths that cannot be read: no session is trusted or issued.
	set(Lengths{MaxLifetime: time.Hour, IdleTimeout: time.Hour}, nil)
	cookie, _, err = m.Issue(ctx, f.alice, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	set(Lengths{}, errors.New("policy store down"))
	if _, err := m.Lookup(ctx, "acme", cookie); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("lookup with lengths unreadable: %v, want unavailable", err)
	}
	if _, _, err := m.Issue(ctx, f.alice, "192.0.2.1", "test"); err == nil {
		t.Error("a session was issued with lengths unreadable")
	}
}
