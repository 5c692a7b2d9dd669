package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var groupTests = []subtest{
	{"CreateGet", testGroupCreateGet},
	{"CreateDuplicate", testGroupCreateDuplicate},
	{"ListPaged", testGroupListPaged},
	{"Update", testGroupUpdate},
	{"UpdateNameTaken", testGroupUpdateNameTaken},
	{"UpdateCallbackError", testGroupUpdateCallbackError},
	{"UpdateMissing", testGroupUpdateMissing},
	{"UpdateKeepsIdentity", testGroupUpdateKeepsIdentity},
	{"Members", testGroupMembers},
	{"AddMissingUser", testGroupAddMissingUser},
	{"Delete", testGroupDelete},
	{"ConcurrentMembership", testGroupConcurrentMembership},
}

func newGroup(partnerID, id, name string) store.Group {
	at := now()
	return store.Group{
		ID:         id,
		PartnerID:  partnerID,
		Name:       name,
		ExternalID: "scim-" + id,
		CreatedAt:  at,
		UpdatedAt:  at,
	}
}

func createGroup(t *testing.T, s store.Store, partnerID, id, name string) store.Group {
	t.Helper()
	g := newGroup(partnerID, id, name)
	if err := s.CreateGroup(t.Context(), g); err != nil {
		t.Fatalf("create group %q in partner %q: %v", id, partnerID, err)
	}
	return g
}

func normGroup(g store.Group) store.Group {
	g.CreatedAt, g.UpdatedAt = normTime(g.CreatedAt), normTime(g.UpdatedAt)
	return g
}

func listGroups(t *testing.T, s store.Store, partnerID string) []store.Group {
	t.Helper()
	got, err := s.ListGroups(t.Context(), partnerID, store.Page{})
	if err != nil {
		t.Fatalf("list groups of partner %q: %v", partnerID, err)
	}
	return got
}

func checkGroupStored(t *testing.T, s store.Store, want store.Group) {
	t.Helper()
	got, err := s.GetGroup(t.Context(), want.PartnerID, want.ID)
	if err != nil {
		t.Errorf("get group %q in partner %q: %v", want.ID, want.PartnerID, err)
		return
	}
	checkEqual(t, "group "+want.ID, got, want, normGroup)
}

