package session_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
)

// BenchmarkLookupCached measures a lookup of a live session the manager
// already caches: the cookie's MAC check, the cache read and the activity
// stamp, with no store access. Run with
//
//	go test ./session -run '^$' -bench LookupCached -benchmem
func BenchmarkLookupCached(b *testing.B) {
	ctx := context.Background()
	db, err := bolt.Open(filepath.Join(b.TempDir(), "partnergate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if err := db.CreatePartner(ctx, store.Partner{ID: "acme", Name: "Acme Corp"}); err != nil {
		b.Fatal(err)
	}
	alice := store.User{ID: "u-alice", PartnerID: "acme", Email: "alice@acme.example", Name: "Alice Anders", Active: true}
	if err := db.CreateUser(ctx, alice); err != nil {
		b.Fatal(err)
	}
	m, err := session.NewManager(session.Config{Store: db, MACKey: []byte(strings.Repeat("s", 32))})
	if err != nil {
		b.Fatal(err)
	}
	m.SetHealthy(true)
	cookie, _, err := m.Issue(ctx, alice, "127.0.0.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	if id, err := m.Lookup(ctx, "acme", cookie); err != nil || id.UserID != alice.ID {
		b.Fatalf("Lookup = %v, %v; want alice's identity", id, err)
	}

	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Lookup(ctx, "acme", cookie); err != nil {
				b.Fatal(err)
			}
		}
	})
	// Every goroutine looks up the same session: they share its cache
	// entry, the cache's read lock and the entry's activity stamp.
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := m.Lookup(ctx, "acme", cookie); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
