package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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
	{"ListAt", testUserListAt},
	{"Update", testUserUpdate},
	{"UpdateEmailCase", testUserUpdateEmailCase},
	{"UpdateEmailTaken", testUserUpdateEmailTaken},
	{"UpdateCallbackError", testUserUpdateCallbackError},
	{"UpdateMissing", testUserUpdateMissing},
	{"UpdateKeepsIdentity", testUserUpdateKeepsIdentity},
	{"Delete", testUserDelete},
	{"ConcurrentUpdate", testUserConcurrentUpdate},
	{"GroupsKeptByStore", testUserGroupsKeptByStore},
	{"GetByIndexes", testUserGetByIndexes},
	{"CreateIndexKeyTaken", testUserCreateIndexKeyTaken},
	{"EmptyIndexKeysNotUnique", testUserEmptyIndexKeysNotUnique},
	{"UpdateMovesIndexes", testUserUpdateMovesIndexes},
	{"UpdateIndexKeyTaken", testUserUpdateIndexKeyTaken},
	{"FindByEmail", testUserFindByEmail},
	{"DeleteClearsIndexes", testUserDeleteClearsIndexes},
	{"Profile", testUserProfile},
	{"PasswordHistory", testUserPasswordHistory},
	{"ConcurrentIndexClaims", testUserConcurrentIndexClaims},
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
	bare := bareUser("acme", "u2", "bob@example.com")
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

