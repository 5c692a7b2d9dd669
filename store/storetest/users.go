package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var userTests = []subtest{
	{"CreateGet", testUserCreateGet},
	{"CreateDuplicateID", testUserCreateDuplicateID},
	{"CreateDuplicateEmail", testUserCreateDuplicateEmail},
	{"ListOrderedByID", testUserListOrderedByID},
	{"ListPaged", testUserListPaged},
	{"Update", testUserUpdate},
	{"UpdateEmailCase", testUserUpdateEmailCase},
	{"UpdateEmailTaken", testUserUpdateEmailTaken},
	{"UpdateCallbackError", testUserUpdateCallbackError},
	{"UpdateMissing", testUserUpdateMissing},
	{"UpdateKeepsIdentity", testUserUpdateKeepsIdentity},
	{"Delete", testUserDelete},
	{"ConcurrentUpdate", testUserConcurrentUpdate},
	{"GroupsKeptByStore", testUserGroupsKeptByStore},
}

func listUsers(t *testing.T, s store.Store, partnerID string) []store.User {
	t.Helper()
	got, err := s.ListUsers(t.Context(), partnerID, store.Page{})
	if err != nil {
		t.Fatalf("list users of partner %q: %v", partnerID, err)
	}
	return got
}

func testUserCreateGet(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "Alice@Example.com")
	bare := newUser("acme", "u2", "bob@example.com")
	bare.PasswordHash, bare.Active, bare.InviteID = "", false, ""
	if err := s.CreateUser(ctx, bare); err != nil {
		t.Fatalf("create user without password: %v", err)
	}

	checkUserStored(t, s, u)
	checkUserStored(t, s, bare)
	for _, email := range []string{"alice@example.com", "ALICE@EXAMPLE.COM", "aLiCe@eXaMpLe.CoM"} {
		got, err := s.GetUserByEmail(ctx, "acme", email)
		if err != nil {
			t.Errorf("get user by email %q: %v", email, err)
			continue
		}
		checkEqual(t, "user by email "+email, got, u, normUser)
	}
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{u, bare}, normUser)
	checkUserGone(t, s, "acme", "nobody", "nobody@example.com")
}

func testUserCreateDuplicateID(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")

	err := s.CreateUser(t.Context(), newUser("acme", "u1", "mallory@example.com"))
	checkErr(t, "create user with taken id", err, store.ErrAlreadyExists)
	checkUserStored(t, s, u)
	// The failed create must not have claimed its email.
	createUser(t, s, "acme", "u2", "mallory@example.com")
}

func testUserCreateDuplicateEmail(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")

	for i, email := range []string{"alice@example.com", "ALICE@example.com", "Alice@Example.Com"} {
		id := "dup" + string(rune('a'+i))
		err := s.CreateUser(t.Context(), newUser("acme", id, email))
		checkErr(t, "create user with taken email "+email, err, store.ErrAlreadyExists)
		checkUserGone(t, s, "acme", id, "nobody@example.com")
	}
	checkUserStored(t, s, u)
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{u}, normUser)
}

func testUserListOrderedByID(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	createPartner(t, s, "empty")
	byID := make(map[string]store.User)
	for _, id := range []string{"u3", "u10", "u1", "u2"} {
		byID[id] = createUser(t, s, "acme", id, id+"@example.com")
	}
	createUser(t, s, "other", "u0", "u0@example.com")
	want := []store.User{byID["u1"], byID["u10"], byID["u2"], byID["u3"]}

	checkList(t, "users", listUsers(t, s, "acme"), want, normUser)
	checkList(t, "users of a partner without users", listUsers(t, s, "empty"), nil, normUser)
}

