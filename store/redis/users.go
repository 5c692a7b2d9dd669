package redis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

var errEmptyID = errors.New("empty id")

// existing reports for each key whether it exists, in one round trip.
func existing(ctx context.Context, c goredis.Cmdable, keys ...string) ([]bool, error) {
	cmds := make([]*goredis.IntCmd, len(keys))
	_, err := c.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = pipe.Exists(ctx, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	found := make([]bool, len(keys))
	for i, cmd := range cmds {
		found[i] = cmd.Val() > 0
	}
	return found, nil
}

// CreateUser implements store.Users. The partner must exist; checking it in
// the transaction keeps a user from outliving a concurrent DeletePartner.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := s.createUser(ctx, u); err != nil {
		return fmt.Errorf("create user %q: %w", u.ID, err)
	}
	return nil
}

func (s *Store) createUser(ctx context.Context, u store.User) error {
	k, err := scopeOf(u.PartnerID)
	if err != nil {
		return err
	}
	if u.ID == "" {
		return errEmptyID
	}
	// A new user belongs to no group yet, whatever the caller says.
	u.Groups = nil
	raw, err := encode(u)
	if err != nil {
		return err
	}
	keys := userKeys(k, u)
	take, _ := indexKeys{}.claims(keys)
	watched := append([]string{k.partner(), k.user(u.ID)}, keysOf(take)...)
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, watched...)
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", u.PartnerID, store.ErrNotFound)
		case found[1]:
			return store.ErrAlreadyExists
		}
		if err := refuseTaken(take, found[2:]); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			addUser(ctx, pipe, k, u.ID, raw, keys)
			return nil
		})
		return err
	}, watched...)
}

// addUser queues the writes of a new user: its record, its place in the
// list of ids and its index entries.
func addUser(ctx context.Context, pipe goredis.Pipeliner, k scope, id, raw string, keys indexKeys) {
	pipe.Set(ctx, k.user(id), raw, 0)
	pipe.ZAdd(ctx, k.users(), goredis.Z{Member: id})
	indexKeys{}.move(ctx, pipe, id, keys)
}

// GetUser implements store.Users.
func (s *Store) GetUser(ctx context.Context, partnerID, id string) (store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", id, err)
	}
	u, err := getJSON[store.User](ctx, s.client, k.user(id))
	if err != nil {
		return store.User{}, fmt.Errorf("get user %q: %w", id, err)
	}
	return u, nil
}

// GetUserByEmail implements store.Users.
func (s *Store) GetUserByEmail(ctx context.Context, partnerID, email string) (store.User, error) {
	u, err := s.userBy(ctx, partnerID, scope.email, email, func(u store.User) string { return u.Email })
	if err != nil {
		return store.User{}, fmt.Errorf("get user by email %q: %w", email, err)
	}
	return u, nil
}

// GetUserByUserName implements store.Users.
func (s *Store) GetUserByUserName(ctx context.Context, partnerID, userName string) (store.User, error) {
	u, err := s.userBy(ctx, partnerID, scope.userName, userName, func(u store.User) string { return u.UserName })
	if err != nil {
		return store.User{}, fmt.Errorf("get user by user name %q: %w", userName, err)
	}
	return u, nil
}

// GetUserByExternalID implements store.Users.
func (s *Store) GetUserByExternalID(ctx context.Context, partnerID, externalID string) (store.User, error) {
	u, err := s.userBy(ctx, partnerID, scope.externalID, externalID, func(u store.User) string { return u.ExternalID })
	if err != nil {
		return store.User{}, fmt.Errorf("get user by external id %q: %w", externalID, err)
	}
	return u, nil
}

// userBy reads the user a unique index maps value to: index gives a
// value's key in it, and field a user's value.
func (s *Store) userBy(ctx context.Context, partnerID string, index func(scope, string) string, value string, field func(store.User) string) (store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.User{}, err
	}
	return byIndex(ctx, s.client, index(k, value), k.user, func(u store.User) string {
		return index(k, field(u))
	})
}

// emailHoldersScript returns the ids of the users holding an address: the
// one the email index KEYS[1] names, if any, and the members of the alt
// email set KEYS[2]. It reads both at one instant, so a user moving the
// address from one to the other is not missed. MULTI would too, but
// go-redis retries a timed-out pipeline, so against a hung server it takes
// twice as long as one command to fail.
var emailHoldersScript = goredis.NewScript(`
local ids = redis.call('ZRANGE', KEYS[2], 0, -1)
local owner = redis.call('GET', KEYS[1])
if owner then
	table.insert(ids, owner)
end
return ids
`)

// FindUsersByEmail implements store.Users.
func (s *Store) FindUsersByEmail(ctx context.Context, partnerID, email string) ([]store.User, error) {
	users, err := s.findUsersByEmail(ctx, partnerID, email)
	if err != nil {
		return nil, fmt.Errorf("find users by email %q: %w", email, err)
	}
	return users, nil
}

func (s *Store) findUsersByEmail(ctx context.Context, partnerID, email string) ([]store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, err
	}
	ids, err := emailHoldersScript.Run(ctx, s.client, []string{k.email(email), k.altEmail(email)}).StringSlice()
	if err != nil {
		return nil, classify(err)
	}
	slices.Sort(ids)
	users, err := readUsers(ctx, s.client, k, slices.Compact(ids))
	if err != nil {
		return nil, classify(err)
	}
	out := make([]store.User, 0, len(users))
	for _, u := range users {
		// The records are read after the indexes: a user may have been
		// deleted or have given up the address in between.
		if u != nil && hasEmail(*u, email) {
			out = append(out, *u)
		}
	}
	return out, nil
}

