package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var isolationTests = []subtest{
	{"ForeignIDs", testIsolationForeignIDs},
	{"SameUserIDInTwoPartners", testIsolationSameUserID},
	{"ForeignGroups", testIsolationForeignGroups},
	{"ForeignTokensAndTickets", testIsolationForeignTokensAndTickets},
	{"SameAccessIDsInTwoPartners", testIsolationSameAccessIDs},
	{"ForeignIndexKeys", testIsolationForeignIndexKeys},
	{"SameIndexKeysInTwoPartners", testIsolationSameIndexKeys},
}

// testIsolationForeignIDs has partner b name partner a's user and session
// by id: every call must answer as if they did not exist and change nothing.
func testIsolationForeignIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "a")
	createPartner(t, s, "b")
	user := createUser(t, s, "a", "u1", "alice@example.com")
	sess := createSession(t, s, newSession("a", "u1", "s1", now()))

	_, err := s.GetUser(ctx, "b", "u1")
	checkErr(t, "get foreign user", err, store.ErrNotFound)
	_, err = s.GetUserByEmail(ctx, "b", "alice@example.com")
	checkErr(t, "get foreign user by email", err, store.ErrNotFound)
	called := false
	_, err = s.UpdateUser(ctx, "b", "u1", func(cur store.User) (store.User, error) {
		called = true
		cur.Name = "Hijacked"
		return cur, nil
	})
	checkErr(t, "update foreign user", err, store.ErrNotFound)
	if called {
		t.Error("update of a foreign user called the callback")
	}
	checkErr(t, "delete foreign user", s.DeleteUser(ctx, "b", "u1"), store.ErrNotFound)
	checkList(t, "users of partner b", listUsers(t, s, "b"), nil, normUser)

	_, err = s.GetSession(ctx, "b", "s1")
	checkErr(t, "get foreign session", err, store.ErrNotFound)
	err = s.TouchSession(ctx, "b", "s1", sess.LastSeenAt.Add(time.Minute))
	checkErr(t, "touch foreign session", err, store.ErrNotFound)
	checkErr(t, "delete foreign session", s.DeleteSession(ctx, "b", "s1"), store.ErrNotFound)
	checkUserSessions(t, s, "b", "u1")
	// Partner b has no user u1: answering ErrNotFound or nothing are both fine.
	ids, err := s.DeleteUserSessions(ctx, "b", "u1")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete sessions of foreign user: %v", err)
	}
	if len(ids) != 0 {
		t.Errorf("delete sessions of foreign user returned %q, want none", ids)
	}

	checkUserStored(t, s, user)
	checkSessionStored(t, s, sess)
	checkUserSessions(t, s, "a", "u1", sess)
}

// testIsolationSameUserID gives two partners a user with the same id and
// email: each partner's calls must reach only its own.
func testIsolationSameUserID(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "a")
	createPartner(t, s, "b")
	ua := createUser(t, s, "a", "u1", "alice@example.com")
	ub := newUser("b", "u1", "ALICE@example.com")
	ub.Name = "Alice of B"
	if err := s.CreateUser(ctx, ub); err != nil {
		t.Fatalf("create user with an id and email taken only in another partner: %v", err)
	}
	sa := createSession(t, s, newSession("a", "u1", "sa", now()))
	sb1 := createSession(t, s, newSession("b", "u1", "sb1", now()))
	sb2 := createSession(t, s, newSession("b", "u1", "sb2", now().Add(time.Second)))

	checkUserStored(t, s, ua)
	checkUserStored(t, s, ub)
	checkUserSessions(t, s, "a", "u1", sa)
	checkUserSessions(t, s, "b", "u1", sb1, sb2)

	ids, err := s.DeleteUserSessions(ctx, "b", "u1")
	if err != nil {
		t.Fatalf("delete user sessions: %v", err)
	}
	checkIDs(t, "deleted sessions", ids, "sb1", "sb2")
	checkSessionStored(t, s, sa)

	if err := s.DeleteUser(ctx, "b", "u1"); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	checkUserStored(t, s, ua)
	checkSessionStored(t, s, sa)
	checkUserGone(t, s, "b", "u1", "alice@example.com")
}

