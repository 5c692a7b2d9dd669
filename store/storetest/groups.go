package storetest

import (
	"errors"
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
	{"GetByIndexes", testGroupGetByIndexes},
	{"UpdateExternalIDTaken", testGroupUpdateExternalIDTaken},
	{"ConcurrentExternalIDClaims", testGroupConcurrentExternalIDClaims},
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

// checkGroupStored reads the group back by id, by name (in upper case:
// names compare case-insensitively) and by external id if it has one.
func checkGroupStored(t *testing.T, s store.Store, want store.Group) {
	t.Helper()
	ctx := t.Context()
	check := func(how string, got store.Group, err error) {
		t.Helper()
		what := fmt.Sprintf("group %q in partner %q %s", want.ID, want.PartnerID, how)
		if err != nil {
			t.Errorf("get %s: %v", what, err)
			return
		}
		checkEqual(t, what, got, want, normGroup)
	}
	got, err := s.GetGroup(ctx, want.PartnerID, want.ID)
	check("by id", got, err)
	name := strings.ToUpper(want.Name)
	got, err = s.GetGroupByName(ctx, want.PartnerID, name)
	check("by name "+name, got, err)
	if want.ExternalID != "" {
		got, err = s.GetGroupByExternalID(ctx, want.PartnerID, want.ExternalID)
		check("by external id "+want.ExternalID, got, err)
	}
}

// checkGroupByName checks which group GetGroupByName finds: wantID, or
// none for "".
func checkGroupByName(t *testing.T, s store.Store, partnerID, name, wantID string) {
	t.Helper()
	g, err := s.GetGroupByName(t.Context(), partnerID, name)
	checkFoundID(t, fmt.Sprintf("group by name %q in partner %q", name, partnerID), g.ID, err, wantID)
}

// checkGroupByExternalID checks which group GetGroupByExternalID finds:
// wantID, or none for "".
func checkGroupByExternalID(t *testing.T, s store.Store, partnerID, externalID, wantID string) {
	t.Helper()
	g, err := s.GetGroupByExternalID(t.Context(), partnerID, externalID)
	checkFoundID(t, fmt.Sprintf("group by external id %q in partner %q", externalID, partnerID), g.ID, err, wantID)
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

	externalIDTaken := newGroup("acme", "g5", "Marketing")
	externalIDTaken.ExternalID = g.ExternalID
	tests := []struct {
		name  string
		group store.Group
	}{
		{"ID", newGroup("acme", "g1", "Other")},
		{"Name", newGroup("acme", "g2", "Engineering")},
		{"NameInOtherCase", newGroup("acme", "g3", "eNGINEERING")},
		{"ExternalID", externalIDTaken},
	}
	for _, tc := range tests {
		err := s.CreateGroup(t.Context(), tc.group)
		checkErr(t, "create group with taken "+tc.name, err, store.ErrAlreadyExists)
	}
	checkGroupStored(t, s, g)
	for _, id := range []string{"g2", "g3", "g5"} {
		checkGroupGone(t, s, "acme", id)
	}
	// The failed creates must not have claimed their names or external
	// ids.
	checkGroupByExternalID(t, s, "acme", "scim-g2", "")
	checkGroupByName(t, s, "acme", "Marketing", "")
	other := createGroup(t, s, "acme", "g4", "Other")
	marketing := createGroup(t, s, "acme", "g6", "Marketing")
	// External ids compare exactly: one differing in case is another.
	upper := newGroup("acme", "g7", "Sales")
	upper.ExternalID = strings.ToUpper(g.ExternalID)
	if err := s.CreateGroup(t.Context(), upper); err != nil {
		t.Fatalf("create group with an external id differing only in case: %v", err)
	}
	checkGroupStored(t, s, upper)
	checkGroupStored(t, s, g)
	checkList(t, "groups", listGroups(t, s, "acme"), []store.Group{g, other, marketing, upper}, normGroup)
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
	checkGroupByName(t, s, "acme", g.Name, "")
	checkGroupByExternalID(t, s, "acme", g.ExternalID, "")

	// The old name and external id are free again; the case of the new
	// name is the group's own to change.
	again := newGroup("acme", "g2", "ENGINEERING")
	again.ExternalID = g.ExternalID
	if err := s.CreateGroup(t.Context(), again); err != nil {
		t.Fatalf("create group with the name and external id an update gave up: %v", err)
	}
	checkGroupStored(t, s, again)
	want.Name = "PLATFORM"
	_, err = s.UpdateGroup(t.Context(), "acme", "g1", func(cur store.Group) (store.Group, error) {
		cur.Name = want.Name
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update the case of a group's own name: %v", err)
	}
	checkGroupStored(t, s, want)

	// Without an external id the group is found by none.
	want.ExternalID = ""
	_, err = s.UpdateGroup(t.Context(), "acme", "g1", func(cur store.Group) (store.Group, error) {
		cur.ExternalID = ""
		return cur, nil
	})
	if err != nil {
		t.Fatalf("clear a group's external id: %v", err)
	}
	checkGroupStored(t, s, want)
	checkGroupByExternalID(t, s, "acme", "scim-renamed", "")
	checkGroupByExternalID(t, s, "acme", "", "")
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
	checkGroupByExternalID(t, s, "acme", "changed", "")
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
	checkGroupByName(t, s, "acme", g1.Name, "")
	checkGroupByExternalID(t, s, "acme", g1.ExternalID, "")
	checkUserGroups(t, s, "acme", "u1", "g2")
	checkUserGroups(t, s, "acme", "u2")
	checkRoleMappingGone(t, s, "acme", "m1")
	checkRoleMappingGone(t, s, "acme", "m2")
	checkGroupStored(t, s, g2)
	checkMembers(t, s, "acme", "g2", "u1")
	checkRoleMappingStored(t, s, kept)
	checkList(t, "groups", listGroups(t, s, "acme"), []store.Group{g2}, normGroup)
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), []store.RoleMapping{kept}, normRoleMapping)

	// A group created again under the same id, name and external id
	// inherits nothing.
	checkGroupStored(t, s, createGroup(t, s, "acme", "g1", g1.Name))
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

func testGroupGetByIndexes(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	g := createGroup(t, s, "acme", "g1", "Engineering")
	createGroup(t, s, "acme", "g2", "Sales")
	// Groups without an external id are any number, found by none.
	for _, id := range []string{"g3", "g4"} {
		bare := newGroup("acme", id, "Group "+id)
		bare.ExternalID = ""
		if err := s.CreateGroup(t.Context(), bare); err != nil {
			t.Fatalf("create group %q without external id: %v", id, err)
		}
		checkGroupStored(t, s, bare)
	}
	checkGroupStored(t, s, g)

	for _, tc := range []struct{ name, want string }{
		{"Engineering", "g1"},
		{"engineering", "g1"},
		{"ENGINEERING", "g1"},
		{"eNgInEeRiNg", "g1"},
		{"Engineerin", ""},
		{"Engineering ", ""},
		{"", ""},
		{"Group g3", "g3"},
	} {
		checkGroupByName(t, s, "acme", tc.name, tc.want)
	}
	for _, tc := range []struct{ externalID, want string }{
		{"scim-g1", "g1"},
		{"SCIM-G1", ""},
		{"scim-g", ""},
		{"", ""},
		{"scim-g2", "g2"},
	} {
		checkGroupByExternalID(t, s, "acme", tc.externalID, tc.want)
	}
	checkGroupByName(t, s, "nobody", "Engineering", "")
	checkGroupByExternalID(t, s, "nobody", "scim-g1", "")
}

func testGroupUpdateExternalIDTaken(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	a := createGroup(t, s, "acme", "g1", "Engineering")
	b := createGroup(t, s, "acme", "g2", "Sales")

	_, err := s.UpdateGroup(t.Context(), "acme", "g2", func(cur store.Group) (store.Group, error) {
		cur.Name = "Renamed"
		cur.ExternalID = a.ExternalID
		return cur, nil
	})
	checkErr(t, "update group to a taken external id", err, store.ErrAlreadyExists)
	checkGroupStored(t, s, a)
	checkGroupStored(t, s, b)
	// The refused update claimed nothing and gave up nothing.
	checkGroupByName(t, s, "acme", "Renamed", "")
	taken := newGroup("acme", "g3", "Other")
	taken.ExternalID = b.ExternalID
	err = s.CreateGroup(t.Context(), taken)
	checkErr(t, "create group with the external id kept by a refused update", err, store.ErrAlreadyExists)
}

// testGroupConcurrentExternalIDClaims races updates of several groups to
// one external id: exactly one may win, and the others must be left as
// they were.
func testGroupConcurrentExternalIDClaims(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	const workers = 8
	var groups []store.Group
	for i := range workers {
		id := fmt.Sprintf("g%d", i)
		groups = append(groups, createGroup(t, s, "acme", id, "Group "+id))
	}

	var (
		mu  sync.Mutex
		won []string
		wg  sync.WaitGroup
	)
	lineUp := rendezvous(workers)
	for _, g := range groups {
		wg.Go(func() {
			_, err := s.UpdateGroup(ctx, "acme", g.ID, func(cur store.Group) (store.Group, error) {
				lineUp()
				cur.ExternalID = "contested"
				return cur, nil
			})
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, g.ID)
				mu.Unlock()
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("update group %q: %v", g.ID, err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d updates to one external id succeeded (%q), want 1", len(won), won)
	}
	checkGroupByExternalID(t, s, "acme", "contested", won[0])
	for _, g := range groups {
		if g.ID == won[0] {
			g.ExternalID = "contested"
		}
		checkGroupStored(t, s, g)
	}
}
