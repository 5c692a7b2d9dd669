package account

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/store"
)

// Store is what resolving a sign-in reads and writes.
type Store interface {
	GetUserByExternalID(ctx context.Context, partnerID, externalID string) (store.User, error)
	FindUsersByEmail(ctx context.Context, partnerID, email string) ([]store.User, error)
	CreateUser(ctx context.Context, u store.User) error
	UpdateUser(ctx context.Context, partnerID, id string, fn func(store.User) (store.User, error)) (store.User, error)
	GetGroup(ctx context.Context, partnerID, id string) (store.Group, error)
	GetGroupByName(ctx context.Context, partnerID, name string) (store.Group, error)
	GetGroupByExternalID(ctx context.Context, partnerID, externalID string) (store.Group, error)
	AddGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error
	RemoveGroupMembers(ctx context.Context, partnerID, groupID string, userIDs []string) error
	ListRoleMappings(ctx context.Context, partnerID string) ([]store.RoleMapping, error)
	ListTokens(ctx context.Context, partnerID string, kind store.TokenKind) ([]store.Token, error)
	FindSSOConnectionByDomain(ctx context.Context, partnerID, domain string) (store.SSOConnection, error)
}

// Outcome is the user a sign-in resolves to.
type Outcome struct {
	User store.User
	// Created is true when the sign-in provisioned the user (or, in a
	// preview, would).
	Created bool
	// Groups and Roles are the names of the user's groups and the roles
	// they map to, after the sign-in's membership changes.
	Groups []string
	Roles  []string
	// SCIM reports that the partner provisions over SCIM, so SSO neither
	// created the user nor changed memberships.
	SCIM bool
}

// Resolve finds or provisions the user of a sign-in through conn and
// applies the membership changes. A refusal is an *sso.Failure.
func Resolve(ctx context.Context, st Store, conn store.SSOConnection, c sso.Claims, p sso.Profile, mapsGroups bool, now time.Time) (Outcome, error) {
	return resolve(ctx, st, conn, c, p, mapsGroups, now, true)
}

// Preview answers what Resolve would, writing nothing: what a test
// sign-in shows.
func Preview(ctx context.Context, st Store, conn store.SSOConnection, c sso.Claims, p sso.Profile, mapsGroups bool) (Outcome, error) {
	return resolve(ctx, st, conn, c, p, mapsGroups, time.Time{}, false)
}

func resolve(ctx context.Context, st Store, conn store.SSOConnection, c sso.Claims, p sso.Profile, mapsGroups bool, now time.Time, apply bool) (Outcome, error) {
	if err := allowedDomain(ctx, st, conn, p.Email); err != nil {
		return Outcome{}, err
	}
	scimOn, err := provisionsOverSCIM(ctx, st, conn.PartnerID, now)
	if err != nil {
		return Outcome{}, err
	}
	u, found, err := find(ctx, st, conn, c.Subject, p.Email)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{SCIM: scimOn}
	switch {
	case found && !u.Active:
		return Outcome{}, sso.Fail(sso.UserInactive,
			"The user is suspended or deprovisioned here, so the sign-in was refused although the identity provider accepted it.",
			sso.Fact{Label: "User", Value: u.Email})
	case found && conn.JIT && !scimOn && apply:
		if u, err = refresh(ctx, st, u, p, now); err != nil {
			return Outcome{}, err
		}
	case !found && scimOn:
		return Outcome{}, sso.Fail(sso.UserNotProvisioned,
			"No user with this email has been provisioned. This partner provisions users over SCIM: assign the user to the application in the identity provider and let provisioning run.",
			sso.Fact{Label: "Email", Value: p.Email})
	case !found && !conn.JIT:
		return Outcome{}, sso.Fail(sso.UserNotProvisioned,
			"No user with this email exists, and the connection does not create users on sign-in. Invite the user, or turn on just-in-time provisioning.",
			sso.Fact{Label: "Email", Value: p.Email})
	case !found:
		u = store.User{ID: store.NewID("u_"), PartnerID: conn.PartnerID, Email: p.Email, Name: p.Name, Active: true, CreatedAt: now, UpdatedAt: now}
		out.Created = true
		if apply {
			if err := st.CreateUser(ctx, u); err != nil {
				// A concurrent sign-in of the same new user (a second tab,
				// a retried callback) created it first: use that one.
				if !errors.Is(err, store.ErrAlreadyExists) {
					return Outcome{}, fmt.Errorf("provision SSO user in partner %q: %w", conn.PartnerID, err)
				}
				if u, found, err = find(ctx, st, conn, c.Subject, p.Email); err != nil || !found || !u.Active {
					return Outcome{}, fmt.Errorf("provision SSO user in partner %q: %w", conn.PartnerID, errors.Join(store.ErrAlreadyExists, err))
				}
				out.Created = false
			}
		}
	}
	groupIDs := u.Groups
	if mapsGroups && !scimOn {
		if groupIDs, err = syncGroups(ctx, st, u, p.Groups, apply); err != nil {
			return Outcome{}, err
		}
	}
	out.User = u
	out.User.Groups = groupIDs
	groups, roles, err := session.Access(ctx, st, out.User)
	if err != nil {
		return Outcome{}, fmt.Errorf("access of SSO user %q: %w", u.ID, err)
	}
	out.Groups, out.Roles = nonNil(groups), nonNil(roles)
	return out, nil
}

