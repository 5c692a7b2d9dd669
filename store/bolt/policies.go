package bolt

import (
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// A partner's policy is its value in bucketPolicies, keyed by the partner
// id; DeletePartner deletes it with the partner. The governance baseline
// is the one value of bucketGovernance, which no partner owns.

// governanceKey names the baseline in bucketGovernance.
const governanceKey = "baseline"

func utcPolicy(rec store.PolicyRecord) store.PolicyRecord {
	rec.UpdatedAt = rec.UpdatedAt.UTC().Truncate(time.Millisecond)
	return rec
}

// GetPolicy implements store.Policies.
func (s *Store) GetPolicy(ctx context.Context, partnerID string) (store.PolicyRecord, error) {
	var rec store.PolicyRecord
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketPolicies), partnerID, &rec)
	})
	if err != nil {
		return store.PolicyRecord{}, fmt.Errorf("get policy of partner %q: %w", partnerID, err)
	}
	return rec, nil
}

// PutPolicy implements store.Policies: the partner check and the write
// are one transaction.
func (s *Store) PutPolicy(ctx context.Context, partnerID string, rec store.PolicyRecord) error {
	rec = utcPolicy(rec)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketPartners).Get([]byte(partnerID)) == nil {
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		}
		return putJSON(tx.Bucket(bucketPolicies), partnerID, rec)
	})
	if err != nil {
		return fmt.Errorf("put policy of partner %q: %w", partnerID, err)
	}
	return nil
}

// DeletePolicy implements store.Policies.
func (s *Store) DeletePolicy(ctx context.Context, partnerID string) error {
	if partnerID == "" {
		return nil // no partner has the id, so none has a policy
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketPolicies).Delete([]byte(partnerID))
	})
	if err != nil {
		return fmt.Errorf("delete policy of partner %q: %w", partnerID, err)
	}
	return nil
}

// GetGovernance implements store.Policies.
func (s *Store) GetGovernance(ctx context.Context) (store.PolicyRecord, error) {
	var rec store.PolicyRecord
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketGovernance), governanceKey, &rec)
	})
	if err != nil {
		return store.PolicyRecord{}, fmt.Errorf("get governance: %w", err)
	}
	return rec, nil
}

// PutGovernance implements store.Policies.
func (s *Store) PutGovernance(ctx context.Context, rec store.PolicyRecord) error {
	rec = utcPolicy(rec)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		return putJSON(tx.Bucket(bucketGovernance), governanceKey, rec)
	})
	if err != nil {
		return fmt.Errorf("put governance: %w", err)
	}
	return nil
}
