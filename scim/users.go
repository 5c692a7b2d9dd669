package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/scim/filter"
	"github.com/partnergate/partnergate/scim/patch"
	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

var errHashBusy = &schema.Error{Status: http.StatusServiceUnavailable, Detail: "too many passwords are being set right now; retry shortly"}

var errUserNotFound = &schema.Error{Status: http.StatusNotFound, Detail: "user not found"}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.store.GetUser(r.Context(), partnerOf(r), r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return errUserNotFound
	}
	if err != nil {
		return err
	}
	if notModified(w, r, u.UpdatedAt) {
		return nil
	}
	return h.writeUser(w, r, http.StatusOK, u)
}

// render builds a user's SCIM representation with its groups.
func (h *Handler) render(r *http.Request, u store.User) (Resource, error) {
	groups := make([]store.Group, 0, len(u.Groups))
	for _, gid := range u.Groups {
		g, err := h.store.GetGroup(r.Context(), u.PartnerID, gid)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		groups = append(groups, g)
	}
	return userResource(u, groups, location(r, "Users", u.ID))
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	res, err := readResource(w, r)
	if err != nil {
		return err
	}
	if err := checkSchemas(res, schema.UserResource); err != nil {
		return err
	}
	su, err := toStored(res)
	if err != nil {
		return err
	}
	np, err := h.checkPassword(r.Context(), partnerOf(r), su.Password, store.User{})
	if err != nil {
		return err
	}
	now := h.now().UTC().Truncate(1e6)
	u := np.set(store.User{
		ID:         store.NewID("u_"),
		PartnerID:  partnerOf(r),
		Email:      su.Email,
		Name:       su.Name,
		Active:     su.Active,
		UserName:   su.UserName,
		ExternalID: su.ExternalID,
		AltEmails:  su.AltEmails,
		Profile:    su.Profile,
		CreatedAt:  now,
		UpdatedAt:  now,
	}, now)
	if err := h.store.CreateUser(r.Context(), u); err != nil {
		return userWriteError(err)
	}
	h.record(r, "scim.user.create", "user", u.ID)
	w.Header().Set("Location", location(r, "Users", u.ID))
	return h.writeUser(w, r, http.StatusCreated, u)
}

// replaceUser is PUT: the resource sent replaces every client-writable
// attribute. A user made inactive loses every session at once.
func (h *Handler) replaceUser(w http.ResponseWriter, r *http.Request) error {
	res, err := readResource(w, r)
	if err != nil {
		return err
	}
	if id, ok := lookup(res, "id").(string); ok && id != r.PathValue("id") {
		return schema.ErrMutability.Errorf("id %q does not match the URL", id)
	}
	if err := checkSchemas(res, schema.UserResource); err != nil {
		return err
	}
	su, err := toStored(res)
	if err != nil {
		return err
	}
	var cur store.User
	if su.Password != "" {
		// The password is checked against the user's earlier ones.
		if cur, err = h.store.GetUser(r.Context(), partnerOf(r), r.PathValue("id")); err != nil {
			return userWriteError(err)
		}
	}
	np, err := h.checkPassword(r.Context(), partnerOf(r), su.Password, cur)
	if err != nil {
		return err
	}
	now := h.now().UTC().Truncate(1e6)
	u, err := h.store.UpdateUser(r.Context(), partnerOf(r), r.PathValue("id"), func(u store.User) (store.User, error) {
		// Checked here, so that no write slips between check and write.
		if err := checkIfMatch(r, u.UpdatedAt); err != nil {
			return u, err
		}
		u.Email, u.Name, u.Active = su.Email, su.Name, su.Active
		u.UserName, u.ExternalID, u.AltEmails, u.Profile = su.UserName, su.ExternalID, su.AltEmails, su.Profile
		u = np.set(u, now)
		if !u.Active {
			u.InviteID = ""
		}
		u.UpdatedAt = now
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	if err := h.afterUserWrite(r, u, np.hash != ""); err != nil {
		return err
	}
	h.record(r, "scim.user.replace", "user", u.ID)
	return h.writeUser(w, r, http.StatusOK, u)
}

// patchUser applies a PATCH (RFC 7644 §3.5.2) to the user as SCIM shows
// it and stores the result like a PUT would.
func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	req, err := patch.Parse(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return patchParseError(err)
	}
	partnerID, id := partnerOf(r), r.PathValue("id")
	cur, err := h.store.GetUser(r.Context(), partnerID, id)
	if err != nil {
		return userWriteError(err)
	}
	// The write below fails unless the user is still at cur's version, so
	// checking cur is checking what is written over.
	if err := checkIfMatch(r, cur.UpdatedAt); err != nil {
		return err
	}
	before, err := userResource(cur, nil, "")
	if err != nil {
		return err
	}
	delete(before, "meta")
	after, changes, err := req.Apply(before, schema.UserResource)
	if err != nil {
		return err
	}
	if !changes.Modified {
		return h.writeUser(w, r, http.StatusOK, cur)
	}
	su, err := toStored(after)
	if err != nil {
		return err
	}
	np, err := h.checkPassword(r.Context(), partnerID, su.Password, cur)
	if err != nil {
		return err
	}
	now := h.now().UTC().Truncate(1e6)
	u, err := h.store.UpdateUser(r.Context(), partnerID, id, func(u store.User) (store.User, error) {
		// A write in between would be lost by applying a stale result.
		if !u.UpdatedAt.Equal(cur.UpdatedAt) {
			return u, store.ErrConflict
		}
		u.Email, u.Name, u.Active = su.Email, su.Name, su.Active
		u.UserName, u.ExternalID, u.AltEmails, u.Profile = su.UserName, su.ExternalID, su.AltEmails, su.Profile
		u = np.set(u, now)
		if !u.Active {
			u.InviteID = ""
		}
		u.UpdatedAt = now
		return u, nil
	})
	if errors.Is(err, store.ErrConflict) {
		return &schema.Error{Status: http.StatusPreconditionFailed, Detail: "the user changed while the PATCH was applied; send it again"}
	}
	if err != nil {
		return userWriteError(err)
	}
	if err := h.afterUserWrite(r, u, np.hash != ""); err != nil {
		return err
	}
	h.record(r, "scim.user.patch", "user", u.ID)
	return h.writeUser(w, r, http.StatusOK, u)
}

// writeUser answers a user with its ETag, shaped by the request's
// attributes and excludedAttributes.
func (h *Handler) writeUser(w http.ResponseWriter, r *http.Request, status int, u store.User) error {
	out, err := h.render(r, u)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", version(u.UpdatedAt))
	writeJSON(w, status, queryOf(r).projection(schema.UserResource).apply(out))
	return nil
}

// patchParseError turns a body that could not be read into 413, and
// passes SCIM errors through.
func patchParseError(err error) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return &schema.Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body exceeds %d bytes", maxBodyBytes)}
	}
	return err
}

