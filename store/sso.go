package store

import (
	"context"
	"encoding/json"
	"time"
)

// SSOConnection is one of a partner's identity provider connections.
// Preset names the provider it was set up from (okta, entra, ping,
// onelogin, google, generic-oidc, generic-saml) and Protocol the protocol
// it speaks, "oidc" or "saml". The store keeps both as given: checking
// them is the caller's job.
type SSOConnection struct {
	ID        string `json:"id"`
	PartnerID string `json:"partner_id"`
	Name      string `json:"name"`
	Preset    string `json:"preset"`
	Protocol  string `json:"protocol"`
	Enabled   bool   `json:"enabled"`
	// Domains are the email domains routed to the connection (home-realm
	// discovery), lowercase. A domain routes to at most one connection of
	// a partner, compared case-insensitively; "" routes nowhere.
	Domains []string `json:"domains,omitempty"`
	// JIT provisions users on sign-in: creates or updates them.
	JIT bool `json:"jit"`
	// Config holds the protocol settings as a JSON object, kept as a JSON
	// value (not byte for byte). Secrets inside are encrypted by the
	// caller: the store never sees them in the clear.
	Config json.RawMessage `json:"config,omitempty"`
	// CreatedBy names who made the connection as "<actor type>:<actor
	// id>", as Token.CreatedBy does, so what a credential made can be
	// found when the credential is revoked; "" for connections made
	// before it was recorded.
	CreatedBy string    `json:"created_by,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// SSOConnections stores each partner's SSO connections. A partner has few
// of them, so they are listed whole. Every call is scoped to one partner:
// an id of another partner answers ErrNotFound.
type SSOConnections interface {
	// CreateSSOConnection fails with ErrNotFound if the partner does not
	// exist, and with ErrAlreadyExists, writing nothing, if the id is
	// taken or a domain is already routed to another of the partner's
	// connections.
	CreateSSOConnection(ctx context.Context, c SSOConnection) error
	GetSSOConnection(ctx context.Context, partnerID, id string) (SSOConnection, error)
	// ListSSOConnections returns all of the partner's connections,
	// ordered by id.
	ListSSOConnections(ctx context.Context, partnerID string) ([]SSOConnection, error)
	// UpdateSSOConnection follows UpdatePartner's rules; routing a domain
	// another connection holds fails with ErrAlreadyExists.
	UpdateSSOConnection(ctx context.Context, partnerID, id string, fn func(SSOConnection) (SSOConnection, error)) (SSOConnection, error)
	// DeleteSSOConnection removes the connection, its domain routes and
	// its SSO failure log.
	DeleteSSOConnection(ctx context.Context, partnerID, id string) error
	// FindSSOConnectionByDomain returns the partner's connection that
	// routes an email domain, compared case-insensitively: an index
	// lookup, never a scan.
	FindSSOConnectionByDomain(ctx context.Context, partnerID, domain string) (SSOConnection, error)
}
