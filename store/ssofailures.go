package store

import (
	"context"
	"time"
)

// SSOFailure is one failed SSO sign-in, kept so a partner admin can read
// why sign-ins through a connection fail. It holds no secret, token or
// assertion. Time is kept to the millisecond.
type SSOFailure struct {
	Time    time.Time     `json:"time"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Facts   []FailureFact `json:"facts,omitempty"`
	Email   string        `json:"email,omitempty"`
	// Test marks a test sign-in started by an admin.
	Test bool `json:"test,omitempty"`
}

// FailureFact is one labelled detail of a failure, in the order the
// caller gave it.
type FailureFact struct {
	Label string `json:"label"`
	Value string `json:"value"`
}

// SSOFailures keeps the newest failed sign-ins of each SSO connection, a
// bounded ring like RequestLog: old failures simply fall off. A
// connection's log goes with it: DeleteSSOConnection and DeletePartner
// drop it, so a connection recreated with the same id starts empty.
type SSOFailures interface {
	// AppendSSOFailure adds f as the connection's newest and, in the same
	// atomic step, drops the oldest beyond keep (> 0). It fails with
	// ErrNotFound if the partner or the connection does not exist, so no
	// log outlives a concurrent delete of either.
	AppendSSOFailure(ctx context.Context, partnerID, connectionID string, f SSOFailure, keep int) error
	// ListSSOFailures returns up to limit (> 0) of the connection's
	// failures, newest first; an unknown partner or connection has none.
	ListSSOFailures(ctx context.Context, partnerID, connectionID string, limit int) ([]SSOFailure, error)
}
