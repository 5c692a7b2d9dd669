package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// A setup link hands one partner's SSO and SCIM setup to the partner's IT
// admin, who has no account yet. The operator sends the link; the portal
// redeems it once for a short setup session, which reaches only the setup
// routes (see permitSetup) and ends when the IT admin completes the setup
// and becomes the partner's first admin.
//
// A link is only for a partner without users: SCIM sets any user's
// password and groups, so a session that could reach existing users
// could take over their accounts, admins included. A partner with users
// invites its admin or gets an admin token instead.
//
// The link and the session are one token record: redeeming replaces its
// secret, so whoever copied the link from a mailbox or a chat afterwards
// holds nothing. A ticket marks the link unused; taking it is what makes
// a redeem happen once, however many run at the same time. Only
// completion and revocation delete the record: a session that ended
// itself stays listed, expired, for its revocation to undo its work.

// Limits of setup links.
const (
	defaultSetupLinkTTL = 72 * time.Hour
	minSetupLinkTTL     = 10 * time.Minute
	maxSetupLinkTTL     = 168 * time.Hour
	// setupSessionTTL bounds a redeemed setup: an afternoon's work, not a
	// standing credential.
	setupSessionTTL = 8 * time.Hour
	// maxSetupLinks bounds a partner's live links, so a script gone wrong
	// cannot mint credentials without end.
	maxSetupLinks       = 20
	maxSetupLinkNameLen = 100
)

// setupAdminsGroup names the group a completed setup makes its IT admin
// a member of, mapped to PartnerAdminRole: the partner's admins then show
// in its groups like any other, for its admins to manage. The group is
// always a new one, named "Partner admins (2)" and so on if the name is
// taken: mapping a group that existed would make its members admins too.
const (
	setupAdminsGroup = "Partner admins"
	// maxAdminsGroupNames bounds the names tried, so a partner holding
	// every one answers an error rather than a loop.
	maxAdminsGroupNames = 100
)

var (
	setupLinkFields = fieldSet{
		writable: []string{"name", "expires_in"},
		readOnly: []string{"id", "created_at", "expires_at", "redeemed", "token"},
	}
	setupCompleteFields = fieldSet{writable: []string{"email", "name"}}

	errSetupLinkNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "setup link not found"}
	// errSetupLinkUsed also answers a redeem that lost a race with a
	// revocation: either way the link is spent.
	errSetupLinkUsed   = &apiError{status: http.StatusGone, code: "setup_link_used", message: "this setup link was already used or revoked; ask for a new one"}
	errPartnerHasUsers = &apiError{status: http.StatusConflict, code: "partner_has_users", message: "this partner already has users; invite its admin or create an admin token instead"}
	// errSetupHasUsers refuses a setup session a SCIM token once the
	// partner has users: the token could set their passwords.
	errSetupHasUsers = &apiError{status: http.StatusConflict, code: "partner_has_users", message: "this partner already has users, so a setup session can no longer create SCIM tokens; ask the platform"}
	errUserExists    = &apiError{status: http.StatusConflict, code: "user_exists", field: "email", message: "a user with this email already exists; ask the platform to make them an admin"}
)

// setupLinkJSON is a setup link on the wire; Token is set only in the
// answer to its creation.
type setupLinkJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Redeemed  bool      `json:"redeemed"`
	Token     string    `json:"token,omitempty"`
}

func toSetupLinkJSON(t store.Token) setupLinkJSON {
	return setupLinkJSON{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, Redeemed: t.Redeemed}
}

// setupTicket names the ticket that marks a link unused. Token ids are no
// secret, so the id may name a key.
func setupTicket(tokenID string) string { return "setup-link:" + tokenID }

// adminsGroupTicket names the ticket that remembers the group a setup's
// completion made, so a repeated completion finds it instead of making
// another.
func adminsGroupTicket(tokenID string) string { return "setup-admins:" + tokenID }

// checkNoUsers answers refusal if the partner has users.
func (h *Handler) checkNoUsers(ctx context.Context, partnerID string, refusal error) error {
	users, err := h.store.ListUsers(ctx, partnerID, store.Page{Limit: 1})
	if err != nil {
		return fmt.Errorf("list users: %w", err)
	}
	if len(users) > 0 {
		return refusal
	}
	return nil
}

