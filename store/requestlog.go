package store

import (
	"context"
	"time"
)

// RequestRecord is one SCIM request kept for troubleshooting. It holds
// what a partner's administrator needs to see why a provisioning client
// fails, and nothing secret: no headers, no bodies, and of the query only
// what the caller chose to keep. Time is kept to the millisecond.
type RequestRecord struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	ScimType   string    `json:"scim_type,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	DurationMs int64     `json:"duration_ms"`
}

// RequestLog keeps the newest requests of each partner, a bounded ring
// rather than a history: unlike the audit log, nothing is chained and
// old records simply fall off.
type RequestLog interface {
	// AppendRequest adds rec as the partner's newest record and, in the
	// same atomic step, drops the oldest beyond keep (> 0). It fails with
	// ErrNotFound if the partner does not exist, so no log outlives a
	// concurrent DeletePartner.
	AppendRequest(ctx context.Context, partnerID string, rec RequestRecord, keep int) error
	// ListRequests returns up to limit (> 0) of the partner's records,
	// newest first; an unknown partner has none.
	ListRequests(ctx context.Context, partnerID string, limit int) ([]RequestRecord, error)
}