func testUserListAt(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	createPartner(t, s, "empty")
	byID := make(map[string]store.User)
	for _, id := range []string{"u3", "u10", "u1", "u2", "u4"} {
		byID[id] = createUser(t, s, "acme", id, id+"@example.com")
	}
	other := createUser(t, s, "other", "u0", "u0@example.com")
	order := []string{"u1", "u10", "u2", "u3", "u4"}

	tests := []struct {
		partner       string
		offset, limit int
		want          []string
		total         int
	}{
		{"acme", 0, 2, order[:2], 5},
		{"acme", 2, 2, order[2:4], 5},
		{"acme", 4, 2, order[4:], 5},
		{"acme", 0, 100, order, 5},
		{"acme", 5, 2, nil, 5},
		{"acme", 1000, 2, nil, 5},
		// A huge offset, as a client's startIndex may be, is just past the end.
		{"acme", math.MaxInt, 100, nil, 5},
		// A limit of 0 is a count of the users only.
		{"acme", 1, 0, nil, 5},
		{"empty", 0, 10, nil, 0},
		{"nobody", 0, 10, nil, 0},
	}
	for _, tc := range tests {
		what := fmt.Sprintf("users of %q at %d, limit %d", tc.partner, tc.offset, tc.limit)
		got, total, err := s.ListUsersAt(ctx, tc.partner, tc.offset, tc.limit)
		if err != nil {
			t.Errorf("list %s: %v", what, err)
			continue
		}
		if total != tc.total {
			t.Errorf("%s: total %d, want %d", what, total, tc.total)
		}
		var want []store.User
		for _, id := range tc.want {
			want = append(want, byID[id])
		}
		checkList(t, what, got, want, normUser)
	}
	if got, total, err := s.ListUsersAt(ctx, "other", 0, 10); err != nil || total != 1 {
		t.Errorf("list users of %q: total %d, %v", "other", total, err)
	} else {
		checkList(t, "users of other", got, []store.User{other}, normUser)
	}
	for _, bad := range [][2]int{{-1, 1}, {0, -1}} {
		if _, _, err := s.ListUsersAt(ctx, "acme", bad[0], bad[1]); err == nil {
			t.Errorf("list users at %d, limit %d: no error", bad[0], bad[1])
		}
	}
	// A deleted user leaves the count and its place at once.
	if err := s.DeleteUser(ctx, "acme", "u10"); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	got, total, err := s.ListUsersAt(ctx, "acme", 1, 2)
	if err != nil || total != 4 {
		t.Fatalf("list users after a delete: total %d, %v", total, err)
	}
	checkList(t, "users at 1 after a delete", got, []store.User{byID["u2"], byID["u3"]}, normUser)
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

func testUserGetByIndexes(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")
	createUser(t, s, "acme", "u2", "bob@example.com")
	checkUserStored(t, s, u)

	// User names compare case-insensitively, external ids exactly.
	for _, name := range []string{"Login.u1", "login.u1", "LOGIN.U1", "lOgIn.U1"} {
		checkByUserName(t, s, "acme", name, "u1")
	}
	for _, tc := range []struct{ externalID, want string }{
		{"scim-u1", "u1"},
		{"SCIM-U1", ""},
		{"Scim-u1", ""},
		{"scim-u", ""},
		{"scim-u1 ", ""},
	} {
		checkByExternalID(t, s, "acme", tc.externalID, tc.want)
	}
	checkByUserName(t, s, "acme", "Login.u", "")
	checkByUserName(t, s, "acme", "nobody", "")
	checkByExternalID(t, s, "acme", "nobody", "")
	checkByEmail(t, s, "acme", "nobody@example.com")
	// A missing partner has no users; finding none of them may also
	// answer ErrNotFound.
	checkByUserName(t, s, "nobody", "Login.u1", "")
	checkByExternalID(t, s, "nobody", "scim-u1", "")
	found, err := s.FindUsersByEmail(ctx, "nobody", "alice@example.com")
	if (err != nil && !errors.Is(err, store.ErrNotFound)) || len(found) > 0 {
		t.Errorf("find users by email in a missing partner: got %s, error %v; want none", listString(found), err)
	}
}

// testUserCreateIndexKeyTaken creates users whose user name or external
// id another user holds: each create must fail and write nothing, not
// even the index entries of the keys that were free.
func testUserCreateIndexKeyTaken(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	u := createUser(t, s, "acme", "u1", "alice@example.com")

	tests := []struct {
		name   string
		change func(*store.User)
	}{
		{"UserName", func(d *store.User) { d.UserName = u.UserName }},
		{"UserNameInOtherCase", func(d *store.User) { d.UserName = strings.ToUpper(u.UserName) }},
		{"ExternalID", func(d *store.User) { d.ExternalID = u.ExternalID }},
	}
	for i, tc := range tests {
		id := fmt.Sprintf("dup%d", i)
		dup := newUser("acme", id, id+"@example.com")
		tc.change(&dup)
		err := s.CreateUser(t.Context(), dup)
		checkErr(t, "create user with taken "+tc.name, err, store.ErrAlreadyExists)
		checkUserGone(t, s, "acme", id, dup.Email)
		if !strings.EqualFold(dup.UserName, u.UserName) {
			checkByUserName(t, s, "acme", dup.UserName, "")
		}
		if dup.ExternalID != u.ExternalID {
			checkByExternalID(t, s, "acme", dup.ExternalID, "")
		}
		checkByEmail(t, s, "acme", dup.AltEmails[0])
	}
	checkUserStored(t, s, u)
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{u}, normUser)

	// External ids compare exactly: one differing in case is another.
	other := newUser("acme", "u2", "bob@example.com")
	other.ExternalID = strings.ToUpper(u.ExternalID)
	if err := s.CreateUser(t.Context(), other); err != nil {
		t.Fatalf("create user with an external id differing only in case: %v", err)
	}
	checkUserStored(t, s, other)
	checkUserStored(t, s, u)
}

