package bolt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// Memberships are kept on both sides in one transaction: the group's
// bucket under group_members lists its users, and each user's record lists
// its groups, so reading a user needs no second lookup.

// groupNameKey is a group name's index key: names are unique
// case-insensitively.
func groupNameKey(name string) []byte { return []byte(strings.ToLower(name)) }

// groupIndexes are the unique indexes of groups.
var groupIndexes = []uniqueIndex[store.Group]{
	{bucketGroupNames, "name", func(g store.Group) []byte { return groupNameKey(g.Name) }},
	{bucketGroupExternalIDs, "external id", func(g store.Group) []byte { return optionalKey(g.ExternalID) }},
}

func utcGroup(g store.Group) store.Group {
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return g
}

// groupExists reports whether the partner has the group. A group lives
// only as long as its partner, so it also proves the partner exists.
func groupExists(tx *bbolt.Tx, partnerID, groupID string) bool {
	groups := nested(tx, bucketGroups, partnerID)
	return groups != nil && groups.Get([]byte(groupID)) != nil
}

// groupBucket returns the group's bucket under root, or nil if it has none.
func groupBucket(tx *bbolt.Tx, root []byte, partnerID, groupID string) *bbolt.Bucket {
	b := nested(tx, root, partnerID)
	if b == nil {
		return nil
	}
	return b.Bucket([]byte(groupID))
}

// groupBucketForWrite returns the group's bucket under root, creating it.
func groupBucketForWrite(tx *bbolt.Tx, root []byte, partnerID, groupID string) (*bbolt.Bucket, error) {
	b, err := nestedForWrite(tx, root, partnerID)
	if err != nil {
		return nil, err
	}
	if b, err = b.CreateBucketIfNotExists([]byte(groupID)); err != nil {
		return nil, fmt.Errorf("bucket %s/%q/%q: %w", root, partnerID, groupID, err)
	}
	return b, nil
}

// setMembership adds groupID to, or removes it from, the stored user's
// sorted Groups. A missing user is store.ErrNotFound.
func setMembership(users *bbolt.Bucket, userID, groupID string, member bool) error {
	var u store.User
	if err := getJSON(users, userID, &u); err != nil {
		return fmt.Errorf("user %q: %w", userID, err)
	}
	i, found := slices.BinarySearch(u.Groups, groupID)
	switch {
	case member && !found:
		u.Groups = slices.Insert(u.Groups, i, groupID)
	case !member && found:
		u.Groups = slices.Delete(u.Groups, i, i+1)
	default:
		return nil
	}
	return putJSON(users, userID, u)
}

// leaveGroups removes the user from the member lists of its groups; the
// caller deletes the user record itself.
func leaveGroups(tx *bbolt.Tx, u store.User) error {
	for _, gid := range u.Groups {
		members := groupBucket(tx, bucketGroupMembers, u.PartnerID, gid)
		if members == nil {
			continue
		}
		if err := members.Delete([]byte(u.ID)); err != nil {
			return fmt.Errorf("membership in group %q: %w", gid, err)
		}
	}
	return nil
}

// CreateGroup implements store.Groups. The partner must exist, for the
// reason CreateUser gives.
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketPartners).Get([]byte(g.PartnerID)) == nil {
			return fmt.Errorf("partner %q: %w", g.PartnerID, store.ErrNotFound)
		}
		groups, err := nestedForWrite(tx, bucketGroups, g.PartnerID)
		if err != nil {
			return err
		}
		if groups.Get([]byte(g.ID)) != nil {
			return store.ErrAlreadyExists
		}
		if err := reindex(tx, g.PartnerID, g.ID, groupIndexes, nil, &g); err != nil {
			return err
		}
		return putJSON(groups, g.ID, utcGroup(g))
	})
	if err != nil {
		return fmt.Errorf("create group %q in partner %q: %w", g.ID, g.PartnerID, err)
	}
	return nil
}

// GetGroup implements store.Groups.
func (s *Store) GetGroup(ctx context.Context, partnerID, id string) (store.Group, error) {
	var g store.Group
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(nested(tx, bucketGroups, partnerID), id, &g)
	})
	if err != nil {
		return store.Group{}, fmt.Errorf("get group %q in partner %q: %w", id, partnerID, err)
	}
	return g, nil
}

// GetGroupByName implements store.Groups.
func (s *Store) GetGroupByName(ctx context.Context, partnerID, name string) (store.Group, error) {
	g, err := s.groupByIndex(ctx, bucketGroupNames, partnerID, groupNameKey(name))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group by name %q in partner %q: %w", name, partnerID, err)
	}
	return g, nil
}

// GetGroupByExternalID implements store.Groups.
func (s *Store) GetGroupByExternalID(ctx context.Context, partnerID, externalID string) (store.Group, error) {
	g, err := s.groupByIndex(ctx, bucketGroupExternalIDs, partnerID, []byte(externalID))
	if err != nil {
		return store.Group{}, fmt.Errorf("get group by external id %q in partner %q: %w", externalID, partnerID, err)
	}
	return g, nil
}

