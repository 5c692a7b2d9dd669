package storetest

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var partnerTests = []subtest{
	{"CreateGetList", testPartnerCreateGetList},
	{"CreateDuplicateID", testPartnerCreateDuplicateID},
	{"CreateHostnameTaken", testPartnerCreateHostnameTaken},
	{"Update", testPartnerUpdate},
	{"Suspend", testPartnerSuspend},
	{"UpdateHostnameTaken", testPartnerUpdateHostnameTaken},
	{"UpdateCallbackError", testPartnerUpdateCallbackError},
	{"UpdateMissing", testPartnerUpdateMissing},
	{"UpdateKeepsID", testPartnerUpdateKeepsID},
	{"Delete", testPartnerDelete},
	{"DeleteAccess", testPartnerDeleteAccess},
	{"ConcurrentUpdate", testPartnerConcurrentUpdate},
}

func listPartners(t *testing.T, s store.Store) []store.Partner {
	t.Helper()
	got, err := s.ListPartners(t.Context())
	if err != nil {
		t.Fatalf("list partners: %v", err)
	}
	// The contract leaves the order open.
	return slices.SortedFunc(slices.Values(got), func(a, b store.Partner) int { return strings.Compare(a.ID, b.ID) })
}

func testPartnerCreateGetList(t *testing.T, s store.Store) {
	checkList(t, "partners of an empty store", listPartners(t, s), nil, normPartner)

	b := createPartner(t, s, "beta")
	a := createPartner(t, s, "acme", "login.acme.example", "sso.acme.example")
	c := createPartner(t, s, "corp", "corp.example")
	for _, p := range []store.Partner{a, b, c} {
		checkPartnerStored(t, s, p)
	}
	checkList(t, "partners", listPartners(t, s), []store.Partner{a, b, c}, normPartner)
	checkPartnerGone(t, s, "nobody")
}

func testPartnerCreateDuplicateID(t *testing.T, s store.Store) {
	p := createPartner(t, s, "acme", "a.example")
	dup := newPartner("acme", "b.example")
	dup.Name = "Impostor"

	err := s.CreatePartner(t.Context(), dup)
	checkErr(t, "create partner with taken id", err, store.ErrAlreadyExists)
	checkPartnerStored(t, s, p)
	// The failed create must not have claimed its hostname.
	createPartner(t, s, "other", "b.example")
}

func testPartnerCreateHostnameTaken(t *testing.T, s store.Store) {
	owner := createPartner(t, s, "acme", "login.example")

	err := s.CreatePartner(t.Context(), newPartner("evil", "free.example", "login.example"))
	checkErr(t, "create partner with a taken hostname", err, store.ErrHostnameTaken)
	checkPartnerGone(t, s, "evil")
	checkPartnerStored(t, s, owner)
	// A partial write would hold free.example now.
	createPartner(t, s, "fair", "free.example")
}

