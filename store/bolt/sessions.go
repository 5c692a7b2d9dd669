package bolt

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// live reports whether sess has not expired at now.
func live(sess store.Session, now time.Time) bool { return now.Before(sess.ExpiresAt) }

func utcSession(s store.Session) store.Session {
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	return s
}

// getLiveSession reads a session; an expired one is store.ErrNotFound.
func getLiveSession(tx *bbolt.Tx, partnerID, id string) (store.Session, error) {
	var sess store.Session
	if err := getJSON(nested(tx, bucketSessions, partnerID), id, &sess); err != nil {
		return store.Session{}, err
	}
	if !live(sess, time.Now()) {
		return store.Session{}, store.ErrNotFound
	}
	return sess, nil
}

// deleteSession removes a stored session and its index entry.
func deleteSession(tx *bbolt.Tx, sess store.Session) error {
	if err := nested(tx, bucketSessions, sess.PartnerID).Delete([]byte(sess.ID)); err != nil {
		return err
	}
	if index := nested(tx, bucketUserSessions, sess.PartnerID).Bucket([]byte(sess.UserID)); index != nil {
		return index.Delete([]byte(sess.ID))
	}
	return nil
}

// CreateSession implements store.Sessions. The user must exist: a session
// written while its user is deleted would outlive the user's revocation.
func (s *Store) CreateSession(ctx context.Context, sess store.Session) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		users := nested(tx, bucketUsers, sess.PartnerID)
		if users == nil || users.Get([]byte(sess.UserID)) == nil {
			return fmt.Errorf("user %q: %w", sess.UserID, store.ErrNotFound)
		}
		sessions, err := nestedForWrite(tx, bucketSessions, sess.PartnerID)
		if err != nil {
			return err
		}
		if sessions.Get([]byte(sess.ID)) != nil {
			return store.ErrAlreadyExists
		}
		index, err := nestedForWrite(tx, bucketUserSessions, sess.PartnerID)
		if err != nil {
			return err
		}
		if index, err = index.CreateBucketIfNotExists([]byte(sess.UserID)); err != nil {
			return fmt.Errorf("sessions of user %q: %w", sess.UserID, err)
		}
		if err := index.Put([]byte(sess.ID), []byte{}); err != nil {
			return err
		}
		return putJSON(sessions, sess.ID, utcSession(sess))
	})
	if err != nil {
		return fmt.Errorf("create session %q in partner %q: %w", sess.ID, sess.PartnerID, err)
	}
	return nil
}

// GetSession implements store.Sessions.
func (s *Store) GetSession(ctx context.Context, partnerID, id string) (store.Session, error) {
	var sess store.Session
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		sess, err = getLiveSession(tx, partnerID, id)
		return err
	})
	if err != nil {
		return store.Session{}, fmt.Errorf("get session %q in partner %q: %w", id, partnerID, err)
	}
	return sess, nil
}

// TouchSession implements store.Sessions.
func (s *Store) TouchSession(ctx context.Context, partnerID, id string, lastSeen time.Time) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		sess, err := getLiveSession(tx, partnerID, id)
		if err != nil {
			return err
		}
		if !lastSeen.After(sess.LastSeenAt) {
			return nil
		}
		sess.LastSeenAt = lastSeen.UTC()
		return putJSON(nested(tx, bucketSessions, partnerID), id, sess)
	})
	if err != nil {
		return fmt.Errorf("touch session %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}

// DeleteSession implements store.Sessions. An expired session not yet swept
// is deleted too rather than reported missing.
func (s *Store) DeleteSession(ctx context.Context, partnerID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var sess store.Session
		if err := getJSON(nested(tx, bucketSessions, partnerID), id, &sess); err != nil {
			return err
		}
		return deleteSession(tx, sess)
	})
	if err != nil {
		return fmt.Errorf("delete session %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}

// ListUserSessions implements store.Sessions. Sessions created at the same
// instant come ordered by id, so the order is stable.
func (s *Store) ListUserSessions(ctx context.Context, partnerID, userID string) ([]store.Session, error) {
	var out []store.Session
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		index := nested(tx, bucketUserSessions, partnerID)
		if index == nil || index.Bucket([]byte(userID)) == nil {
			return nil
		}
		sessions := nested(tx, bucketSessions, partnerID)
		now := time.Now()
		return index.Bucket([]byte(userID)).ForEach(func(k, _ []byte) error {
			var sess store.Session
			if err := getJSON(sessions, string(k), &sess); err != nil {
				return fmt.Errorf("session %q: %w", k, err)
			}
			if live(sess, now) {
				out = append(out, sess)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %q in partner %q: %w", userID, partnerID, err)
	}
	slices.SortFunc(out, func(a, b store.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// DeleteUserSessions implements store.Sessions. The ids include expired
// sessions not yet swept; announcing their revocation is harmless.
func (s *Store) DeleteUserSessions(ctx context.Context, partnerID, userID string) ([]string, error) {
	var ids []string
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		ids, err = deleteUserSessions(tx, partnerID, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("delete sessions of user %q in partner %q: %w", userID, partnerID, err)
	}
	return ids, nil
}
