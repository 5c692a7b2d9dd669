package redis

import (
	"context"
	"errors"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

var errEmptyRole = errors.New("empty role")

// CreateRoleMapping implements store.RoleMappings. The group's role index
// grouproles:<gid> (role -> mapping id) keeps each (group, role) pair
// unique and tells DeleteGroup which mappings to drop.
func (s *Store) CreateRoleMapping(ctx context.Context, m store.RoleMapping) error {
	if err := s.createRoleMapping(ctx, m); err != nil {
		return fmt.Errorf("create role mapping %q: %w", m.ID, err)
	}
	return nil
}

func (s *Store) createRoleMapping(ctx context.Context, m store.RoleMapping) error {
	k, err := scopeOf(m.PartnerID)
	if err != nil {
		return err
	}
	switch {
	case m.ID == "":
		return errEmptyID
	case m.Role == "":
		return errEmptyRole
	}
	raw, err := encode(m)
	if err != nil {
		return err
	}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, k.partner(), k.group(m.GroupID), k.roleMapping(m.ID))
		if err != nil {
			return err
		}
		taken, err := tx.HExists(ctx, k.groupRoles(m.GroupID), m.Role).Result()
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", m.PartnerID, store.ErrNotFound)
		case !found[1]:
			return fmt.Errorf("group %q: %w", m.GroupID, store.ErrNotFound)
		case found[2]:
			return store.ErrAlreadyExists
		case taken:
			return fmt.Errorf("role %q of group %q: %w", m.Role, m.GroupID, store.ErrAlreadyExists)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.roleMapping(m.ID), raw, 0)
			pipe.ZAdd(ctx, k.roleMappings(), goredis.Z{Member: m.ID})
			pipe.HSet(ctx, k.groupRoles(m.GroupID), m.Role, m.ID)
			return nil
		})
		return err
	}, k.partner(), k.group(m.GroupID), k.roleMapping(m.ID), k.groupRoles(m.GroupID))
}

// GetRoleMapping implements store.RoleMappings.
func (s *Store) GetRoleMapping(ctx context.Context, partnerID, id string) (store.RoleMapping, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.RoleMapping{}, fmt.Errorf("get role mapping %q: %w", id, err)
	}
	m, err := getJSON[store.RoleMapping](ctx, s.client, k.roleMapping(id))
	if err != nil {
		return store.RoleMapping{}, fmt.Errorf("get role mapping %q: %w", id, err)
	}
	return m, nil
}

// ListRoleMappings implements store.RoleMappings.
func (s *Store) ListRoleMappings(ctx context.Context, partnerID string) ([]store.RoleMapping, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, fmt.Errorf("list role mappings: %w", err)
	}
	mappings, err := listPage[store.RoleMapping](ctx, s.client, k.roleMappings(), k.roleMapping, store.Page{})
	if err != nil {
		return nil, fmt.Errorf("list role mappings of %q: %w", partnerID, err)
	}
	return mappings, nil
}

// DeleteRoleMapping implements store.RoleMappings.
func (s *Store) DeleteRoleMapping(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete role mapping %q: %w", id, err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		m, err := getJSON[store.RoleMapping](ctx, tx, k.roleMapping(id))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, k.roleMapping(id))
			pipe.ZRem(ctx, k.roleMappings(), id)
			pipe.HDel(ctx, k.groupRoles(m.GroupID), m.Role)
			return nil
		})
		return err
	}, k.roleMapping(id))
	if err != nil {
		return fmt.Errorf("delete role mapping %q: %w", id, err)
	}
	return nil
}
