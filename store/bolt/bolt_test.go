package bolt

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/storetest"
)

func open(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.RunTests(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	})
}

func TestOpenCreatesPrivateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	path := filepath.Join(dir, "partnergate.db")
	open(t, path)

	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700},
		{path, 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tc.want {
			t.Errorf("%s has mode %v, want %v", filepath.Base(tc.path), got, tc.want)
		}
	}
}

func TestSecondOpenFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "partnergate.db")
	open(t, path)

	start := time.Now()
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("second open of a held file succeeded")
	}
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Errorf("second open took %v to fail", elapsed)
	}
	if !strings.Contains(err.Error(), "another process holds it") || !strings.Contains(err.Error(), path) {
		t.Errorf("second open failed with %q, want the path and who holds it", err)
	}
}

func TestReopenKeepsData(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "partnergate.db")
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	p := store.Partner{ID: "acme", Name: "Acme", Hostnames: []string{"login.acme.example"}, CreatedAt: at, UpdatedAt: at}
	u := store.User{ID: "u1", PartnerID: "acme", Email: "alice@example.com", Active: true, CreatedAt: at, UpdatedAt: at}
	sess := store.Session{ID: "s1", PartnerID: "acme", UserID: "u1", CreatedAt: at, LastSeenAt: at, ExpiresAt: at.Add(time.Hour)}
	for _, step := range []error{
		s.CreatePartner(ctx, p),
		s.CreateUser(ctx, u),
		s.CreateSession(ctx, sess),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if _, err := s.Incr(ctx, "acme", "k", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path)
	gotP, err := s.GetPartner(ctx, "acme")
	if err != nil || gotP.Name != p.Name || !gotP.CreatedAt.Equal(at) {
		t.Errorf("partner after reopen: %+v, %v", gotP, err)
	}
	if gotU, err := s.GetUserByEmail(ctx, "acme", "ALICE@example.com"); err != nil || gotU.ID != "u1" {
		t.Errorf("user after reopen: %+v, %v", gotU, err)
	}
	if gotS, err := s.GetSession(ctx, "acme", "s1"); err != nil || !gotS.ExpiresAt.Equal(sess.ExpiresAt) {
		t.Errorf("session after reopen: %+v, %v", gotS, err)
	}
	if n, err := s.Count(ctx, "acme", "k"); err != nil || n != 1 {
		t.Errorf("counter after reopen: %d, %v", n, err)
	}
	err = s.CreatePartner(ctx, store.Partner{ID: "other", Hostnames: []string{"login.acme.example"}})
	if !errors.Is(err, store.ErrHostnameTaken) {
		t.Errorf("claiming a held hostname after reopen: %v, want %v", err, store.ErrHostnameTaken)
	}
}

func TestHostnamesIgnoreCase(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	if err := s.CreatePartner(ctx, store.Partner{ID: "a", Hostnames: []string{"Login.Example"}}); err != nil {
		t.Fatal(err)
	}
	err := s.CreatePartner(ctx, store.Partner{ID: "b", Hostnames: []string{"login.example"}})
	if !errors.Is(err, store.ErrHostnameTaken) {
		t.Errorf("claiming a hostname differing only in case: %v, want %v", err, store.ErrHostnameTaken)
	}
}

func TestReferencesMustExist(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	err := s.CreateUser(ctx, store.User{ID: "u1", PartnerID: "gone", Email: "a@example.com"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("create user of a missing partner: %v, want %v", err, store.ErrNotFound)
	}
	if err := s.CreatePartner(ctx, store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	err = s.CreateSession(ctx, store.Session{ID: "s1", PartnerID: "acme", UserID: "gone", ExpiresAt: time.Now().Add(time.Hour)})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("create session of a missing user: %v, want %v", err, store.ErrNotFound)
	}
}

func TestSweepRemovesExpired(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	now := time.Now()
	if err := s.CreatePartner(ctx, store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, store.User{ID: "u1", PartnerID: "acme", Email: "a@example.com"}); err != nil {
		t.Fatal(err)
	}
	for id, life := range map[string]time.Duration{"short": time.Minute, "long": time.Hour} {
		sess := store.Session{ID: id, PartnerID: "acme", UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(life)}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Incr(ctx, "acme", id, life); err != nil {
			t.Fatal(err)
		}
	}

	if err := s.sweep(now.Add(30 * time.Minute)); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	// Read the raw buckets: reads through the Store filter by the real clock.
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, c := range []struct {
			bucket *bbolt.Bucket
			key    string
			want   bool
		}{
			{nested(tx, bucketSessions, "acme"), "short", false},
			{nested(tx, bucketSessions, "acme"), "long", true},
			{nested(tx, bucketUserSessions, "acme").Bucket([]byte("u1")), "short", false},
			{nested(tx, bucketUserSessions, "acme").Bucket([]byte("u1")), "long", true},
			{nested(tx, bucketCounters, "acme"), "short", false},
			{nested(tx, bucketCounters, "acme"), "long", true},
		} {
			if got := c.bucket.Get([]byte(c.key)) != nil; got != c.want {
				t.Errorf("after sweep, %q present in %s = %v, want %v", c.key, c.bucket, got, c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClose(t *testing.T) {
	ctx := t.Context()
	s, err := Open(filepath.Join(t.TempDir(), "partnergate.db"))
	if err != nil {
		t.Fatal(err)
	}
	health := make(chan bool, 4)
	watchCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go s.Watch(watchCtx, func(store.Event) {}, func(up bool) { health <- up })
	if up := <-health; !up {
		t.Fatal("watch started down")
	}

	for range 2 {
		if err := s.Close(); err != nil {
			t.Fatalf("close: %v", err)
		}
	}
	select {
	case up := <-health:
		if up {
			t.Error("watch reported up when the store closed")
		}
	case <-time.After(time.Second):
		t.Error("watch did not report the store closing")
	}
	if _, err := s.GetPartner(ctx, "acme"); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("get after close: %v, want %v", err, store.ErrUnavailable)
	}
	if err := s.Publish(ctx, store.Event{Kind: store.PartnersChanged}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("publish after close: %v, want %v", err, store.ErrUnavailable)
	}
}

// TestSlowWatcherLearnsOfLoss stalls a watcher past its buffer: Publish must
// stay bounded, and the watcher must be told it missed events.
func TestSlowWatcherLearnsOfLoss(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	release := make(chan struct{})
	var (
		mu     sync.Mutex
		events int
		health []bool
	)
	up := make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go s.Watch(ctx, func(store.Event) {
		<-release
		mu.Lock()
		events++
		mu.Unlock()
	}, func(ok bool) {
		mu.Lock()
		defer mu.Unlock()
		health = append(health, ok)
		if len(health) == 1 {
			close(up)
		}
	})
	<-up

	// One event in onEvent, watchBuffer queued, the rest dropped.
	const published, dropped = watchBuffer + 3, 2
	start := time.Now()
	for range published {
		if err := s.Publish(t.Context(), store.Event{Kind: store.SessionRevoked, ID: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	if elapsed, limit := time.Since(start), (dropped+1)*publishWait+time.Second; elapsed > limit {
		t.Errorf("publishing to a stalled watcher took %v, want under %v", elapsed, limit)
	}
	close(release)

	done := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return events == published-dropped && len(health) == 3
	}
	for deadline := time.Now().Add(time.Second); !done() && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if events != published-dropped || len(health) != 3 || !health[0] || health[1] || !health[2] {
		t.Errorf("stalled watcher got %d events and health %v, want %d events and [true false true]",
			events, health, published-dropped)
	}
}
