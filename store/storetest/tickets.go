package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var ticketTests = []subtest{
	{"PutGet", testTicketPutGet},
	{"PutDuplicate", testTicketPutDuplicate},
	{"Take", testTicketTake},
	{"Expiry", testTicketExpiry},
	{"ConcurrentTake", testTicketConcurrentTake},
}

// ticketTTL outlives any test that does not wait for expiry.
const ticketTTL = time.Hour

// ticketPayload is binary, not text, to catch a backend that mangles bytes.
var ticketPayload = []byte("invite\x00\xff\xfe{\"user\":\"u1\"}")

func putTicket(t *testing.T, s store.Store, partnerID, id string, payload []byte) {
	t.Helper()
	if err := s.PutTicket(t.Context(), partnerID, id, payload, ticketTTL); err != nil {
		t.Fatalf("put ticket %q in partner %q: %v", id, partnerID, err)
	}
}

// checkTicket reads a ticket without taking it.
func checkTicket(t *testing.T, s store.Store, partnerID, id string, want []byte) {
	t.Helper()
	got, err := s.GetTicket(t.Context(), partnerID, id)
	if err != nil {
		t.Errorf("get ticket %q in partner %q: %v", id, partnerID, err)
		return
	}
	if !bytes.Equal(got, want) {
		t.Errorf("ticket %q in partner %q: got %q, want %q", id, partnerID, got, want)
	}
}

func checkTicketGone(t *testing.T, s store.Store, partnerID, id string) {
	t.Helper()
	_, err := s.GetTicket(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get ticket %q in partner %q", id, partnerID), err, store.ErrNotFound)
	_, err = s.TakeTicket(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("take ticket %q in partner %q", id, partnerID), err, store.ErrNotFound)
}

func testTicketPutGet(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putTicket(t, s, "acme", "k1", ticketPayload)
	putTicket(t, s, "acme", "k2", []byte{})
	// The partner need not exist.
	putTicket(t, s, "nobody", "k1", []byte("login state"))

	// Reading does not use a ticket up.
	for range 2 {
		checkTicket(t, s, "acme", "k1", ticketPayload)
	}
	checkTicket(t, s, "acme", "k2", nil)
	checkTicket(t, s, "nobody", "k1", []byte("login state"))
	checkTicketGone(t, s, "acme", "nobody")
}

func testTicketPutDuplicate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putTicket(t, s, "acme", "k1", ticketPayload)

	err := s.PutTicket(t.Context(), "acme", "k1", []byte("replacement"), ticketTTL)
	checkErr(t, "put ticket with a live id", err, store.ErrAlreadyExists)
	checkTicket(t, s, "acme", "k1", ticketPayload)
}

func testTicketTake(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	putTicket(t, s, "acme", "k1", ticketPayload)
	putTicket(t, s, "acme", "k2", []byte("kept"))

	got, err := s.TakeTicket(ctx, "acme", "k1")
	if err != nil {
		t.Fatalf("take ticket: %v", err)
	}
	if !bytes.Equal(got, ticketPayload) {
		t.Errorf("taken ticket: got %q, want %q", got, ticketPayload)
	}
	checkTicketGone(t, s, "acme", "k1")
	checkTicket(t, s, "acme", "k2", []byte("kept"))

	// A used id may be issued again.
	putTicket(t, s, "acme", "k1", []byte("second"))
	checkTicket(t, s, "acme", "k1", []byte("second"))
}

func testTicketExpiry(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	const ttl = time.Second
	start := time.Now()
	if err := s.PutTicket(ctx, "acme", "short", ticketPayload, ttl); err != nil {
		t.Fatalf("put ticket: %v", err)
	}
	putTicket(t, s, "acme", "long", []byte("long"))

	// On a loaded machine this read may land after expiry; only an answer
	// given before that proves anything.
	got, err := s.GetTicket(ctx, "acme", "short")
	if time.Now().Before(start.Add(ttl)) {
		if err != nil {
			t.Errorf("get ticket before it expired: %v", err)
		} else if !bytes.Equal(got, ticketPayload) {
			t.Errorf("ticket before it expired: got %q, want %q", got, ticketPayload)
		}
	}

	// The expiry counts from no earlier than start.
	time.Sleep(time.Until(start.Add(ttl + 250*time.Millisecond)))
	checkTicketGone(t, s, "acme", "short")
	checkTicket(t, s, "acme", "long", []byte("long"))
	// An expired id is free again.
	putTicket(t, s, "acme", "short", []byte("again"))
	checkTicket(t, s, "acme", "short", []byte("again"))
}

// testTicketConcurrentTake races takes of one ticket: exactly one may get
// it.
func testTicketConcurrentTake(t *testing.T, s store.Store) {
	const workers = 16
	createPartner(t, s, "acme")
	putTicket(t, s, "acme", "k1", ticketPayload)

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		wins int
	)
	for range workers {
		wg.Go(func() {
			got, err := s.TakeTicket(t.Context(), "acme", "k1")
			switch {
			case err == nil:
				if !bytes.Equal(got, ticketPayload) {
					t.Errorf("taken ticket: got %q, want %q", got, ticketPayload)
				}
				mu.Lock()
				wins++
				mu.Unlock()
			case !errors.Is(err, store.ErrNotFound):
				t.Errorf("take ticket: %v", err)
			}
		})
	}
	wg.Wait()

	if wins != 1 {
		t.Errorf("%d concurrent takes of one ticket succeeded, want 1", wins)
	}
	checkTicketGone(t, s, "acme", "k1")
}
