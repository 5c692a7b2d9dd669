package bolt

import (
	"context"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// Ticket ids are bearer secrets, so no error message carries one.

// ticket is one ticket as stored.
type ticket struct {
	Payload   []byte    `json:"payload"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (t ticket) live(now time.Time) bool { return now.Before(t.ExpiresAt) }

// getLiveTicket reads a ticket; an expired one is store.ErrNotFound.
func getLiveTicket(tx *bbolt.Tx, partnerID, id string) (ticket, error) {
	var t ticket
	if err := getJSON(nested(tx, bucketTickets, partnerID), id, &t); err != nil {
		return ticket{}, err
	}
	if !t.live(time.Now()) {
		return ticket{}, store.ErrNotFound
	}
	return t, nil
}

// PutTicket implements store.Tickets. An expired ticket the sweeper has
// not removed yet is overwritten.
func (s *Store) PutTicket(ctx context.Context, partnerID, id string, payload []byte, ttl time.Duration) error {
	err := s.putTicket(ctx, partnerID, id, payload, ttl)
	if err != nil {
		return fmt.Errorf("put ticket in partner %q: %w", partnerID, err)
	}
	return nil
}

func (s *Store) putTicket(ctx context.Context, partnerID, id string, payload []byte, ttl time.Duration) error {
	if ttl <= 0 {
		return fmt.Errorf("time-to-live %v is not positive", ttl)
	}
	return s.update(ctx, func(tx *bbolt.Tx) error {
		b, err := nestedForWrite(tx, bucketTickets, partnerID)
		if err != nil {
			return err
		}
		switch _, err := getLiveTicket(tx, partnerID, id); {
		case err == nil:
			return store.ErrAlreadyExists
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		return putJSON(b, id, ticket{Payload: payload, ExpiresAt: time.Now().Add(ttl).UTC()})
	})
}

// GetTicket implements store.Tickets.
func (s *Store) GetTicket(ctx context.Context, partnerID, id string) ([]byte, error) {
	var t ticket
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		t, err = getLiveTicket(tx, partnerID, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get ticket in partner %q: %w", partnerID, err)
	}
	return t.Payload, nil
}

// TakeTicket implements store.Tickets. Write transactions run one at a
// time, so of two takes only the first finds the ticket.
func (s *Store) TakeTicket(ctx context.Context, partnerID, id string) ([]byte, error) {
	var t ticket
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		var err error
		if t, err = getLiveTicket(tx, partnerID, id); err != nil {
			return err
		}
		return nested(tx, bucketTickets, partnerID).Delete([]byte(id))
	})
	if err != nil {
		return nil, fmt.Errorf("take ticket in partner %q: %w", partnerID, err)
	}
	return t.Payload, nil
}
