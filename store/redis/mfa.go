package redis

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A user's methods are the fields of one hash, mfamethods:<uid>, so every
// write to any of them changes that one key: a write watches it, and so
// does DeleteUser, which drops the hash. Two unique index keys go with
// each method: mfaid:<id> names its user, as ids are unique within the
// partner, and mfacredential:<credential id>, for a WebAuthn method,
// names the method. They are written and removed only in the MULTI that
// adds or removes the method, under WATCH of its hash, so while a write
// watches the hash the index entries of the methods in it are current.

// errMFAIdentityChanged refuses an update callback that moved a method or
// changed what it is.
var errMFAIdentityChanged = errors.New("update cannot change the method's ids, kind or credential id")

// mfaRef is a credential index entry: the method holding the credential.
type mfaRef struct {
	UserID string `json:"user_id"`
	ID     string `json:"id"`
}

func normMFAMethod(m store.MFAMethod) store.MFAMethod {
	m.CreatedAt = m.CreatedAt.UTC().Truncate(time.Millisecond)
	m.LastUsedAt = m.LastUsedAt.UTC().Truncate(time.Millisecond)
	return m
}

// mfaIdentity is what an update may not change.
func mfaIdentity(m store.MFAMethod) [5]string {
	return [5]string{m.ID, m.PartnerID, m.UserID, string(m.Kind), m.CredentialID}
}

// AddMFAMethod implements store.MFAMethods. It watches the partner and the
// user, which DeletePartner and DeleteUser remove first, so no method
// outlives either.
func (s *Store) AddMFAMethod(ctx context.Context, m store.MFAMethod) error {
	return s.AddMFAMethodIfNone(ctx, m, nil)
}

// AddMFAMethodIfNone implements store.MFAMethods. The user's methods are
// read from their hash, which the add watches: a method added by another
// call after the read fails the EXEC, and the retry sees it.
func (s *Store) AddMFAMethodIfNone(ctx context.Context, m store.MFAMethod, kinds []store.MFAKind) error {
	if err := s.addMFAMethod(ctx, m, kinds); err != nil {
		return fmt.Errorf("add mfa method %q of user %q: %w", m.ID, m.UserID, err)
	}
	return nil
}

func (s *Store) addMFAMethod(ctx context.Context, m store.MFAMethod, kinds []store.MFAKind) error {
	k, err := scopeOf(m.PartnerID)
	if err != nil {
		return err
	}
	if m.ID == "" {
		return errEmptyID
	}
	if m.UserID == "" {
		return fmt.Errorf("user %q: %w", m.UserID, store.ErrNotFound)
	}
	m = normMFAMethod(m)
	raw, err := encode(m)
	if err != nil {
		return err
	}
	ref, err := encode(mfaRef{UserID: m.UserID, ID: m.ID})
	if err != nil {
		return err
	}
	watched := []string{k.partner(), k.user(m.UserID), k.mfaMethods(m.UserID), k.mfaID(m.ID)}
	if m.CredentialID != "" {
		watched = append(watched, k.mfaCredential(m.CredentialID))
	}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		// watched without the hash: partner, user, id[, credential].
		found, err := existing(ctx, tx, slices.Delete(slices.Clone(watched), 2, 3)...)
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", m.PartnerID, store.ErrNotFound)
		case !found[1]:
			return fmt.Errorf("user %q: %w", m.UserID, store.ErrNotFound)
		}
		if err := noMFAMethodOf(ctx, tx, k.mfaMethods(m.UserID), kinds); err != nil {
			return err
		}
		switch {
		case found[2]:
			return store.ErrAlreadyExists
		case len(found) > 3 && found[3]:
			return fmt.Errorf("credential id %q: %w", m.CredentialID, store.ErrAlreadyExists)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.HSet(ctx, k.mfaMethods(m.UserID), m.ID, raw)
			pipe.Set(ctx, k.mfaID(m.ID), m.UserID, 0)
			if m.CredentialID != "" {
				pipe.Set(ctx, k.mfaCredential(m.CredentialID), ref, 0)
			}
			return nil
		})
		return err
	}, watched...)
}

// noMFAMethodOf fails with store.ErrMFAEnrolled if the hash at key holds a
// method of one of kinds; none reads nothing.
func noMFAMethodOf(ctx context.Context, tx *goredis.Tx, key string, kinds []store.MFAKind) error {
	if len(kinds) == 0 {
		return nil
	}
	all, err := tx.HGetAll(ctx, key).Result()
	if err != nil {
		return err
	}
	for id, raw := range all {
		var m store.MFAMethod
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return fmt.Errorf("decode %s %s: %w", key, id, err)
		}
		if slices.Contains(kinds, m.Kind) {
			return fmt.Errorf("method %q of kind %q: %w", id, m.Kind, store.ErrMFAEnrolled)
		}
	}
	return nil
}

