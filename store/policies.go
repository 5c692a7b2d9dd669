package store

import (
	"context"
	"encoding/json"
	"time"
)

// PolicyRecord is a stored policy document: the partner's own auth
// policy, or the platform's governance baseline. Policy is a JSON object
// kept as a JSON value (not byte for byte); the store does not read it.
type PolicyRecord struct {
	Policy    json.RawMessage `json:"policy"`
	UpdatedAt time.Time       `json:"updated_at"` // kept to the millisecond
	UpdatedBy string          `json:"updated_by,omitempty"`
}

// Policies stores each partner's auth policy and the platform's
// governance baseline. A partner without a policy of its own inherits
// the baseline; the store only keeps the documents, it never merges them.
type Policies interface {
	// GetPolicy returns the partner's policy; ErrNotFound when it has none
	// (it inherits the baseline) or the partner does not exist.
	GetPolicy(ctx context.Context, partnerID string) (PolicyRecord, error)
	// PutPolicy replaces the partner's policy; ErrNotFound if the partner
	// does not exist (checked atomically with the write, so no policy
	// outlives a concurrent DeletePartner).
	PutPolicy(ctx context.Context, partnerID string, rec PolicyRecord) error
	// DeletePolicy removes it (the partner inherits everything again);
	// deleting none is not an error, for an unknown partner either.
	DeletePolicy(ctx context.Context, partnerID string) error
	// GetGovernance returns the platform's baseline as operators last set
	// it; ErrNotFound until one is set.
	GetGovernance(ctx context.Context) (PolicyRecord, error)
	// PutGovernance replaces the baseline. It belongs to no partner:
	// DeletePartner never touches it.
	PutGovernance(ctx context.Context, rec PolicyRecord) error
}
