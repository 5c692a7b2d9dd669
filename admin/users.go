package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/store"
)

// userFields serve both create and PATCH. id is read-only so a client
// cannot pick ids; password is write-only and has no wire field in
// userJSON, so it cannot be echoed.
var userFields = fieldSet{
	writable: []string{"email", "name", "password", "active"},
	readOnly: []string{"id", "status", "groups", "created_at", "updated_at"},
}

// User statuses as the API shows them.
const (
	statusActive    = "active"
	statusSuspended = "suspended"
	// statusInvited: active, but no password yet and a live invitation.
	statusInvited = "invited"
)

// userJSON is a user on the wire.
type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	Status    string    `json:"status"`
	Groups    []string  `json:"groups"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{
		ID: u.ID, Email: u.Email, Name: u.Name, Active: u.Active, Status: userStatus(u),
		Groups: nonNil(u.Groups), CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
}

func userStatus(u store.User) string {
	switch {
	case !u.Active:
		return statusSuspended
	case u.PasswordHash == "" && u.InviteID != "":
		return statusInvited
	}
	return statusActive
}

func userPath(partnerID, userID string) string {
	return partnerPath(partnerID) + "/users/" + userID
}

// userInput holds the writable members a user request sent.
type userInput struct {
	email    opt[string]
	name     opt[string]
	password opt[string]
	active   opt[bool]
}

func decodeUser(m members) (userInput, error) {
	var in userInput
	var err error
	if in.email, err = member[string](m, "email"); err != nil {
		return in, err
	}
	if in.name, err = member[string](m, "name"); err != nil {
		return in, err
	}
	if in.password, err = member[string](m, "password"); err != nil {
		return in, err
	}
	in.active, err = member[bool](m, "active")
	return in, err
}

// readUser decodes and validates a user request, and checks and hashes
// the password if one was sent; hashing is slow, so it happens once,
// outside the store's retryable update. userID is the user updated, ""
// on create.
func (h *Handler) readUser(w http.ResponseWriter, r *http.Request, partnerID, userID string) (userInput, checkedPassword, error) {
	m, err := readObject(w, r, userFields)
	if err != nil {
		return userInput{}, checkedPassword{}, err
	}
	in, err := decodeUser(m)
	if err != nil {
		return in, checkedPassword{}, err
	}
	ps := in.problems(userID == "")
	pw, ok := in.password.value()
	if !ok {
		return in, checkedPassword{}, ps.err()
	}
	// The rule without the history costs no hashing, so a refusal can
	// list the password's problem beside the other fields'.
	pol, err := h.policies.Effective(r.Context(), partnerID)
	if err != nil {
		return in, checkedPassword{}, err
	}
	if err := password.RuleOf(pol).Check(pw, nil); err != nil {
		ps.add("password", err.Error())
	}
	if err := ps.err(); err != nil {
		return in, checkedPassword{}, err
	}
	np, err := h.checkPassword(r.Context(), partnerID, userID, pw)
	return in, np, err
}

// checkedPassword is a password a request sets, checked and hashed, with how
// many earlier passwords the partner's policy keeps.
type checkedPassword struct {
	hash string
	keep int
}

// apply sets the password on u: the one it replaces goes into the
// history, kept to the policy's length, and the change time is noted. A
// zero checkedPassword (a request clearing the password) leaves none.
func (np checkedPassword) apply(u store.User, now time.Time) store.User {
	u.PasswordHistory = password.Remember(u.PasswordHistory, u.PasswordHash, np.keep)
	u.PasswordHash = np.hash
	u.PasswordChangedAt = time.Time{}
	if np.hash != "" {
		u.PasswordChangedAt = now
	}
	u.InviteID = ""
	return u
}

var errHashBusy = &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: "too many passwords are being set right now; retry shortly"}

// checkPassword checks plain against the partner's effective password
// rule and, when userID names an existing user, that user's current and
// earlier passwords; a refusal is a 422 naming the rule. It then hashes
// plain. Checking the history and hashing both run argon2id, so both
// happen in one of a bounded number of slots. Each hash holds about 19
// MiB, and every partner's admins can set passwords: without the bound,
// one partner's concurrent writes could exhaust the memory of a node all
// partners share. A request that gets no slot in time answers 503 with
// Retry-After.
func (h *Handler) checkPassword(ctx context.Context, partnerID, userID, plain string) (checkedPassword, error) {
	pol, err := h.policies.Effective(ctx, partnerID)
	if err != nil {
		return checkedPassword{}, err
	}
	var previous []string
	if userID != "" {
		u, err := h.store.GetUser(ctx, partnerID, userID)
		if err != nil {
			return checkedPassword{}, userWriteError(err)
		}
		previous = password.Previous(u.PasswordHash, u.PasswordHistory)
	}
	release, err := h.hashing.Acquire(ctx)
	if err != nil {
		return checkedPassword{}, errHashBusy
	}
	defer release()
	if err := password.RuleOf(pol).Check(plain, previous); err != nil {
		var ps problems
		ps.add("password", err.Error())
		return checkedPassword{}, ps.err()
	}
	hash, err := h.hashFn(plain)
	if err != nil {
		return checkedPassword{}, fmt.Errorf("hash password: %w", err)
	}
	return checkedPassword{hash: hash, keep: pol.History()}, nil
}

// userFilter is a user search: each set field must match.
type userFilter struct {
	email, name, status string
}

func (f userFilter) match(u store.User) bool {
	return (f.email == "" || strings.Contains(strings.ToLower(u.Email), f.email)) &&
		(f.name == "" || strings.Contains(strings.ToLower(u.Name), f.name)) &&
		(f.status == "" || userStatus(u) == f.status)
}

// userScanBatch is how many users a search reads from the store at once;
// userScanBudget how many one request reads at most, so a filter matching
// few users cannot make each request read the whole partner.
const (
	userScanBatch  = 500
	userScanBudget = 10_000
)

// listUsers searches by email, name (case-insensitive substrings) and
// status, a page at a time in id order. A page may hold fewer users than
// asked, even none, and still have a cursor: the search stopped at its
// read budget.
func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	q, err := readQuery(r, "email", "name", "status", "limit", "cursor")
	if err != nil {
		return err
	}
	f := userFilter{email: strings.ToLower(q.Get("email")), name: strings.ToLower(q.Get("name")), status: q.Get("status")}
	var ps problems
	if f.status != "" && f.status != statusActive && f.status != statusSuspended && f.status != statusInvited {
		ps.add("status", "status must be active, suspended or invited")
	}
	limit, after := pageParams(q, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	out := pageJSON[userJSON]{Data: []userJSON{}}
	for scanned := 0; ; {
		n := min(userScanBatch, h.userScanBudget-scanned)
		batch, err := h.store.ListUsers(r.Context(), p.ID, store.Page{After: after, Limit: n})
		if err != nil {
			return err
		}
		scanned += len(batch)
		for _, u := range batch {
			if !f.match(u) {
				continue
			}
			out.Data = append(out.Data, toUserJSON(u))
			if len(out.Data) == limit {
				out.NextCursor = encodeCursor(u.ID)
				return writeJSON(w, http.StatusOK, out)
			}
		}
		if len(batch) < n {
			return writeJSON(w, http.StatusOK, out)
		}
		after = batch[len(batch)-1].ID
		if scanned >= h.userScanBudget {
			out.NextCursor = encodeCursor(after)
			return writeJSON(w, http.StatusOK, out)
		}
	}
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	in, np, err := h.readUser(w, r, p.ID, "")
	if err != nil {
		return err
	}
	active := true
	if v, ok := in.active.value(); ok {
		active = v
	}
	now := h.timestamp()
	u := np.apply(store.User{
		ID:        store.NewID("u_"),
		PartnerID: p.ID,
		Email:     in.email.val,
		Name:      in.name.val,
		Active:    active,
		CreatedAt: now,
		UpdatedAt: now,
	}, now)
	// The id has 100 random bits, so a taken one means a taken email.
	if err := h.store.CreateUser(r.Context(), u); err != nil {
		return userWriteError(err)
	}
	noteTarget(r, "user", u.ID, userChanges(in)...)
	w.Header().Set("Location", userPath(p.ID, u.ID))
	return writeResource(w, http.StatusCreated, toUserJSON(u))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.user(r)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, toUserJSON(u))
}

// updateUser applies a merge-style PATCH. A request setting active to
// false revokes the user's sessions even if the user was already
// inactive, so repeating a request whose revocation failed completes it.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	in, np, err := h.readUser(w, r, p.ID, r.PathValue("userId"))
	if err != nil {
		return err
	}
	noteTarget(r, "user", r.PathValue("userId"), userChanges(in)...)
	now := h.timestamp()
	u, err := h.store.UpdateUser(r.Context(), p.ID, r.PathValue("userId"), func(u store.User) (store.User, error) {
		if err := pre.check(toUserJSON(u)); err != nil {
			return u, err
		}
		if in.email.set {
			// A password link belongs to the mailbox it was sent to.
			if !strings.EqualFold(u.Email, in.email.val) {
				u.InviteID = ""
			}
			u.Email = in.email.val
		}
		if in.name.set {
			u.Name = in.name.val
		}
		if in.password.set {
			u = np.apply(u, now) // no password when the request sent null
		}
		if v, ok := in.active.value(); ok {
			u.Active = v
			if !v {
				// Resuming the user later must not revive a link.
				u.InviteID = ""
			}
		}
		u.UpdatedAt = now
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: u.ID})
	// Deactivation and a password change both end every session: a reset
	// usually follows a compromise, and the old password's sessions must
	// not outlive it.
	deactivated := false
	if v, ok := in.active.value(); ok && !v {
		deactivated = true
	}
	if deactivated || in.password.set {
		if err := h.revoker.RevokeUser(r.Context(), p.ID, u.ID); err != nil {
			return revocationFailed("the user was updated but their sessions could not be ended; repeat the request", err)
		}
	}
	return writeResource(w, http.StatusOK, toUserJSON(u))
}

// deleteUser deactivates, revokes, then deletes. Revoking first is needed
// because DeleteUser drops session rows without announcing them;
// deactivating first keeps a sign-in racing the revocation from leaving a
// session nobody announces.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	userID := r.PathValue("userId")
	noteTarget(r, "user", userID)
	_, err = h.store.UpdateUser(r.Context(), p.ID, userID, func(u store.User) (store.User, error) {
		if err := pre.check(toUserJSON(u)); err != nil {
			return u, err
		}
		u.Active = false
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: userID})
	if err := h.revoker.RevokeUser(r.Context(), p.ID, userID); err != nil {
		return revocationFailed("the user was deactivated but not deleted because their sessions could not be ended; repeat the request", err)
	}
	if err := h.store.DeleteUser(r.Context(), p.ID, userID); err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: userID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func userWriteError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUserNotFound
	case errors.Is(err, store.ErrAlreadyExists):
		return conflict("email", "another user of this partner has this email", err)
	}
	return err
}

// userChanges names what a user request changed, without secret values.
func userChanges(in userInput) []change {
	var cs []change
	if v, ok := in.email.value(); ok {
		cs = append(cs, change{Field: "email", To: v})
	}
	if in.name.set {
		cs = append(cs, change{Field: "name", To: in.name.val})
	}
	if in.active.set {
		cs = append(cs, change{Field: "active", To: boolString(in.active.val)})
	}
	if in.password.set {
		cs = append(cs, change{Field: "password", Redacted: true})
	}
	return cs
}

func (h *Handler) suspendUser(w http.ResponseWriter, r *http.Request) error {
	return h.setActive(w, r, false)
}

func (h *Handler) resumeUser(w http.ResponseWriter, r *http.Request) error {
	return h.setActive(w, r, true)
}

// setActive suspends or resumes. Suspending ends every session on every
// node; repeating it repeats the revocation, so a failed one can finish.
func (h *Handler) setActive(w http.ResponseWriter, r *http.Request, active bool) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	noteTarget(r, "user", r.PathValue("userId"), change{Field: "active", To: boolString(active)})
	now := h.timestamp()
	u, err := h.store.UpdateUser(r.Context(), p.ID, r.PathValue("userId"), func(u store.User) (store.User, error) {
		if err := pre.check(toUserJSON(u)); err != nil {
			return u, err
		}
		if u.Active != active {
			u.Active = active
			u.UpdatedAt = now
		}
		if !active {
			// Resuming the user later must not revive a link.
			u.InviteID = ""
		}
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: u.ID})
	if !active {
		if err := h.revoker.RevokeUser(r.Context(), p.ID, u.ID); err != nil {
			return revocationFailed("the user was suspended but their sessions could not be ended; repeat the request", err)
		}
	}
	return writeResource(w, http.StatusOK, toUserJSON(u))
}

var passwordFields = fieldSet{writable: []string{"password"}}

// setPassword sets a password chosen by the admin and ends the user's
// sessions, which the old password opened.
func (h *Handler) setPassword(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, passwordFields)
	if err != nil {
		return err
	}
	pw, err := member[string](m, "password")
	if err != nil {
		return err
	}
	v, ok := pw.value()
	if !ok {
		var ps problems
		ps.add("password", "password is required")
		return ps.err()
	}
	np, err := h.checkPassword(r.Context(), p.ID, r.PathValue("userId"), v)
	if err != nil {
		return err
	}
	noteTarget(r, "user", r.PathValue("userId"), change{Field: "password", Redacted: true})
	now := h.timestamp()
	u, err := h.store.UpdateUser(r.Context(), p.ID, r.PathValue("userId"), func(u store.User) (store.User, error) {
		if err := pre.check(toUserJSON(u)); err != nil {
			return u, err
		}
		u = np.apply(u, now)
		u.UpdatedAt = now
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: u.ID})
	if err := h.revoker.RevokeUser(r.Context(), p.ID, u.ID); err != nil {
		return revocationFailed("the password was set but the user's sessions could not be ended; repeat the request", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionJSON is a signed-in browser of a user.
type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
}

func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request) error {
	u, err := h.user(r)
	if err != nil {
		return err
	}
	sessions, err := h.store.ListUserSessions(r.Context(), u.PartnerID, u.ID)
	if err != nil {
		return err
	}
	out := listJSON[sessionJSON]{Data: make([]sessionJSON, 0, len(sessions))}
	for _, s := range sessions {
		out.Data = append(out.Data, sessionJSON{
			ID: s.ID, CreatedAt: s.CreatedAt, LastSeenAt: s.LastSeenAt, ExpiresAt: s.ExpiresAt, IP: s.IP, UserAgent: s.UserAgent,
		})
	}
	return writeJSON(w, http.StatusOK, out)
}

// revokeSessions signs the user out everywhere.
func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	u, err := h.user(r)
	if err != nil {
		return err
	}
	noteTarget(r, "user", u.ID)
	if err := h.revoker.RevokeUser(r.Context(), u.PartnerID, u.ID); err != nil {
		return revocationFailed("the user's sessions could not all be ended; repeat the request", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) revokeSession(w http.ResponseWriter, r *http.Request) error {
	u, err := h.user(r)
	if err != nil {
		return err
	}
	sid := r.PathValue("sessionId")
	noteTarget(r, "session", sid)
	s, err := h.store.GetSession(r.Context(), u.PartnerID, sid)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && s.UserID != u.ID:
		return errSessionNotFound
	case err != nil:
		return err
	}
	if err := h.revoker.Revoke(r.Context(), u.PartnerID, sid); err != nil {
		return revocationFailed("the session could not be ended; repeat the request", err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// user loads the path's user.
func (h *Handler) user(r *http.Request) (store.User, error) {
	p, err := h.partner(r)
	if err != nil {
		return store.User{}, err
	}
	u, err := h.store.GetUser(r.Context(), p.ID, r.PathValue("userId"))
	if err != nil {
		return store.User{}, userWriteError(err)
	}
	return u, nil
}
