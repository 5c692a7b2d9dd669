package store

import (
	"context"
	"time"
)

// Group is a named set of a partner's users. Groups map to app roles
// through RoleMappings. Name is unique per partner, compared
// case-insensitively; ExternalID is the id a provisioning client (SCIM)
// knows the group by, "" when none.
type Group struct {
	ID         string    `json:"id"`
	PartnerID  string    `json:"partner_id"`
	Name       string    `json:"name"`
	ExternalID string    `json:"external_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Groups stores each partner's groups and their members. Membership is
// kept on both sides at once, atomically: a group's member list and each
// member's User.Groups never disagree. Membership changes touch no
// UpdatedAt. One AddGroupMembers or RemoveGroupMembers is one atomic step
// over every user it names, so callers keep lists to about a thousand.
type Groups interface {
	// CreateGroup fails with ErrAlreadyExists if the id or the name
	// (case-insensitively) is taken within the partner, and with
	// ErrNotFound if the partner does not exist.
	CreateGroup(ctx context.Context, g Group) error
	GetGroup(ctx context.Context, partnerID, id string) (Group, error)
	// GetGroupByName finds a group by its name, case-insensitively, and
	// GetGroupByExternalID by its ExternalID, exactly: index lookups. A
	// non-empty ExternalID is unique per partner: CreateGroup and
	// UpdateGroup fail with ErrAlreadyExists on a taken one.
	GetGroupByName(ctx context.Context, partnerID, name string) (Group, error)
	GetGroupByExternalID(ctx context.Context, partnerID, externalID string) (Group, error)
	// ListGroups returns one page of the partner's groups, ordered by id.
	ListGroups(ctx context.Context, partnerID string, page Page) ([]Group, error)
	// UpdateGroup follows UpdatePartner's rules; renaming to a name
	// another group holds fails with ErrAlreadyExists.
	UpdateGroup(ctx context.Context, partnerID, id string, fn func(Group) (Group, error)) (Group, error)
	// DeleteGroup removes the group, its memberships and its role mappings.
	DeleteGroup(ctx context.Context, partnerID, id string) error
	// AddGroupMembers makes the users members; users already members stay
	// so. It fails with ErrNotFound, writing nothing, if the group or any
	// of the users does not exist.
	AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error
	// RemoveGroupMembers ends the users' membership; ids that are not
	// members are ignored. It fails with ErrNotFound if the group does not
	// exist.
	RemoveGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error
	// ListGroupMembers returns one page of the group's member user ids,
	// sorted; ErrNotFound if the group does not exist.
	ListGroupMembers(ctx context.Context, partnerID, groupID string, page Page) ([]string, error)
}

// RoleMapping grants an app role to every member of a group.
type RoleMapping struct {
	ID        string    `json:"id"`
	PartnerID string    `json:"partner_id"`
	GroupID   string    `json:"group_id"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// RoleMappings stores each partner's group-to-role mappings. A partner
// has few of them, so they are listed whole.
type RoleMappings interface {
	// CreateRoleMapping fails with ErrNotFound if the partner or the group
	// does not exist, and with ErrAlreadyExists if the id is taken or the
	// group already maps to the same role.
	CreateRoleMapping(ctx context.Context, m RoleMapping) error
	GetRoleMapping(ctx context.Context, partnerID, id string) (RoleMapping, error)
	// ListRoleMappings returns all of the partner's mappings, ordered by id.
	ListRoleMappings(ctx context.Context, partnerID string) ([]RoleMapping, error)
	DeleteRoleMapping(ctx context.Context, partnerID, id string) error
}