// testUserEmptyIndexKeysNotUnique checks that an empty user name or
// external id is no key: any number of users have none, and no lookup
// finds them by it.
func testUserEmptyIndexKeysNotUnique(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	var want []store.User
	for _, id := range []string{"u1", "u2", "u3"} {
		u := bareUser("acme", id, id+"@example.com")
		if err := s.CreateUser(t.Context(), u); err != nil {
			t.Fatalf("create user %q without user name or external id: %v", id, err)
		}
		want = append(want, u)
	}
	provisioned := createUser(t, s, "acme", "u4", "u4@example.com")
	// Clearing them frees nothing and claims nothing.
	_, err := s.UpdateUser(t.Context(), "acme", "u4", func(cur store.User) (store.User, error) {
		cur.UserName, cur.ExternalID, cur.AltEmails = "", "", nil
		return cur, nil
	})
	if err != nil {
		t.Fatalf("clear the user name and external id: %v", err)
	}
	provisioned.UserName, provisioned.ExternalID, provisioned.AltEmails = "", "", nil
	want = append(want, provisioned)

	for _, u := range want {
		checkUserStored(t, s, u)
	}
	checkList(t, "users", listUsers(t, s, "acme"), want, normUser)
	checkByUserName(t, s, "acme", "", "")
	checkByExternalID(t, s, "acme", "", "")
	checkByUserName(t, s, "acme", "Login.u4", "")
	checkByExternalID(t, s, "acme", "scim-u4", "")
	checkByEmail(t, s, "acme", "u4.alt@example.org")
}