func (s *Store) groupByIndex(ctx context.Context, index []byte, partnerID string, key []byte) (store.Group, error) {
	var g store.Group
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return recordByIndex(tx, index, bucketGroups, partnerID, key, &g)
	})
	return g, err
}

// ListGroups implements store.Groups; bbolt's key order is the id order.
func (s *Store) ListGroups(ctx context.Context, partnerID string, page store.Page) ([]store.Group, error) {
	if err := page.Validate(); err != nil {
		return nil, fmt.Errorf("list groups of partner %q: %w", partnerID, err)
	}
	var out []store.Group
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = decodePage[store.Group](nested(tx, bucketGroups, partnerID), page)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list groups of partner %q: %w", partnerID, err)
	}
	return out, nil
}

// UpdateGroup implements store.Groups. fn runs once, inside the write
// transaction, so it must not call the Store.
func (s *Store) UpdateGroup(ctx context.Context, partnerID, id string, fn func(store.Group) (store.Group, error)) (store.Group, error) {
	var next store.Group
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		groups := nested(tx, bucketGroups, partnerID)
		var cur store.Group
		if err := getJSON(groups, id, &cur); err != nil {
			return err
		}
		var err error
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIdentityChanged
		}
		next = utcGroup(next)
		if err := reindex(tx, partnerID, id, groupIndexes, &cur, &next); err != nil {
			return err
		}
		return putJSON(groups, id, next)
	})
	if err != nil {
		return store.Group{}, fmt.Errorf("update group %q in partner %q: %w", id, partnerID, err)
	}
	return next, nil
}

// DeleteGroup implements store.Groups.
func (s *Store) DeleteGroup(ctx context.Context, partnerID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		groups := nested(tx, bucketGroups, partnerID)
		var g store.Group
		if err := getJSON(groups, id, &g); err != nil {
			return err
		}
		if err := dropMembers(tx, partnerID, id); err != nil {
			return err
		}
		if err := dropGroupRoles(tx, partnerID, id); err != nil {
			return err
		}
		if err := reindex(tx, partnerID, id, groupIndexes, &g, nil); err != nil {
			return err
		}
		return groups.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete group %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}

// dropMembers takes the group out of its members' records and deletes its
// member bucket.
func dropMembers(tx *bbolt.Tx, partnerID, groupID string) error {
	members := groupBucket(tx, bucketGroupMembers, partnerID, groupID)
	if members == nil {
		return nil
	}
	users := nested(tx, bucketUsers, partnerID)
	err := members.ForEach(func(uid, _ []byte) error {
		return setMembership(users, string(uid), groupID, false)
	})
	if err != nil {
		return fmt.Errorf("members of group %q: %w", groupID, err)
	}
	if err := nested(tx, bucketGroupMembers, partnerID).DeleteBucket([]byte(groupID)); err != nil {
		return fmt.Errorf("members of group %q: %w", groupID, err)
	}
	return nil
}

// AddGroupMembers implements store.Groups. Any error rolls the whole
// transaction back, so a missing user leaves every membership as it was.
func (s *Store) AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if !groupExists(tx, partnerID, groupID) {
			return fmt.Errorf("group %q: %w", groupID, store.ErrNotFound)
		}
		members, err := groupBucketForWrite(tx, bucketGroupMembers, partnerID, groupID)
		if err != nil {
			return err
		}
		users := nested(tx, bucketUsers, partnerID)
		for _, uid := range userIDs {
			if err := setMembership(users, uid, groupID, true); err != nil {
				return err
			}
			if err := members.Put([]byte(uid), []byte{}); err != nil {
				return fmt.Errorf("member %q: %w", uid, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("add members to group %q in partner %q: %w", groupID, partnerID, err)
	}
	return nil
}

// RemoveGroupMembers implements store.Groups.
func (s *Store) RemoveGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if !groupExists(tx, partnerID, groupID) {
			return fmt.Errorf("group %q: %w", groupID, store.ErrNotFound)
		}
		members := groupBucket(tx, bucketGroupMembers, partnerID, groupID)
		if members == nil {
			return nil
		}
		users := nested(tx, bucketUsers, partnerID)
		for _, uid := range userIDs {
			if members.Get([]byte(uid)) == nil {
				continue
			}
			if err := setMembership(users, uid, groupID, false); err != nil {
				return err
			}
			if err := members.Delete([]byte(uid)); err != nil {
				return fmt.Errorf("member %q: %w", uid, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("remove members from group %q in partner %q: %w", groupID, partnerID, err)
	}
	return nil
}

// ListGroupMembers implements store.Groups.
func (s *Store) ListGroupMembers(ctx context.Context, partnerID, groupID string, page store.Page) ([]string, error) {
	if err := page.Validate(); err != nil {
		return nil, fmt.Errorf("list members of group %q in partner %q: %w", groupID, partnerID, err)
	}
	var ids []string
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if !groupExists(tx, partnerID, groupID) {
			return fmt.Errorf("group %q: %w", groupID, store.ErrNotFound)
		}
		members := groupBucket(tx, bucketGroupMembers, partnerID, groupID)
		return forPage(members, page, func(uid, _ []byte) error {
			ids = append(ids, string(uid))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list members of group %q in partner %q: %w", groupID, partnerID, err)
	}
	return ids, nil
}
