package store

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Sentinel errors. Backends wrap them; callers match with errors.Is.
var (
	ErrNotFound      = errors.New("not found")
	ErrAlreadyExists = errors.New("already exists")
	// ErrHostnameTaken means a hostname is already claimed by another partner.
	ErrHostnameTaken = errors.New("hostname already in use")
	// ErrUnavailable means the backend cannot be reached; callers fail closed.
	ErrUnavailable = errors.New("store unavailable")
	// ErrConflict means a conditional write lost a race: what it was
	// conditioned on changed. The caller rereads and tries again.
	ErrConflict = errors.New("conflicting write")
)

// Page selects a slice of an id-ordered list: the items whose ids sort
// after After, at most Limit of them (0 means no limit; a negative Limit
// is an error).
type Page struct {
	After string
	Limit int
}

// Validate refuses a negative limit: it is a caller's bug, and reading it
// as "no limit" would turn it into an unbounded read.
func (p Page) Validate() error {
	if p.Limit < 0 {
		return fmt.Errorf("page limit %d is negative", p.Limit)
	}
	return nil
}

// Partner is one B2B tenant. Hostnames holds custom domains only; the
// <id>.<base_domain> name is implied and never stored.
type Partner struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Hostnames []string `json:"hostnames"`
	// Domains are the partner's email domains, lowercase, for routing a
	// typed email to the partner's SSO connection.
	Domains []string `json:"domains,omitempty"`
	// Suspended shuts the partner out while keeping its data: its
	// hostnames serve nothing but a notice, and its admins, setup links
	// and SCIM clients are refused.
	Suspended bool      `json:"suspended,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// User is a partner's end user. Email is unique per partner, compared
// case-insensitively; PasswordHash is an encoded argon2id hash or empty.
type User struct {
	ID           string `json:"id"`
	PartnerID    string `json:"partner_id"`
	Email        string `json:"email"`
	Name         string `json:"name"`
	PasswordHash string `json:"password_hash,omitempty"`
	// PasswordHistory holds the encoded hashes of the user's earlier
	// passwords, newest first, as many as the partner's policy keeps
	// (password.MaxHistory at most), so a new password can be refused for
	// repeating one.
	PasswordHistory []string `json:"password_history,omitempty"`
	// PasswordChangedAt is when PasswordHash was last set; zero when it
	// was set before this was recorded, or never.
	PasswordChangedAt time.Time `json:"password_changed_at,omitzero"`
	Active            bool      `json:"active"`
	// InviteID names the user's one live invitation or password-reset
	// link, "" when none. Issuing a new link replaces it, so an older
	// link stops working.
	InviteID string `json:"invite_id,omitempty"`
	// Groups holds the ids of the groups the user is a member of, sorted.
	// Only AddGroupMembers, RemoveGroupMembers and DeleteGroup change it:
	// reads fill it in, and CreateUser and UpdateUser ignore what the
	// caller puts there.
	Groups []string `json:"groups,omitempty"`
	// UserName is the name a provisioning client knows the user by (SCIM
	// userName): unique per partner, compared case-insensitively; "" for
	// a user nobody provisioned, and "" is no value: never unique, never
	// found.
	UserName string `json:"user_name,omitempty"`
	// ExternalID is the provisioning client's own id for the user
	// (SCIM externalId): unique per partner, compared exactly; "" when
	// none, and like an empty UserName never unique or found.
	ExternalID string `json:"external_id,omitempty"`
	// AltEmails are the user's addresses besides Email, kept as given
	// and matched case-insensitively; FindUsersByEmail finds a user by
	// any of them.
	AltEmails []string `json:"alt_emails,omitempty"`
	// Profile holds the rest of a provisioned user's attributes (SCIM
	// name parts, phone numbers, the enterprise extension…) as a JSON
	// object, kept as a JSON value (not byte for byte).
	Profile   json.RawMessage `json:"profile,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// Session is a signed-in browser. ID is the hash of the cookie secret, never
