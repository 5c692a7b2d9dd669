package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A partner's request log is one list, newest at the head, under the
// partner's hash tag so DeletePartner's sweep drops it with the rest.

// AppendRequest implements store.RequestLog: LPUSH and LTRIM run in one
// MULTI watching the partner, so the log never exceeds keep and never
// reappears after DeletePartner.
func (s *Store) AppendRequest(ctx context.Context, partnerID string, rec store.RequestRecord, keep int) error {
	if err := s.appendRequest(ctx, partnerID, rec, keep); err != nil {
		return fmt.Errorf("append request of partner %q: %w", partnerID, err)
	}
	return nil
}

func (s *Store) appendRequest(ctx context.Context, partnerID string, rec store.RequestRecord, keep int) error {
	if keep < 1 {
		return fmt.Errorf("keep %d is not positive", keep)
	}
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	rec.Time = rec.Time.UTC().Truncate(time.Millisecond)
	raw, err := encode(rec)
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
			pipe.LPush(ctx, k.scimRequests(), raw)
			pipe.LTrim(ctx, k.scimRequests(), 0, int64(keep-1))
			return nil
		})
		return err
	}, k.partner())
}

// ListRequests implements store.RequestLog.
func (s *Store) ListRequests(ctx context.Context, partnerID string, limit int) ([]store.RequestRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list requests of partner %q: limit %d is not positive", partnerID, limit)
	}
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, nil // no partner can have the id, so it has no log
	}
	raws, err := s.client.LRange(ctx, k.scimRequests(), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("list requests of partner %q: %w", partnerID, classify(err))
	}
	out := make([]store.RequestRecord, 0, len(raws))
	for _, raw := range raws {
		var rec store.RequestRecord
		if err := json.Unmarshal([]byte(raw), &rec); err != nil {
			return nil, fmt.Errorf("list requests of partner %q: decode: %w", partnerID, err)
		}
		out = append(out, rec)
	}
	return out, nil
}