func testPartnerUpdate(t *testing.T, s store.Store) {
	p := createPartner(t, s, "acme", "old.example", "keep.example")
	want := p
	want.Name = "Acme Corp"
	want.Hostnames = []string{"keep.example", "new.example"}
	want.UpdatedAt = p.UpdatedAt.Add(time.Minute)

	got, err := s.UpdatePartner(t.Context(), "acme", func(cur store.Partner) (store.Partner, error) {
		checkEqual(t, "partner passed to update", cur, p, normPartner)
		cur.Name = want.Name
		cur.Hostnames = slices.Clone(want.Hostnames)
		cur.UpdatedAt = want.UpdatedAt
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update partner: %v", err)
	}
	checkEqual(t, "updated partner", got, want, normPartner)
	checkPartnerStored(t, s, want)
	checkList(t, "partners", listPartners(t, s), []store.Partner{want}, normPartner)

	// The dropped hostname is free; the kept and added ones are held.
	createPartner(t, s, "next", "old.example")
	checkHostnamesTaken(t, s, "keep.example", "new.example")
}

func testPartnerSuspend(t *testing.T, s store.Store) {
	createPartner(t, s, "other")
	p := createPartner(t, s, "acme", "acme.example")
	for _, suspended := range []bool{true, false} {
		want := p
		want.Suspended = suspended
		got, err := s.UpdatePartner(t.Context(), "acme", func(cur store.Partner) (store.Partner, error) {
			cur.Suspended = suspended
			return cur, nil
		})
		if err != nil {
			t.Fatalf("set suspended to %v: %v", suspended, err)
		}
		checkEqual(t, "updated partner", got, want, normPartner)
		checkPartnerStored(t, s, want)
		// The directory every node builds reads the list, not single partners.
		if all := listPartners(t, s); len(all) != 2 || all[0].Suspended != suspended || all[1].Suspended {
			t.Errorf("suspended %v: listed %+v", suspended, all)
		}
	}
}

func testPartnerUpdateHostnameTaken(t *testing.T, s store.Store) {
	a := createPartner(t, s, "a", "a.example")
	b := createPartner(t, s, "b", "b.example")

	_, err := s.UpdatePartner(t.Context(), "b", func(cur store.Partner) (store.Partner, error) {
		cur.Name = "Changed"
		cur.Hostnames = []string{"a.example", "c.example"}
		return cur, nil
	})
	checkErr(t, "update partner to a taken hostname", err, store.ErrHostnameTaken)
	checkPartnerStored(t, s, a)
	checkPartnerStored(t, s, b)
	checkHostnamesTaken(t, s, "a.example", "b.example")
	createPartner(t, s, "c", "c.example")
}

func testPartnerUpdateCallbackError(t *testing.T, s store.Store) {
	p := createPartner(t, s, "acme", "acme.example")

	_, err := s.UpdatePartner(t.Context(), "acme", func(cur store.Partner) (store.Partner, error) {
		cur.Name = "Changed"
		cur.Hostnames = []string{"other.example"}
		return cur, errFn
	})
	checkErr(t, "update partner with failing callback", err, errFn)
	checkPartnerStored(t, s, p)
	checkHostnamesTaken(t, s, "acme.example")
	createPartner(t, s, "other", "other.example")
}

func testPartnerUpdateMissing(t *testing.T, s store.Store) {
	called := false
	_, err := s.UpdatePartner(t.Context(), "nobody", func(cur store.Partner) (store.Partner, error) {
		called = true
		return cur, nil
	})
	checkErr(t, "update missing partner", err, store.ErrNotFound)
	if called {
		t.Error("update of a missing partner called the callback")
	}
	checkPartnerGone(t, s, "nobody")
}

func testPartnerUpdateKeepsID(t *testing.T, s store.Store) {
	p := createPartner(t, s, "acme")

	// Refusing the change and ignoring it both keep the id.
	got, err := s.UpdatePartner(t.Context(), "acme", func(cur store.Partner) (store.Partner, error) {
		cur.ID = "renamed"
		return cur, nil
	})
	if err == nil && got.ID != "acme" {
		t.Errorf("update returned partner id %q, want %q", got.ID, "acme")
	}
	checkPartnerStored(t, s, p)
	checkPartnerGone(t, s, "renamed")
}

func testPartnerDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "victim", "v1.example", "v2.example")
	victim := createUser(t, s, "victim", "u1", "alice@example.com")
	createSession(t, s, newSession("victim", "u1", "victim-s1", now()))
	keep := createPartner(t, s, "keep", "k.example")
	keptUser := createUser(t, s, "keep", "u1", "alice@example.com")
	keptSession := createSession(t, s, newSession("keep", "u1", "keep-s1", now()))

	if err := s.DeletePartner(ctx, "victim"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkPartnerGone(t, s, "victim")
	checkUserGone(t, s, "victim", "u1", "alice@example.com")
	checkSessionGone(t, s, "victim", "victim-s1")
	checkUserSessions(t, s, "victim", "u1")

	checkPartnerStored(t, s, keep)
	checkUserStored(t, s, keptUser)
	checkSessionStored(t, s, keptSession)
	claim := createPartner(t, s, "claim", "v1.example", "v2.example")
	checkList(t, "partners", listPartners(t, s), []store.Partner{claim, keep}, normPartner)

	// A partner created again under the same id inherits nothing, and
	// every index key is free.
	createPartner(t, s, "victim")
	users, err := s.ListUsers(ctx, "victim", store.Page{})
	if err != nil {
		t.Fatalf("list users: %v", err)
	}
	checkList(t, "users of re-created partner", users, nil, normUser)
	checkSessionGone(t, s, "victim", "victim-s1")
	checkUserGone(t, s, "victim", "u1", victim.Email)
	checkByUserName(t, s, "victim", victim.UserName, "")
	checkByExternalID(t, s, "victim", victim.ExternalID, "")
	for _, email := range append([]string{victim.Email}, victim.AltEmails...) {
		checkByEmail(t, s, "victim", email)
	}
	checkUserStored(t, s, createUser(t, s, "victim", "u1", "alice@example.com"))
	checkUserSessions(t, s, "victim", "u1")

	checkErr(t, "delete missing partner", s.DeletePartner(ctx, "nobody"), store.ErrNotFound)
}