// allowedDomain refuses an email outside the connection's domains and,
// for a connection without domains, an email of a domain another of the
// partner's connections routes: a catch-all IdP (contractors, a social
// login) must not reach the accounts of the domain a corporate IdP owns.
func allowedDomain(ctx context.Context, st Store, conn store.SSOConnection, email string) error {
	domain := strings.ToLower(email[strings.LastIndexByte(email, '@')+1:])
	if len(conn.Domains) > 0 {
		if slices.Contains(conn.Domains, domain) {
			return nil
		}
		return sso.Fail(sso.DomainNotAllowed,
			"The identity provider signed in a user whose email domain this connection does not serve.",
			sso.Fact{Label: "Email domain", Value: domain},
			sso.Fact{Label: "Domains of the connection", Value: strings.Join(conn.Domains, ", ")})
	}
	owner, err := st.FindSSOConnectionByDomain(ctx, conn.PartnerID, domain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("find the connection of domain %q: %w", domain, err)
	case owner.ID == conn.ID:
		return nil
	}
	return sso.Fail(sso.DomainNotAllowed,
		"The identity provider signed in a user of an email domain that another of this partner's connections serves; those users sign in there.",
		sso.Fact{Label: "Email domain", Value: domain},
		sso.Fact{Label: "Connection serving it", Value: owner.Name})
}

// provisionsOverSCIM reports whether the partner has a live SCIM token.
func provisionsOverSCIM(ctx context.Context, st Store, partnerID string, now time.Time) (bool, error) {
	tokens, err := st.ListTokens(ctx, partnerID, store.SCIMToken)
	if err != nil {
		return false, fmt.Errorf("list SCIM tokens of partner %q: %w", partnerID, err)
	}
	if now.IsZero() {
		now = time.Now()
	}
	for _, t := range tokens {
		if t.ExpiresAt.IsZero() || t.ExpiresAt.After(now) {
			return true, nil
		}
	}
	return false, nil
}

// find links the sign-in to a user: by externalId, then by email. A user
// found by externalId must still be of the connection's domains.
func find(ctx context.Context, st Store, conn store.SSOConnection, subject, email string) (store.User, bool, error) {
	if subject != "" {
		u, err := st.GetUserByExternalID(ctx, conn.PartnerID, subject)
		switch {
		case err == nil:
			ok, err := linkable(ctx, st, conn, u)
			if err != nil {
				return store.User{}, false, err
			}
			if ok {
				return u, true, nil
			}
		case !errors.Is(err, store.ErrNotFound):
			return store.User{}, false, fmt.Errorf("find SSO user by externalId: %w", err)
		}
	}
	users, err := st.FindUsersByEmail(ctx, conn.PartnerID, email)
	if err != nil {
		return store.User{}, false, fmt.Errorf("find SSO user by email: %w", err)
	}
	// The primary address wins over another user's alternate one, and a
	// user is only linked when its primary address is of the connection's
	// domains, so an alternate address cannot hand over an account that
	// belongs to another IdP's domain.
	kept := users[:0]
	for _, u := range users {
		ok, err := linkable(ctx, st, conn, u)
		if err != nil {
			return store.User{}, false, err
		}
		if ok {
			kept = append(kept, u)
		}
	}
	users = kept
	for _, u := range users {
		if strings.EqualFold(u.Email, email) {
			return u, true, nil
		}
	}
	if len(users) > 0 {
		return users[0], true, nil
	}
	return store.User{}, false, nil
}

// linkable reports whether the connection may sign in as u: u's own
// address must be of a domain the connection may sign in.
func linkable(ctx context.Context, st Store, conn store.SSOConnection, u store.User) (bool, error) {
	err := allowedDomain(ctx, st, conn, u.Email)
	if _, refused := errors.AsType[*sso.Failure](err); refused {
		return false, nil
	}
	return err == nil, err
}

// refresh takes the IdP's name for a just-in-time user. The email stays:
// it is how the user was found, and changing it is the admin's call.
func refresh(ctx context.Context, st Store, u store.User, p sso.Profile, now time.Time) (store.User, error) {
	if p.Name == "" || p.Name == u.Name {
		return u, nil
	}
	updated, err := st.UpdateUser(ctx, u.PartnerID, u.ID, func(cur store.User) (store.User, error) {
		if !cur.Active {
			return cur, sso.Fail(sso.UserInactive, "The user was suspended while signing in.", sso.Fact{Label: "User", Value: cur.Email})
		}
		cur.Name = p.Name
		cur.UpdatedAt = now
		return cur, nil
	})
	if err != nil {
		if f, ok := errors.AsType[*sso.Failure](err); ok {
			return store.User{}, f
		}
		return store.User{}, fmt.Errorf("update SSO user %q: %w", u.ID, err)
	}
	return updated, nil
}

// syncGroups makes the user's memberships the groups the IdP named and
// returns the resulting group ids, sorted.
func syncGroups(ctx context.Context, st Store, u store.User, names []string, apply bool) ([]string, error) {
	var want []string
	for _, n := range names {
		g, err := st.GetGroupByName(ctx, u.PartnerID, n)
		if errors.Is(err, store.ErrNotFound) {
			g, err = st.GetGroupByExternalID(ctx, u.PartnerID, n)
		}
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find group %q: %w", n, err)
		}
		if !slices.Contains(want, g.ID) {
			want = append(want, g.ID)
		}
	}
	slices.Sort(want)
	if !apply {
		return want, nil
	}
	for _, gid := range want {
		if !slices.Contains(u.Groups, gid) {
			if err := st.AddGroupMembers(ctx, u.PartnerID, gid, []string{u.ID}); err != nil {
				return nil, fmt.Errorf("add SSO user %q to group %q: %w", u.ID, gid, err)
			}
		}
	}
	for _, gid := range u.Groups {
		if !slices.Contains(want, gid) {
			if err := st.RemoveGroupMembers(ctx, u.PartnerID, gid, []string{u.ID}); err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, fmt.Errorf("remove SSO user %q from group %q: %w", u.ID, gid, err)
			}
		}
	}
	return want, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
