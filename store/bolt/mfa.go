package bolt

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// A user's methods live in a bucket of their own under mfa_methods, so
// listing them is one cursor walk in id order and DeleteUser drops them
// with the bucket. Two unique indexes go with them, changed only in the
// transactions that add or remove a method: mfa_ids maps a method id to
// its user, as ids are unique within the partner, and mfa_credentials
// maps each non-empty credential id to the method holding it.

// errMFAIdentityChanged refuses an update callback that moved a method or
// changed what it is.
var errMFAIdentityChanged = errors.New("update cannot change the method's ids, kind or credential id")

// mfaRef is a credential index entry: the method holding the credential.
type mfaRef struct {
	UserID string `json:"user_id"`
	ID     string `json:"id"`
}

func msUTC(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func normMFAMethod(m store.MFAMethod) store.MFAMethod {
	m.CreatedAt, m.LastUsedAt = msUTC(m.CreatedAt), msUTC(m.LastUsedAt)
	return m
}

// mfaMethods returns the user's method bucket, or nil if it has none.
func mfaMethods(tx *bbolt.Tx, partnerID, userID string) *bbolt.Bucket {
	b := nested(tx, bucketMFAMethods, partnerID)
	if b == nil {
		return nil
	}
	return b.Bucket([]byte(userID))
}

// AddMFAMethod implements store.MFAMethods. The user is checked in the
// write transaction, so no method outlives a concurrent DeleteUser.
func (s *Store) AddMFAMethod(ctx context.Context, m store.MFAMethod) error {
	return s.AddMFAMethodIfNone(ctx, m, nil)
}

// AddMFAMethodIfNone implements store.MFAMethods. The user's methods are
// read in the write transaction that adds m, and bbolt runs one write
// transaction at a time, so no other method can be added in between.
func (s *Store) AddMFAMethodIfNone(ctx context.Context, m store.MFAMethod, kinds []store.MFAKind) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error { return addMFAMethod(tx, m, kinds) })
	if err != nil {
		return fmt.Errorf("add mfa method %q of user %q in partner %q: %w", m.ID, m.UserID, m.PartnerID, err)
	}
	return nil
}

// addMFAMethod adds m unless the user has a method of one of kinds.
func addMFAMethod(tx *bbolt.Tx, m store.MFAMethod, kinds []store.MFAKind) error {
	if m.ID == "" {
		return errors.New("empty id")
	}
	users := nested(tx, bucketUsers, m.PartnerID)
	if users == nil || m.UserID == "" || users.Get([]byte(m.UserID)) == nil {
		return fmt.Errorf("user %q: %w", m.UserID, store.ErrNotFound)
	}
	if len(kinds) > 0 {
		have, err := decodeAll[store.MFAMethod](mfaMethods(tx, m.PartnerID, m.UserID))
		if err != nil {
			return fmt.Errorf("mfa methods of user %q: %w", m.UserID, err)
		}
		for _, h := range have {
			if slices.Contains(kinds, h.Kind) {
				return fmt.Errorf("method %q of kind %q: %w", h.ID, h.Kind, store.ErrMFAEnrolled)
			}
		}
	}
	ids, err := nestedForWrite(tx, bucketMFAIDs, m.PartnerID)
	if err != nil {
		return err
	}
	if ids.Get([]byte(m.ID)) != nil {
		return store.ErrAlreadyExists
	}
	if err := ids.Put([]byte(m.ID), []byte(m.UserID)); err != nil {
		return fmt.Errorf("id %q: %w", m.ID, err)
	}
	if m.CredentialID != "" {
		creds, err := nestedForWrite(tx, bucketMFACredentials, m.PartnerID)
		if err != nil {
			return err
		}
		if creds.Get([]byte(m.CredentialID)) != nil {
			return fmt.Errorf("credential id %q: %w", m.CredentialID, store.ErrAlreadyExists)
		}
		if err := putJSON(creds, m.CredentialID, mfaRef{UserID: m.UserID, ID: m.ID}); err != nil {
			return err
		}
	}
	partner, err := nestedForWrite(tx, bucketMFAMethods, m.PartnerID)
	if err != nil {
		return err
	}
	methods, err := partner.CreateBucketIfNotExists([]byte(m.UserID))
	if err != nil {
		return fmt.Errorf("methods of user %q: %w", m.UserID, err)
	}
	return putJSON(methods, m.ID, normMFAMethod(m))
}

// GetMFAMethod implements store.MFAMethods.
func (s *Store) GetMFAMethod(ctx context.Context, partnerID, userID, id string) (store.MFAMethod, error) {
	var m store.MFAMethod
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(mfaMethods(tx, partnerID, userID), id, &m)
	})
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("get mfa method %q of user %q in partner %q: %w", id, userID, partnerID, err)
	}
	return m, nil
}

