package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var isolationTests = []subtest{
	{"ForeignIDs", testIsolationForeignIDs},
	{"SameUserIDInTwoPartners", testIsolationSameUserID},
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
