// Package teststore opens every storage backend for the tests of packages
// above the store, so each of them runs its tests on bbolt and on a real
// Redis alike. A missing redis-server fails the test (see redistest): it
// never skips.
package teststore

import (
	"path/filepath"
	"testing"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
	pgredis "github.com/partnergate/partnergate/store/redis"
)

// Backends names every backend.
var Backends = []string{"bolt", "redis"}

// Each runs test once per backend, as parallel subtests named after the
// backend, each on a fresh, empty store.
func Each(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, backend := range Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, Open(t, backend))
		})
	}
}

// Open returns a fresh, empty store of the backend, closed when the test
// ends.
func Open(t testing.TB, backend string) store.Store {
	t.Helper()
	var st store.Store
	switch backend {
	case "bolt":
		db, err := bolt.Open(filepath.Join(t.TempDir(), "partnergate.db"))
		if err != nil {
			t.Fatalf("open bolt store: %v", err)
		}
		st = db
	case "redis":
		srv := redistest.Start(t)
		s, err := pgredis.Open(t.Context(), srv.URL())
		if err != nil {
			t.Fatalf("open redis store: %v", err)
		}
		st = s
	default:
		t.Fatalf("unknown store backend %q", backend)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