// testIsolationForeignGroups has partner b name partner a's group, members
// and role mapping by id, and add a's user to a group of its own: every
// call must answer as if they did not exist and change nothing.
func testIsolationForeignGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "a")
	createPartner(t, s, "b")
	createUser(t, s, "a", "u1", "alice@example.com")
	createUser(t, s, "b", "u2", "bob@example.com")
	group := createGroup(t, s, "a", "g1", "Engineering")
	own := createGroup(t, s, "b", "g2", "Sales")
	addMembers(t, s, "a", "g1", "u1")
	mapping := createRoleMapping(t, s, newRoleMapping("a", "m1", "g1", "admin"))

	_, err := s.GetGroup(ctx, "b", "g1")
	checkErr(t, "get foreign group", err, store.ErrNotFound)
	called := false
	_, err = s.UpdateGroup(ctx, "b", "g1", func(cur store.Group) (store.Group, error) {
		called = true
		cur.Name = "Hijacked"
		return cur, nil
	})
	checkErr(t, "update foreign group", err, store.ErrNotFound)
	if called {
		t.Error("update of a foreign group called the callback")
	}
	checkErr(t, "add to foreign group", s.AddGroupMembers(ctx, "b", "g1", []string{"u2"}), store.ErrNotFound)
	checkErr(t, "remove from foreign group", s.RemoveGroupMembers(ctx, "b", "g1", []string{"u1"}), store.ErrNotFound)
	_, err = s.ListGroupMembers(ctx, "b", "g1", store.Page{})
	checkErr(t, "list members of foreign group", err, store.ErrNotFound)
	checkErr(t, "add foreign user", s.AddGroupMembers(ctx, "b", "g2", []string{"u1"}), store.ErrNotFound)
	if err := s.RemoveGroupMembers(ctx, "b", "g2", []string{"u1"}); err != nil {
		t.Errorf("remove a foreign user, who is no member: %v", err)
	}
	err = s.CreateRoleMapping(ctx, newRoleMapping("b", "m2", "g1", "admin"))
	checkErr(t, "map a foreign group", err, store.ErrNotFound)
	_, err = s.GetRoleMapping(ctx, "b", "m1")
	checkErr(t, "get foreign role mapping", err, store.ErrNotFound)
	checkErr(t, "delete foreign role mapping", s.DeleteRoleMapping(ctx, "b", "m1"), store.ErrNotFound)
	checkErr(t, "delete foreign group", s.DeleteGroup(ctx, "b", "g1"), store.ErrNotFound)
	checkList(t, "groups of partner b", listGroups(t, s, "b"), []store.Group{own}, normGroup)
	checkList(t, "role mappings of partner b", listRoleMappings(t, s, "b"), nil, normRoleMapping)

	checkGroupStored(t, s, group)
	checkMembers(t, s, "a", "g1", "u1")
	checkUserGroups(t, s, "a", "u1", "g1")
	checkRoleMappingStored(t, s, mapping)
	checkGroupStored(t, s, own)
	checkMembers(t, s, "b", "g2")
}

// testIsolationForeignTokensAndTickets has partner b name partner a's
// token and ticket by id: every call must answer as if they did not exist
// and change nothing.
func testIsolationForeignTokensAndTickets(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "a")
	createPartner(t, s, "b")
	tok := createToken(t, s, newToken("a", "t1", store.AdminToken))
	putTicket(t, s, "a", "k1", ticketPayload)

	_, err := s.GetToken(ctx, "b", "t1")
	checkErr(t, "get foreign token", err, store.ErrNotFound)
	checkErr(t, "delete foreign token", s.DeleteToken(ctx, "b", "t1"), store.ErrNotFound)
	checkList(t, "admin tokens of partner b", listTokens(t, s, "b", store.AdminToken), nil, normToken)
	checkTicketGone(t, s, "b", "k1")

	checkTokenStored(t, s, tok)
	checkTicket(t, s, "a", "k1", ticketPayload)
}

