package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// counter is one fixed-window counter as stored.
type counter struct {
	Count     int64     `json:"count"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (c counter) live(now time.Time) bool { return now.Before(c.ExpiresAt) }

// Incr implements store.Counters.
func (s *Store) Incr(ctx context.Context, partnerID, key string, window time.Duration) (int64, error) {
	var c counter
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := nestedForWrite(tx, bucketCounters, partnerID)
		if err != nil {
			return err
		}
		now := time.Now()
		switch err := getJSON(b, key, &c); {
		case errors.Is(err, store.ErrNotFound) || err == nil && !c.live(now):
			c = counter{ExpiresAt: now.Add(window).UTC()}
		case err != nil:
			return err
		}
		c.Count++
		return putJSON(b, key, c)
	})
	if err != nil {
		return 0, fmt.Errorf("incr counter %q in partner %q: %w", key, partnerID, err)
	}
	return c.Count, nil
}

// Count implements store.Counters.
func (s *Store) Count(ctx context.Context, partnerID, key string) (int64, error) {
	var n int64
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var c counter
		switch err := getJSON(nested(tx, bucketCounters, partnerID), key, &c); {
		case errors.Is(err, store.ErrNotFound):
			return nil
		case err != nil:
			return err
		}
		if c.live(time.Now()) {
			n = c.Count
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count counter %q in partner %q: %w", key, partnerID, err)
	}
	return n, nil
}

// ResetCounter implements store.Counters.
func (s *Store) ResetCounter(ctx context.Context, partnerID, key string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := nested(tx, bucketCounters, partnerID)
		if b == nil {
			return nil
		}
		return b.Delete([]byte(key))
	})
	if err != nil {
		return fmt.Errorf("reset counter %q in partner %q: %w", key, partnerID, err)
	}
	return nil
}
