package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/storetest"
)

// openStore opens rawURL and closes the store when the test ends.
func openStore(t *testing.T, rawURL string) *Store {
	t.Helper()
	s, err := Open(t.Context(), rawURL)
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// storePool hands out stores on separate databases or servers, so parallel
// subtests, which reuse partner ids, never share keys. Each is flushed when
// handed out; the store's Close, registered later, runs before it returns.
type storePool struct {
	free chan string
}

func newStorePool(urls ...string) *storePool {
	p := &storePool{free: make(chan string, len(urls))}
	for _, u := range urls {
		p.free <- u
	}
	return p
}

// databases returns URLs for each of the 16 databases redis-server has by
// default.
func databases(url func(db int) string) []string {
	urls := make([]string, 16)
	for db := range urls {
		urls[db] = url(db)
	}
	return urls
}

func (p *storePool) store(t *testing.T) store.Store {
	t.Helper()
	var url string
	select {
	case url = <-p.free:
	case <-t.Context().Done():
		t.Fatal("no free store")
	}
	t.Cleanup(func() { p.free <- url })
	s, err := Open(t.Context(), url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	if err := s.client.FlushDB(t.Context()).Err(); err != nil {
		t.Fatalf("flush %s: %v", url, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	pool := newStorePool(databases(func(db int) string { return fmt.Sprintf("redis://%s/%d", srv.Addr(), db) })...)
	storetest.RunTests(t, pool.store)
}

// seed fills partner id with one of everything.
func seed(t *testing.T, s *Store, id string, hostnames ...string) {
	t.Helper()
	ctx := t.Context()
	at := time.Now()
	must(t, s.CreatePartner(ctx, store.Partner{ID: id, Name: id, Hostnames: hostnames, CreatedAt: at, UpdatedAt: at}))
	must(t, s.CreateUser(ctx, store.User{ID: "u1", PartnerID: id, Email: "Alice@Example.com", CreatedAt: at}))
	must(t, s.CreateSession(ctx, store.Session{ID: "s1", PartnerID: id, UserID: "u1", CreatedAt: at, ExpiresAt: at.Add(time.Hour)}))
	_, err := s.Incr(ctx, id, "signin:alice", time.Hour)
	must(t, err)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// allKeys lists every key, on every primary of a cluster.
func allKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var (
		mu   sync.Mutex // ForEachMaster calls in parallel
		keys []string
	)
	collect := func(ctx context.Context, c goredis.Cmdable) error {
		found, err := c.Keys(ctx, "*").Result()
		mu.Lock()
		keys = append(keys, found...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := s.client.(*goredis.ClusterClient); ok {
		err = cc.ForEachMaster(t.Context(), func(ctx context.Context, node *goredis.Client) error {
			return collect(ctx, node)
		})
	} else {
		err = collect(t.Context(), s.client)
	}
	must(t, err)
	slices.Sort(keys)
	return keys
}

func TestKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	seed(t, s, "acme", "login.acme.example")
	seed(t, s, "globex")

	want := []string{
		"pg:hostnames",
		"pg:partners",
		"pg:{acme}:counter:signin:alice",
		"pg:{acme}:email:alice@example.com",
		"pg:{acme}:partner",
		"pg:{acme}:session:s1",
		"pg:{acme}:user:u1",
		"pg:{acme}:users",
		"pg:{acme}:usersessions:u1",
		"pg:{globex}:counter:signin:alice",
		"pg:{globex}:email:alice@example.com",
		"pg:{globex}:partner",
		"pg:{globex}:session:s1",
		"pg:{globex}:user:u1",
		"pg:{globex}:users",
		"pg:{globex}:usersessions:u1",
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys:\n got  %q\n want %q", got, want)
	}
	ttl, err := s.client.PTTL(t.Context(), "pg:{acme}:session:s1").Result()
	must(t, err)
	if ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("session TTL %v, want about an hour", ttl)
	}
	ttl, err = s.client.PTTL(t.Context(), "pg:{acme}:usersessions:u1").Result()
	must(t, err)
	if ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("usersessions TTL %v, want that of its longest session", ttl)
	}
}

func TestDeletePartnerSweepsOnlyItsKeys(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	// "a*" as a SCAN pattern would match the keys of "ab" too.
	seed(t, s, "a*", "a.example")
	seed(t, s, "ab", "b.example")
	before := allKeys(t, s)

	must(t, s.DeletePartner(t.Context(), "a*"))
	var want []string
	for _, k := range before {
		if !strings.HasPrefix(k, "pg:{a*}:") {
			want = append(want, k)
		}
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after delete:\n got  %q\n want %q", got, want)
	}
	hosts, err := s.client.HGetAll(t.Context(), hostnamesKey).Result()
	must(t, err)
	if len(hosts) != 1 || hosts["b.example"] != "ab" {
		t.Errorf("hostnames after delete: %v", hosts)
	}
}

func TestInvalidPartnerID(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	for _, id := range []string{"", "a{b", "a}b", "{acme}"} {
		err := s.CreatePartner(ctx, store.Partner{ID: id})
		if err == nil || errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("create partner %q: got %v, want an invalid id error", id, err)
		}
		if _, err := s.GetPartner(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get partner %q: got %v, want ErrNotFound", id, err)
		}
		if err := s.CreateUser(ctx, store.User{ID: "u1", PartnerID: id}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("create user in partner %q: got %v, want ErrNotFound", id, err)
		}
	}
	if keys := allKeys(t, s); len(keys) != 0 {
		t.Errorf("invalid ids wrote keys %q", keys)
	}
}

func TestCreateRequiresOwner(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	err := s.CreateUser(ctx, store.User{ID: "u1", PartnerID: "nobody", Email: "a@example.com"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("create user in a missing partner: got %v, want ErrNotFound", err)
	}
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	err = s.CreateSession(ctx, store.Session{ID: "s1", PartnerID: "acme", UserID: "nobody", ExpiresAt: time.Now().Add(time.Hour)})
	if !errors.Is(err, store.ErrNotFound) {
		t.Errorf("create session of a missing user: got %v, want ErrNotFound", err)
	}
	if keys := allKeys(t, s); !slices.Equal(keys, []string{"pg:partners", "pg:{acme}:partner"}) {
		t.Errorf("refused creates wrote keys: %q", keys)
	}
}

// TestUnavailable checks that a dead or hung Redis fails each kind of call
// (plain, pipelined, transaction, script, pub/sub) fast, with an error
// callers can map to 503.
func TestUnavailable(t *testing.T) {
	const limit = 1500 * time.Millisecond
	for _, outage := range []string{"stopped", "paused"} {
		t.Run(outage, func(t *testing.T) {
			srv := redistest.Start(t)
			s := openStore(t, srv.URL())
			seed(t, s, "acme")
			if outage == "stopped" {
				srv.Stop()
			} else {
				srv.Pause()
				t.Cleanup(srv.Resume)
			}
			ctx := t.Context()
			calls := []struct {
				name string
				call func() error
			}{
				{"GetPartner", func() error { _, err := s.GetPartner(ctx, "acme"); return err }},
				{"GetUserByUserName", func() error { _, err := s.GetUserByUserName(ctx, "acme", "alice"); return err }},
				{"FindUsersByEmail", func() error { _, err := s.FindUsersByEmail(ctx, "acme", "alice@example.com"); return err }},
				{"GetGroupByName", func() error { _, err := s.GetGroupByName(ctx, "acme", "Engineering"); return err }},
				{"ListPartners", func() error { _, err := s.ListPartners(ctx); return err }},
				{"UpdateUser", func() error {
					_, err := s.UpdateUser(ctx, "acme", "u1", func(u store.User) (store.User, error) { return u, nil })
					return err
				}},
				{"CreateSession", func() error {
					return s.CreateSession(ctx, store.Session{ID: "s2", PartnerID: "acme", UserID: "u1", ExpiresAt: time.Now().Add(time.Hour)})
				}},
				{"Incr", func() error { _, err := s.Incr(ctx, "acme", "k", time.Minute); return err }},
				{"Publish", func() error { return s.Publish(ctx, store.Event{Kind: store.PartnersChanged}) }},
				{"DeletePartner", func() error { return s.DeletePartner(ctx, "acme") }},
			}
			for _, c := range calls {
				start := time.Now()
				err := c.call()
				took := time.Since(start)
				t.Logf("%s failed after %v: %v", c.name, took.Round(time.Millisecond), err)
				if !errors.Is(err, store.ErrUnavailable) {
					t.Errorf("%s: got %v, want ErrUnavailable", c.name, err)
				}
				if took > limit {
					t.Errorf("%s took %v to fail, want under %v", c.name, took, limit)
				}
			}
			start := time.Now()
			_, err := Open(ctx, srv.URL())
			if !errors.Is(err, store.ErrUnavailable) || time.Since(start) > limit {
				t.Errorf("Open: got %v after %v, want ErrUnavailable within %v", err, time.Since(start), limit)
			}
		})
	}
}

func TestRecoversAfterRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	seed(t, s, "acme")
	srv.Stop()
	if _, err := s.GetPartner(t.Context(), "acme"); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("get partner while stopped: %v", err)
	}
	srv.Restart()
	// The server came back empty, and pooled connections to the old one
	// are dead: the first call must still get through.
	if _, err := s.GetPartner(t.Context(), "acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get partner after restart: got %v, want ErrNotFound", err)
	}
}
