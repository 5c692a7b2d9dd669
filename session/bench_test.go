package session

import (
	"context"
	"testing"
	"time"
)

// BenchmarkLookupCached measures a lookup of a live session the manager
// already caches: a map read keyed by the cookie and the activity stamp,
// with no MAC check and no store access. Run with
//
//	go test ./session -run '^$' -bench LookupCached -benchmem
func BenchmarkLookupCached(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	m := f.node(b, Config{Now: time.Now})
	cookie, _, err := m.Issue(ctx, f.alice, "127.0.0.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	if id, err := m.Lookup(ctx, "acme", cookie); err != nil || id.UserID != f.alice.ID {
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
