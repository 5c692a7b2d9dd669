package invite

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/partnergate/partnergate/store"
)

// ErrInvalid means the link is unknown, used, expired or replaced, or its
// user can no longer sign in. Callers show one message for all of these.
var ErrInvalid = errors.New("link is invalid or expired")

// Purpose says why a link was sent; it changes the wording, not the rules.
type Purpose string

const (
	// Invitation lets a user who has no password yet choose one.
	Invitation Purpose = "invite"
	// PasswordReset lets a user who has a password choose another.
	PasswordReset Purpose = "reset"
)

// Store is what links need from the storage backend.
type Store interface {
	store.Tickets
	GetUser(ctx context.Context, partnerID, id string) (store.User, error)
	UpdateUser(ctx context.Context, partnerID, id string, fn func(store.User) (store.User, error)) (store.User, error)
}

// Link is a live link's record.
type Link struct {
	UserID  string  `json:"user_id"`
	Purpose Purpose `json:"purpose"`
}

// ticketID is what the store keys a link by: a hash of the secret, so a
// copy of the store cannot be turned back into working links.
func ticketID(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return "link:" + hex.EncodeToString(sum[:])
}

// Issue creates a link for the user and makes it their only live one.
// It returns the secret to put in the URL.
func Issue(ctx context.Context, s Store, partnerID, userID string, purpose Purpose, ttl time.Duration) (string, error) {
	secretBytes := make([]byte, 32)
	_, _ = rand.Read(secretBytes) // crypto/rand.Read never fails
	secret := base64.RawURLEncoding.EncodeToString(secretBytes)
	id := ticketID(secret)
	payload, err := json.Marshal(Link{UserID: userID, Purpose: purpose})
	if err != nil {
		return "", fmt.Errorf("encode link: %w", err)
	}
	if err := s.PutTicket(ctx, partnerID, id, payload, ttl); err != nil {
		return "", fmt.Errorf("store link for user %q: %w", userID, err)
	}
	if _, err := s.UpdateUser(ctx, partnerID, userID, func(u store.User) (store.User, error) {
		u.InviteID = id
		return u, nil
	}); err != nil {
		return "", fmt.Errorf("attach link to user %q: %w", userID, err)
	}
	return secret, nil
}

// Check reports the link and its user without using the link up, so a
// form can be shown and a rejected password does not burn the link.
func Check(ctx context.Context, s Store, partnerID, secret string) (Link, store.User, error) {
	id := ticketID(secret)
	raw, err := s.GetTicket(ctx, partnerID, id)
	if err != nil {
		return Link{}, store.User{}, notFound(err)
	}
	var l Link
	if err := json.Unmarshal(raw, &l); err != nil {
		return Link{}, store.User{}, fmt.Errorf("decode link: %w", err)
	}
	u, err := s.GetUser(ctx, partnerID, l.UserID)
	if err != nil {
		return Link{}, store.User{}, notFound(err)
	}
	if u.InviteID != id || !u.Active {
		return Link{}, store.User{}, ErrInvalid
	}
	return l, u, nil
}

// Redeem uses the link up and sets the user's password hash in one
// conditional update: a second use, a replaced link or a suspended user
// gets ErrInvalid and changes nothing.
func Redeem(ctx context.Context, s Store, partnerID, secret, passwordHash string, now time.Time) (store.User, error) {
	id := ticketID(secret)
	raw, err := s.TakeTicket(ctx, partnerID, id)
	if err != nil {
		return store.User{}, notFound(err)
	}
	var l Link
	if err := json.Unmarshal(raw, &l); err != nil {
		return store.User{}, fmt.Errorf("decode link: %w", err)
	}
	u, err := s.UpdateUser(ctx, partnerID, l.UserID, func(u store.User) (store.User, error) {
		if u.InviteID != id || !u.Active {
			return u, ErrInvalid
		}
		u.PasswordHash = passwordHash
		u.InviteID = ""
		u.UpdatedAt = now.UTC().Truncate(time.Millisecond)
		return u, nil
	})
	if err != nil {
		return store.User{}, notFound(err)
	}
	return u, nil
}

func notFound(err error) error {
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, ErrInvalid) {
		return ErrInvalid
	}
	return err
}
