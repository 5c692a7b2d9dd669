package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// A stream's bucket holds its head under auditHeadKey and its records in
// the nested bucket auditRecords, keyed by big-endian seq so that key
// order is seq order. Partner streams live in bucketAudit, one bucket per
// partner; bucketPlatformAudit is the platform stream's bucket itself,
// since a bucket cannot be named "".
const auditHeadKey = "head"

var auditRecords = []byte("records")

// streamBucket returns stream's bucket, or nil if it has none yet.
func streamBucket(tx *bbolt.Tx, stream string) *bbolt.Bucket {
	if stream == store.PlatformStream {
		return tx.Bucket(bucketPlatformAudit)
	}
	return nested(tx, bucketAudit, stream)
}

// streamBucketForWrite returns stream's bucket, creating it. A partner's
// stream needs the partner, so none outlives DeletePartner.
func streamBucketForWrite(tx *bbolt.Tx, stream string) (*bbolt.Bucket, error) {
	if stream == store.PlatformStream {
		return tx.Bucket(bucketPlatformAudit), nil
	}
	if tx.Bucket(bucketPartners).Get([]byte(stream)) == nil {
		return nil, fmt.Errorf("partner %q: %w", stream, store.ErrNotFound)
	}
	return nestedForWrite(tx, bucketAudit, stream)
}

// recordsBucket returns stream's records, or nil if it has none.
func recordsBucket(tx *bbolt.Tx, stream string) *bbolt.Bucket {
	if b := streamBucket(tx, stream); b != nil {
		return b.Bucket(auditRecords)
	}
	return nil
}

func seqKey(seq int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(seq)) }

func keySeq(k []byte) (int64, error) {
	if len(k) != 8 {
		return 0, fmt.Errorf("audit record key %x is not a seq", k)
	}
	return int64(binary.BigEndian.Uint64(k)), nil
}

// readHead returns the head kept in b; the zero head if b is nil or has
// none.
func readHead(b *bbolt.Bucket) (store.AuditHead, error) {
	var h store.AuditHead
	err := getJSON(b, auditHeadKey, &h)
	if errors.Is(err, store.ErrNotFound) {
		return store.AuditHead{}, nil
	}
	return h, err
}

// AuditHead implements store.AuditLog.
func (s *Store) AuditHead(ctx context.Context, stream string) (store.AuditHead, error) {
	var h store.AuditHead
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		h, err = readHead(streamBucket(tx, stream))
		return err
	})
	if err != nil {
		return store.AuditHead{}, fmt.Errorf("read head of audit stream %q: %w", stream, err)
	}
	return h, nil
}

// AppendAudit implements store.AuditLog: the check, the write, the trim and
// the new head are one transaction.
func (s *Store) AppendAudit(ctx context.Context, stream string, head store.AuditHead, rec store.AuditRecord, keep store.AuditRetention) error {
	rec.Time = rec.Time.UTC().Truncate(time.Millisecond)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := streamBucketForWrite(tx, stream)
		if err != nil {
			return err
		}
		cur, err := readHead(b)
		if err != nil {
			return err
		}
		if cur.Seq != head.Seq || cur.Hash != head.Hash {
			return store.ErrConflict
		}
		if err := checkAppend(cur, rec); err != nil {
			return err
		}
		records, err := b.CreateBucketIfNotExists(auditRecords)
		if err != nil {
			return fmt.Errorf("bucket %s: %w", auditRecords, err)
		}
		data, err := json.Marshal(rec)
		if err != nil {
			return fmt.Errorf("encode record: %w", err)
		}
		if err := records.Put(seqKey(rec.Seq), data); err != nil {
			return err
		}
		first, err := trimAudit(records, cur.First, rec, keep)
		if err != nil {
			return fmt.Errorf("trim: %w", err)
		}
		return putJSON(b, auditHeadKey, store.AuditHead{Seq: rec.Seq, Hash: rec.Hash, Time: rec.Time, First: first})
	})
	if err != nil {
		return fmt.Errorf("append record %d to audit stream %q: %w", rec.Seq, stream, err)
	}
	return nil
}

