package store

import (
	"context"
	"time"
)

// TokenKind says what a token opens.
type TokenKind string

const (
	// AdminToken opens the admin API for one partner.
	AdminToken TokenKind = "admin"
	// SCIMToken opens the SCIM endpoint for one partner.
	SCIMToken TokenKind = "scim"
	// SetupToken is a one-time setup link of one partner and, once
	// redeemed, the short setup session it became.
	SetupToken TokenKind = "setup"
)

// Token is a partner-scoped API credential. The secret itself is never
// stored: SecretHash is its SHA-256 in hex, which is enough for a random
// 256-bit secret.
type Token struct {
	ID         string    `json:"id"`
	PartnerID  string    `json:"partner_id"`
	Kind       TokenKind `json:"kind"`
	Name       string    `json:"name"`
	SecretHash string    `json:"secret_hash"`
	ReadOnly   bool      `json:"read_only,omitempty"`
	CreatedBy  string    `json:"created_by"`
	// OwnerID is the user whose admin rights the token carries, "" for a
	// token an operator made: a token stops working when its owner is no
	// longer an active partner admin.
	OwnerID string `json:"owner_id,omitempty"`
	// Redeemed marks a setup token whose link was used: its secret was
	// replaced by the setup session's, so the link itself no longer works.
	Redeemed  bool      `json:"redeemed,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is the zero time for a token that never expires. Expired
	// tokens stay readable, so a listing can show them; callers check it.
	ExpiresAt time.Time `json:"expires_at"`
}

// Tokens stores partner API tokens.
type Tokens interface {
	// CreateToken fails with ErrNotFound if the partner does not exist and
	// with ErrAlreadyExists if the id is taken within it.
	CreateToken(ctx context.Context, t Token) error
	GetToken(ctx context.Context, partnerID, id string) (Token, error)
	// ListTokens returns the partner's tokens of one kind, ordered by id.
	ListTokens(ctx context.Context, partnerID string, kind TokenKind) ([]Token, error)
	DeleteToken(ctx context.Context, partnerID, id string) error
}

// Tickets are short-lived records keyed by an unguessable id, for links
// and ceremonies that must work once: invitations, password resets, login
// state. They vanish when their time-to-live ends. Ids are stored as
// given and may appear in key names, so callers pass a hash of the secret
// a link carries, never the secret itself.
type Tickets interface {
	// PutTicket stores payload under id for ttl; ErrAlreadyExists if a
	// live ticket has the id. The partner need not exist.
	PutTicket(ctx context.Context, partnerID, id string, payload []byte, ttl time.Duration) error
	// GetTicket reads a live ticket without using it up.
	GetTicket(ctx context.Context, partnerID, id string) ([]byte, error)
	// TakeTicket reads and deletes a live ticket in one step, so of two
	// concurrent takes exactly one succeeds; the other, and any take after
	// expiry, answers ErrNotFound.
	TakeTicket(ctx context.Context, partnerID, id string) ([]byte, error)
}