func checkGroupGone(t *testing.T, s store.Store, partnerID, id string) {
	t.Helper()
	_, err := s.GetGroup(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get group %q in partner %q", id, partnerID), err, store.ErrNotFound)
	_, err = s.ListGroupMembers(t.Context(), partnerID, id, store.Page{})
	checkErr(t, fmt.Sprintf("list members of group %q in partner %q", id, partnerID), err, store.ErrNotFound)
}

func addMembers(t *testing.T, s store.Store, partnerID, groupID string, userIDs ...string) {
	t.Helper()
	if err := s.AddGroupMembers(t.Context(), partnerID, groupID, userIDs); err != nil {
		t.Fatalf("add %q to group %q in partner %q: %v", userIDs, groupID, partnerID, err)
	}
}

// checkMembers compares both sides of a group's membership: its member
// list, in order, and the Groups of each user of the partner.
func checkMembers(t *testing.T, s store.Store, partnerID, groupID string, want ...string) {
	t.Helper()
	got, err := s.ListGroupMembers(t.Context(), partnerID, groupID, store.Page{})
	if err != nil {
		t.Errorf("list members of group %q in partner %q: %v", groupID, partnerID, err)
		return
	}
	if !slices.Equal(got, want) {
		t.Errorf("members of group %q in partner %q: got %q, want %q", groupID, partnerID, got, want)
	}
	for _, u := range listUsers(t, s, partnerID) {
		if member := slices.Contains(u.Groups, groupID); member != slices.Contains(want, u.ID) {
			t.Errorf("user %q in partner %q lists groups %q: member of %q = %v, want %v",
				u.ID, partnerID, u.Groups, groupID, member, !member)
		}
	}
}

// checkUserGroups reads the user's Groups by id, by email and in the
// partner's user list.
func checkUserGroups(t *testing.T, s store.Store, partnerID, userID string, want ...string) {
	t.Helper()
	byID, err := s.GetUser(t.Context(), partnerID, userID)
	if err != nil {
		t.Errorf("get user %q in partner %q: %v", userID, partnerID, err)
		return
	}
	byEmail, err := s.GetUserByEmail(t.Context(), partnerID, byID.Email)
	if err != nil {
		t.Errorf("get user by email %q in partner %q: %v", byID.Email, partnerID, err)
		return
	}
	users := listUsers(t, s, partnerID)
	i := slices.IndexFunc(users, func(u store.User) bool { return u.ID == userID })
	if i < 0 {
		t.Errorf("user %q missing from the users of partner %q", userID, partnerID)
		return
	}
	for _, read := range []struct {
		how    string
		groups []string
	}{
		{"by id", byID.Groups},
		{"by email", byEmail.Groups},
		{"in the list", users[i].Groups},
	} {
		if !slices.Equal(read.groups, want) {
			t.Errorf("groups of user %q in partner %q read %s: got %q, want %q", userID, partnerID, read.how, read.groups, want)
		}
	}
}

// checkPaging cuts a list in pages of several sizes, list returning the
// ids of one page, and checks each way gives back want, the ids of the
// whole list in order.
func checkPaging(t *testing.T, what string, want []string, list func(store.Page) ([]string, error)) {
	t.Helper()
	for _, limit := range []int{0, 1, 2, len(want), len(want) + 1} {
		var got []string
		page := store.Page{Limit: limit}
		for {
			ids, err := list(page)
			if err != nil {
				t.Errorf("%s, page %+v: %v", what, page, err)
				return
			}
			if limit > 0 && len(ids) > limit {
				t.Errorf("%s, page %+v: got %d items %q, want at most %d", what, page, len(ids), ids, limit)
				return
			}
			got = append(got, ids...)
			// A store ignoring After would loop forever.
			if len(ids) == 0 || limit == 0 || len(got) > len(want) {
				break
			}
			page.After = ids[len(ids)-1]
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s in pages of %d: got %q, want %q", what, limit, got, want)
		}
	}
}

func testGroupCreateGet(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	g := createGroup(t, s, "acme", "g1", "Engineering")
	bare := newGroup("acme", "g2", "Sales")
	bare.ExternalID = ""
	if err := s.CreateGroup(t.Context(), bare); err != nil {
		t.Fatalf("create group without external id: %v", err)
	}

	checkGroupStored(t, s, g)
	checkGroupStored(t, s, bare)
	checkMembers(t, s, "acme", "g1")
	checkList(t, "groups", listGroups(t, s, "acme"), []store.Group{g, bare}, normGroup)
	checkGroupGone(t, s, "acme", "nobody")

	err := s.CreateGroup(t.Context(), newGroup("nobody", "g1", "Engineering"))
	checkErr(t, "create group in a missing partner", err, store.ErrNotFound)
	checkGroupGone(t, s, "nobody", "g1")
}

func testGroupCreateDuplicate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	g := createGroup(t, s, "acme", "g1", "Engineering")

	tests := []struct {
		name  string
		group store.Group
	}{
		{"ID", newGroup("acme", "g1", "Other")},
		{"Name", newGroup("acme", "g2", "Engineering")},
		{"NameInOtherCase", newGroup("acme", "g3", "eNGINEERING")},
	}
	for _, tc := range tests {
		err := s.CreateGroup(t.Context(), tc.group)
		checkErr(t, "create group with taken "+tc.name, err, store.ErrAlreadyExists)
	}
	checkGroupStored(t, s, g)
	checkGroupGone(t, s, "acme", "g2")
	checkGroupGone(t, s, "acme", "g3")
	// The failed creates must not have claimed their names.
	other := createGroup(t, s, "acme", "g4", "Other")
	checkList(t, "groups", listGroups(t, s, "acme"), []store.Group{g, other}, normGroup)
}