// the secret itself, so a dump of the store cannot be replayed as cookies.
type Session struct {
	ID         string    `json:"id"`
	PartnerID  string    `json:"partner_id"`
	UserID     string    `json:"user_id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

// Partners stores tenants and owns the global hostname index. Hostnames
// are compared as given: callers normalise them (lowercase, no trailing
// dot) before they reach the store. Times are kept as given, to the
// millisecond.
type Partners interface {
	// CreatePartner fails with ErrAlreadyExists for a taken id and with
	// ErrHostnameTaken if any hostname belongs to another partner; either way
	// nothing is written.
	CreatePartner(ctx context.Context, p Partner) error
	GetPartner(ctx context.Context, id string) (Partner, error)
	ListPartners(ctx context.Context) ([]Partner, error)
	// UpdatePartner applies fn to the stored partner and writes the result.
	// fn may run more than once under contention; an error from fn aborts
	// the update unchanged and is returned wrapped. The id cannot change.
	// fn must not call the store: a backend may hold a transaction open
	// while it runs.
	UpdatePartner(ctx context.Context, id string, fn func(Partner) (Partner, error)) (Partner, error)
	// DeletePartner removes the partner and everything of it: hostnames,
	// users, sessions, groups, role mappings, SSO connections, tokens,
	// tickets, counters, MFA methods, its audit stream, its request log,
	// its connections' SSO failure logs, its policy, its branding and
	// its logo.
	DeletePartner(ctx context.Context, id string) error
}

// Users stores each partner's users. Every call is scoped to one partner:
// an id of another partner answers ErrNotFound.
type Users interface {
	// CreateUser fails with ErrAlreadyExists if the id, the email
	// (case-insensitively), a non-empty UserName (case-insensitively) or
	// a non-empty ExternalID is taken within the partner, and with
	// ErrNotFound if the partner does not exist, so no user outlives a
	// concurrent DeletePartner.
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, partnerID, id string) (User, error)
	GetUserByEmail(ctx context.Context, partnerID, email string) (User, error)
	// GetUserByUserName and GetUserByExternalID are index lookups.
	GetUserByUserName(ctx context.Context, partnerID, userName string) (User, error)
	GetUserByExternalID(ctx context.Context, partnerID, externalID string) (User, error)
	// FindUsersByEmail returns the users whose Email or one of whose
	// AltEmails is email (case-insensitively), ordered by id: an index
	// lookup, never a scan. An unknown partner gives an empty list.
	FindUsersByEmail(ctx context.Context, partnerID, email string) ([]User, error)
	// ListUsers returns one page of the partner's users, ordered by id.
	ListUsers(ctx context.Context, partnerID string, page Page) ([]User, error)
	// ListUsersAt returns at most limit of the partner's users, ordered by
	// id, from the 0-based position offset, and how many users the
	// partner has: what a client paging by index (SCIM startIndex) needs,
	// without decoding the users before offset. A limit of 0 returns no
	// users, only the total; a negative offset or limit is an error. An
	// unknown partner has no users. A user deleted while the page is read
	// may be missing from it, so a page can fall short before the end.
	ListUsersAt(ctx context.Context, partnerID string, offset, limit int) (users []User, total int, err error)
	// UpdateUser follows UpdatePartner's rules; changing the email, the
	// UserName or the ExternalID to one another user holds fails with
	// ErrAlreadyExists.
	UpdateUser(ctx context.Context, partnerID, id string, fn func(User) (User, error)) (User, error)
	// DeleteUser removes the user, every session of that user, its group
	// memberships and its MFA methods.
	DeleteUser(ctx context.Context, partnerID, id string) error
}

// Sessions stores signed-in sessions. A session past ExpiresAt is gone:
// GetSession answers ErrNotFound for it.
type Sessions interface {
	// CreateSession fails with ErrNotFound unless the user exists, so no
	// session outlives a concurrent DeleteUser.
	CreateSession(ctx context.Context, s Session) error
	GetSession(ctx context.Context, partnerID, id string) (Session, error)
	// TouchSession records activity. It never extends ExpiresAt and never
	// moves LastSeenAt backwards, so touches landing out of order are safe.
	TouchSession(ctx context.Context, partnerID, id string, lastSeen time.Time) error
	DeleteSession(ctx context.Context, partnerID, id string) error
	// ListUserSessions returns the user's live sessions ordered by CreatedAt.
	ListUserSessions(ctx context.Context, partnerID, userID string) ([]Session, error)
	// DeleteUserSessions removes every session of the user and returns
	// their ids, so the caller can announce each revocation.
	DeleteUserSessions(ctx context.Context, partnerID, userID string) ([]string, error)
}

// Counters are fixed-window counters shared by every node, used for
// sign-in failure limits.
type Counters interface {
	// Incr adds one to the counter and returns the new count. The window
	// starts at the first increment and the counter vanishes when it ends.
	Incr(ctx context.Context, partnerID, key string, window time.Duration) (int64, error)
	// Count returns the current count, 0 if none.
	Count(ctx context.Context, partnerID, key string) (int64, error)
	ResetCounter(ctx context.Context, partnerID, key string) error
}

// EventKind says what changed.
type EventKind string

const (
	// SessionRevoked: ID is the session id; every node must drop it now.
	SessionRevoked EventKind = "session_revoked"
	// UserChanged: ID is the user id; cached copies are stale.
	UserChanged EventKind = "user_changed"
	// PartnersChanged: a partner or hostname changed; rebuild the snapshot.
	PartnersChanged EventKind = "partners_changed"
	// AccessChanged: the partner's groups or role mappings changed, so
	// every cached view of its users' groups and roles is stale.
	AccessChanged EventKind = "access_changed"
	// PolicyChanged: the partner's own auth policy was set or removed, so
	// its effective policy is stale.
	PolicyChanged EventKind = "policy_changed"
	// GovernanceChanged: the platform's governance baseline changed, so
	// every partner's effective policy is stale.
	GovernanceChanged EventKind = "governance_changed"
	// BrandingChanged: the partner's branding or logo was set or removed,
	// so its cached pages and logo are stale.
	BrandingChanged EventKind = "branding_changed"
)

// Event is one change announced to every node.
type Event struct {
	Kind      EventKind `json:"kind"`
	PartnerID string    `json:"partner_id,omitempty"`
	ID        string    `json:"id,omitempty"`
}

// Bus carries events to every node sharing the store, the publisher included.
type Bus interface {
	Publish(ctx context.Context, e Event) error
	// Watch delivers events to onEvent until ctx ends. It calls
	// onHealth(false) as soon as events may be lost (connection down or
	// unverified, or a watcher too slow to keep up) and onHealth(true) once
	// delivery is assured again; a caller must distrust every cache built
	// from events until then, and flush it on onHealth(true). Watch
	// calls onHealth once with the initial state as soon as it knows it, and
	// blocks until ctx is done.
	Watch(ctx context.Context, onEvent func(Event), onHealth func(up bool))
}

// Store is everything a backend provides.
type Store interface {
	Partners
	Users
	Sessions
	Counters
	Groups
	RoleMappings
	SSOConnections
	Tokens
	Tickets
	AuditLog
	RequestLog
	SSOFailures
	Policies
	MFAMethods
	Brandings
	Bus
	Close() error
}

// NewID returns prefix and 20 base32 characters: 100 random bits, safe
// in URLs, headers and key names, lowercase so it reads the same in any
// log.
func NewID(prefix string) string {
	return prefix + strings.ToLower(rand.Text()[:20])
}

// PartnerSuspended reports whether the partner is suspended. A partner
// that no longer exists is not: whoever asks finds none of its objects
// anyway.
func PartnerSuspended(ctx context.Context, ps Partners, id string) (bool, error) {
	p, err := ps.GetPartner(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return p.Suspended, nil
}
