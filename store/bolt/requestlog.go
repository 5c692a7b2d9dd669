package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// A partner's request log is its bucket in bucketSCIMRequests, keyed by
// the bucket's own sequence in big-endian, so key order is arrival order
// and the oldest records are a prefix.

// AppendRequest implements store.RequestLog: the write and the trim are
// one transaction.
func (s *Store) AppendRequest(ctx context.Context, partnerID string, rec store.RequestRecord, keep int) error {
	if keep < 1 {
		return fmt.Errorf("append request of partner %q: keep %d is not positive", partnerID, keep)
	}
	rec.Time = rec.Time.UTC().Truncate(time.Millisecond)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketPartners).Get([]byte(partnerID)) == nil {
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		}
		b, err := nestedForWrite(tx, bucketSCIMRequests, partnerID)
		if err != nil {
			return err
		}
		seq, err := b.NextSequence()
		if err != nil {
			return err
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		if err := b.Put(binary.BigEndian.AppendUint64(nil, seq), data); err != nil {
			return err
		}
		return trimOldest(b, seq, keep)
	})
	if err != nil {
		return fmt.Errorf("append request of partner %q: %w", partnerID, err)
	}
	return nil
}

// trimOldest drops the records of a ring bucket (a request log, an SSO
// failure log) older than the keep newest, the newest being seq.
// Sequences have no gaps, so the cut follows from seq alone.
func trimOldest(b *bbolt.Bucket, seq uint64, keep int) error {
	if seq <= uint64(keep) {
		return nil
	}
	oldestKept := binary.BigEndian.AppendUint64(nil, seq-uint64(keep)+1)
	c := b.Cursor()
	// First again after each Delete: a bbolt cursor may skip a key when
	// moved on from a deleted one.
	for k, _ := c.First(); k != nil && string(k) < string(oldestKept); k, _ = c.First() {
		if err := c.Delete(); err != nil {
			return fmt.Errorf("trim: %w", err)
		}
	}
	return nil
}

// ListRequests implements store.RequestLog.
func (s *Store) ListRequests(ctx context.Context, partnerID string, limit int) ([]store.RequestRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list requests of partner %q: limit %d is not positive", partnerID, limit)
	}
	var out []store.RequestRecord
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		b := nested(tx, bucketSCIMRequests, partnerID)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			var rec store.RequestRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode record %x: %w", k, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list requests of partner %q: %w", partnerID, err)
	}
	return out, nil
}
