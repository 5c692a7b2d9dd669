package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A unique index key (email:, username:, externalid:, groupname:,
// groupexternalid:) holds the id of the one record that has it. A write
// watches the keys it is about to take before it reads them, so a
// concurrent claim of one aborts its EXEC. The altemail: sets are not
// unique: users join and leave them with ZADD and ZREM, which commute, so
// nothing needs to watch them.

// uniqueKey is a record's key in one unique index, "" when it has none;
// what and value name it in errors.
type uniqueKey struct {
	what, value, key string
}

// optional returns keyOf(value), or "" for an empty value: an empty user
// name or external id is none, not one more value to keep unique. An empty
// email or group name still has a key, as it always had.
func optional(value string, keyOf func(string) string) string {
	if value == "" {
		return ""
	}
	return keyOf(value)
}

// indexKeys are the index keys a record holds: one per unique index, in a
// fixed order, and the sorted alt email sets a user is in. The zero value
// holds none, so a create is a move from it and a delete one to it.
type indexKeys struct {
	unique []uniqueKey
	sets   []string
}

func userKeys(k scope, u store.User) indexKeys {
	return indexKeys{
		unique: []uniqueKey{
			{"email", u.Email, k.email(u.Email)},
			{"user name", u.UserName, optional(u.UserName, k.userName)},
			{"external id", u.ExternalID, optional(u.ExternalID, k.externalID)},
		},
		sets: altEmailKeys(k, u.AltEmails),
	}
}

func groupKeys(k scope, g store.Group) indexKeys {
	return indexKeys{unique: []uniqueKey{
		{"name", g.Name, k.groupName(g.Name)},
		{"external id", g.ExternalID, optional(g.ExternalID, k.groupExternalID)},
	}}
}

// altEmailKeys returns the keys of the alt email sets of addrs, sorted and
// each once. An empty address is none: no one can be found by it.
func altEmailKeys(k scope, addrs []string) []string {
	keys := make([]string, 0, len(addrs))
	for _, a := range addrs {
		if a != "" {
			keys = append(keys, k.altEmail(a))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

func (ks indexKeys) keyAt(i int) string {
	if i < len(ks.unique) {
		return ks.unique[i].key
	}
	return ""
}

// claims returns the unique keys of to that ks lacks, which a write from
// ks to to takes and must find free. It also reports whether the write
// creates any key at all: a key created behind DeletePartner's sweep would
// outlive the partner, so such a write must check the partner exists.
func (ks indexKeys) claims(to indexKeys) (take []uniqueKey, creates bool) {
	for i, u := range to.unique {
		if u.key != "" && u.key != ks.keyAt(i) {
			take = append(take, u)
		}
	}
	return take, len(take) > 0 || len(without(to.sets, ks.sets)) > 0
}

// move queues the writes that move record id's entries from the keys of ks
// to those of to.
func (ks indexKeys) move(ctx context.Context, pipe goredis.Pipeliner, id string, to indexKeys) {
	for i := range max(len(ks.unique), len(to.unique)) {
		oldKey, newKey := ks.keyAt(i), to.keyAt(i)
		if oldKey == newKey {
			continue
		}
		if oldKey != "" {
			pipe.Del(ctx, oldKey)
		}
		if newKey != "" {
			pipe.Set(ctx, newKey, id, 0)
		}
	}
	for _, key := range without(ks.sets, to.sets) {
		pipe.ZRem(ctx, key, id)
	}
	for _, key := range without(to.sets, ks.sets) {
		pipe.ZAdd(ctx, key, goredis.Z{Member: id})
	}
}

func keysOf(take []uniqueKey) []string {
	keys := make([]string, len(take))
	for i, u := range take {
		keys[i] = u.key
	}
	return keys
}

// refuseTaken fails with store.ErrAlreadyExists for the first key of take
// that found, aligned with it, says is held.
func refuseTaken(take []uniqueKey, found []bool) error {
	for i, u := range take {
		if found[i] {
			return fmt.Errorf("%s %q: %w", u.what, u.value, store.ErrAlreadyExists)
		}
	}
	return nil
}

// claimable prepares an update that creates keys. It watches the partner
// and the unique keys the update takes before reading them, so a
// concurrent claim of one aborts EXEC, and so does DeletePartner. It then
// checks the partner exists and no key is held.
func claimable(ctx context.Context, tx *goredis.Tx, k scope, partnerID string, take []uniqueKey) error {
	keys := append([]string{k.partner()}, keysOf(take)...)
	if err := tx.Watch(ctx, keys...).Err(); err != nil {
		return err
	}
	found, err := existing(ctx, tx, keys...)
	switch {
	case err != nil:
		return err
	case !found[0]:
		return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
	}
	return refuseTaken(take, found[1:])
}

// byIndex reads the record a unique index maps a value to: key is the
// value's key in the index, recordKey gives the key of the record of an
// id, and keyOf a record's own key in the index. The two reads are not
// atomic: the record may have let go of the key in between, and then no
// longer answers to it.
func byIndex[T any](ctx context.Context, c goredis.Cmdable, key string, recordKey func(string) string, keyOf func(T) string) (T, error) {
	var zero T
	id, err := c.Get(ctx, key).Result()
	if errors.Is(err, goredis.Nil) {
		return zero, store.ErrNotFound
	}
	if err != nil {
		return zero, classify(err)
	}
	v, err := getJSON[T](ctx, c, recordKey(id))
	if err != nil {
		return zero, err
	}
	if keyOf(v) != key {
		return zero, store.ErrNotFound
	}
	return v, nil
}
