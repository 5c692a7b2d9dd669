package bolt

import (
	"bytes"
	"fmt"
	"slices"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// uniqueIndex is a root bucket mapping, per partner, a key derived from a
// record of type T to the id of the one record holding it.
type uniqueIndex[T any] struct {
	root []byte
	what string // names the key in errors
	// key returns the record's key, nil when it has none: an empty user
	// name or external id is no key, while an empty email or group name
	// still is, as it always was.
	key func(T) []byte
}

// optionalKey is the key of a value that may be absent.
func optionalKey(value string) []byte {
	if value == "" {
		return nil
	}
	return []byte(value)
}

// sameKey tells nil, no key, from the empty key.
func sameKey(a, b []byte) bool {
	return (a == nil) == (b == nil) && bytes.Equal(a, b)
}

// reindex moves record id's entries in indexes from the keys of cur to
// those of next. nil stands for no record, so a create is a move from nil
// and a delete one to nil. A key another record holds fails with
// store.ErrAlreadyExists; the caller's transaction then rolls back
// whatever was already moved.
func reindex[T any](tx *bbolt.Tx, partnerID, id string, indexes []uniqueIndex[T], cur, next *T) error {
	for _, ix := range indexes {
		var oldKey, newKey []byte
		if cur != nil {
			oldKey = ix.key(*cur)
		}
		if next != nil {
			newKey = ix.key(*next)
		}
		if sameKey(oldKey, newKey) {
			continue
		}
		b, err := nestedForWrite(tx, ix.root, partnerID)
		if err != nil {
			return err
		}
		if oldKey != nil {
			if err := b.Delete(oldKey); err != nil {
				return fmt.Errorf("%s %q: %w", ix.what, oldKey, err)
			}
		}
		if newKey == nil {
			continue
		}
		if b.Get(newKey) != nil {
			return fmt.Errorf("%s %q: %w", ix.what, newKey, store.ErrAlreadyExists)
		}
		if err := b.Put(newKey, []byte(id)); err != nil {
			return fmt.Errorf("%s %q: %w", ix.what, newKey, err)
		}
	}
	return nil
}

// recordByIndex decodes into v the record of records that index maps key
// to; no entry is store.ErrNotFound.
func recordByIndex(tx *bbolt.Tx, index, records []byte, partnerID string, key []byte, v any) error {
	b := nested(tx, index, partnerID)
	if b == nil {
		return store.ErrNotFound
	}
	id := b.Get(key)
	if id == nil {
		return store.ErrNotFound
	}
	return getJSON(nested(tx, records, partnerID), string(id), v)
}

// altEmailKeys returns the alt email index keys of addrs, sorted and each
// once. An empty address is none: bbolt refuses empty bucket names, and no
// one can be found by it.
func altEmailKeys(addrs []string) []string {
	keys := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if a != "" {
			keys = append(keys, string(emailKey(a)))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// reindexAltEmails moves user id from the alt email buckets of the
// addresses in from to those of the addresses in to. An address's bucket
// goes when its last user does, so the index never outgrows the users.
func reindexAltEmails(tx *bbolt.Tx, partnerID, id string, from, to []string) error {
	oldKeys, newKeys := altEmailKeys(from), altEmailKeys(to)
	if slices.Equal(oldKeys, newKeys) {
		return nil
	}
	index, err := nestedForWrite(tx, bucketAltEmails, partnerID)
	if err != nil {
		return err
	}
	for _, key := range oldKeys {
		holders := index.Bucket([]byte(key))
		if holders == nil || slices.Contains(newKeys, key) {
			continue
		}
		if err := holders.Delete([]byte(id)); err != nil {
			return fmt.Errorf("alt email %q: %w", key, err)
		}
		if k, _ := holders.Cursor().First(); k == nil {
			if err := index.DeleteBucket([]byte(key)); err != nil {
				return fmt.Errorf("alt email %q: %w", key, err)
			}
		}
	}
	for _, key := range newKeys {
		if slices.Contains(oldKeys, key) {
			continue
		}
		holders, err := index.CreateBucketIfNotExists([]byte(key))
		if err != nil {
			return fmt.Errorf("alt email %q: %w", key, err)
		}
		if err := holders.Put([]byte(id), []byte{}); err != nil {
			return fmt.Errorf("alt email %q: %w", key, err)
		}
	}
	return nil
}

// emailHolders returns the ids of the users whose Email or one of whose
// AltEmails is email, sorted and each once.
func emailHolders(tx *bbolt.Tx, partnerID, email string) ([]string, error) {
	var ids []string
	if index := nested(tx, bucketAltEmails, partnerID); index != nil {
		if holders := index.Bucket(emailKey(email)); holders != nil {
			err := holders.ForEach(func(uid, _ []byte) error {
				ids = append(ids, string(uid))
				return nil
			})
			if err != nil {
				return nil, fmt.Errorf("alt email %q: %w", email, err)
			}
		}
	}
	if emails := nested(tx, bucketEmails, partnerID); emails != nil {
		if id := emails.Get(emailKey(email)); id != nil {
			if i, found := slices.BinarySearch(ids, string(id)); !found {
				ids = slices.Insert(ids, i, string(id))
			}
		}
	}
	return ids, nil
}
