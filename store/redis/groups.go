package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// Memberships are kept on both sides: the sorted set groupmembers:<gid>
// lists a group's users and each user's record lists its groups, so a user
// is still read with one GET. Every membership change rewrites the user
// records it touches under WATCH, so it and a concurrent UpdateUser or
// DeleteUser of a member cannot both succeed on stale reads.

// withGroup returns u with groupID added to or removed from its sorted
// Groups, and whether that changed anything.
func withGroup(u store.User, groupID string, member bool) (store.User, bool) {
	i, found := slices.BinarySearch(u.Groups, groupID)
	switch {
	case member && !found:
		u.Groups = slices.Insert(u.Groups, i, groupID)
	case !member && found:
		u.Groups = slices.Delete(u.Groups, i, i+1)
	default:
		return u, false
	}
	return u, true
}

// readUsers reads the users ids in one MGET. The result is aligned with
// ids, nil where a user does not exist.
func readUsers(ctx context.Context, c goredis.Cmdable, k scope, ids []string) ([]*store.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = k.user(id)
	}
	vals, err := c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, err
	}
	users := make([]*store.User, len(ids))
	for i, val := range vals {
		raw, ok := val.(string)
		if !ok {
			continue
		}
		users[i] = new(store.User)
		if err := json.Unmarshal([]byte(raw), users[i]); err != nil {
			return nil, fmt.Errorf("decode %s: %w", keys[i], err)
		}
	}
	return users, nil
}

// CreateGroup implements store.Groups. The partner must exist; checking it
// in the transaction keeps a group from outliving a concurrent
// DeletePartner.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	if err := s.createGroup(ctx, g); err != nil {
		return fmt.Errorf("create group %q: %w", g.ID, err)
	}
	return nil
}

func (s *Store) createGroup(ctx context.Context, g store.Group) error {
	k, err := scopeOf(g.PartnerID)
	if err != nil {
		return err
	}
	if g.ID == "" {
		return errEmptyID
	}
	raw, err := encode(g)
	if err != nil {
		return err
	}
	keys := groupKeys(k, g)
	take, _ := indexKeys{}.claims(keys)
	watched := append([]string{k.partner(), k.group(g.ID)}, keysOf(take)...)
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, watched...)
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", g.PartnerID, store.ErrNotFound)
		case found[1]:
			return store.ErrAlreadyExists
		}
		if err := refuseTaken(take, found[2:]); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.group(g.ID), raw, 0)
			pipe.ZAdd(ctx, k.groups(), goredis.Z{Member: g.ID})
			indexKeys{}.move(ctx, pipe, g.ID, keys)
			return nil
		})
		return err
	}, watched...)
}

// GetGroup implements store.Groups.
func (s *Store) GetGroup(ctx context.Context, partnerID, id string) (store.Group, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %q: %w", id, err)
	}
	g, err := getJSON[store.Group](ctx, s.client, k.group(id))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %q: %w", id, err)
	}
	return g, nil
}

// GetGroupByName implements store.Groups.
func (s *Store) GetGroupByName(ctx context.Context, partnerID, name string) (store.Group, error) {
	g, err := s.groupBy(ctx, partnerID, scope.groupName, name, func(g store.Group) string { return g.Name })
	if err != nil {
		return store.Group{}, fmt.Errorf("get group by name %q: %w", name, err)
	}
	return g, nil
}

// GetGroupByExternalID implements store.Groups.
func (s *Store) GetGroupByExternalID(ctx context.Context, partnerID, externalID string) (store.Group, error) {
	g, err := s.groupBy(ctx, partnerID, scope.groupExternalID, externalID, func(g store.Group) string { return g.ExternalID })
	if err != nil {
		return store.Group{}, fmt.Errorf("get group by external id %q: %w", externalID, err)
	}
	return g, nil
}

// groupBy reads the group a unique index maps value to, as userBy does
// for users.
func (s *Store) groupBy(ctx context.Context, partnerID string, index func(scope, string) string, value string, field func(store.Group) string) (store.Group, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.Group{}, err
	}
	return byIndex(ctx, s.client, index(k, value), k.group, func(g store.Group) string {
		return index(k, field(g))
	})
}

// ListGroups implements store.Groups.
func (s *Store) ListGroups(ctx context.Context, partnerID string, page store.Page) ([]store.Group, error) {
	k, err := scopeOf(partnerID)
	if err == nil {
		err = page.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	groups, err := listPage[store.Group](ctx, s.client, k.groups(), k.group, page)
	if err != nil {
		return nil, fmt.Errorf("list groups of %q: %w", partnerID, err)
	}
	return groups, nil
}

// UpdateGroup implements store.Groups.
func (s *Store) UpdateGroup(ctx context.Context, partnerID, id string, fn func(store.Group) (store.Group, error)) (store.Group, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.Group{}, fmt.Errorf("update group %q: %w", id, err)
	}
	var next store.Group
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getJSON[store.Group](ctx, tx, k.group(id))
		if err != nil {
			return err
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIDChanged
		}
		raw, err := encode(next)
		if err != nil {
			return err
		}
		from, to := groupKeys(k, cur), groupKeys(k, next)
		if take, creates := from.claims(to); creates {
			if err := claimable(ctx, tx, k, partnerID, take); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.group(id), raw, 0)
			from.move(ctx, pipe, id, to)
			return nil
		})
		return err
	}, k.group(id))
	if err != nil {
		return store.Group{}, fmt.Errorf("update group %q: %w", id, err)
	}
	return next, nil
}

