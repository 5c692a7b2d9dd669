package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// Tickets are plain strings expiring in Redis, which checks expiry on every
// read to the millisecond, so an expired ticket is gone for GET and GETDEL
// alike. Ticket ids are bearer secrets, so no error message carries one.

// PutTicket implements store.Tickets.
func (s *Store) PutTicket(ctx context.Context, partnerID, id string, payload []byte, ttl time.Duration) error {
	if err := s.putTicket(ctx, partnerID, id, payload, ttl); err != nil {
		return fmt.Errorf("put ticket: %w", err)
	}
	return nil
}

func (s *Store) putTicket(ctx context.Context, partnerID, id string, payload []byte, ttl time.Duration) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	switch {
	case id == "":
		return errEmptyID
	case ttl <= 0:
		return fmt.Errorf("time-to-live %v is not positive", ttl)
	}
	// Rounded up: Redis keeps milliseconds, and 0 would mean no expiry.
	ttl = (ttl + time.Millisecond - 1).Truncate(time.Millisecond)
	created, err := s.client.SetNX(ctx, k.ticket(id), payload, ttl).Result()
	switch {
	case err != nil:
		return classify(err)
	case !created:
		return store.ErrAlreadyExists
	}
	return nil
}

// GetTicket implements store.Tickets.
func (s *Store) GetTicket(ctx context.Context, partnerID, id string) ([]byte, error) {
	payload, err := s.readTicket(ctx, partnerID, id, s.client.Get)
	if err != nil {
		return nil, fmt.Errorf("get ticket: %w", err)
	}
	return payload, nil
}

// TakeTicket implements store.Tickets. GETDEL reads and deletes in one
// command, so of concurrent takes only one finds the ticket.
func (s *Store) TakeTicket(ctx context.Context, partnerID, id string) ([]byte, error) {
	payload, err := s.readTicket(ctx, partnerID, id, s.client.GetDel)
	if err != nil {
		return nil, fmt.Errorf("take ticket: %w", err)
	}
	return payload, nil
}

// readTicket reads the ticket with read, GET or GETDEL.
func (s *Store) readTicket(ctx context.Context, partnerID, id string, read func(context.Context, string) *goredis.StringCmd) ([]byte, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, err
	}
	payload, err := read(ctx, k.ticket(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, classify(err)
	}
	return payload, nil
}
