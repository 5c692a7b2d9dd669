package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/partnergate/partnergate/store"
)

// A connection's failure log is its bucket in the partner's bucket of
// bucketSSOFailures, laid out like a request log: keyed by the bucket's
// own sequence in big-endian, so the oldest failures are a prefix.
// DeletePartner drops the partner's bucket with every connection's log;
// DeleteSSOConnection drops the connection's.

// AppendSSOFailure implements store.SSOFailures: the existence checks,
// the write and the trim are one transaction.
func (s *Store) AppendSSOFailure(ctx context.Context, partnerID, connectionID string, f store.SSOFailure, keep int) error {
	if keep < 1 {
		return fmt.Errorf("append sso failure of connection %q in partner %q: keep %d is not positive", connectionID, partnerID, keep)
	}
	f.Time = f.Time.UTC().Truncate(time.Millisecond)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketPartners).Get([]byte(partnerID)) == nil {
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		}
		conns := nested(tx, bucketSSOConnections, partnerID)
		if conns == nil || conns.Get([]byte(connectionID)) == nil {
			return fmt.Errorf("sso connection %q: %w", connectionID, store.ErrNotFound)
		}
		logs, err := nestedForWrite(tx, bucketSSOFailures, partnerID)
		if err != nil {
			return err
		}
		b, err := logs.CreateBucketIfNotExists([]byte(connectionID))
		if err != nil {
			return fmt.Errorf("bucket %s/%q/%q: %w", bucketSSOFailures, partnerID, connectionID, err)
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		data, err := json.Marshal(f)
		if err != nil {
			return fmt.Errorf("encode failure: %w", err)
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), data); err != nil {
			return err
		}
		return trimOldest(b, seq, keep)
	})
	if err != nil {
		return fmt.Errorf("append sso failure of connection %q in partner %q: %w", connectionID, partnerID, err)
	}
	return nil
}

// ListSSOFailures implements store.SSOFailures.
func (s *Store) ListSSOFailures(ctx context.Context, partnerID, connectionID string, limit int) ([]store.SSOFailure, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list sso failures of connection %q in partner %q: limit %d is not positive", connectionID, partnerID, limit)
	}
	var out []store.SSOFailure
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := ssoFailureLog(tx, partnerID, connectionID)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var f store.SSOFailure
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode failure %x: %w", k, err)
			}
			out = append(out, f)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list sso failures of connection %q in partner %q: %w", connectionID, partnerID, err)
	}
	return out, nil
}

// ssoFailureLog returns the connection's failure log, or nil if it has
// none yet.
func ssoFailureLog(tx *bbolt.Tx, partnerID, connectionID string) *bbolt.Bucket {
	logs := nested(tx, bucketSSOFailures, partnerID)
	if logs == nil || connectionID == "" {
		return nil
	}
	return logs.Bucket([]byte(connectionID))
}

// dropSSOFailures deletes the connection's failure log, if it has one.
func dropSSOFailures(tx *bbolt.Tx, partnerID, connectionID string) error {
	logs := nested(tx, bucketSSOFailures, partnerID)
	if logs == nil || connectionID == "" {
		return nil
	}
	err := logs.DeleteBucket([]byte(connectionID))
	if err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
		return fmt.Errorf("sso failures of connection %q: %w", connectionID, err)
	}
	return nil
}