// testUserUpdateMovesIndexes changes every indexed field: the new values
// find the user, the old ones no longer do and are free for another user.
func testUserUpdateMovesIndexes(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	u := newUser("acme", "u1", "alice@example.com")
	u.AltEmails = []string{"kept@example.org", "dropped@example.org"}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user: %v", err)
	}
	want := u
	want.UserName = "Alice.Liddell"
	want.ExternalID = "scim-renamed"
	want.AltEmails = []string{"added@example.org", "kept@example.org"}

	got, err := s.UpdateUser(ctx, "acme", "u1", func(cur store.User) (store.User, error) {
		checkEqual(t, "user passed to update", cur, u, normUser)
		cur.UserName, cur.ExternalID, cur.AltEmails = want.UserName, want.ExternalID, slices.Clone(want.AltEmails)
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update user: %v", err)
	}
	checkEqual(t, "updated user", got, want, normUser)
	checkUserStored(t, s, want)
	checkByUserName(t, s, "acme", u.UserName, "")
	checkByExternalID(t, s, "acme", u.ExternalID, "")
	checkByEmail(t, s, "acme", "dropped@example.org")
	checkByEmail(t, s, "acme", "kept@example.org", "u1")

	// The case of the user name is the user's own to change.
	want.UserName = "ALICE.liddell"
	_, err = s.UpdateUser(ctx, "acme", "u1", func(cur store.User) (store.User, error) {
		cur.UserName = want.UserName
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update the case of a user's own user name: %v", err)
	}
	checkUserStored(t, s, want)

	// The old values are free again.
	other := newUser("acme", "u2", "bob@example.com")
	other.UserName, other.ExternalID, other.AltEmails = u.UserName, u.ExternalID, []string{"dropped@example.org"}
	if err := s.CreateUser(ctx, other); err != nil {
		t.Fatalf("create user with the values the update gave up: %v", err)
	}
	checkUserStored(t, s, other)
	checkUserStored(t, s, want)
}

// testUserUpdateIndexKeyTaken changes a user's user name or external id
// to one another user holds, along with other indexed fields: the update
// must fail and write nothing.
func testUserUpdateIndexKeyTaken(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	alice := createUser(t, s, "acme", "u1", "alice@example.com")
	bob := createUser(t, s, "acme", "u2", "bob@example.com")

	tests := []struct {
		name   string
		change func(*store.User)
	}{
		{"UserName", func(u *store.User) { u.UserName = alice.UserName }},
		{"UserNameInOtherCase", func(u *store.User) { u.UserName = strings.ToLower(alice.UserName) }},
		{"ExternalID", func(u *store.User) { u.ExternalID = alice.ExternalID }},
	}
	for _, tc := range tests {
		_, err := s.UpdateUser(t.Context(), "acme", "u2", func(cur store.User) (store.User, error) {
			cur.Name = "Changed"
			cur.Email = "bob.new@example.com"
			cur.UserName = "Bob.New"
			cur.ExternalID = "scim-bob-new"
			cur.AltEmails = append(cur.AltEmails, "bob.alt.new@example.org")
			tc.change(&cur)
			return cur, nil
		})
		checkErr(t, "update user to a taken "+tc.name, err, store.ErrAlreadyExists)
		checkUserStored(t, s, alice)
		checkUserStored(t, s, bob)
		checkUserGone(t, s, "acme", "nobody", "bob.new@example.com")
		checkByUserName(t, s, "acme", "Bob.New", "")
		checkByExternalID(t, s, "acme", "scim-bob-new", "")
		checkByEmail(t, s, "acme", "bob.alt.new@example.org")
	}
}

// testUserFindByEmail gives several users an address as their email or
// among their alt emails, in any case: FindUsersByEmail must find each of
// them once, ordered by id, and follow every change.
func testUserFindByEmail(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	users := map[string]store.User{}
	for _, u := range []struct {
		id, email string
		alt       []string
	}{
		{"u3", "shared@example.com", []string{"u3.alt@example.org"}},
		{"u10", "u10@example.com", []string{"Shared@Example.com", "other@example.com"}},
		{"u2", "u2@example.com", []string{"shared@example.com", "SHARED@example.com"}},
		{"u4", "u4@example.com", []string{"other@example.com"}},
		{"u5", "Dual@example.com", []string{"dual@example.com"}},
		{"u1", "u1@example.com", nil},
	} {
		user := newUser("acme", u.id, u.email)
		user.AltEmails = u.alt
		if err := s.CreateUser(ctx, user); err != nil {
			t.Fatalf("create user %q: %v", u.id, err)
		}
		users[u.id] = user
	}
	for _, u := range users {
		checkUserStored(t, s, u)
	}

	found, err := s.FindUsersByEmail(ctx, "acme", "SHARED@EXAMPLE.COM")
	if err != nil {
		t.Fatalf("find users by email: %v", err)
	}
	checkList(t, "users found by a shared email", found, []store.User{users["u10"], users["u2"], users["u3"]}, normUser)
	for _, tc := range []struct {
		email string
		want  []string
	}{
		{"shared@example.com", []string{"u10", "u2", "u3"}},
		{"Other@Example.Com", []string{"u10", "u4"}},
		{"DUAL@example.com", []string{"u5"}},
		{"u1@EXAMPLE.com", []string{"u1"}},
		{"nobody@example.com", nil},
		{"shared@example", nil},
	} {
		checkByEmail(t, s, "acme", tc.email, tc.want...)
	}

	update := func(id string, change func(*store.User)) {
		t.Helper()
		_, err := s.UpdateUser(ctx, "acme", id, func(cur store.User) (store.User, error) {
			change(&cur)
			return cur, nil
		})
		if err != nil {
			t.Fatalf("update user %q: %v", id, err)
		}
	}
	if err := s.DeleteUser(ctx, "acme", "u2"); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	checkByEmail(t, s, "acme", "shared@example.com", "u10", "u3")
	update("u10", func(u *store.User) { u.AltEmails = []string{"other@example.com"} })
	checkByEmail(t, s, "acme", "shared@example.com", "u3")
	checkByEmail(t, s, "acme", "other@example.com", "u10", "u4")
	update("u3", func(u *store.User) { u.Email = "u3@example.com" })
	checkByEmail(t, s, "acme", "shared@example.com")
	update("u4", func(u *store.User) { u.AltEmails = append(u.AltEmails, "Shared@example.com") })
	checkByEmail(t, s, "acme", "shared@example.com", "u4")
	update("u5", func(u *store.User) { u.AltEmails = nil })
	checkByEmail(t, s, "acme", "dual@example.com", "u5")
	update("u5", func(u *store.User) { u.Email = "u5@example.com" })
	checkByEmail(t, s, "acme", "dual@example.com")
}

func testUserDeleteClearsIndexes(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	alice := createUser(t, s, "acme", "u1", "alice@example.com")
	bob := newUser("acme", "u2", "bob@example.com")
	bob.AltEmails = []string{alice.AltEmails[0], alice.Email}
	if err := s.CreateUser(ctx, bob); err != nil {
		t.Fatalf("create user: %v", err)
	}

	if err := s.DeleteUser(ctx, "acme", "u1"); err != nil {
		t.Fatalf("delete user: %v", err)
	}
	checkUserGone(t, s, "acme", "u1", alice.Email)
	checkByUserName(t, s, "acme", alice.UserName, "")
	checkByExternalID(t, s, "acme", alice.ExternalID, "")
	// Bob shares both addresses and keeps them.
	checkByEmail(t, s, "acme", alice.Email, "u2")
	checkByEmail(t, s, "acme", alice.AltEmails[0], "u2")
	checkUserStored(t, s, bob)

	// Everything alice held is free again.
	again := newUser("acme", "u3", alice.Email)
	again.UserName, again.ExternalID, again.AltEmails = alice.UserName, alice.ExternalID, alice.AltEmails
	if err := s.CreateUser(ctx, again); err != nil {
		t.Fatalf("create user with the values of a deleted one: %v", err)
	}
	checkUserStored(t, s, again)
	checkByEmail(t, s, "acme", alice.AltEmails[0], "u2", "u3")
}

// testUserProfile checks a profile is kept as a JSON value through
// creates, updates and membership changes, none meaning none.
func testUserProfile(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createGroup(t, s, "acme", "g1", "Engineering")
	tests := []struct {
		name    string
		profile json.RawMessage
	}{
		{"None", nil},
		{"Empty", json.RawMessage{}},
		{"Null", json.RawMessage("null")},
		{"EmptyObject", json.RawMessage("{}")},
		{"Spaced", json.RawMessage("{ \"a\" : [ 1, 2.5, null, true ],\n\t\"b\": {} }")},
		{"Escapes", json.RawMessage(`{"html":"<b>&amp;</b>","quote":"\"","unicode":"Zoë \u00e9 ☃","line":"a\u2028b"}`)},
		{"SCIM", json.RawMessage(`{"name":{"givenName":"Barbara","familyName":"Jensen","formatted":"Ms. Barbara J Jensen III"},` +
			`"phoneNumbers":[{"value":"+1 555 555 5555","type":"work","primary":true}],` +
			`"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","manager":{"value":"26118915-6090-4610-87e4-49d8ca9f808d"}}}`)},
	}
	for i, tc := range tests {
		id := fmt.Sprintf("u%d", i)
		u := newUser("acme", id, id+"@example.com")
		u.Profile = tc.profile
		if err := s.CreateUser(ctx, u); err != nil {
			t.Errorf("create user with profile %s: %v", tc.name, err)
			continue
		}
		checkUserStored(t, s, u)

		// Other changes, the user's or its groups', keep the profile.
		want := u
		want.Name = "Renamed"
		_, err := s.UpdateUser(ctx, "acme", id, func(cur store.User) (store.User, error) {
			checkEqual(t, "user passed to update", cur, u, normUser)
			cur.Name = want.Name
			return cur, nil
		})
		if err != nil {
			t.Errorf("update user with profile %s: %v", tc.name, err)
			continue
		}
		addMembers(t, s, "acme", "g1", id)
		want.Groups = []string{"g1"}
		checkUserStored(t, s, want)

		want.Profile = json.RawMessage(`{"title":"` + tc.name + `"}`)
		_, err = s.UpdateUser(ctx, "acme", id, func(cur store.User) (store.User, error) {
			cur.Profile = want.Profile
			return cur, nil
		})
		if err != nil {
			t.Errorf("replace profile %s: %v", tc.name, err)
			continue
		}
		checkUserStored(t, s, want)
	}
}

// testUserConcurrentIndexClaims races creates for one user name and
// updates for one external id: exactly one of each may win, and the
// losers must be left as they were.
func testUserConcurrentIndexClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	const workers = 8

	var (
		mu        sync.Mutex
		created   []string
		refreshed []string
	)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			id := fmt.Sprintf("new%d", i)
			u := newUser("acme", id, id+"@example.com")
			u.UserName = "Contested"
			if i%2 == 1 {
				u.UserName = "CONTESTED"
			}
			err := s.CreateUser(ctx, u)
			switch {
			case err == nil:
				mu.Lock()
				created = append(created, id)
				mu.Unlock()
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("create user %q: %v", id, err)
			}
		})
	}
	wg.Wait()
	if len(created) != 1 {
		t.Fatalf("%d creates for one user name succeeded (%q), want 1", len(created), created)
	}
	checkByUserName(t, s, "acme", "contested", created[0])

	var olds []store.User
	for i := range workers {
		olds = append(olds, createUser(t, s, "acme", fmt.Sprintf("old%d", i), fmt.Sprintf("old%d@example.com", i)))
	}
	lineUp := rendezvous(workers)
	for _, old := range olds {
		wg.Go(func() {
			_, err := s.UpdateUser(ctx, "acme", old.ID, func(cur store.User) (store.User, error) {
				lineUp()
				cur.ExternalID = "contested"
				return cur, nil
			})
			switch {
			case err == nil:
				mu.Lock()
				refreshed = append(refreshed, old.ID)
				mu.Unlock()
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("update user %q: %v", old.ID, err)
			}
		})
	}
	wg.Wait()
	if len(refreshed) != 1 {
		t.Fatalf("%d updates to one external id succeeded (%q), want 1", len(refreshed), refreshed)
	}
	checkByExternalID(t, s, "acme", "contested", refreshed[0])
	for _, old := range olds {
		if old.ID == refreshed[0] {
			old.ExternalID = "contested"
		}
		checkUserStored(t, s, old)
	}
}

