package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A partner's policy is one string under the partner's hash tag, so
// DeletePartner's sweep drops it with the rest. The governance baseline
// is one string under governanceKey, which no partner's sweep matches.

func utcPolicy(rec store.PolicyRecord) store.PolicyRecord {
	rec.UpdatedAt = rec.UpdatedAt.UTC().Truncate(time.Millisecond)
	return rec
}

// GetPolicy implements store.Policies. A policy exists only while its
// partner does, so a missing key answers both "none" and "no partner".
func (s *Store) GetPolicy(ctx context.Context, partnerID string) (store.PolicyRecord, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.PolicyRecord{}, fmt.Errorf("get policy: %w", err)
	}
	rec, err := getJSON[store.PolicyRecord](ctx, s.client, k.policy())
	if err != nil {
		return store.PolicyRecord{}, fmt.Errorf("get policy of partner %q: %w", partnerID, err)
	}
	return rec, nil
}

// PutPolicy implements store.Policies: the SET runs in a MULTI watching
// the partner, so the policy never reappears after DeletePartner.
func (s *Store) PutPolicy(ctx context.Context, partnerID string, rec store.PolicyRecord) error {
	if err := s.putPolicy(ctx, partnerID, rec); err != nil {
		return fmt.Errorf("put policy of partner %q: %w", partnerID, err)
	}
	return nil
}

func (s *Store) putPolicy(ctx context.Context, partnerID string, rec store.PolicyRecord) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	raw, err := encode(utcPolicy(rec))
	if err != nil {
		return err
	}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, k.partner())
		if err != nil {
			return err
		}
		if !found[0] {
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.policy(), raw, 0)
			return nil
		})
		return err
	}, k.partner())
}

// DeletePolicy implements store.Policies.
func (s *Store) DeletePolicy(ctx context.Context, partnerID string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil // no partner can have the id, so it has no policy
	}
	if err := s.client.Del(ctx, k.policy()).Err(); err != nil {
		return fmt.Errorf("delete policy of partner %q: %w", partnerID, classify(err))
	}
	return nil
}

// GetGovernance implements store.Policies.
func (s *Store) GetGovernance(ctx context.Context) (store.PolicyRecord, error) {
	rec, err := getJSON[store.PolicyRecord](ctx, s.client, governanceKey)
	if err != nil {
		return store.PolicyRecord{}, fmt.Errorf("get governance: %w", err)
	}
	return rec, nil
}

// PutGovernance implements store.Policies.
func (s *Store) PutGovernance(ctx context.Context, rec store.PolicyRecord) error {
	raw, err := encode(utcPolicy(rec))
	if err != nil {
		return fmt.Errorf("put governance: %w", err)
	}
	if err := s.client.Set(ctx, governanceKey, raw, 0).Err(); err != nil {
		return fmt.Errorf("put governance: %w", classify(err))
	}
	return nil
}