// testPartnerDeleteAccess checks that deleting a partner takes its groups,
// memberships, role mappings, tokens and tickets, leaving another partner's
// with the same ids alone.
func testPartnerDeleteAccess(t *testing.T, s store.Store) {
	type partner struct {
		id      string
		group   store.Group
		mapping store.RoleMapping
		tokens  []store.Token
	}
	victim, keep := partner{id: "victim"}, partner{id: "keep"}
	for _, p := range []*partner{&victim, &keep} {
		createPartner(t, s, p.id)
		createUser(t, s, p.id, "u1", "alice@example.com")
		p.group = createGroup(t, s, p.id, "g1", "Engineering")
		addMembers(t, s, p.id, "g1", "u1")
		p.mapping = createRoleMapping(t, s, newRoleMapping(p.id, "m1", "g1", "admin"))
		p.tokens = []store.Token{
			createToken(t, s, newToken(p.id, "t1", store.AdminToken)),
			createToken(t, s, newToken(p.id, "t2", store.SCIMToken)),
		}
		putTicket(t, s, p.id, "k1", ticketPayload)
	}

	if err := s.DeletePartner(t.Context(), "victim"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkGroupGone(t, s, "victim", "g1")
	checkRoleMappingGone(t, s, "victim", "m1")
	checkTokenGone(t, s, "victim", "t1")
	checkTokenGone(t, s, "victim", "t2")
	checkTicketGone(t, s, "victim", "k1")

	checkGroupStored(t, s, keep.group)
	checkMembers(t, s, "keep", "g1", "u1")
	checkUserGroups(t, s, "keep", "u1", "g1")
	checkRoleMappingStored(t, s, keep.mapping)
	for _, tok := range keep.tokens {
		checkTokenStored(t, s, tok)
	}
	checkTicket(t, s, "keep", "k1", ticketPayload)

	// A partner created again under the same id inherits nothing, and its
	// names, ids and pairs are free.
	createPartner(t, s, "victim")
	checkList(t, "groups of re-created partner", listGroups(t, s, "victim"), nil, normGroup)
	checkGroupByName(t, s, "victim", victim.group.Name, "")
	checkGroupByExternalID(t, s, "victim", victim.group.ExternalID, "")
	checkList(t, "role mappings of re-created partner", listRoleMappings(t, s, "victim"), nil, normRoleMapping)
	for _, kind := range []store.TokenKind{store.AdminToken, store.SCIMToken} {
		checkList(t, string(kind)+" tokens of re-created partner", listTokens(t, s, "victim", kind), nil, normToken)
	}
	createUser(t, s, "victim", "u1", "alice@example.com")
	createGroup(t, s, "victim", "g1", "Engineering")
	checkMembers(t, s, "victim", "g1")
	checkUserGroups(t, s, "victim", "u1")
	createRoleMapping(t, s, newRoleMapping("victim", "m1", "g1", "admin"))
	createToken(t, s, newToken("victim", "t1", store.AdminToken))
	putTicket(t, s, "victim", "k1", ticketPayload)
}

func testPartnerConcurrentUpdate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	const workers, rounds = 8, 5

	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				_, err := s.UpdatePartner(t.Context(), "acme", func(cur store.Partner) (store.Partner, error) {
					cur.Name += "+"
					return cur, nil
				})
				if err != nil {
					t.Errorf("update partner: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	got, err := s.GetPartner(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get partner: %v", err)
	}
	if n := strings.Count(got.Name, "+"); n != workers*rounds {
		t.Errorf("partner name has %d of %d concurrent updates: %q", n, workers*rounds, got.Name)
	}
}
