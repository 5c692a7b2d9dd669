package redis

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// seedAccess creates partner id with a provisioned user, a group with the
// user as member, a role mapping, a token and a ticket.
func seedAccess(t *testing.T, s *Store, id string) {
	t.Helper()
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: id}))
	must(t, s.CreateUser(ctx, store.User{
		ID: "u1", PartnerID: id, Email: "Alice@Example.com",
		UserName: "ALiddell", ExternalID: "Ext-1", AltEmails: []string{"A.Liddell@Example.org"},
	}))
	must(t, s.CreateGroup(ctx, store.Group{ID: "g1", PartnerID: id, Name: "Engineering", ExternalID: "Ext-G1"}))
	must(t, s.AddGroupMembers(ctx, id, "g1", []string{"u1"}))
	must(t, s.CreateRoleMapping(ctx, store.RoleMapping{ID: "m1", PartnerID: id, GroupID: "g1", Role: "admin"}))
	must(t, s.CreateToken(ctx, store.Token{ID: "t1", PartnerID: id, Kind: store.AdminToken}))
	must(t, s.PutTicket(ctx, id, "k1", []byte("payload"), time.Hour))
}

func TestAccessKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	seedAccess(t, s, "acme")
	seedAccess(t, s, "globex")

	var got []string
	for _, k := range allKeys(t, s) {
		if strings.HasPrefix(k, "pg:{acme}:") {
			got = append(got, strings.TrimPrefix(k, "pg:{acme}:"))
		}
	}
	want := []string{
		"altemail:a.liddell@example.org",
		"email:alice@example.com",
		"externalid:Ext-1",
		"group:g1",
		"groupexternalid:Ext-G1",
		"groupmembers:g1",
		"groupname:engineering",
		"grouproles:g1",
		"groups",
		"partner",
		"rolemapping:m1",
		"rolemappings",
		"ticket:k1",
		"token:t1",
		"tokens:admin",
		"user:u1",
		"username:aliddell",
		"users",
	}
	if !slices.Equal(got, want) {
		t.Errorf("keys of partner acme:\n got  %q\n want %q", got, want)
	}
	ttl, err := s.client.PTTL(t.Context(), "pg:{acme}:ticket:k1").Result()
	must(t, err)
	if ttl < 59*time.Minute || ttl > time.Hour {
		t.Errorf("ticket TTL %v, want about an hour", ttl)
	}

	// Every one of them lives under the partner's prefix, so DeletePartner's
	// sweep takes them all, and only them.
	before := allKeys(t, s)
	must(t, s.DeletePartner(t.Context(), "acme"))
	var kept []string
	for _, k := range before {
		if !strings.HasPrefix(k, "pg:{acme}:") {
			kept = append(kept, k)
		}
	}
	if after := allKeys(t, s); !slices.Equal(after, kept) {
		t.Errorf("keys after deleting partner acme:\n got  %q\n want %q", after, kept)
	}
}

// TestListReadsPastHoles removes a user's record behind the id index, as a
// delete landing between ListUsers' two reads does: the page must still
// fill up, so that a short page keeps meaning the end of the list.
func TestListReadsPastHoles(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	for _, id := range []string{"u1", "u2", "u3", "u4", "u5"} {
		must(t, s.CreateUser(ctx, store.User{ID: id, PartnerID: "acme", Email: id + "@example.com"}))
	}
	must(t, s.client.Del(ctx, "pg:{acme}:user:u2", "pg:{acme}:user:u3").Err())

	for _, tc := range []struct {
		page store.Page
		want []string
	}{
		{store.Page{Limit: 2}, []string{"u1", "u4"}},
		{store.Page{After: "u1", Limit: 3}, []string{"u4", "u5"}},
		{store.Page{}, []string{"u1", "u4", "u5"}},
	} {
		users, err := s.ListUsers(ctx, "acme", tc.page)
		must(t, err)
		var got []string
		for _, u := range users {
			got = append(got, u.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("users, page %+v: got %q, want %q", tc.page, got, tc.want)
		}
	}
}

func TestNegativePageLimit(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	must(t, s.CreateGroup(ctx, store.Group{ID: "g1", PartnerID: "acme", Name: "Engineering"}))
	page := store.Page{Limit: -1}
	calls := map[string]func() error{
		"ListUsers":        func() error { _, err := s.ListUsers(ctx, "acme", page); return err },
		"ListGroups":       func() error { _, err := s.ListGroups(ctx, "acme", page); return err },
		"ListGroupMembers": func() error { _, err := s.ListGroupMembers(ctx, "acme", "g1", page); return err },
	}
	for name, call := range calls {
		if err := call(); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s with a negative limit: got %v, want an invalid page error", name, err)
		}
	}
}

// TestIndexKeysFollowRecords checks that updates and deletes take their
// index keys along. FindUsersByEmail drops stale alt email set members
// from its answer, so through the Store a leak would go unseen while the
// partner's keys grew.
func TestIndexKeysFollowRecords(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	seedAccess(t, s, "acme")
	indexKeys := func() []string {
		var keys []string
		for _, k := range allKeys(t, s) {
			k = strings.TrimPrefix(k, "pg:{acme}:")
			for _, index := range []string{"email:", "username:", "externalid:", "altemail:", "groupname:", "groupexternalid:"} {
				if strings.HasPrefix(k, index) {
					keys = append(keys, k)
				}
			}
		}
		return keys
	}

	_, err := s.UpdateUser(ctx, "acme", "u1", func(u store.User) (store.User, error) {
		u.Email, u.UserName, u.ExternalID = "b@example.com", "B", "Ext-2"
		u.AltEmails = []string{"b1@example.org", "B2@example.org", "b2@EXAMPLE.org"}
		return u, nil
	})
	must(t, err)
	_, err = s.UpdateGroup(ctx, "acme", "g1", func(g store.Group) (store.Group, error) {
		g.Name, g.ExternalID = "Platform", "Ext-G2"
		return g, nil
	})
	must(t, err)
	want := []string{
		"altemail:b1@example.org",
		"altemail:b2@example.org",
		"email:b@example.com",
		"externalid:Ext-2",
		"groupexternalid:Ext-G2",
		"groupname:platform",
		"username:b",
	}
	if got := indexKeys(); !slices.Equal(got, want) {
		t.Errorf("index keys after updates:\n got  %q\n want %q", got, want)
	}

	must(t, s.DeleteUser(ctx, "acme", "u1"))
	must(t, s.DeleteGroup(ctx, "acme", "g1"))
	if got := indexKeys(); len(got) > 0 {
		t.Errorf("index keys left after deleting their records: %q", got)
	}
}