// testIsolationSameAccessIDs gives two partners a group, role mapping,
// token and ticket with the same ids and names: each partner's calls must
// reach only its own.
func testIsolationSameAccessIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	type partner struct {
		id      string
		group   store.Group
		mapping store.RoleMapping
		token   store.Token
		ticket  []byte
	}
	a, b := partner{id: "a"}, partner{id: "b"}
	for _, p := range []*partner{&a, &b} {
		createPartner(t, s, p.id)
		createUser(t, s, p.id, "u1", "alice@example.com")
		p.group = createGroup(t, s, p.id, "g1", "Engineering")
		addMembers(t, s, p.id, "g1", "u1")
		p.mapping = createRoleMapping(t, s, newRoleMapping(p.id, "m1", "g1", "admin"))
		p.token = createToken(t, s, newToken(p.id, "t1", store.AdminToken))
		p.ticket = []byte("ticket of " + p.id)
		putTicket(t, s, p.id, "k1", p.ticket)
	}
	checkTicket(t, s, "a", "k1", a.ticket)

	got, err := s.TakeTicket(ctx, "b", "k1")
	if err != nil || !bytes.Equal(got, b.ticket) {
		t.Errorf("take ticket of partner b: got %q, %v; want %q", got, err, b.ticket)
	}
	if err := s.RemoveGroupMembers(ctx, "b", "g1", []string{"u1"}); err != nil {
		t.Fatalf("remove member: %v", err)
	}
	checkMembers(t, s, "a", "g1", "u1")
	checkUserGroups(t, s, "a", "u1", "g1")
	if err := s.DeleteGroup(ctx, "b", "g1"); err != nil {
		t.Fatalf("delete group of partner b: %v", err)
	}
	if err := s.DeleteToken(ctx, "b", "t1"); err != nil {
		t.Fatalf("delete token of partner b: %v", err)
	}

	checkGroupStored(t, s, a.group)
	checkMembers(t, s, "a", "g1", "u1")
	checkRoleMappingStored(t, s, a.mapping)
	checkTokenStored(t, s, a.token)
	checkTicket(t, s, "a", "k1", a.ticket)
	checkGroupGone(t, s, "b", "g1")
	checkRoleMappingGone(t, s, "b", "m1")
	checkTokenGone(t, s, "b", "t1")
	checkTicketGone(t, s, "b", "k1")
}

// testIsolationForeignIndexKeys has partner b look up partner a's user
// and group by every index: each lookup must find nothing.
func testIsolationForeignIndexKeys(t *testing.T, s store.Store) {
	createPartner(t, s, "a")
	createPartner(t, s, "b")
	user := createUser(t, s, "a", "u1", "alice@example.com")
	group := createGroup(t, s, "a", "g1", "Engineering")
	// Partner b has users and groups of its own, so its indexes exist.
	own := createUser(t, s, "b", "u2", "bob@example.com")
	createGroup(t, s, "b", "g2", "Sales")

	_, err := s.GetUserByEmail(t.Context(), "b", user.Email)
	checkErr(t, "get foreign user by email", err, store.ErrNotFound)
	checkByUserName(t, s, "b", user.UserName, "")
	checkByExternalID(t, s, "b", user.ExternalID, "")
	for _, email := range append([]string{user.Email}, user.AltEmails...) {
		checkByEmail(t, s, "b", email)
	}
	checkGroupByName(t, s, "b", group.Name, "")
	checkGroupByExternalID(t, s, "b", group.ExternalID, "")

	checkUserStored(t, s, user)
	checkUserStored(t, s, own)
	checkGroupStored(t, s, group)
}

// testIsolationSameIndexKeys gives two partners a user and a group with
// the same index keys: each partner's lookups must find only its own, and
// deleting one partner's leaves the other's found.
func testIsolationSameIndexKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	users, groups := map[string]store.User{}, map[string]store.Group{}
	for _, p := range []struct{ partner, user, group string }{
		{"a", "ua", "ga"},
		{"b", "ub", "gb"},
	} {
		createPartner(t, s, p.partner)
		u := newUser(p.partner, p.user, "alice@example.com")
		u.UserName, u.ExternalID = "alice", "scim-alice"
		u.AltEmails = []string{"shared@example.com"}
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatalf("create user with index keys taken only in another partner: %v", err)
		}
		g := newGroup(p.partner, p.group, "Engineering")
		g.ExternalID = "scim-engineering"
		if err := s.CreateGroup(ctx, g); err != nil {
			t.Fatalf("create group with index keys taken only in another partner: %v", err)
		}
		users[p.partner], groups[p.partner] = u, g
	}
	for _, p := range []string{"a", "b"} {
		checkUserStored(t, s, users[p])
		checkByEmail(t, s, p, "shared@example.com", users[p].ID)
		checkByEmail(t, s, p, "alice@example.com", users[p].ID)
		checkGroupStored(t, s, groups[p])
	}

	if err := s.DeleteUser(ctx, "b", "ub"); err != nil {
		t.Fatalf("delete user of partner b: %v", err)
	}
	if err := s.DeleteGroup(ctx, "b", "gb"); err != nil {
		t.Fatalf("delete group of partner b: %v", err)
	}
	checkUserStored(t, s, users["a"])
	checkGroupStored(t, s, groups["a"])
	checkByUserName(t, s, "b", "alice", "")
	checkByExternalID(t, s, "b", "scim-alice", "")
	checkByEmail(t, s, "b", "shared@example.com")
	checkGroupByName(t, s, "b", "Engineering", "")
	checkGroupByExternalID(t, s, "b", "scim-engineering", "")
}