func (h *Handler) listSetupLinks(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	links, err := h.store.ListTokens(r.Context(), p.ID, store.SetupToken)
	if err != nil {
		return fmt.Errorf("list setup links: %w", err)
	}
	out := listJSON[setupLinkJSON]{Data: make([]setupLinkJSON, 0, len(links))}
	for _, t := range links {
		out.Data = append(out.Data, toSetupLinkJSON(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createSetupLink(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, setupLinkFields)
	if err != nil {
		return err
	}
	name, err := member[string](m, "name")
	if err != nil {
		return err
	}
	expiresIn, err := member[string](m, "expires_in")
	if err != nil {
		return err
	}
	var ps problems
	if utf8.RuneCountInString(name.val) > maxSetupLinkNameLen {
		ps.add("name", fmt.Sprintf("name must be at most %d characters", maxSetupLinkNameLen))
	} else {
		ps.add("name", checkName("name", name.val, false))
	}
	ttl := defaultSetupLinkTTL
	if v, ok := expiresIn.value(); ok {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			ps.add("expires_in", "expires_in must be a duration such as 72h")
		case d < minSetupLinkTTL || d > maxSetupLinkTTL:
			ps.add("expires_in", fmt.Sprintf("expires_in must be between %v and %v", minSetupLinkTTL, maxSetupLinkTTL))
		}
		ttl = d
	}
	if err := ps.err(); err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.checkNoUsers(ctx, p.ID, errPartnerHasUsers); err != nil {
		return err
	}
	existing, err := h.store.ListTokens(ctx, p.ID, store.SetupToken)
	if err != nil {
		return fmt.Errorf("list setup links: %w", err)
	}
	now := h.timestamp()
	live := 0
	for _, t := range existing {
		if now.Before(t.ExpiresAt) {
			live++
		}
	}
	if live >= maxSetupLinks {
		return conflict("", fmt.Sprintf("this partner already has %d live setup links; revoke one first", maxSetupLinks), nil)
	}
	c := callerOf(r)
	t := store.Token{
		ID:        store.NewID(apitoken.IDPrefix),
		PartnerID: p.ID,
		Kind:      store.SetupToken,
		Name:      name.val,
		CreatedBy: c.creator(),
		CreatedAt: now,
		ExpiresAt: now.Add(ttl),
	}
	secret, hash := apitoken.New(apitoken.SetupPrefix, p.ID, t.ID)
	t.SecretHash = hash
	noteTarget(r, "setup_link", t.ID, change{Field: "name", To: t.Name}, change{Field: "expires_at", To: t.ExpiresAt.Format(time.RFC3339Nano)})
	// The ticket before the token: a link without its ticket would work,
	// yet could never be redeemed, while a ticket without a link is
	// harmless and expires with it.
	if err := h.store.PutTicket(ctx, p.ID, setupTicket(t.ID), nil, ttl); err != nil {
		return fmt.Errorf("mark setup link %s unused: %w", t.ID, err)
	}
	if err := h.store.CreateToken(ctx, t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errPartnerNotFound
		}
		return fmt.Errorf("create setup link: %w", err)
	}
	out := toSetupLinkJSON(t)
	out.Token = secret
	return writeJSON(w, http.StatusCreated, out)
}

// revokeSetupLink deletes a link, or ends the setup session it became:
// every request loads the token, so the next one is refused. A session is
// revoked with what it made: its tokens go and its SSO connections are
// disabled, so nothing it set up outlives the revocation. They are swept
// before the token goes, so a failure leaves the link to revoke again, and
// once more after, for a request the session still had in flight.
func (h *Handler) revokeSetupLink(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	id := r.PathValue("linkId")
	t, err := h.store.GetToken(ctx, p.ID, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Only completion and revocation delete a link's record (an
		// ended session keeps it, expired): a completed setup's work is
		// the new admin's to keep, and a revoked one's is undone.
		return errSetupLinkNotFound
	case err != nil:
		return fmt.Errorf("get setup link: %w", err)
	case t.Kind != store.SetupToken:
		// Ids of every kind share the partner's keyspace.
		return errSetupLinkNotFound
	}
	noteTarget(r, "setup_link", t.ID)
	// The ticket first, so a redeem racing this revocation finds the link
	// used rather than turning it into a session afterwards.
	if _, err := h.store.TakeTicket(ctx, p.ID, setupTicket(t.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("use up setup link %s: %w", t.ID, err)
	}
	if t.Redeemed {
		if _, err := h.undoSetup(r, p.ID, t.ID); err != nil {
			return err
		}
	}
	if err := h.store.DeleteToken(ctx, p.ID, t.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errSetupLinkNotFound
		}
		return fmt.Errorf("delete setup link %s: %w", t.ID, err)
	}
	if t.Redeemed {
		if _, err := h.undoSetup(r, p.ID, t.ID); err != nil {
			return err
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// undoSetup revokes the tokens the setup session of the link made and
// disables its SSO connections, and reports whether there was any to.
// The connections stay, for an admin to look at: deleting one would lose
// its service provider key, which the IdP may already trust.
func (h *Handler) undoSetup(r *http.Request, partnerID, linkID string) (bool, error) {
	ctx := r.Context()
	creator := setupCreator(linkID)
	undone := false
	for _, kind := range []store.TokenKind{store.SCIMToken, store.AdminToken} {
		tokens, err := h.store.ListTokens(ctx, partnerID, kind)
		if err != nil {
			return false, fmt.Errorf("list %s tokens: %w", kind, err)
		}
		for _, t := range tokens {
			if t.CreatedBy != creator {
				continue
			}
			if err := h.store.DeleteToken(ctx, partnerID, t.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return false, fmt.Errorf("revoke %s token %s: %w", kind, t.ID, err)
			}
			undone = true
			noteTarget(r, "setup_link", linkID, change{Field: "revoked_" + string(kind) + "_token", To: t.ID})
		}
	}
	conns, err := h.store.ListSSOConnections(ctx, partnerID)
	if err != nil {
		return false, fmt.Errorf("list SSO connections: %w", err)
	}
	disabled := false
	now := h.timestamp()
	for _, c := range conns {
		if c.CreatedBy != creator || !c.Enabled {
			continue
		}
		_, err := h.store.UpdateSSOConnection(ctx, partnerID, c.ID, func(cur store.SSOConnection) (store.SSOConnection, error) {
			cur.Enabled, cur.UpdatedAt = false, now
			return cur, nil
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			continue
		case err != nil:
			return false, fmt.Errorf("disable SSO connection %s: %w", c.ID, err)
		}
		disabled = true
		noteTarget(r, "setup_link", linkID, change{Field: "disabled_sso_connection", To: c.ID})
	}
	if disabled {
		h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: partnerID})
	}
	return undone || disabled, nil
}

// setupCreator is what the setup session of a link is as the creator of
// an object; it is the session caller's creator().
func setupCreator(linkID string) string { return string(audit.ActorSetupLink) + ":" + linkID }

// setupSessionJSON answers a redeem: the session's credential replaces
// the link's.
type setupSessionJSON struct {
	PartnerID string    `json:"partner_id"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// redeemSetupLink uses the caller's link up and answers the setup
// session's credential in its place. Only permitSetup lets a caller here:
// a setup link not redeemed yet.
func (h *Handler) redeemSetupLink(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	// The path names no partner; the event belongs to the link's.
	noteStream(r, c.partnerID)
	noteTarget(r, "setup_link", c.actor.ID)
	ctx := r.Context()
	// Checked before the link is used up, so it still works once the
	// users are gone.
	if err := h.checkNoUsers(ctx, c.partnerID, errPartnerHasUsers); err != nil {
		return err
	}
	if _, err := h.store.TakeTicket(ctx, c.partnerID, setupTicket(c.actor.ID)); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errSetupLinkUsed
		}
		return fmt.Errorf("use up setup link %s: %w", c.actor.ID, err)
	}
	t, err := h.store.GetToken(ctx, c.partnerID, c.actor.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errSetupLinkUsed
	case err != nil:
		return fmt.Errorf("get setup link %s: %w", c.actor.ID, err)
	}
	secret, hash := apitoken.New(apitoken.SetupPrefix, t.PartnerID, t.ID)
	t.SecretHash, t.Redeemed = hash, true
	if end := h.timestamp().Add(setupSessionTTL); end.Before(t.ExpiresAt) {
		t.ExpiresAt = end
	}
	// A revocation landing inside the replacement finds nothing and
	// answers 404; repeating it ends the session.
	if err := h.replaceToken(ctx, t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errSetupLinkUsed
		}
		return fmt.Errorf("replace setup link %s: %w", t.ID, err)
	}
	return writeJSON(w, http.StatusOK, setupSessionJSON{PartnerID: t.PartnerID, Token: secret, ExpiresAt: t.ExpiresAt})
}

// completeSetup makes the IT admin the partner's admin and ends the setup
// session. Each step finds what an earlier attempt made, so a request that
// failed halfway can be repeated.
func (h *Handler) completeSetup(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, setupCompleteFields)
	if err != nil {
		return err
	}
	in, err := decodeUser(m)
	if err != nil {
		return err
	}
	if err := in.validate(true); err != nil {
		return err
	}
	u, err := h.setupUser(r, p.ID, in)
	if err != nil {
		return err
	}
	noteTarget(r, "user", u.ID, change{Field: "email", To: u.Email}, change{Field: "role", To: PartnerAdminRole})
	c := callerOf(r)
	g, err := h.adminsGroup(r, p.ID, c.actor.ID)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.store.AddGroupMembers(ctx, p.ID, g.ID, []string{u.ID}); err != nil {
		return fmt.Errorf("add user %s to group %s: %w", u.ID, g.ID, err)
	}
	h.announceMembers(r, p.ID, []string{u.ID})
	// The partner has an admin now; the setup session must not outlive
	// the setup.
	if err := h.store.DeleteToken(ctx, p.ID, c.actor.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end setup session %s: %w", c.actor.ID, err)
	}
	u, err = h.store.GetUser(ctx, p.ID, u.ID)
	if err != nil {
		return userWriteError(err)
	}
	return writeJSON(w, http.StatusOK, struct {
		User userJSON `json:"user"`
	}{toUserJSON(u)})
}

// endSetup ends the caller's setup session at once, as signing out of the
// portal does, rather than leaving it to live out its hours in a browser.
// The link stays used; what the session set up stays too. The record
// stays, expired: deleting it would let a session that ended itself
// shield what it made from the operator's revocation.
func (h *Handler) endSetup(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	// The path names no partner; the event belongs to the link's.
	noteStream(r, c.partnerID)
	noteTarget(r, "setup_link", c.actor.ID)
	ctx := r.Context()
	t, err := h.store.GetToken(ctx, c.partnerID, c.actor.ID)
	if err == nil {
		t.ExpiresAt = h.timestamp()
		err = h.replaceToken(ctx, t)
	}
	// Gone, the session was completed or revoked meanwhile: ended too.
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end setup session %s: %w", c.actor.ID, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// replaceToken writes t over the stored token of its id. The store has no
// update of a token, so the record is deleted and created again under the
// same id, for a revocation to find the session by the link's id.
func (h *Handler) replaceToken(ctx context.Context, t store.Token) error {
	if err := h.store.DeleteToken(ctx, t.PartnerID, t.ID); err != nil {
		return err
	}
	return h.store.CreateToken(ctx, t)
}

// setupUser finds the partner's user with the email, or creates them
// active and without a password: they sign in through the SSO just set
// up, or ask for a password reset. A user found must be the setup's own
// (see setupReaches): completing as anyone else, made by an operator or
// another credential, would make them an admin on the word of whoever
// holds the session.
func (h *Handler) setupUser(r *http.Request, partnerID string, in userInput) (store.User, error) {
	ctx := r.Context()
	linkID := callerOf(r).actor.ID
	now := h.timestamp()
	u := store.User{ID: store.NewID("u_"), PartnerID: partnerID, Email: in.email.val, Name: in.name.val, Active: true, CreatedAt: now, UpdatedAt: now}
	// Marked before it is made, so a completion repeated after a failure,
	// or racing this one, knows the user for the setup's own.
	if err := h.store.PutTicket(ctx, partnerID, setupUserTicket(linkID, u.ID), nil, setupSessionTTL); err != nil {
		return store.User{}, fmt.Errorf("mark the setup's user: %w", err)
	}
	err := h.store.CreateUser(ctx, u)
	if err == nil {
		return u, nil
	}
	// The id has 100 random bits, so a taken one means a taken email.
	if !errors.Is(err, store.ErrAlreadyExists) {
		return store.User{}, userWriteError(err)
	}
	existing, err := h.store.GetUserByEmail(ctx, partnerID, u.Email)
	if err != nil {
		return store.User{}, userWriteError(err)
	}
	ok, err := h.setupReaches(ctx, partnerID, linkID, existing)
	switch {
	case err != nil:
		return store.User{}, err
	case !ok:
		return store.User{}, errUserExists
	case !existing.Active:
		// Someone suspended them on purpose; a setup link is no way round
		// that.
		return store.User{}, conflict("email", "this user is suspended; an operator must resume them first", nil)
	}
	return existing, nil
}

// setupUserTicket marks a user that the completion of a setup made.
func setupUserTicket(linkID, userID string) string { return "setup-user:" + linkID + ":" + userID }

// setupReaches reports whether a user is the setup session's own: made by
// an earlier attempt at its completion, or made after the session could
// first provision users, with the earliest SCIM token or SSO connection
// it created. Users do not record who made them, so time is the proof: a
// link is redeemed only while the partner has no users, and a session
// gets a SCIM token only while it still has none. A user made in between
// by someone else is out of the setup's reach.
func (h *Handler) setupReaches(ctx context.Context, partnerID, linkID string, u store.User) (bool, error) {
	_, err := h.store.GetTicket(ctx, partnerID, setupUserTicket(linkID, u.ID))
	switch {
	case err == nil:
		return true, nil
	case !errors.Is(err, store.ErrNotFound):
		return false, fmt.Errorf("get the setup's user mark: %w", err)
	}
	creator := setupCreator(linkID)
	var since time.Time
	earliest := func(at time.Time) {
		if since.IsZero() || at.Before(since) {
			since = at
		}
	}
	tokens, err := h.store.ListTokens(ctx, partnerID, store.SCIMToken)
	if err != nil {
		return false, fmt.Errorf("list SCIM tokens: %w", err)
	}
	for _, t := range tokens {
		if t.CreatedBy == creator {
			earliest(t.CreatedAt)
		}
	}
	conns, err := h.store.ListSSOConnections(ctx, partnerID)
	if err != nil {
		return false, fmt.Errorf("list SSO connections: %w", err)
	}
	for _, c := range conns {
		if c.CreatedBy == creator {
			earliest(c.CreatedAt)
		}
	}
	// Strictly after: a user made in the same millisecond as the token
	// cannot have been provisioned with it.
	return !since.IsZero() && u.CreatedAt.After(since), nil
}

// adminsGroup makes a new group for the partner's admins, or finds the
// one an earlier attempt of the same setup made, and maps it to
// PartnerAdminRole.
func (h *Handler) adminsGroup(r *http.Request, partnerID, linkID string) (store.Group, error) {
	ctx := r.Context()
	// The group's id is chosen, and remembered, before the group is made:
	// a completion repeated after a failure, or running at the same time,
	// then makes or finds that one group.
	id := store.NewID("g_")
	err := h.store.PutTicket(ctx, partnerID, adminsGroupTicket(linkID), []byte(id), setupSessionTTL)
	if errors.Is(err, store.ErrAlreadyExists) {
		var b []byte
		b, err = h.store.GetTicket(ctx, partnerID, adminsGroupTicket(linkID))
		id = string(b)
	}
	if err != nil {
		return store.Group{}, fmt.Errorf("choose the admins' group: %w", err)
	}
	g, err := h.newAdminsGroup(ctx, partnerID, id)
	if err != nil {
		return store.Group{}, err
	}
	mappings, err := h.store.ListRoleMappings(ctx, partnerID)
	if err != nil {
		return store.Group{}, fmt.Errorf("list role mappings: %w", err)
	}
	if slices.ContainsFunc(mappings, func(m store.RoleMapping) bool { return m.GroupID == g.ID && m.Role == PartnerAdminRole }) {
		return g, nil
	}
	if len(mappings) >= maxRoleMappings {
		return store.Group{}, conflict("", fmt.Sprintf("this partner has the maximum of %d role mappings; an operator must remove one first", maxRoleMappings), nil)
	}
	rm := store.RoleMapping{ID: store.NewID("rm_"), PartnerID: partnerID, GroupID: g.ID, Role: PartnerAdminRole, CreatedAt: h.timestamp()}
	if err := h.store.CreateRoleMapping(ctx, rm); err != nil && !errors.Is(err, store.ErrAlreadyExists) {
		return store.Group{}, fmt.Errorf("map group %s to role %s: %w", g.ID, PartnerAdminRole, err)
	}
	h.publish(r, store.Event{Kind: store.AccessChanged, PartnerID: partnerID})
	return g, nil
}

// newAdminsGroup returns the group with the id, making it under the first
// free one of the admins' group names if it does not exist.
func (h *Handler) newAdminsGroup(ctx context.Context, partnerID, id string) (store.Group, error) {
	for n := 1; n <= maxAdminsGroupNames; n++ {
		g, err := h.store.GetGroup(ctx, partnerID, id)
		if err == nil {
			return g, nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return store.Group{}, fmt.Errorf("get group %s: %w", id, err)
		}
		name := setupAdminsGroup
		if n > 1 {
			name = fmt.Sprintf("%s (%d)", setupAdminsGroup, n)
		}
		now := h.timestamp()
		g = store.Group{ID: id, PartnerID: partnerID, Name: name, CreatedAt: now, UpdatedAt: now}
		err = h.store.CreateGroup(ctx, g)
		if err == nil {
			return g, nil
		}
		// Taken is the name, or the id by a concurrent completion, which
		// the next round finds.
		if !errors.Is(err, store.ErrAlreadyExists) {
			return store.Group{}, fmt.Errorf("create group %q: %w", name, err)
		}
	}
	return store.Group{}, conflict("", fmt.Sprintf("this partner has every group name from %q to %q; rename one first", setupAdminsGroup, fmt.Sprintf("%s (%d)", setupAdminsGroup, maxAdminsGroupNames)), nil)
}