// testUserPasswordHistory checks the password history and change time
// round-trip through create, update and every read, and that a user
// without them reads back without them.
func testUserPasswordHistory(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	const (
		h1 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQxMjM0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaDE"
		h2 = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ1Njc4$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaDI"
	)
	u := newUser("acme", "u1", "alice@example.com")
	u.PasswordHistory = []string{h1}
	u.PasswordChangedAt = u.CreatedAt.Add(-time.Hour)
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatalf("create user with a password history: %v", err)
	}
	checkUserStored(t, s, u)

	plain := newUser("acme", "u2", "bob@example.com")
	if err := s.CreateUser(ctx, plain); err != nil {
		t.Fatalf("create user: %v", err)
	}
	checkUserStored(t, s, plain)
	if got, err := s.GetUser(ctx, "acme", "u2"); err == nil && (got.PasswordHistory != nil || !got.PasswordChangedAt.IsZero()) {
		t.Errorf("user without history reads back history %v, changed at %v", got.PasswordHistory, got.PasswordChangedAt)
	}

	want := u
	want.PasswordHash = h2
	want.PasswordHistory = []string{u.PasswordHash, h1}
	want.PasswordChangedAt = u.UpdatedAt.Add(time.Minute)
	want.UpdatedAt = want.PasswordChangedAt
	got, err := s.UpdateUser(ctx, "acme", "u1", func(cur store.User) (store.User, error) {
		checkEqual(t, "user passed to update", cur, u, normUser)
		cur.PasswordHistory = append([]string{cur.PasswordHash}, cur.PasswordHistory...)
		cur.PasswordHash, cur.PasswordChangedAt, cur.UpdatedAt = want.PasswordHash, want.PasswordChangedAt, want.UpdatedAt
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update password history: %v", err)
	}
	checkEqual(t, "updated user", got, want, normUser)
	checkUserStored(t, s, want)
	checkList(t, "users", listUsers(t, s, "acme"), []store.User{want, plain}, normUser)

	// Clearing them clears them.
	want.PasswordHistory, want.PasswordChangedAt = nil, time.Time{}
	if _, err := s.UpdateUser(ctx, "acme", "u1", func(cur store.User) (store.User, error) {
		cur.PasswordHistory, cur.PasswordChangedAt = nil, time.Time{}
		return cur, nil
	}); err != nil {
		t.Fatalf("clear password history: %v", err)
	}
	checkUserStored(t, s, want)
}
