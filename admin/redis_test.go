package admin

import (
	"testing"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	pgredis "github.com/partnergate/partnergate/store/redis"
)

// redisStore gives a test a redis-server of its own: starting one takes
// milliseconds and keeps parallel tests from ever sharing keys.
func redisStore(t testing.TB) store.Store {
	t.Helper()
	srv := redistest.Start(t)
	s, err := pgredis.Open(t.Context(), srv.URL())
	if err != nil {
		t.Fatalf("open redis store: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
