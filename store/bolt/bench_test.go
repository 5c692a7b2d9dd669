package bolt

import (
	"path/filepath"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/storetest"
)

// BenchmarkUsers100k measures the provisioning lookups in a partner of
// 100,000 users (see storetest.RunUserBenchmarks). Run it with
//
//	go test ./store/bolt -run '^$' -bench Users100k
func BenchmarkUsers100k(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "partnergate.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreatePartner(b.Context(), store.Partner{ID: storetest.BenchPartner}); err != nil {
		b.Fatal(err)
	}
	// CreateUser's own steps, in one transaction: a transaction per user
	// syncs to disk each time, about a millisecond apiece.
	start := time.Now()
	err = s.db.Update(func(tx *bbolt.Tx) error {
		for i := range storetest.BenchUsers {
			if err := createUser(tx, storetest.BenchUser(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatalf("fill: %v", err)
	}
	b.Logf("filled %d users in %v", storetest.BenchUsers, time.Since(start).Round(time.Millisecond))
	storetest.RunUserBenchmarks(b, s)
}
