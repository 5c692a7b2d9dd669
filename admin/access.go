package admin

import (
	"context"
	"errors"
	"net/http"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// mayChange reports whether the caller may change or remove an object
// created by createdBy. A setup session may only undo its own work: the
// partner's other SSO connections and SCIM tokens are someone else's, so
// for it they answer 404 as if absent.
func (c *caller) mayChange(createdBy string) bool {
	return !c.setup || createdBy == c.creator()
}

var (
	errOperatorOnly = &apiError{status: http.StatusForbidden, code: "forbidden", message: "only an operator may do this"}
	errReadOnly     = &apiError{status: http.StatusForbidden, code: "read_only_token", message: "this admin token is read-only"}
	errCSRF         = &apiError{status: http.StatusForbidden, code: "csrf_failed", message: "a state change with a session cookie needs the X-CSRF-Token header from GET /api/v1/me"}
	errSetupOnly    = &apiError{status: http.StatusForbidden, code: "forbidden", message: "only a setup link may do this"}
	errSetupScope   = &apiError{status: http.StatusForbidden, code: "setup_scope", message: "a setup link reaches only SSO, SCIM, domain and branding setup"}
	errSuspended    = &apiError{status: http.StatusForbidden, code: "partner_suspended", message: "this partner's access is suspended; contact the platform operator"}
)

// checkNotSuspended shuts out every credential of a suspended partner
// (admin tokens, admin sessions, setup links) on every route, whatever
// partner the path names. Operators belong to no partner and keep their
// access.
func (h *Handler) checkNotSuspended(r *http.Request, c *caller) error {
	if c.operator {
		return nil
	}
	suspended, err := store.PartnerSuspended(r.Context(), h.store, c.partnerID)
	if err != nil {
		return err
	}
	if suspended {
		return errSuspended
	}
	return nil
}

// guard is the one place that decides whether a caller reaches a route:
// an operator reaches everything but the setup routes (only the key opens
// an operator session, only the session ends itself), a partner admin
// exactly their own partner while it is not suspended, read-only tokens
// only reads, a setup link only its partner's setup. Another partner's
// objects answer 404, as if they did not exist, so ids cannot be probed.
// Every write, allowed or not, becomes an audit event.
func (h *Handler) guard(rt route) http.Handler {
	return h.handle(func(w http.ResponseWriter, r *http.Request) error {
		c := callerOf(r)
		if err := h.permit(c, rt, r); err != nil {
			if rt.action != "" && c.partnerID != "" {
				n := &note{target: target{kind: "partner", id: r.PathValue("id")}}
				h.record(r, c.partnerID, rt.action, n, err)
			}
			return err
		}
		if rt.action == "" {
			return rt.fn(w, r)
		}
		n := &note{}
		r = r.WithContext(context.WithValue(r.Context(), noteKey{}, n))
		err := rt.fn(w, r)
		stream := r.PathValue("id")
		if n.stream != nil {
			stream = *n.stream
		}
		h.record(r, stream, rt.action, n, err)
		return err
	})
}

func (h *Handler) permit(c *caller, rt route, r *http.Request) error {
	if err := h.checkNotSuspended(r, c); err != nil {
		return err
	}
	if c.setup {
		return permitSetup(c, rt, r)
	}
	switch {
	case rt.reach == setupLink, rt.reach == setupSession:
		// Redeeming and completing act on the caller's own setup link,
		// which no other credential has.
		return errSetupOnly
	case (rt.reach == operatorKey || rt.reach == operatorSession) && !c.operator:
		return errOperatorOnly
	case rt.reach == operatorKey && c.operatorSession != "":
		return errOperatorKeyOnly
	case rt.reach == operatorSession && c.operatorSession == "":
		return errOperatorSessionOnly
	case c.operator, rt.reach == self:
		return nil
	case rt.reach == platform:
		return errOperatorOnly
	case r.PathValue("id") != c.partnerID:
		return errPartnerNotFound
	case rt.reach == partnerWrite && c.readOnly:
		return errReadOnly
	case rt.reach == partnerWrite && c.cookie && !h.checkCSRF(r, c):
		return errCSRF
	}
	return nil
}

// permitSetup keeps a setup link to the setup it was made for: the link
// only redeems, and the session it becomes reaches only the routes marked
// inSetup, of its own partner. A setup is handed to someone outside the
// platform without an account, so it must not reach users, roles,
// admin tokens or policies.
func permitSetup(c *caller, rt route, r *http.Request) error {
	switch {
	case rt.reach == setupLink && c.setupRedeemed:
		return errSetupLinkUsed
	case rt.reach == setupLink:
		return nil
	case !c.setupRedeemed, rt.setup != inSetup:
		return errSetupScope
	case rt.reach == self, rt.reach == setupSession && r.PathValue("id") == "":
		// The path names no partner: the route acts on the caller alone.
		return nil
	case r.PathValue("id") != c.partnerID:
		return errPartnerNotFound
	}
	return nil
}

// note is what a write handler tells the audit event about itself.
type note struct {
	target  target
	changes []change
	// stream overrides the path's partner: a created partner's event goes
	// to its new stream, a deleted one's to the platform's.
	stream *string
}

type target struct{ kind, id string }

// change is one changed field. A secret field is recorded as changed
// with no values.
type change struct {
	Field    string
	From, To string
	Redacted bool
}

type noteKey struct{}

func noteOf(r *http.Request) *note {
	n, _ := r.Context().Value(noteKey{}).(*note)
	return n
}

// noteTarget records what a write acts on and what it changed.
func noteTarget(r *http.Request, kind, id string, changes ...change) {
	if n := noteOf(r); n != nil {
		n.target = target{kind: kind, id: id}
		n.changes = append(n.changes, changes...)
	}
}

func noteStream(r *http.Request, stream string) {
	if n := noteOf(r); n != nil {
		n.stream = &stream
	}
}

// outcome names how a request ended for the audit trail: the reason is
// the error code the client saw.
func outcome(err error) (audit.Outcome, string) {
	var ae *apiError
	switch {
	case err == nil:
		return audit.Success, ""
	case errors.As(err, &ae):
		return audit.Failure, ae.code
	case errors.Is(err, store.ErrUnavailable):
		return audit.Failure, "unavailable"
	default:
		return audit.Failure, "internal_error"
	}
}
