package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// createSessionScript writes session KEYS[2] (ARGV[1], expiring at ARGV[2]
// ms) and adds its id ARGV[3] to the user's set KEYS[3], if user KEYS[1]
// exists: checked here so no session outlives a concurrent DeleteUser. The
// set lives as long as its longest session.
var createSessionScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then
	return 'nouser'
end
if redis.call('EXISTS', KEYS[2]) == 1 then
	return 'exists'
end
redis.call('SET', KEYS[2], ARGV[1], 'PXAT', ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
-- GT treats a key without expiry, such as a new set, as never expiring.
if redis.call('PTTL', KEYS[3]) == -1 then
	redis.call('PEXPIREAT', KEYS[3], ARGV[2])
else
	redis.call('PEXPIREAT', KEYS[3], ARGV[2], 'GT')
end
return 'ok'
`)

// CreateSession implements store.Sessions. The user must exist.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	if err := s.createSession(ctx, sess); err != nil {
		return fmt.Errorf("create session for user %q: %w", sess.UserID, err)
	}
	return nil
}

func (s *Store) createSession(ctx context.Context, sess store.Session) error {
	k, err := scopeOf(sess.PartnerID)
	if err != nil {
		return err
	}
	if sess.ID == "" {
		return errEmptyID
	}
	expires := sess.ExpiresAt.UnixMilli()
	if expires <= 0 {
		return errors.New("session has no expiry")
	}
	raw, err := encode(sess)
	if err != nil {
		return err
	}
	keys := []string{k.user(sess.UserID), k.session(sess.ID), k.userSessions(sess.UserID)}
	res, err := createSessionScript.Run(ctx, s.client, keys, raw, expires, sess.ID).Text()
	if err != nil {
		return classify(err)
	}
	switch res {
	case "nouser":
		return fmt.Errorf("user %q: %w", sess.UserID, store.ErrNotFound)
	case "exists":
		return fmt.Errorf("session: %w", store.ErrAlreadyExists)
	}
	return nil
}

// GetSession implements store.Sessions.
func (s *Store) GetSession(ctx context.Context, partnerID, id string) (store.Session, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	sess, err := getJSON[store.Session](ctx, s.client, k.session(id))
	if err == nil && expired(sess) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fmt.Errorf("get session: %w", err)
	}
	return sess, nil
}

// expired also covers the moments between ExpiresAt and Redis evicting the
// key, and clocks that disagree by a little.
func expired(sess store.Session) bool {
	return !time.Now().Before(sess.ExpiresAt)
}

// TouchSession implements store.Sessions.
func (s *Store) TouchSession(ctx context.Context, partnerID, id string, lastSeen time.Time) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		sess, err := getJSON[store.Session](ctx, tx, k.session(id))
		if err != nil {
			return err
		}
		if expired(sess) {
			return store.ErrNotFound
		}
		if !lastSeen.After(sess.LastSeenAt) {
			return nil
		}
		sess.LastSeenAt = lastSeen
		raw, err := encode(sess)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.SetArgs(ctx, k.session(id), raw, goredis.SetArgs{KeepTTL: true})
			return nil
		})
		return err
	}, k.session(id))
	if err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// DeleteSession implements store.Sessions. An expired session is removed
// too but answers store.ErrNotFound, as it was already gone.
func (s *Store) DeleteSession(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		sess, err := getJSON[store.Session](ctx, tx, k.session(id))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, k.session(id))
			pipe.SRem(ctx, k.userSessions(sess.UserID), id)
			return nil
		})
		if err == nil && expired(sess) {
			return store.ErrNotFound
		}
		return err
	}, k.session(id))
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// ListUserSessions implements store.Sessions.
func (s *Store) ListUserSessions(ctx context.Context, partnerID, userID string) ([]store.Session, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	sessions, gone, err := loadUserSessions(ctx, s.client, k, userID)
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q: %w", userID, err)
	}
	if len(gone) > 0 {
		// Pruning is housekeeping; the listing is right without it and a
		// later call retries.
		_ = s.client.SRem(ctx, k.userSessions(userID), gone).Err()
	}
	return sessions, nil
}

// DeleteUserSessions implements store.Sessions. It returns the ids of the
// sessions that were live, ordered by CreatedAt.
func (s *Store) DeleteUserSessions(ctx context.Context, partnerID, userID string) ([]string, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, fmt.Errorf("delete sessions of user %q: %w", userID, err)
	}
	var ids []string
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		sessions, gone, err := loadUserSessions(ctx, tx, k, userID)
		if err != nil {
			return err
		}
		keys := []string{k.userSessions(userID)}
		ids = make([]string, len(sessions))
		for i, sess := range sessions {
			ids[i] = sess.ID
			keys = append(keys, k.session(sess.ID))
		}
		// Expired sessions Redis has not evicted yet go too.
		for _, id := range gone {
			keys = append(keys, k.session(id))
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, keys...)
			return nil
		})
		return err
	}, k.userSessions(userID))
	if err != nil {
		return nil, fmt.Errorf("delete sessions of user %q: %w", userID, err)
	}
	return ids, nil
}

// loadUserSessions returns the user's live sessions ordered by CreatedAt,
// and the ids in the user's set whose session is gone or expired.
func loadUserSessions(ctx context.Context, c goredis.Cmdable, k scope, userID string) ([]store.Session, []string, error) {
	sids, err := c.SMembers(ctx, k.userSessions(userID)).Result()
	if err != nil || len(sids) == 0 {
		return []store.Session{}, nil, classify(err)
	}
	keys := make([]string, len(sids))
	for i, sid := range sids {
		keys[i] = k.session(sid)
	}
	vals, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, classify(err)
	}
	all, err := decodeAll[store.Session](keys, vals)
	if err != nil {
		return nil, nil, err
	}
	live := make([]store.Session, 0, len(all))
	var gone []string
	for _, sess := range all {
		if expired(sess) {
			gone = append(gone, sess.ID)
		} else {
			live = append(live, sess)
		}
	}
	for i, val := range vals {
		if val == nil {
			gone = append(gone, sids[i])
		}
	}
	slices.SortFunc(live, func(a, b store.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return live, gone, nil
}