// DeleteGroup implements store.Groups. Watching the member set and the
// role index makes a member or mapping added meanwhile abort EXEC, so none
// outlives the group.
func (s *Store) DeleteGroup(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete group %q: %w", id, err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		g, err := getJSON[store.Group](ctx, tx, k.group(id))
		if err != nil {
			return err
		}
		var members *goredis.StringSliceCmd
		var roles *goredis.MapStringStringCmd
		_, err = tx.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
			members = pipe.ZRange(ctx, k.groupMembers(id), 0, -1)
			roles = pipe.HGetAll(ctx, k.groupRoles(id))
			return nil
		})
		if err != nil {
			return err
		}
		var changed []store.User
		if uids := members.Val(); len(uids) > 0 {
			userKeys := make([]string, len(uids))
			for i, uid := range uids {
				userKeys[i] = k.user(uid)
			}
			if err := tx.Watch(ctx, userKeys...).Err(); err != nil {
				return err
			}
			users, err := readUsers(ctx, tx, k, uids)
			if err != nil {
				return err
			}
			for _, u := range users {
				if u == nil {
					continue
				}
				if next, ok := withGroup(*u, id, false); ok {
					changed = append(changed, next)
				}
			}
		}
		raws, err := encodeUsers(changed)
		if err != nil {
			return err
		}
		keys := []string{k.group(id), k.groupMembers(id), k.groupRoles(id)}
		var mappingIDs []any
		for _, mid := range roles.Val() {
			keys = append(keys, k.roleMapping(mid))
			mappingIDs = append(mappingIDs, mid)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, keys...)
			pipe.ZRem(ctx, k.groups(), id)
			// The index keys change only together with the watched group
			// key, so they still name this group.
			groupKeys(k, g).move(ctx, pipe, id, indexKeys{})
			if len(mappingIDs) > 0 {
				pipe.ZRem(ctx, k.roleMappings(), mappingIDs...)
			}
			for i, u := range changed {
				pipe.Set(ctx, k.user(u.ID), raws[i], 0)
			}
			return nil
		})
		return err
	}, k.group(id), k.groupMembers(id), k.groupRoles(id))
	if err != nil {
		return fmt.Errorf("delete group %q: %w", id, err)
	}
	return nil
}

func encodeUsers(users []store.User) ([]string, error) {
	raws := make([]string, len(users))
	for i, u := range users {
		var err error
		if raws[i], err = encode(u); err != nil {
			return nil, err
		}
	}
	return raws, nil
}

// AddGroupMembers implements store.Groups.
func (s *Store) AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	if err := s.changeMembers(ctx, partnerID, groupID, userIDs, true); err != nil {
		return fmt.Errorf("add members to group %q: %w", groupID, err)
	}
	return nil
}

// RemoveGroupMembers implements store.Groups.
func (s *Store) RemoveGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	if err := s.changeMembers(ctx, partnerID, groupID, userIDs, false); err != nil {
		return fmt.Errorf("remove members from group %q: %w", groupID, err)
	}
	return nil
}

// changeMembers adds the users to the group, or removes them, on both
// sides in one transaction. Adding needs every user to exist; removing
// skips ids that are not members. The partner is watched and checked
// because adding may create the member set, which must not appear behind
// DeletePartner's sweep.
func (s *Store) changeMembers(ctx context.Context, partnerID, groupID string, userIDs []string, member bool) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	ids := slices.Compact(slices.Sorted(slices.Values(userIDs)))
	watched := []string{k.partner(), k.group(groupID)}
	for _, id := range ids {
		watched = append(watched, k.user(id))
	}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, k.partner(), k.group(groupID))
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		case !found[1]:
			return fmt.Errorf("group %q: %w", groupID, store.ErrNotFound)
		}
		users, err := readUsers(ctx, tx, k, ids)
		if err != nil {
			return err
		}
		var changed []store.User
		for i, u := range users {
			if u == nil {
				if member {
					return fmt.Errorf("user %q: %w", ids[i], store.ErrNotFound)
				}
				continue
			}
			if next, ok := withGroup(*u, groupID, member); ok {
				changed = append(changed, next)
			}
		}
		// Both sides agree, so users whose record needs no change are
		// already on the member list, or already off it.
		if len(changed) == 0 {
			return nil
		}
		raws, err := encodeUsers(changed)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			for i, u := range changed {
				pipe.Set(ctx, k.user(u.ID), raws[i], 0)
				if member {
					pipe.ZAdd(ctx, k.groupMembers(groupID), goredis.Z{Member: u.ID})
				} else {
					pipe.ZRem(ctx, k.groupMembers(groupID), u.ID)
				}
			}
			return nil
		})
		return err
	}, watched...)
}

// ListGroupMembers implements store.Groups. MULTI reads the group and its
// members at one instant.
func (s *Store) ListGroupMembers(ctx context.Context, partnerID, groupID string, page store.Page) ([]string, error) {
	k, err := scopeOf(partnerID)
	if err == nil {
		err = page.Validate()
	}
	if err != nil {
		return nil, fmt.Errorf("list members of group %q: %w", groupID, err)
	}
	var exists *goredis.IntCmd
	var ids *goredis.StringSliceCmd
	_, err = s.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		exists = pipe.Exists(ctx, k.group(groupID))
		ids = lexPage(ctx, pipe, k.groupMembers(groupID), page)
		return nil
	})
	switch {
	case err != nil:
		return nil, fmt.Errorf("list members of group %q: %w", groupID, classify(err))
	case exists.Val() == 0:
		return nil, fmt.Errorf("list members of group %q: %w", groupID, store.ErrNotFound)
	}
	return ids.Val(), nil
}