// afterUserWrite announces the change and, for a deactivated user or a
// new password, ends every session on every node.
func (h *Handler) afterUserWrite(r *http.Request, u store.User, newPassword bool) error {
	ctx := context.WithoutCancel(r.Context())
	if err := h.store.Publish(ctx, store.Event{Kind: store.UserChanged, PartnerID: u.PartnerID, ID: u.ID}); err != nil {
		h.log.Error("publish user change", zapErr(err))
	}
	if !u.Active || newPassword {
		if err := h.revoker.RevokeUser(ctx, u.PartnerID, u.ID); err != nil {
			return fmt.Errorf("end sessions of user %q: %w", u.ID, err)
		}
	}
	return nil
}

// deleteUser deactivates, revokes, then deletes, as the admin API does,
// so no sign-in racing the deletion keeps a session.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	partnerID, id := partnerOf(r), r.PathValue("id")
	u, err := h.store.UpdateUser(r.Context(), partnerID, id, func(u store.User) (store.User, error) {
		if err := checkIfMatch(r, u.UpdatedAt); err != nil {
			return u, err
		}
		u.Active = false
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	if err := h.afterUserWrite(r, u, false); err != nil {
		return err
	}
	if err := h.store.DeleteUser(r.Context(), partnerID, id); err != nil {
		return userWriteError(err)
	}
	h.record(r, "scim.user.delete", "user", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	return h.serveUserQuery(w, r, queryOf(r))
}

// searchUsers is POST /Users/.search (RFC 7644 §3.4.3).
func (h *Handler) searchUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := searchQuery(w, r)
	if err != nil {
		return err
	}
	return h.serveUserQuery(w, r, q)
}

func (h *Handler) serveUserQuery(w http.ResponseWriter, r *http.Request, q query) error {
	if q.filter == "" && q.sortBy == "" {
		return h.serveUserPage(w, r, q)
	}
	return serveList(w, q, schema.UserResource,
		func(f *filter.Filter) ([]Resource, error) { return h.matchingUsers(r, f) },
		asIs, asIs)
}

// serveUserPage answers a list of users without filter or sort: id order
// is the store's own, so the store reads just the page asked for, and a
// partner's size costs nothing but the count.
func (h *Handler) serveUserPage(w http.ResponseWriter, r *http.Request, q query) error {
	start, count, err := paging(q)
	if err != nil {
		return err
	}
	// A sortOrder without sortBy changes nothing, but garbage is refused
	// as it is on a sorted list.
	if _, err := parseSort(q, schema.UserResource); err != nil {
		return err
	}
	users, total, err := h.store.ListUsersAt(r.Context(), partnerOf(r), start-1, count)
	if err != nil {
		return err
	}
	proj := q.projection(schema.UserResource)
	return writeList(w, start, total, users, func(u store.User) (Resource, error) {
		res, err := h.render(r, u)
		if err != nil {
			return nil, err
		}
		return proj.apply(res), nil
	})
}

// asIs is the view and rendering of a match that is already a resource.
func asIs(res Resource) (Resource, error) { return res, nil }

// matchingUsers returns every matching user's resource, in id order. An
// equality on userName, externalId or emails.value is an index lookup;
// any other filter scans this partner's users, and only this partner's.
func (h *Handler) matchingUsers(r *http.Request, f *filter.Filter) ([]Resource, error) {
	ctx, partnerID := r.Context(), partnerOf(r)
	var candidates []store.User
	indexed := false
	if f != nil {
		if attr, value, ok := filter.Equality(f); ok {
			indexed = true
			var u store.User
			var err error
			switch attr {
			case "userName":
				u, err = h.store.GetUserByUserName(ctx, partnerID, value)
			case "externalId":
				u, err = h.store.GetUserByExternalID(ctx, partnerID, value)
			case "emails.value":
				candidates, err = h.store.FindUsersByEmail(ctx, partnerID, value)
			default:
				indexed = false
			}
			switch {
			case errors.Is(err, store.ErrNotFound):
			case err != nil:
				return nil, err
			case u.ID != "":
				candidates = []store.User{u}
			}
		}
	}
	var out []Resource
	keep := func(u store.User) error {
		res, err := h.render(r, u)
		if err != nil {
			return err
		}
		if f == nil || f.Match(res) {
			out = append(out, res)
		}
		return nil
	}
	if indexed {
		for _, u := range candidates {
			if err := keep(u); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	err := eachPage(func(p store.Page) ([]store.User, error) { return h.store.ListUsers(ctx, partnerID, p) },
		func(u store.User) string { return u.ID },
		func(batch []store.User) error {
			for _, u := range batch {
				if err := keep(u); err != nil {
					return err
				}
			}
			return nil
		})
	return out, err
}

// newPassword is a password a client sent, checked and hashed, with how
// many earlier passwords the partner's policy keeps; a zero one changes
// nothing.
type newPassword struct {
	hash string
	keep int
}

// set puts the password on u: the one it replaces goes into the history,
// kept to the policy's length, and the change time is noted.
func (np newPassword) set(u store.User, now time.Time) store.User {
	if np.hash == "" {
		return u
	}
	u.PasswordHistory = password.Remember(u.PasswordHistory, u.PasswordHash, np.keep)
	u.PasswordHash, u.PasswordChangedAt, u.InviteID = np.hash, now, ""
	return u
}

// policyOf is the partner's effective policy, or the default one when the
// handler was given no source.
func (h *Handler) policyOf(ctx context.Context, partnerID string) (policy.Policy, error) {
	if h.policies == nil {
		return policy.Default(), nil
	}
	return h.policies.Effective(ctx, partnerID)
}

// checkPassword checks a password a client sent for cur (a zero User on
// create) against the partner's effective password rule, cur's current
// and earlier passwords included, and hashes it. A refusal is 400
// invalidValue naming the rule. A password equal to cur's current one is
// no change, not a reuse: clients that sync passwords resend it with
// every replace. The checks and the hash run argon2, so they hold one of
// the process's bounded slots: each hash holds tens of MiB, and a
// directory pushing many users at once must not exhaust a node's memory.
// With no slot free in time the client is told to retry.
func (h *Handler) checkPassword(ctx context.Context, partnerID, plain string, cur store.User) (newPassword, error) {
	if plain == "" {
		return newPassword{}, nil
	}
	pol, err := h.policyOf(ctx, partnerID)
	if err != nil {
		return newPassword{}, fmt.Errorf("read the policy of partner %q: %w", partnerID, err)
	}
	rule := password.RuleOf(pol)
	// Refused first without the history, which costs no hashing.
	if err := rule.Check(plain, nil); err != nil {
		return newPassword{}, schema.ErrInvalidValue.Errorf("password: %v", err)
	}
	release, err := h.hashing.Acquire(ctx)
	if err != nil {
		return newPassword{}, errHashBusy
	}
	defer release()
	if cur.PasswordHash != "" {
		if same, _ := password.Verify(cur.PasswordHash, plain); same {
			return newPassword{}, nil
		}
	}
	if err := rule.Check(plain, password.Previous(cur.PasswordHash, cur.PasswordHistory)); err != nil {
		return newPassword{}, schema.ErrInvalidValue.Errorf("password: %v", err)
	}
	hash, err := password.Hash(plain)
	if err != nil {
		return newPassword{}, fmt.Errorf("hash password: %w", err)
	}
	return newPassword{hash: hash, keep: pol.History()}, nil
}

func userWriteError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUserNotFound
	case errors.Is(err, store.ErrAlreadyExists):
		return schema.ErrUniqueness.Errorf("userName, externalId or email is already used by another user of this partner")
	}
	return err
}

// record writes the audit event of a SCIM write to the resource of kind
// targetType ("user", "group") and id; the client is the partner's
// directory, named by its token.
func (h *Handler) record(r *http.Request, action, targetType, id string, changes ...audit.Change) {
	e := audit.Event{
		PartnerID: partnerOf(r),
		Actor:     audit.Actor{Type: audit.ActorSCIMToken, ID: tokenIDOf(r)},
		Action:    action,
		Target:    audit.Target{Type: targetType, ID: id},
		Outcome:   audit.Success,
		Changes:   changes,
	}
	ctx := context.WithoutCancel(r.Context())
	if _, err := h.audit.Record(ctx, e); err != nil {
		h.log.Error("audit event not recorded", zapErr(err))
	}
	markAudited(r)
}