func testGroupListPaged(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	createPartner(t, s, "empty")
	byID := make(map[string]store.Group)
	for _, id := range []string{"g3", "g10", "g1", "g2", "g4"} {
		byID[id] = createGroup(t, s, "acme", id, "Group "+id)
	}
	createGroup(t, s, "other", "g0", "Group g0")
	order := []string{"g1", "g10", "g2", "g3", "g4"}

	tests := []struct {
		page store.Page
		want []string
	}{
		{store.Page{}, order},
		{store.Page{Limit: 2}, order[:2]},
		{store.Page{After: "g10", Limit: 2}, order[2:4]},
		{store.Page{After: "g3", Limit: 2}, order[4:]},
		{store.Page{After: "g4"}, nil},
		// After need not name a group.
		{store.Page{After: "g15"}, order[2:]},
		{store.Page{After: "a", Limit: 1}, order[:1]},
	}
	for _, tc := range tests {
		got, err := s.ListGroups(ctx, "acme", tc.page)
		if err != nil {
			t.Errorf("list groups, page %+v: %v", tc.page, err)
			continue
		}
		var want []store.Group
		for _, id := range tc.want {
			want = append(want, byID[id])
		}
		checkList(t, fmt.Sprintf("groups, page %+v", tc.page), got, want, normGroup)
	}
	checkPaging(t, "groups", order, func(page store.Page) ([]string, error) {
		groups, err := s.ListGroups(ctx, "acme", page)
		ids := make([]string, len(groups))
		for i, g := range groups {
			ids[i] = g.ID
		}
		return ids, err
	})
	checkList(t, "groups of a partner without groups", listGroups(t, s, "empty"), nil, normGroup)
}

