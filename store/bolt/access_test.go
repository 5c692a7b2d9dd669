package bolt

import (
	"errors"
	"path/filepath"
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
