package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A connection's failure log is one list, newest at the head, under the
// partner's hash tag so DeletePartner's sweep drops it with the rest;
// DeleteSSOConnection drops it with the connection.

// AppendSSOFailure implements store.SSOFailures: LPUSH and LTRIM run in
// one MULTI watching the partner and the connection, so the log never
// exceeds keep and never reappears after DeletePartner or
// DeleteSSOConnection.
func (s *Store) AppendSSOFailure(ctx context.Context, partnerID, connectionID string, f store.SSOFailure, keep int) error {
	if err := s.appendSSOFailure(ctx, partnerID, connectionID, f, keep); err != nil {
		return fmt.Errorf("append sso failure of connection %q in partner %q: %w", connectionID, partnerID, err)
	}
	return nil
}

func (s *Store) appendSSOFailure(ctx context.Context, partnerID, connectionID string, f store.SSOFailure, keep int) error {
	if keep < 1 {
		return fmt.Errorf("keep %d is not positive", keep)
	}
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	f.Time = f.Time.UTC().Truncate(time.Millisecond)
	raw, err := encode(f)
	if err != nil {
		return err
	}
	watched := []string{k.partner(), k.ssoConnection(connectionID)}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, watched...)
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		case !found[1]:
			return fmt.Errorf("sso connection %q: %w", connectionID, store.ErrNotFound)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.LPush(ctx, k.ssoFailures(connectionID), raw)
			pipe.LTrim(ctx, k.ssoFailures(connectionID), 0, int64(keep-1))
			return nil
		})
		return err
	}, watched...)
}

// ListSSOFailures implements store.SSOFailures.
func (s *Store) ListSSOFailures(ctx context.Context, partnerID, connectionID string, limit int) ([]store.SSOFailure, error) {
	if limit < 1 {
		return nil, fmt.Errorf("list sso failures of connection %q in partner %q: limit %d is not positive", connectionID, partnerID, limit)
	}
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, nil // no partner can have the id, so it has no log
	}
	raws, err := s.client.LRange(ctx, k.ssoFailures(connectionID), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("list sso failures of connection %q in partner %q: %w", connectionID, partnerID, classify(err))
	}
	out := make([]store.SSOFailure, 0, len(raws))
	for _, raw := range raws {
		var f store.SSOFailure
		if err := json.Unmarshal([]byte(raw), &f); err != nil {
			return nil, fmt.Errorf("list sso failures of connection %q in partner %q: decode: %w", connectionID, partnerID, err)
		}
		out = append(out, f)
	}
	return out, nil
}