// ListMFAMethods implements store.MFAMethods; bbolt's key order is the id
// order.
func (s *Store) ListMFAMethods(ctx context.Context, partnerID, userID string) ([]store.MFAMethod, error) {
	var out []store.MFAMethod
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = decodeAll[store.MFAMethod](mfaMethods(tx, partnerID, userID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list mfa methods of user %q in partner %q: %w", userID, partnerID, err)
	}
	return out, nil
}

// UpdateMFAMethod implements store.MFAMethods. fn runs once, inside the
// write transaction, so it must not call the Store.
func (s *Store) UpdateMFAMethod(ctx context.Context, partnerID, userID, id string, fn func(store.MFAMethod) (store.MFAMethod, error)) (store.MFAMethod, error) {
	var next store.MFAMethod
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		methods := mfaMethods(tx, partnerID, userID)
		var cur store.MFAMethod
		if err := getJSON(methods, id, &cur); err != nil {
			return err
		}
		var err error
		if next, err = fn(cur); err != nil {
			return err
		}
		if mfaIdentity(next) != mfaIdentity(cur) {
			return errMFAIdentityChanged
		}
		next = normMFAMethod(next)
		return putJSON(methods, id, next)
	})
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("update mfa method %q of user %q in partner %q: %w", id, userID, partnerID, err)
	}
	return next, nil
}

// mfaIdentity is what an update may not change.
func mfaIdentity(m store.MFAMethod) [5]string {
	return [5]string{m.ID, m.PartnerID, m.UserID, string(m.Kind), m.CredentialID}
}

// DeleteMFAMethod implements store.MFAMethods; its credential index entry
// goes in the same transaction.
func (s *Store) DeleteMFAMethod(ctx context.Context, partnerID, userID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		methods := mfaMethods(tx, partnerID, userID)
		var m store.MFAMethod
		if err := getJSON(methods, id, &m); err != nil {
			return err
		}
		if err := dropMFAIndexes(tx, m); err != nil {
			return err
		}
		if err := methods.Delete([]byte(id)); err != nil {
			return err
		}
		if k, _ := methods.Cursor().First(); k == nil {
			return nested(tx, bucketMFAMethods, partnerID).DeleteBucket([]byte(userID))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete mfa method %q of user %q in partner %q: %w", id, userID, partnerID, err)
	}
	return nil
}

// dropMFAIndexes removes m's id and credential index entries.
func dropMFAIndexes(tx *bbolt.Tx, m store.MFAMethod) error {
	if ids := nested(tx, bucketMFAIDs, m.PartnerID); ids != nil && string(ids.Get([]byte(m.ID))) == m.UserID {
		if err := ids.Delete([]byte(m.ID)); err != nil {
			return fmt.Errorf("id %q: %w", m.ID, err)
		}
	}
	if m.CredentialID == "" {
		return nil
	}
	creds := nested(tx, bucketMFACredentials, m.PartnerID)
	if creds == nil {
		return nil
	}
	var ref mfaRef
	if err := getJSON(creds, m.CredentialID, &ref); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	if ref != (mfaRef{UserID: m.UserID, ID: m.ID}) {
		return nil
	}
	if err := creds.Delete([]byte(m.CredentialID)); err != nil {
		return fmt.Errorf("credential id %q: %w", m.CredentialID, err)
	}
	return nil
}

// deleteUserMFAMethods removes the user's methods and their credential
// index entries; DeleteUser calls it in its transaction.
func deleteUserMFAMethods(tx *bbolt.Tx, partnerID, userID string) error {
	methods := mfaMethods(tx, partnerID, userID)
	if methods == nil {
		return nil
	}
	all, err := decodeAll[store.MFAMethod](methods)
	if err != nil {
		return fmt.Errorf("mfa methods of user %q: %w", userID, err)
	}
	for _, m := range all {
		// The record is under the user's bucket, whatever it says.
		m.PartnerID, m.UserID = partnerID, userID
		if err := dropMFAIndexes(tx, m); err != nil {
			return err
		}
	}
	if err := nested(tx, bucketMFAMethods, partnerID).DeleteBucket([]byte(userID)); err != nil {
		return fmt.Errorf("mfa methods of user %q: %w", userID, err)
	}
	return nil
}

// FindMFAMethodByCredential implements store.MFAMethods.
func (s *Store) FindMFAMethodByCredential(ctx context.Context, partnerID, credentialID string) (store.MFAMethod, error) {
	var m store.MFAMethod
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if credentialID == "" {
			return store.ErrNotFound
		}
		var ref mfaRef
		if err := getJSON(nested(tx, bucketMFACredentials, partnerID), credentialID, &ref); err != nil {
			return err
		}
		return getJSON(mfaMethods(tx, partnerID, ref.UserID), ref.ID, &m)
	})
	if err != nil {
		return store.MFAMethod{}, fmt.Errorf("find mfa method by credential %q in partner %q: %w", credentialID, partnerID, err)
	}
	return m, nil
}