func testGroupUpdate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	g := createGroup(t, s, "acme", "g1", "Engineering")
	addMembers(t, s, "acme", "g1", "u1")
	want := g
	want.Name = "Platform"
	want.ExternalID = "scim-renamed"
	want.UpdatedAt = g.UpdatedAt.Add(time.Minute)

	got, err := s.UpdateGroup(t.Context(), "acme", "g1", func(cur store.Group) (store.Group, error) {
		checkEqual(t, "group passed to update", cur, g, normGroup)
		cur.Name, cur.ExternalID, cur.UpdatedAt = want.Name, want.ExternalID, want.UpdatedAt
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update group: %v", err)
	}
	checkEqual(t, "updated group", got, want, normGroup)
	checkGroupStored(t, s, want)
	checkList(t, "groups", listGroups(t, s, "acme"), []store.Group{want}, normGroup)
	checkMembers(t, s, "acme", "g1", "u1")

	// The old name is free again; the case of the new one is the group's
	// own to change.
	createGroup(t, s, "acme", "g2", "ENGINEERING")
	want.Name = "PLATFORM"
	_, err = s.UpdateGroup(t.Context(), "acme", "g1", func(cur store.Group) (store.Group, error) {
		cur.Name = want.Name
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update the case of a group's own name: %v", err)
	}
	checkGroupStored(t, s, want)
}

func testGroupUpdateNameTaken(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	a := createGroup(t, s, "acme", "g1", "Engineering")
	b := createGroup(t, s, "acme", "g2", "Sales")

	_, err := s.UpdateGroup(t.Context(), "acme", "g2", func(cur store.Group) (store.Group, error) {
		cur.Name = "ENGINEERING"
		cur.ExternalID = "changed"
		return cur, nil
	})
	checkErr(t, "rename group to a taken name", err, store.ErrAlreadyExists)
	checkGroupStored(t, s, a)
	checkGroupStored(t, s, b)
	// The refused rename left Sales held and claimed nothing.
	err = s.CreateGroup(t.Context(), newGroup("acme", "g3", "sales"))
	checkErr(t, "create group with the name kept by a refused rename", err, store.ErrAlreadyExists)
}

func testGroupUpdateCallbackError(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	g := createGroup(t, s, "acme", "g1", "Engineering")

	_, err := s.UpdateGroup(t.Context(), "acme", "g1", func(cur store.Group) (store.Group, error) {
		cur.Name = "Changed"
		return cur, errFn
	})
	checkErr(t, "update group with failing callback", err, errFn)
	checkGroupStored(t, s, g)
	createGroup(t, s, "acme", "g2", "Changed")
}

func testGroupUpdateMissing(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	for _, partnerID := range []string{"acme", "nobody"} {
		called := false
		_, err := s.UpdateGroup(t.Context(), partnerID, "g1", func(cur store.Group) (store.Group, error) {
			called = true
			return cur, nil
		})
		checkErr(t, "update missing group in partner "+partnerID, err, store.ErrNotFound)
		if called {
			t.Errorf("update of a missing group in partner %q called the callback", partnerID)
		}
	}
}

func testGroupUpdateKeepsIdentity(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	g := createGroup(t, s, "acme", "g1", "Engineering")

	tests := []struct {
		name   string
		change func(*store.Group)
	}{
		{"ID", func(g *store.Group) { g.ID = "g2" }},
		{"PartnerID", func(g *store.Group) { g.PartnerID = "other" }},
	}
	for _, tc := range tests {
		// Refusing the change and ignoring it both keep the identity.
		got, err := s.UpdateGroup(t.Context(), "acme", "g1", func(cur store.Group) (store.Group, error) {
			tc.change(&cur)
			return cur, nil
		})
		if err == nil && (got.ID != "g1" || got.PartnerID != "acme") {
			t.Errorf("changing %s: update returned group %q in partner %q, want %q in %q",
				tc.name, got.ID, got.PartnerID, "g1", "acme")
		}
		checkGroupStored(t, s, g)
		checkGroupGone(t, s, "acme", "g2")
		checkGroupGone(t, s, "other", "g1")
	}
}

func testGroupMembers(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	for _, id := range []string{"u1", "u2", "u3", "u4"} {
		createUser(t, s, "acme", id, id+"@example.com")
	}
	g1 := createGroup(t, s, "acme", "g1", "Engineering")
	createGroup(t, s, "acme", "g2", "Sales")

	addMembers(t, s, "acme", "g1", "u3", "u1")
	// Adding a member again, or twice in one call, keeps it a member once.
	addMembers(t, s, "acme", "g1", "u1", "u2", "u2")
	addMembers(t, s, "acme", "g2", "u1")
	checkMembers(t, s, "acme", "g1", "u1", "u2", "u3")
	checkMembers(t, s, "acme", "g2", "u1")
	checkUserGroups(t, s, "acme", "u1", "g1", "g2")
	checkUserGroups(t, s, "acme", "u4")
	checkPaging(t, "members of g1", []string{"u1", "u2", "u3"}, func(page store.Page) ([]string, error) {
		return s.ListGroupMembers(ctx, "acme", "g1", page)
	})
	// Membership is not the group's content: the group record stays.
	checkGroupStored(t, s, g1)

	// Non-members and unknown ids are ignored.
	if err := s.RemoveGroupMembers(ctx, "acme", "g1", []string{"u2", "u4", "nobody"}); err != nil {
		t.Fatalf("remove members: %v", err)
	}
	checkMembers(t, s, "acme", "g1", "u1", "u3")
	checkMembers(t, s, "acme", "g2", "u1")
	checkUserGroups(t, s, "acme", "u2")

	for _, ids := range [][]string{nil, {}} {
		if err := s.AddGroupMembers(ctx, "acme", "g1", ids); err != nil {
			t.Errorf("add no members: %v", err)
		}
		if err := s.RemoveGroupMembers(ctx, "acme", "g1", ids); err != nil {
			t.Errorf("remove no members: %v", err)
		}
	}
	checkMembers(t, s, "acme", "g1", "u1", "u3")

	checkErr(t, "add members to a missing group", s.AddGroupMembers(ctx, "acme", "nobody", []string{"u1"}), store.ErrNotFound)
	checkErr(t, "remove members from a missing group", s.RemoveGroupMembers(ctx, "acme", "nobody", []string{"u1"}), store.ErrNotFound)
	_, err := s.ListGroupMembers(ctx, "acme", "nobody", store.Page{})
	checkErr(t, "list members of a missing group", err, store.ErrNotFound)
	checkUserGroups(t, s, "acme", "u1", "g1", "g2")
}

func testGroupAddMissingUser(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	createUser(t, s, "acme", "u2", "bob@example.com")
	createGroup(t, s, "acme", "g1", "Engineering")
	addMembers(t, s, "acme", "g1", "u2")

	err := s.AddGroupMembers(t.Context(), "acme", "g1", []string{"u1", "nobody"})
	checkErr(t, "add a missing user", err, store.ErrNotFound)
	// Nothing written: not even the user who exists.
	checkMembers(t, s, "acme", "g1", "u2")
	checkUserGroups(t, s, "acme", "u1")
}

func testGroupDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createUser(t, s, "acme", "u1", "alice@example.com")
	createUser(t, s, "acme", "u2", "bob@example.com")
	g1 := createGroup(t, s, "acme", "g1", "Engineering")
	g2 := createGroup(t, s, "acme", "g2", "Sales")
	addMembers(t, s, "acme", "g1", "u1", "u2")
	addMembers(t, s, "acme", "g2", "u1")
	createRoleMapping(t, s, newRoleMapping("acme", "m1", "g1", "admin"))
	createRoleMapping(t, s, newRoleMapping("acme", "m2", "g1", "viewer"))
	kept := createRoleMapping(t, s, newRoleMapping("acme", "m3", "g2", "admin"))

	if err := s.DeleteGroup(ctx, "acme", "g1"); err != nil {
		t.Fatalf("delete group: %v", err)
	}
	checkGroupGone(t, s, "acme", "g1")
	checkUserGroups(t, s, "acme", "u1", "g2")
	checkUserGroups(t, s, "acme", "u2")
	checkRoleMappingGone(t, s, "acme", "m1")
	checkRoleMappingGone(t, s, "acme", "m2")
	checkGroupStored(t, s, g2)
	checkMembers(t, s, "acme", "g2", "u1")
	checkRoleMappingStored(t, s, kept)
	checkList(t, "groups", listGroups(t, s, "acme"), []store.Group{g2}, normGroup)
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), []store.RoleMapping{kept}, normRoleMapping)

	// A group created again under the same id and name inherits nothing.
	createGroup(t, s, "acme", "g1", g1.Name)
	checkMembers(t, s, "acme", "g1")
	createRoleMapping(t, s, newRoleMapping("acme", "m4", "g1", "admin"))
	checkErr(t, "delete missing group", s.DeleteGroup(ctx, "acme", "nobody"), store.ErrNotFound)
}