func testUserListPaged(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	byID := make(map[string]store.User)
	for _, id := range []string{"u3", "u10", "u1", "u2", "u4"} {
		byID[id] = createUser(t, s, "acme", id, id+"@example.com")
	}
	createUser(t, s, "other", "u0", "u0@example.com")
	order := []string{"u1", "u10", "u2", "u3", "u4"}

	tests := []struct {
		page store.Page
		want []string
	}{
		{store.Page{Limit: 2}, order[:2]},
		{store.Page{After: "u10", Limit: 2}, order[2:4]},
		{store.Page{After: "u3", Limit: 2}, order[4:]},
		{store.Page{After: "u4"}, nil},
		// After need not name a user.
		{store.Page{After: "u15"}, order[2:]},
		{store.Page{After: "a", Limit: 1}, order[:1]},
	}
	for _, tc := range tests {
		got, err := s.ListUsers(ctx, "acme", tc.page)
		if err != nil {
			t.Errorf("list users, page %+v: %v", tc.page, err)
			continue
		}
		var want []store.User
		for _, id := range tc.want {
			want = append(want, byID[id])
		}
		checkList(t, fmt.Sprintf("users, page %+v", tc.page), got, want, normUser)
	}
	checkPaging(t, "users", order, func(page store.Page) ([]string, error) {
		users, err := s.ListUsers(ctx, "acme", page)
		ids := make([]string, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		return ids, err
	})
}

func testUserUpdate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")
	want := u
	want.Name = "Alice Liddell"
	want.Email = "Alice.L@example.com"
	want.PasswordHash = ""
	want.Active = false
	want.InviteID = "invite-reissued"
	want.UpdatedAt = u.UpdatedAt.Add(time.Minute)

	got, err := s.UpdateUser(t.Context(), "acme", "u1", func(cur store.User) (store.User, error) {
		checkEqual(t, "user passed to update", cur, u, normUser)
		cur.Name, cur.Email, cur.PasswordHash, cur.Active = want.Name, want.Email, want.PasswordHash, want.Active
		cur.InviteID, cur.UpdatedAt = want.InviteID, want.UpdatedAt
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update user: %v", err)
	}
	checkEqual(t, "updated user", got, want, normUser)
	checkUserStored(t, s, want)
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{want}, normUser)

	// The old email is free again.
	_, err = s.GetUserByEmail(t.Context(), "acme", "alice@example.com")
	checkErr(t, "get user by old email", err, store.ErrNotFound)
	createUser(t, s, "acme", "u2", "alice@example.com")
}

