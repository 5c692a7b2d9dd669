package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// incrScript increments KEYS[1] and starts its window of ARGV[1] ms if it
// has none, which also repairs a counter that lost its expiry.
var incrScript = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if redis.call('PTTL', KEYS[1]) < 0 then
	redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
return n
`)

// Incr implements store.Counters.
func (s *Store) Incr(ctx context.Context, partnerID, key string, window time.Duration) (int64, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return 0, fmt.Errorf("increment counter %q: %w", key, err)
	}
	if window <= 0 {
		return 0, fmt.Errorf("increment counter %q: window %v is not positive", key, window)
	}
	// Rounded up: PEXPIRE 0 would delete the counter at once.
	ms := (window + time.Millisecond - 1).Milliseconds()
	n, err := incrScript.Run(ctx, s.client, []string{k.counter(key)}, ms).Int64()
	if err != nil {
		return 0, fmt.Errorf("increment counter %q: %w", key, classify(err))
	}
	return n, nil
}

// Count implements store.Counters.
func (s *Store) Count(ctx context.Context, partnerID, key string) (int64, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", key, err)
	}
	n, err := s.client.Get(ctx, k.counter(key)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("count %q: %w", key, classify(err))
	}
	return n, nil
}

// ResetCounter implements store.Counters.
func (s *Store) ResetCounter(ctx context.Context, partnerID, key string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("reset counter %q: %w", key, err)
	}
	if err := s.client.Del(ctx, k.counter(key)).Err(); err != nil {
		return fmt.Errorf("reset counter %q: %w", key, classify(err))
	}
	return nil
}
