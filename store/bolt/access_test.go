package bolt

import (
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

func TestSweepRemovesExpiredTickets(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	if err := s.CreatePartner(ctx, store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	for id, life := range map[string]time.Duration{"short": time.Minute, "long": time.Hour} {
		if err := s.PutTicket(ctx, "acme", id, []byte(id), life); err != nil {
			t.Fatal(err)
		}
	}
	// Tickets need no partner; the sweeper must not leave an empty bucket
	// behind for an id that names none.
	if err := s.PutTicket(ctx, "nobody", "short", []byte("x"), time.Minute); err != nil {
		t.Fatal(err)
	}

	if err := s.sweep(time.Now().Add(30 * time.Minute)); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	// Read the raw buckets: reads through the Store filter by the real clock.
	err := s.db.View(func(tx *bbolt.Tx) error {
		tickets := nested(tx, bucketTickets, "acme")
		if tickets.Get([]byte("short")) != nil {
			t.Error("expired ticket survived the sweep")
		}
		if tickets.Get([]byte("long")) == nil {
			t.Error("live ticket swept")
		}
		if nested(tx, bucketTickets, "nobody") != nil {
			t.Error("sweep left the emptied bucket of a partner id without records")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNegativePageLimit(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	if err := s.CreatePartner(ctx, store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, store.Group{ID: "g1", PartnerID: "acme", Name: "Engineering"}); err != nil {
		t.Fatal(err)
	}
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

// TestIndexBucketsFollowRecords checks that updates and deletes take their
// index entries along, the alt email buckets emptied included: the Store
// never reads an empty one, so through it a leak would go unseen while the
// file grew.
func TestIndexBucketsFollowRecords(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "partnergate.db"))
	if err := s.CreatePartner(ctx, store.Partner{ID: "acme"}); err != nil {
		t.Fatal(err)
	}
	u := store.User{
		ID: "u1", PartnerID: "acme", Email: "a@example.com",
		UserName: "A", ExternalID: "ext-1", AltEmails: []string{"a1@example.org", "a2@example.org"},
	}
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateGroup(ctx, store.Group{ID: "g1", PartnerID: "acme", Name: "Engineering", ExternalID: "ext-g1"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.UpdateUser(ctx, "acme", "u1", func(u store.User) (store.User, error) {
		u.AltEmails = []string{"a2@example.org", "a3@example.org"}
		return u, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Keys in an index bucket; an alt email's bucket counts as its key.
	entries := func(root []byte) []string {
		var keys []string
		err := s.db.View(func(tx *bbolt.Tx) error {
			b := nested(tx, root, "acme")
			if b == nil {
				return nil
			}
			return b.ForEach(func(k, _ []byte) error {
				keys = append(keys, string(k))
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	if got, want := entries(bucketAltEmails), []string{"a2@example.org", "a3@example.org"}; !slices.Equal(got, want) {
		t.Errorf("alt emails indexed after update: got %q, want %q", got, want)
	}

	if err := s.DeleteUser(ctx, "acme", "u1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteGroup(ctx, "acme", "g1"); err != nil {
		t.Fatal(err)
	}
	for _, root := range [][]byte{bucketEmails, bucketUserNames, bucketExternalIDs, bucketAltEmails, bucketGroupNames, bucketGroupExternalIDs} {
		if got := entries(root); len(got) > 0 {
			t.Errorf("%s left after deleting their records: %q", root, got)
		}
	}
}