func testUserUpdateEmailCase(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")
	want := u
	want.Email = "ALICE@example.com"

	_, err := s.UpdateUser(t.Context(), "acme", "u1", func(cur store.User) (store.User, error) {
		cur.Email = want.Email
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update the case of a user's own email: %v", err)
	}
	checkUserStored(t, s, want)
}

func testUserUpdateEmailTaken(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	alice := createUser(t, s, "acme", "u1", "alice@example.com")
	bob := createUser(t, s, "acme", "u2", "bob@example.com")

	_, err := s.UpdateUser(t.Context(), "acme", "u2", func(cur store.User) (store.User, error) {
		cur.Name = "Changed"
		cur.Email = "ALICE@example.com"
		return cur, nil
	})
	checkErr(t, "update user to a taken email", err, store.ErrAlreadyExists)
	checkUserStored(t, s, alice)
	checkUserStored(t, s, bob)
}

func testUserUpdateCallbackError(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")

	_, err := s.UpdateUser(t.Context(), "acme", "u1", func(cur store.User) (store.User, error) {
		cur.Name = "Changed"
		cur.Email = "new@example.com"
		return cur, errFn
	})
	checkErr(t, "update user with failing callback", err, errFn)
	checkUserStored(t, s, u)
	_, err = s.GetUserByEmail(t.Context(), "acme", "new@example.com")
	checkErr(t, "get user by the refused email", err, store.ErrNotFound)
}

func testUserUpdateMissing(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	for _, partnerID := range []string{"acme", "nobody"} {
		called := false
		_, err := s.UpdateUser(t.Context(), partnerID, "u1", func(cur store.User) (store.User, error) {
			called = true
			return cur, nil
		})
		checkErr(t, "update missing user in partner "+partnerID, err, store.ErrNotFound)
		if called {
			t.Errorf("update of a missing user in partner %q called the callback", partnerID)
		}
	}
}

func testUserUpdateKeepsIdentity(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	u := createUser(t, s, "acme", "u1", "alice@example.com")

	tests := []struct {
		name   string
		change func(*store.User)
	}{
		{"ID", func(u *store.User) { u.ID = "u2" }},
		{"PartnerID", func(u *store.User) { u.PartnerID = "other" }},
	}
	for _, tc := range tests {
		// Refusing the change and ignoring it both keep the identity.
		got, err := s.UpdateUser(t.Context(), "acme", "u1", func(cur store.User) (store.User, error) {
			tc.change(&cur)
			return cur, nil
		})
		if err == nil && (got.ID != "u1" || got.PartnerID != "acme") {
			t.Errorf("changing %s: update returned user %q in partner %q, want %q in %q",
				tc.name, got.ID, got.PartnerID, "u1", "acme")
		}
		checkUserStored(t, s, u)
		checkUserGone(t, s, "acme", "u2", "nobody@example.com")
		checkUserGone(t, s, "other", "u1", "alice@example.com")
	}
}

func testUserDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	bob := createUser(t, s, "acme", "u2", "bob@example.com")
	at := now()
	createSession(t, s, newSession("acme", "u1", "s1", at))
	createSession(t, s, newSession("acme", "u1", "s2", at.Add(time.Second)))
	kept := createSession(t, s, newSession("acme", "u2", "s3", at))
	createGroup(t, s, "acme", "g1", "Engineering")
	createGroup(t, s, "acme", "g2", "Sales")
	addMembers(t, s, "acme", "g1", "u1", "u2")
	addMembers(t, s, "acme", "g2", "u1")
	bob.Groups = []string{"g1"}

	if err := s.DeleteUser(ctx, "acme", "u1"); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	checkUserGone(t, s, "acme", "u1", "alice@example.com")
	checkSessionGone(t, s, "acme", "s1")
	checkSessionGone(t, s, "acme", "s2")
	checkUserSessions(t, s, "acme", "u1")
	checkMembers(t, s, "acme", "g1", "u2")
	checkMembers(t, s, "acme", "g2")
	checkUserStored(t, s, bob)
	checkSessionStored(t, s, kept)
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{bob}, normUser)

	// The email is free again.
	createUser(t, s, "acme", "u3", "ALICE@example.com")
	checkErr(t, "delete missing user", s.DeleteUser(ctx, "acme", "u1"), store.ErrNotFound)
}

func testUserConcurrentUpdate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	const workers, rounds = 8, 5

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				_, err := s.UpdateUser(t.Context(), "acme", "u1", func(cur store.User) (store.User, error) {
					cur.Name += "+"
					return cur, nil
				})
				if err != nil {
					t.Errorf("update user: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	got, err := s.GetUser(t.Context(), "acme", "u1")
	if err != nil {
		t.Fatalf("get user: %v", err)
	}
	if n := strings.Count(got.Name, "+"); n != workers*rounds {
		t.Errorf("user name has %d of %d concurrent updates: %q", n, workers*rounds, got.Name)
	}
}

// testUserGroupsKeptByStore checks that only the group calls set a user's
// Groups: creates and updates keep what the store holds.
func testUserGroupsKeptByStore(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createGroup(t, s, "acme", "g1", "Engineering")
	createGroup(t, s, "acme", "g2", "Sales")
	u := newUser("acme", "u1", "alice@example.com")
	u.Groups = []string{"g1", "forged"}
	if err := s.CreateUser(t.Context(), u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	u.Groups = nil
	checkUserStored(t, s, u)
	checkMembers(t, s, "acme", "g1")

	addMembers(t, s, "acme", "g2", "u1")
	addMembers(t, s, "acme", "g1", "u1")
	u.Groups = []string{"g1", "g2"}
	checkUserStored(t, s, u)
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{u}, normUser)

	want := u
	want.Name = "Alice Liddell"
	got, err := s.UpdateUser(t.Context(), "acme", "u1", func(cur store.User) (store.User, error) {
		checkEqual(t, "user passed to update", cur, u, normUser)
		cur.Name = want.Name
		cur.Groups = []string{"forged"}
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update user: %v", err)
	}
	checkEqual(t, "updated user", got, want, normUser)
	checkUserStored(t, s, want)
	checkMembers(t, s, "acme", "g1", "u1")
	checkMembers(t, s, "acme", "g2", "u1")
}
