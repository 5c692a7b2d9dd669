package bolt

import (
	"context"
	"errors"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

var errEmptyRole = errors.New("empty role")

// CreateRoleMapping implements store.RoleMappings. Finding the group
// proves the partner exists too.
func (s *Store) CreateRoleMapping(ctx context.Context, m store.RoleMapping) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if m.Role == "" {
			return errEmptyRole
		}
		if !groupExists(tx, m.PartnerID, m.GroupID) {
			return fmt.Errorf("group %q: %w", m.GroupID, store.ErrNotFound)
		}
		mappings, err := nestedForWrite(tx, bucketRoleMappings, m.PartnerID)
		if err != nil {
			return err
		}
		roles, err := groupBucketForWrite(tx, bucketGroupRoles, m.PartnerID, m.GroupID)
		if err != nil {
			return err
		}
		if mappings.Get([]byte(m.ID)) != nil {
			return store.ErrAlreadyExists
		}
		if roles.Get([]byte(m.Role)) != nil {
			return fmt.Errorf("role %q of group %q: %w", m.Role, m.GroupID, store.ErrAlreadyExists)
		}
		if err := roles.Put([]byte(m.Role), []byte(m.ID)); err != nil {
			return fmt.Errorf("role %q of group %q: %w", m.Role, m.GroupID, err)
		}
		m.CreatedAt = m.CreatedAt.UTC()
		return putJSON(mappings, m.ID, m)
	})
	if err != nil {
		return fmt.Errorf("create role mapping %q in partner %q: %w", m.ID, m.PartnerID, err)
	}
	return nil
}

// GetRoleMapping implements store.RoleMappings.
func (s *Store) GetRoleMapping(ctx context.Context, partnerID, id string) (store.RoleMapping, error) {
	var m store.RoleMapping
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(nested(tx, bucketRoleMappings, partnerID), id, &m)
	})
	if err != nil {
		return store.RoleMapping{}, fmt.Errorf("get role mapping %q in partner %q: %w", id, partnerID, err)
	}
	return m, nil
}

// ListRoleMappings implements store.RoleMappings; bbolt's key order is the
// id order.
func (s *Store) ListRoleMappings(ctx context.Context, partnerID string) ([]store.RoleMapping, error) {
	var out []store.RoleMapping
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = decodeAll[store.RoleMapping](nested(tx, bucketRoleMappings, partnerID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list role mappings of partner %q: %w", partnerID, err)
	}
	return out, nil
}

// DeleteRoleMapping implements store.RoleMappings.
func (s *Store) DeleteRoleMapping(ctx context.Context, partnerID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		mappings := nested(tx, bucketRoleMappings, partnerID)
		var m store.RoleMapping
		if err := getJSON(mappings, id, &m); err != nil {
			return err
		}
		if roles := groupBucket(tx, bucketGroupRoles, partnerID, m.GroupID); roles != nil {
			if err := roles.Delete([]byte(m.Role)); err != nil {
				return fmt.Errorf("role %q of group %q: %w", m.Role, m.GroupID, err)
			}
		}
		return mappings.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete role mapping %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}

// dropGroupRoles deletes the group's role mappings and their index bucket.
func dropGroupRoles(tx *bbolt.Tx, partnerID, groupID string) error {
	roles := groupBucket(tx, bucketGroupRoles, partnerID, groupID)
	if roles == nil {
		return nil
	}
	mappings := nested(tx, bucketRoleMappings, partnerID)
	err := roles.ForEach(func(_, id []byte) error {
		return mappings.Delete(id)
	})
	if err != nil {
		return fmt.Errorf("role mappings of group %q: %w", groupID, err)
	}
	if err := nested(tx, bucketGroupRoles, partnerID).DeleteBucket([]byte(groupID)); err != nil {
		return fmt.Errorf("role mappings of group %q: %w", groupID, err)
	}
	return nil
}