// testGroupConcurrentMembership races membership changes against each
// other and against updates of the members: no write may be lost and the
// two sides of each membership must agree.
func testGroupConcurrentMembership(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	var ids, even []string
	for i := range 8 {
		id := fmt.Sprintf("u%d", i)
		createUser(t, s, "acme", id, id+"@example.com")
		ids = append(ids, id)
		if i%2 == 0 {
			even = append(even, id)
		}
	}
	for _, id := range []string{"g1", "g2", "g3"} {
		createGroup(t, s, "acme", id, "Group "+id)
	}

	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			for _, gid := range []string{"g1", "g2"} {
				if err := s.AddGroupMembers(ctx, "acme", gid, []string{id}); err != nil {
					t.Errorf("add %q to %q: %v", id, gid, err)
				}
			}
			if i%2 == 1 {
				if err := s.RemoveGroupMembers(ctx, "acme", "g2", []string{id}); err != nil {
					t.Errorf("remove %q: %v", id, err)
				}
			}
		})
		wg.Go(func() {
			_, err := s.UpdateUser(ctx, "acme", id, func(cur store.User) (store.User, error) {
				cur.Name += "+"
				return cur, nil
			})
			if err != nil {
				t.Errorf("update user %q: %v", id, err)
			}
		})
	}
	wg.Go(func() {
		if err := s.AddGroupMembers(ctx, "acme", "g3", ids); err != nil {
			t.Errorf("add all to g3: %v", err)
		}
	})
	wg.Wait()

	checkMembers(t, s, "acme", "g1", ids...)
	checkMembers(t, s, "acme", "g2", even...)
	checkMembers(t, s, "acme", "g3", ids...)
	for _, u := range listUsers(t, s, "acme") {
		if !strings.HasSuffix(u.Name, "+") {
			t.Errorf("user %q lost its concurrent update: name %q", u.ID, u.Name)
		}
	}
}
