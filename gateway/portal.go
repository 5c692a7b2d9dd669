package gateway

import (
	"net/http"

	"github.com/partnergate/partnergate/session"
)

// SessionResolver finds the session a request carries on a partner's
// hostname, for handlers served beside the gateway on that hostname (the
// admin portal and its API) that share its sign-in.
type SessionResolver struct {
	Directory *Directory
	Sessions  *session.Manager
}

// SessionOf answers session.ErrNoSession for an unknown host, a missing,
// repeated or invalid cookie, and store.ErrUnavailable when the session
// cannot be checked.
func (s SessionResolver) SessionOf(r *http.Request) (*session.Identity, error) {
	p, ok := s.Directory.Resolve(r.Host)
	if !ok {
		return nil, session.ErrNoSession
	}
	return lookupSession(s.Sessions, r, p.ID)
}
