package redis

import (
	"context"
	"errors"
	"time"

	"github.com/partnergate/partnergate/store"
)

var errAccessTODO = errors.New("groups: in progress")

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error { return errAccessTODO }
func (s *Store) GetGroup(ctx context.Context, partnerID, id string) (store.Group, error) {
	return store.Group{}, errAccessTODO
}
func (s *Store) ListGroups(ctx context.Context, partnerID string, page store.Page) ([]store.Group, error) {
	return nil, errAccessTODO
}
func (s *Store) UpdateGroup(ctx context.Context, partnerID, id string, fn func(store.Group) (store.Group, error)) (store.Group, error) {
	return store.Group{}, errAccessTODO
}
func (s *Store) DeleteGroup(ctx context.Context, partnerID, id string) error { return errAccessTODO }
func (s *Store) AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	return errAccessTODO
}
func (s *Store) RemoveGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error {
	return errAccessTODO
}
func (s *Store) ListGroupMembers(ctx context.Context, partnerID, groupID string, page store.Page) ([]string, error) {
	return nil, errAccessTODO
}
func (s *Store) CreateRoleMapping(ctx context.Context, m store.RoleMapping) error { return errAccessTODO }
func (s *Store) GetRoleMapping(ctx context.Context, partnerID, id string) (store.RoleMapping, error) {
	return store.RoleMapping{}, errAccessTODO
}
func (s *Store) ListRoleMappings(ctx context.Context, partnerID string) ([]store.RoleMapping, error) {
	return nil, errAccessTODO
}
func (s *Store) DeleteRoleMapping(ctx context.Context, partnerID, id string) error { return errAccessTODO }
func (s *Store) CreateToken(ctx context.Context, t store.Token) error            { return errAccessTODO }
func (s *Store) GetToken(ctx context.Context, partnerID, id string) (store.Token, error) {
	return store.Token{}, errAccessTODO
}
func (s *Store) ListTokens(ctx context.Context, partnerID string, kind store.TokenKind) ([]store.Token, error) {
	return nil, errAccessTODO
}
func (s *Store) DeleteToken(ctx context.Context, partnerID, id string) error { return errAccessTODO }
func (s *Store) PutTicket(ctx context.Context, partnerID, id string, payload []byte, ttl time.Duration) error {
	return errAccessTODO
}
func (s *Store) GetTicket(ctx context.Context, partnerID, id string) ([]byte, error) {
	return nil, errAccessTODO
}
func (s *Store) TakeTicket(ctx context.Context, partnerID, id string) ([]byte, error) {
	return nil, errAccessTODO
}
