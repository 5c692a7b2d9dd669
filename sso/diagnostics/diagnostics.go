package diagnostics

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/store"
)

// Status is where a test sign-in is.
type Status string

const (
	Pending   Status = "pending"
	Succeeded Status = "succeeded"
	Failed    Status = "failed"
)

// TTL is how long a test link can be opened and its result read.
const TTL = 30 * time.Minute

// Result is a test sign-in as the admin reads it.
type Result struct {
	ID           string    `json:"id"`
	ConnectionID string    `json:"connection_id"`
	Status       Status    `json:"status"`
	CreatedAt    time.Time `json:"created_at"`
	ExpiresAt    time.Time `json:"expires_at"`
	CompletedAt  time.Time `json:"completed_at,omitzero"`
	// What the IdP asserted, after every check passed.
	Subject string              `json:"subject,omitempty"`
	Issuer  string              `json:"issuer,omitempty"`
	Claims  map[string][]string `json:"claims,omitempty"`
	// What the connection's mapping made of it.
	Profile *sso.Profile `json:"profile,omitempty"`
	User    *User        `json:"user,omitempty"`
	Groups  []string     `json:"groups,omitempty"`
	Roles   []string     `json:"roles,omitempty"`
	Failure *sso.Failure `json:"failure,omitempty"`
}

// User is the partner user a test sign-in matched, or would create.
type User struct {
	ID          string `json:"id,omitempty"`
	Email       string `json:"email"`
	WouldCreate bool   `json:"would_create"`
}

// ErrNotFound is an unknown, used or expired test link or result.
var ErrNotFound = errors.New("test sign-in not found or expired")

// Begin records a pending test of a connection and returns the secret its
// link carries.
func Begin(ctx context.Context, t store.Tickets, partnerID, connectionID string, now time.Time) (secret string, r Result, err error) {
	secret = rand.Text() + rand.Text()
	r = Result{
		ID: store.NewID("sst_"), ConnectionID: connectionID, Status: Pending,
		CreatedAt: now.UTC().Truncate(time.Millisecond), ExpiresAt: now.Add(TTL).UTC().Truncate(time.Millisecond),
	}
	if err := put(ctx, t, partnerID, resultKey(r.ID), r, now); err != nil {
		return "", Result{}, err
	}
	if err := put(ctx, t, partnerID, linkKey(secret), r, now); err != nil {
		return "", Result{}, err
	}
	return secret, r, nil
}

// Redeem uses up a test link and returns its pending result.
func Redeem(ctx context.Context, t store.Tickets, partnerID, secret string) (Result, error) {
	b, err := t.TakeTicket(ctx, partnerID, linkKey(secret))
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, ErrNotFound
	}
	if err != nil {
		return Result{}, fmt.Errorf("redeem test sign-in link: %w", err)
	}
	return decode(b)
}

// Save replaces a test's result with its outcome; it is kept until the
// test's end, as of now.
func Save(ctx context.Context, t store.Tickets, partnerID string, r Result, now time.Time) error {
	if !r.ExpiresAt.After(now) {
		return ErrNotFound
	}
	if _, err := t.TakeTicket(ctx, partnerID, resultKey(r.ID)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("replace test sign-in result: %w", err)
	}
	return put(ctx, t, partnerID, resultKey(r.ID), r, now)
}

// Load reads a test's result.
func Load(ctx context.Context, t store.Tickets, partnerID, id string) (Result, error) {
	b, err := t.GetTicket(ctx, partnerID, resultKey(id))
	if errors.Is(err, store.ErrNotFound) {
		return Result{}, ErrNotFound
	}
	if err != nil {
		return Result{}, fmt.Errorf("load test sign-in %q: %w", id, err)
	}
	return decode(b)
}

func put(ctx context.Context, t store.Tickets, partnerID, key string, r Result, now time.Time) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode test sign-in: %w", err)
	}
	ttl := r.ExpiresAt.Sub(now)
	if ttl <= 0 {
		return ErrNotFound
	}
	if err := t.PutTicket(ctx, partnerID, key, b, ttl); err != nil {
		return fmt.Errorf("store test sign-in: %w", err)
	}
	return nil
}

func decode(b []byte) (Result, error) {
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return Result{}, fmt.Errorf("decode test sign-in: %w", err)
	}
	return r, nil
}

// The link's secret is stored only hashed, as every ticket id is.
func linkKey(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "sso-test-link:" + hex.EncodeToString(sum[:])
}

func resultKey(id string) string { return "sso-test:" + id }
