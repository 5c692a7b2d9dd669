package admin

import (
	"errors"
	"net/http"
	"time"

	"github.com/partnergate/partnergate/store"
)

var (
	errMFAMethodNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "MFA method not found"}
	errSignInAgain       = &apiError{status: http.StatusForbidden, code: "reauthentication_required", message: "removing your own second factor needs a sign-in of the last 15 minutes; sign out and sign in again"}
)

// freshSignIn is how recent a sign-in must be for a partner admin to
// remove their own second factor, as on the gateway's account page.
const freshSignIn = 15 * time.Minute

// recoveryName is what a user's recovery codes are called when the
// record names nothing else.
const recoveryName = "Recovery codes"

// mfaMethodJSON is a second factor on the wire: what it is and when it was
// used, never its secret state or a WebAuthn credential id.
type mfaMethodJSON struct {
	ID         string     `json:"id"`
	Kind       string     `json:"kind"`
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

func toMFAMethodJSON(m store.MFAMethod) mfaMethodJSON {
	out := mfaMethodJSON{ID: m.ID, Kind: string(m.Kind), Name: mfaMethodName(m), CreatedAt: m.CreatedAt}
	if !m.LastUsedAt.IsZero() {
		used := m.LastUsedAt
		out.LastUsedAt = &used
	}
	return out
}

func mfaMethodName(m store.MFAMethod) string {
	if m.Kind == store.MFARecovery && m.Name == "" {
		return recoveryName
	}
	return m.Name
}

// listMFAMethods lists the user's second factors ordered by id.
func (h *Handler) listMFAMethods(w http.ResponseWriter, r *http.Request) error {
	u, err := h.user(r)
	if err != nil {
		return err
	}
	methods, err := h.store.ListMFAMethods(r.Context(), u.PartnerID, u.ID)
	if err != nil {
		return err
	}
	out := listJSON[mfaMethodJSON]{Data: make([]mfaMethodJSON, 0, len(methods))}
	for _, m := range methods {
		out.Data = append(out.Data, toMFAMethodJSON(m))
	}
	return writeJSON(w, http.StatusOK, out)
}

// removeMFAMethod removes one second factor, e.g. a lost phone's. It ends
// no session: sessions the method helped open stay until they expire or
// are revoked (DELETE …/sessions).
func (h *Handler) removeMFAMethod(w http.ResponseWriter, r *http.Request) error {
	u, err := h.user(r)
	if err != nil {
		return err
	}
	id := r.PathValue("methodId")
	noteTarget(r, "mfa_method", id)
	// An admin stripping their own factors weakens the account that
	// guards the partner, so only a fresh sign-in may: a browser left
	// open, or a session taken, cannot. Tokens belong to no sign-in.
	if c := callerOf(r); c.cookie && u.ID == c.ownerID && h.now().Sub(c.signedInAt) > freshSignIn {
		return errSignInAgain
	}
	m, err := h.store.GetMFAMethod(r.Context(), u.PartnerID, u.ID, id)
	if err != nil {
		return mfaMethodError(err)
	}
	noteTarget(r, "mfa_method", m.ID,
		change{Field: "kind", From: string(m.Kind)},
		change{Field: "name", From: mfaMethodName(m)})
	if err := h.store.DeleteMFAMethod(r.Context(), u.PartnerID, u.ID, m.ID); err != nil {
		return mfaMethodError(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func mfaMethodError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errMFAMethodNotFound
	}
	return err
}
