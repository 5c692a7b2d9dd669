package admin

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/store"
)

// userFields serve both create and PATCH. id is read-only so a client
// cannot pick ids; password is write-only and has no wire field in
// userJSON, so it cannot be echoed.
var userFields = fieldSet{
	writable: []string{"email", "name", "password", "active"},
	readOnly: []string{"id", "created_at", "updated_at"},
}

// userJSON is a user on the wire.
type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toUserJSON(u store.User) userJSON {
	return userJSON{ID: u.ID, Email: u.Email, Name: u.Name, Active: u.Active, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func userPath(partnerID, userID string) string {
	return partnerPath(partnerID) + "/users/" + userID
}

// newUserID returns "u_" and 20 base32 characters: 100 random bits, safe
// in URLs and headers, lowercase so it reads the same in any log.
func newUserID() string {
	return "u_" + strings.ToLower(rand.Text()[:20])
}

// userInput holds the writable members a user request sent.
type userInput struct {
	email    opt[string]
	name     opt[string]
	password opt[string]
	active   opt[bool]
}

func decodeUser(m members) (userInput, error) {
	var in userInput
	var err error
	if in.email, err = member[string](m, "email"); err != nil {
		return in, err
	}
	if in.name, err = member[string](m, "name"); err != nil {
		return in, err
	}
	if in.password, err = member[string](m, "password"); err != nil {
		return in, err
	}
	in.active, err = member[bool](m, "active")
	return in, err
}

// readUser decodes and validates a user request, and hashes the password
// if one was sent; hashing is slow, so it happens once, outside the
// store's retryable update.
func readUser(w http.ResponseWriter, r *http.Request, create bool) (userInput, string, error) {
	m, err := readObject(w, r, userFields)
	if err != nil {
		return userInput{}, "", err
	}
	in, err := decodeUser(m)
	if err != nil {
		return in, "", err
	}
	if err := in.validate(create); err != nil {
		return in, "", err
	}
	pw, ok := in.password.value()
	if !ok {
		return in, "", nil
	}
	hash, err := password.Hash(pw)
	if err != nil {
		return in, "", fmt.Errorf("hash password: %w", err)
	}
	return in, hash, nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	users, err := h.store.ListUsers(r.Context(), p.ID, store.Page{})
	if err != nil {
		return err
	}
	out := listJSON[userJSON]{Data: make([]userJSON, 0, len(users))}
	for _, u := range users {
		out.Data = append(out.Data, toUserJSON(u))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	in, hash, err := readUser(w, r, true)
	if err != nil {
		return err
	}
	active := true
	if v, ok := in.active.value(); ok {
		active = v
	}
	now := h.timestamp()
	u := store.User{
		ID:           newUserID(),
		PartnerID:    p.ID,
		Email:        in.email.val,
		Name:         in.name.val,
		PasswordHash: hash,
		Active:       active,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	// The id has 100 random bits, so a taken one means a taken email.
	if err := h.store.CreateUser(r.Context(), u); err != nil {
		return userWriteError(err)
	}
	w.Header().Set("Location", userPath(p.ID, u.ID))
	return writeJSON(w, http.StatusCreated, toUserJSON(u))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	u, err := h.store.GetUser(r.Context(), p.ID, r.PathValue("userId"))
	if err != nil {
		return userWriteError(err)
	}
	return writeJSON(w, http.StatusOK, toUserJSON(u))
}

// updateUser applies a merge-style PATCH. A request setting active to
// false revokes the user's sessions even if the user was already
// inactive, so repeating a request whose revocation failed completes it.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	in, hash, err := readUser(w, r, false)
	if err != nil {
		return err
	}
	now := h.timestamp()
	u, err := h.store.UpdateUser(r.Context(), p.ID, r.PathValue("userId"), func(u store.User) (store.User, error) {
		if in.email.set {
			u.Email = in.email.val
		}
		if in.name.set {
			u.Name = in.name.val
		}
		if in.password.set {
			u.PasswordHash = hash // "" when the request sent null
		}
		if v, ok := in.active.value(); ok {
			u.Active = v
		}
		u.UpdatedAt = now
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: u.ID})
	// Deactivation and a password change both end every session: a reset
	// usually follows a compromise, and the old password's sessions must
	// not outlive it.
	deactivated := false
	if v, ok := in.active.value(); ok && !v {
		deactivated = true
	}
	if deactivated || in.password.set {
		if err := h.revoker.RevokeUser(r.Context(), p.ID, u.ID); err != nil {
			return revocationFailed("the user was updated but their sessions could not be ended; repeat the request", err)
		}
	}
	return writeJSON(w, http.StatusOK, toUserJSON(u))
}

// deleteUser deactivates, revokes, then deletes. Revoking first is needed
// because DeleteUser drops session rows without announcing them;
// deactivating first keeps a sign-in racing the revocation from leaving a
// session nobody announces.
func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	userID := r.PathValue("userId")
	_, err = h.store.UpdateUser(r.Context(), p.ID, userID, func(u store.User) (store.User, error) {
		u.Active = false
		return u, nil
	})
	if err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: userID})
	if err := h.revoker.RevokeUser(r.Context(), p.ID, userID); err != nil {
		return revocationFailed("the user was deactivated but not deleted because their sessions could not be ended; repeat the request", err)
	}
	if err := h.store.DeleteUser(r.Context(), p.ID, userID); err != nil {
		return userWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: p.ID, ID: userID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func userWriteError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errUserNotFound
	case errors.Is(err, store.ErrAlreadyExists):
		return conflict("email", "another user of this partner has this email", err)
	}
	return err
}
