package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/partnergate/partnergate/store"
)

var roleMappingTests = []subtest{
	{"CreateGetList", testRoleMappingCreateGetList},
	{"CreateDuplicate", testRoleMappingCreateDuplicate},
	{"CreateNeedsGroup", testRoleMappingCreateNeedsGroup},
	{"Delete", testRoleMappingDelete},
	{"ConcurrentCreate", testRoleMappingConcurrentCreate},
}

func newRoleMapping(partnerID, id, groupID, role string) store.RoleMapping {
	return store.RoleMapping{ID: id, PartnerID: partnerID, GroupID: groupID, Role: role, CreatedAt: now()}
}

func createRoleMapping(t *testing.T, s store.Store, m store.RoleMapping) store.RoleMapping {
	t.Helper()
	if err := s.CreateRoleMapping(t.Context(), m); err != nil {
		t.Fatalf("create role mapping %q in partner %q: %v", m.ID, m.PartnerID, err)
	}
	return m
}

func normRoleMapping(m store.RoleMapping) store.RoleMapping {
	m.CreatedAt = normTime(m.CreatedAt)
	return m
}

func listRoleMappings(t *testing.T, s store.Store, partnerID string) []store.RoleMapping {
	t.Helper()
	got, err := s.ListRoleMappings(t.Context(), partnerID)
	if err != nil {
		t.Fatalf("list role mappings of partner %q: %v", partnerID, err)
	}
	return got
}

func checkRoleMappingStored(t *testing.T, s store.Store, want store.RoleMapping) {
	t.Helper()
	got, err := s.GetRoleMapping(t.Context(), want.PartnerID, want.ID)
	if err != nil {
		t.Errorf("get role mapping %q in partner %q: %v", want.ID, want.PartnerID, err)
		return
	}
	checkEqual(t, "role mapping "+want.ID, got, want, normRoleMapping)
}

func checkRoleMappingGone(t *testing.T, s store.Store, partnerID, id string) {
	t.Helper()
	_, err := s.GetRoleMapping(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get role mapping %q in partner %q", id, partnerID), err, store.ErrNotFound)
}

func testRoleMappingCreateGetList(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "empty")
	createGroup(t, s, "acme", "g1", "Engineering")
	createGroup(t, s, "acme", "g2", "Sales")
	// Ids run against creation order so a creation-ordered list fails.
	m3 := createRoleMapping(t, s, newRoleMapping("acme", "m3", "g1", "admin"))
	m1 := createRoleMapping(t, s, newRoleMapping("acme", "m1", "g1", "viewer"))
	m2 := createRoleMapping(t, s, newRoleMapping("acme", "m2", "g2", "admin"))

	for _, m := range []store.RoleMapping{m1, m2, m3} {
		checkRoleMappingStored(t, s, m)
	}
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), []store.RoleMapping{m1, m2, m3}, normRoleMapping)
	checkList(t, "role mappings of a partner without any", listRoleMappings(t, s, "empty"), nil, normRoleMapping)
	checkRoleMappingGone(t, s, "acme", "nobody")
}

func testRoleMappingCreateDuplicate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createGroup(t, s, "acme", "g1", "Engineering")
	createGroup(t, s, "acme", "g2", "Sales")
	m := createRoleMapping(t, s, newRoleMapping("acme", "m1", "g1", "admin"))

	tests := []struct {
		name    string
		mapping store.RoleMapping
	}{
		{"ID", newRoleMapping("acme", "m1", "g2", "viewer")},
		{"GroupAndRole", newRoleMapping("acme", "m2", "g1", "admin")},
	}
	for _, tc := range tests {
		err := s.CreateRoleMapping(t.Context(), tc.mapping)
		checkErr(t, "create role mapping with taken "+tc.name, err, store.ErrAlreadyExists)
	}
	checkRoleMappingStored(t, s, m)
	checkRoleMappingGone(t, s, "acme", "m2")
	// The same role for another group, or another role for the same
	// group, is no duplicate; nor was either claimed by the failures.
	other := createRoleMapping(t, s, newRoleMapping("acme", "m3", "g2", "admin"))
	viewer := createRoleMapping(t, s, newRoleMapping("acme", "m4", "g2", "viewer"))
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), []store.RoleMapping{m, other, viewer}, normRoleMapping)
}

func testRoleMappingCreateNeedsGroup(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")

	tests := []struct {
		name    string
		mapping store.RoleMapping
	}{
		{"group", newRoleMapping("acme", "m1", "g1", "admin")},
		{"partner", newRoleMapping("nobody", "m1", "g1", "admin")},
	}
	for _, tc := range tests {
		err := s.CreateRoleMapping(t.Context(), tc.mapping)
		checkErr(t, "create role mapping of a missing "+tc.name, err, store.ErrNotFound)
		checkRoleMappingGone(t, s, tc.mapping.PartnerID, "m1")
	}
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), nil, normRoleMapping)
	createGroup(t, s, "acme", "g1", "Engineering")
	createRoleMapping(t, s, newRoleMapping("acme", "m1", "g1", "admin"))
}

func testRoleMappingDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createGroup(t, s, "acme", "g1", "Engineering")
	createRoleMapping(t, s, newRoleMapping("acme", "m1", "g1", "admin"))
	kept := createRoleMapping(t, s, newRoleMapping("acme", "m2", "g1", "viewer"))

	if err := s.DeleteRoleMapping(ctx, "acme", "m1"); err != nil {
		t.Fatalf("delete role mapping: %v", err)
	}
	checkRoleMappingGone(t, s, "acme", "m1")
	checkRoleMappingStored(t, s, kept)
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), []store.RoleMapping{kept}, normRoleMapping)
	checkErr(t, "delete deleted role mapping", s.DeleteRoleMapping(ctx, "acme", "m1"), store.ErrNotFound)

	// The group maps to the role no more, so it may again.
	createRoleMapping(t, s, newRoleMapping("acme", "m3", "g1", "admin"))
}

// testRoleMappingConcurrentCreate races creates of one (group, role) pair
// under different ids: exactly one may win.
func testRoleMappingConcurrentCreate(t *testing.T, s store.Store) {
	const workers = 8
	createPartner(t, s, "acme")
	createGroup(t, s, "acme", "g1", "Engineering")

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins []store.RoleMapping
	)
	for i := range workers {
		wg.Go(func() {
			m := newRoleMapping("acme", fmt.Sprintf("m%d", i), "g1", "admin")
			err := s.CreateRoleMapping(t.Context(), m)
			switch {
			case err == nil:
				mu.Lock()
				wins = append(wins, m)
				mu.Unlock()
			case !errors.Is(err, store.ErrAlreadyExists):
				t.Errorf("create role mapping %q: %v", m.ID, err)
			}
		})
	}
	wg.Wait()

	if len(wins) != 1 {
		t.Fatalf("%d concurrent creates of one group and role succeeded, want 1", len(wins))
	}
	checkList(t, "role mappings", listRoleMappings(t, s, "acme"), wins, normRoleMapping)
}