// hasEmail reports whether email is the user's Email or one of its
// AltEmails, compared as the indexes compare them.
func hasEmail(u store.User, email string) bool {
	want := strings.ToLower(email)
	return strings.ToLower(u.Email) == want || slices.ContainsFunc(u.AltEmails, func(a string) bool {
		return strings.ToLower(a) == want
	})
}

// ListUsers implements store.Users.
func (s *Store) ListUsers(ctx context.Context, partnerID string, page store.Page) ([]store.User, error) {
	k, err := scopeOf(partnerID)
	if err == nil {
		err = page.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := listPage[store.User](ctx, s.client, k.users(), k.user, page)
	if err != nil {
		return nil, fmt.Errorf("list users of %q: %w", partnerID, err)
	}
	return users, nil
}

// ListUsersAt implements store.Users. The users sorted set has every
// score 0, so its rank order is the id order and ZRANGE by rank reaches
// the offset without reading the ids before it. MULTI reads the page and
// the count at one instant, so the total matches the page.
func (s *Store) ListUsersAt(ctx context.Context, partnerID string, offset, limit int) ([]store.User, int, error) {
	users, total, err := s.listUsersAt(ctx, partnerID, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list users of %q at %d: %w", partnerID, offset, err)
	}
	return users, total, nil
}

func (s *Store) listUsersAt(ctx context.Context, partnerID string, offset, limit int) ([]store.User, int, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, 0, err
	}
	if offset < 0 || limit < 0 {
		return nil, 0, fmt.Errorf("offset %d or limit %d is negative", offset, limit)
	}
	// A startIndex near the largest int must not wrap the range around.
	stop := int64(offset) + int64(limit) - 1
	if stop < int64(offset) {
		stop = math.MaxInt64
	}
	var ids *goredis.StringSliceCmd
	var card *goredis.IntCmd
	_, err = s.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		// ZRANGE 0 -1 would be the whole set, not an empty page.
		if limit > 0 {
			ids = pipe.ZRange(ctx, k.users(), int64(offset), stop)
		}
		card = pipe.ZCard(ctx, k.users())
		return nil
	})
	if err != nil {
		return nil, 0, classify(err)
	}
	total := int(card.Val())
	if ids == nil || len(ids.Val()) == 0 {
		return []store.User{}, total, nil
	}
	keys := make([]string, len(ids.Val()))
	for i, id := range ids.Val() {
		keys[i] = k.user(id)
	}
	vals, err := s.client.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, 0, classify(err)
	}
	// A user deleted since the ZRANGE has no record left: decodeAll skips
	// it, leaving the page one short rather than failing it.
	users, err := decodeAll[store.User](keys, vals)
	if err != nil {
		return nil, 0, err
	}
	return users, total, nil
}

// UpdateUser implements store.Users.
func (s *Store) UpdateUser(ctx context.Context, partnerID, id string, fn func(store.User) (store.User, error)) (store.User, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q: %w", id, err)
	}
	var next store.User
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getJSON[store.User](ctx, tx, k.user(id))
		if err != nil {
			return err
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIDChanged
		}
		// Memberships change only through the group calls.
		next.Groups = cur.Groups
		raw, err := encode(next)
		if err != nil {
			return err
		}
		from, to := userKeys(k, cur), userKeys(k, next)
		if take, creates := from.claims(to); creates {
			if err := claimable(ctx, tx, k, partnerID, take); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.user(id), raw, 0)
			from.move(ctx, pipe, id, to)
			return nil
		})
		return err
	}, k.user(id))
	if err != nil {
		return store.User{}, fmt.Errorf("update user %q: %w", id, err)
	}
	return next, nil
}

// DeleteUser implements store.Users; the user's MFA methods and their
// id and credential index entries go in the same MULTI.
func (s *Store) DeleteUser(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	// Watching the session set makes a session created meanwhile abort
	// EXEC, so none survives its user; AddMFAMethod watches the user key,
	// so no method does either.
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		u, err := getJSON[store.User](ctx, tx, k.user(id))
		if err != nil {
			return err
		}
		sids, err := tx.SMembers(ctx, k.userSessions(id)).Result()
		if err != nil {
			return err
		}
		keys := []string{k.user(id), k.userSessions(id)}
		for _, sid := range sids {
			keys = append(keys, k.session(sid))
		}
		// The MFA methods' hash is watched too, so a method added
		// meanwhile aborts EXEC, and its credential index entries still
		// name these methods.
		mfaKeys, err := userMFAKeys(ctx, tx, k, id)
		if err != nil {
			return err
		}
		keys = append(keys, mfaKeys...)
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, keys...)
			pipe.ZRem(ctx, k.users(), id)
			// The index keys change only together with the watched user
			// key, so they still name this user.
			userKeys(k, u).move(ctx, pipe, id, indexKeys{})
			// Every membership change rewrites the watched user key, so
			// u.Groups is current.
			for _, gid := range u.Groups {
				pipe.ZRem(ctx, k.groupMembers(gid), id)
			}
			return nil
		})
		return err
	}, k.user(id), k.userSessions(id), k.mfaMethods(id))
	if err != nil {
		return fmt.Errorf("delete user %q: %w", id, err)
	}
	return nil
}
