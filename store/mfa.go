package store

import (
	"context"
	"errors"
	"time"
)

// ErrMFAEnrolled means AddMFAMethodIfNone found the user already has a
// method of one of the kinds it was given, so it added nothing.
var ErrMFAEnrolled = errors.New("mfa method already enrolled")

// MFAKind is the kind of a second factor.
type MFAKind string

const (
	MFAWebAuthn MFAKind = "webauthn"
	MFATOTP     MFAKind = "totp"
	MFASMS      MFAKind = "sms"
	MFAPush     MFAKind = "push"
	// MFARecovery is a user's set of recovery codes, one record.
	MFARecovery MFAKind = "recovery"
)

// MFAMethod is one second factor a user enrolled. Secret is the method's
// state (a TOTP seed and its last used step, a WebAuthn credential and its
// sign count, a phone number, a push target, hashed recovery codes),
// sealed by the caller: the store never sees it in the clear.
type MFAMethod struct {
	ID        string  `json:"id"`
	PartnerID string  `json:"partner_id"`
	UserID    string  `json:"user_id"`
	Kind      MFAKind `json:"kind"`
	// Name is what the user calls it ("YubiKey 5", "Phone ending 1234").
	Name   string `json:"name"`
	Secret []byte `json:"secret,omitempty"`
	// CredentialID is a WebAuthn credential's id (base64url), "" for other
	// kinds: unique per partner, so a passkey sign-in finds its user.
	CredentialID string    `json:"credential_id,omitempty"`
	CreatedAt    time.Time `json:"created_at"`
	LastUsedAt   time.Time `json:"last_used_at"`
}

// MFAMethods stores users' second factors. Every call is scoped to one
// partner and user: an id of another answers ErrNotFound. Times are kept
// to the millisecond.
type MFAMethods interface {
	// AddMFAMethod fails with ErrNotFound if the user does not exist (so
	// no method outlives a concurrent DeleteUser) and ErrAlreadyExists if
	// the id, or a non-empty CredentialID, is taken within the partner.
	AddMFAMethod(ctx context.Context, m MFAMethod) error
	// AddMFAMethodIfNone adds m as AddMFAMethod does, but only if the
	// user has no method whose Kind is in kinds, else it fails with
	// ErrMFAEnrolled and stores nothing. The check and the add are one
	// atomic step, so of concurrent calls for one user at most one adds
	// a method of those kinds: a user's first factor, enrolled by
	// whoever holds the password, cannot be joined by a second one
	// racing it. No kinds adds unconditionally.
	AddMFAMethodIfNone(ctx context.Context, m MFAMethod, kinds []MFAKind) error
	GetMFAMethod(ctx context.Context, partnerID, userID, id string) (MFAMethod, error)
	// ListMFAMethods returns the user's methods ordered by id; none for
	// an unknown user.
	ListMFAMethods(ctx context.Context, partnerID, userID string) ([]MFAMethod, error)
	// UpdateMFAMethod applies fn to the current record atomically, as
	// UpdateUser does: a TOTP step or a recovery code used once, a sign
	// count moved, never lost to a concurrent update. As with
	// UpdatePartner, fn may run more than once, must not call the store,
	// and an error from it aborts the update and is returned wrapped. fn
	// may not change the ids, the kind or the credential id: a result
	// that does is refused with an error and nothing is written.
	UpdateMFAMethod(ctx context.Context, partnerID, userID, id string, fn func(MFAMethod) (MFAMethod, error)) (MFAMethod, error)
	// DeleteMFAMethod removes the method and frees its credential id.
	DeleteMFAMethod(ctx context.Context, partnerID, userID, id string) error
	// FindMFAMethodByCredential finds the WebAuthn method with the
	// credential id, compared exactly, within the partner: an index
	// lookup. "" finds nothing.
	FindMFAMethodByCredential(ctx context.Context, partnerID, credentialID string) (MFAMethod, error)
}