// checkAppend refuses a record that would not extend head: a caller's bug,
// not a lost race, so it is no ErrConflict.
func checkAppend(head store.AuditHead, rec store.AuditRecord) error {
	if rec.Seq != head.Seq+1 {
		return fmt.Errorf("seq %d does not follow the head's %d", rec.Seq, head.Seq)
	}
	if rec.Time.Before(head.Time) {
		return fmt.Errorf("time %v is before the head's %v", rec.Time, head.Time)
	}
	return nil
}

// trimAudit drops from the oldest end of records what keep no longer
// retains, now that newest is written, and returns the new First. The
// count bound follows from seqs alone; the age bound reads each oldest
// record until one is young enough.
func trimAudit(records *bbolt.Bucket, first int64, newest store.AuditRecord, keep store.AuditRetention) (int64, error) {
	if first == 0 {
		first = newest.Seq
	}
	if keep.MaxEvents > 0 {
		first = max(first, newest.Seq-int64(keep.MaxEvents)+1)
	}
	cutoff := newest.Time.Add(-keep.MaxAge)
	c := records.Cursor()
	// First again after each Delete: a bbolt cursor may skip a key when
	// moved on from a deleted one.
	for k, v := c.First(); k != nil; k, v = c.First() {
		seq, err := keySeq(k)
		if err != nil {
			return 0, err
		}
		if seq >= first {
			if keep.MaxAge <= 0 {
				break
			}
			var r struct {
				Time time.Time `json:"time"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return 0, fmt.Errorf("decode record %d: %w", seq, err)
			}
			if !r.Time.Before(cutoff) {
				break
			}
			first = seq + 1
		}
		if err := c.Delete(); err != nil {
			return 0, fmt.Errorf("delete record %d: %w", seq, err)
		}
	}
	return first, nil
}

// ScanAudit implements store.AuditLog.
func (s *Store) ScanAudit(ctx context.Context, stream string, before int64, limit int) ([]store.AuditRecord, error) {
	out, err := s.scanAudit(ctx, stream, limit, func(c *bbolt.Cursor) (k, v []byte, next func() ([]byte, []byte)) {
		if before <= 0 {
			k, v = c.Last()
		} else if k, _ = c.Seek(seqKey(before)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		return k, v, c.Prev
	})
	if err != nil {
		return nil, fmt.Errorf("scan audit stream %q before %d: %w", stream, before, err)
	}
	return out, nil
}

// ScanAuditForward implements store.AuditLog.
func (s *Store) ScanAuditForward(ctx context.Context, stream string, after int64, limit int) ([]store.AuditRecord, error) {
	out, err := s.scanAudit(ctx, stream, limit, func(c *bbolt.Cursor) (k, v []byte, next func() ([]byte, []byte)) {
		k, v = c.Seek(seqKey(max(after, 0) + 1))
		return k, v, c.Next
	})
	if err != nil {
		return nil, fmt.Errorf("scan audit stream %q after %d: %w", stream, after, err)
	}
	return out, nil
}

// scanAudit decodes up to limit records of stream, from where start puts
// the cursor on in the direction its next moves.
func (s *Store) scanAudit(ctx context.Context, stream string, limit int, start func(*bbolt.Cursor) (k, v []byte, next func() ([]byte, []byte))) ([]store.AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("limit %d is not positive", limit)
	}
	var out []store.AuditRecord
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		records := recordsBucket(tx, stream)
		if records == nil {
			return nil
		}
		for k, v, next := start(records.Cursor()); k != nil && len(out) < limit; k, v = next() {
			var rec store.AuditRecord
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode record %x: %w", k, err)
			}
			out = append(out, rec)
		}
		return nil
	})
	return out, err
}