// GetMFAMethod implements store.MFAMethods.
func (s *Store) GetMFAMethod(ctx context.Context, partnerID, userID, id string) (store.MFAMethod, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("get mfa method %q of user %q: %w", id, userID, err)
	}
	m, err := getMFAMethod(ctx, s.client, k, userID, id)
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("get mfa method %q of user %q: %w", id, userID, err)
	}
	return m, nil
}

func getMFAMethod(ctx context.Context, c goredis.Cmdable, k scope, userID, id string) (store.MFAMethod, error) {
	key := k.mfaMethods(userID)
	return decodeReply[store.MFAMethod](key+" "+id, c.HGet(ctx, key, id))
}

// ListMFAMethods implements store.MFAMethods: one HGETALL, sorted by id.
func (s *Store) ListMFAMethods(ctx context.Context, partnerID, userID string) ([]store.MFAMethod, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, fmt.Errorf("list mfa methods of user %q: %w", userID, err)
	}
	key := k.mfaMethods(userID)
	all, err := s.client.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, fmt.Errorf("list mfa methods of user %q: %w", userID, classify(err))
	}
	out := make([]store.MFAMethod, 0, len(all))
	for id, raw := range all {
		var m store.MFAMethod
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("list mfa methods of user %q: decode %s %s: %w", userID, key, id, err)
		}
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b store.MFAMethod) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// UpdateMFAMethod implements store.MFAMethods with WATCH on the user's
// methods and a retry when another write got in first, so fn may run more
// than once.
func (s *Store) UpdateMFAMethod(ctx context.Context, partnerID, userID, id string, fn func(store.MFAMethod) (store.MFAMethod, error)) (store.MFAMethod, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("update mfa method %q of user %q: %w", id, userID, err)
	}
	var next store.MFAMethod
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getMFAMethod(ctx, tx, k, userID, id)
		if err != nil {
			return err
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		if mfaIdentity(next) != mfaIdentity(cur) {
			return errMFAIdentityChanged
		}
		next = normMFAMethod(next)
		raw, err := encode(next)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.HSet(ctx, k.mfaMethods(userID), id, raw)
			return nil
		})
		return err
	}, k.mfaMethods(userID))
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("update mfa method %q of user %q: %w", id, userID, err)
	}
	return next, nil
}

// DeleteMFAMethod implements store.MFAMethods; the credential index entry
// goes in the same MULTI.
func (s *Store) DeleteMFAMethod(ctx context.Context, partnerID, userID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete mfa method %q of user %q: %w", id, userID, err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		m, err := getMFAMethod(ctx, tx, k, userID, id)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.HDel(ctx, k.mfaMethods(userID), id)
			pipe.Del(ctx, k.mfaID(id))
			if m.CredentialID != "" {
				pipe.Del(ctx, k.mfaCredential(m.CredentialID))
			}
			return nil
		})
		return err
	}, k.mfaMethods(userID))
	if err != nil {
		return fmt.Errorf("delete mfa method %q of user %q: %w", id, userID, err)
	}
	return nil
}

// userMFAKeys returns the keys DeleteUser drops with the user's methods:
// the hash and the index entries of the methods in it. The caller
// watches the hash.
func userMFAKeys(ctx context.Context, tx *goredis.Tx, k scope, userID string) ([]string, error) {
	key := k.mfaMethods(userID)
	all, err := tx.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	keys := []string{key}
	for id, raw := range all {
		var m store.MFAMethod
		if err := json.Unmarshal([]byte(raw), &m); err != nil {
			return nil, fmt.Errorf("decode %s %s: %w", key, id, err)
		}
		keys = append(keys, k.mfaID(id))
		if m.CredentialID != "" {
			keys = append(keys, k.mfaCredential(m.CredentialID))
		}
	}
	return keys, nil
}

// FindMFAMethodByCredential implements store.MFAMethods. As with byIndex,
// the two reads are not atomic: a method deleted in between is not found.
func (s *Store) FindMFAMethodByCredential(ctx context.Context, partnerID, credentialID string) (store.MFAMethod, error) {
	m, err := s.findMFAMethodByCredential(ctx, partnerID, credentialID)
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("find mfa method by credential %q: %w", credentialID, err)
	}
	return m, nil
}

func (s *Store) findMFAMethodByCredential(ctx context.Context, partnerID, credentialID string) (store.MFAMethod, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.MFAMethod{}, err
	}
	if credentialID == "" {
		return store.MFAMethod{}, store.ErrNotFound
	}
	ref, err := getJSON[mfaRef](ctx, s.client, k.mfaCredential(credentialID))
	if err != nil {
		return store.MFAMethod{}, err
	}
	m, err := getMFAMethod(ctx, s.client, k, ref.UserID, ref.ID)
	if err != nil {
		return store.MFAMethod{}, err
	}
	if m.CredentialID != credentialID {
		return store.MFAMethod{}, store.ErrNotFound
	}
	return m, nil
}
