package redis

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/storetest"
)

// benchBatch is how many users one pipeline of the fill writes.
const benchBatch = 1000

// BenchmarkUsers100k measures the provisioning lookups in a partner of
// 100,000 users (see storetest.RunUserBenchmarks) on a local redis-server.
// Run it with
//
//	go test ./store/redis -run '^$' -bench Users100k
func BenchmarkUsers100k(b *testing.B) {
	ctx := b.Context()
	s, err := Open(ctx, redistest.Start(b).URL())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	if err := s.CreatePartner(ctx, store.Partner{ID: storetest.BenchPartner}); err != nil {
		b.Fatal(err)
	}
	// CreateUser's writes without its checks, pipelined: a transaction
	// per user costs several round trips.
	k, err := scopeOf(storetest.BenchPartner)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for from := 0; from < storetest.BenchUsers; from += benchBatch {
		_, err := s.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
			for i := from; i < min(from+benchBatch, storetest.BenchUsers); i++ {
				u := storetest.BenchUser(i)
				raw, err := encode(u)
				if err != nil {
					return err
				}
				addUser(ctx, pipe, k, u.ID, raw, userKeys(k, u))
			}
			return nil
		})
		if err != nil {
			b.Fatalf("fill users from %d: %v", from, err)
		}
	}
	b.Logf("filled %d users in %v", storetest.BenchUsers, time.Since(start).Round(time.Millisecond))
	storetest.RunUserBenchmarks(b, s)
}
