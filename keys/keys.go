package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"errors"
	"fmt"
)

// MinSecretLen is the shortest secret_key accepted. 32 bytes of a random
// secret carry enough entropy for HMAC-SHA256; shorter ones are likely
// human-chosen.
const MinSecretLen = 32

// ErrWeakSecret means the configured secret is too short to derive keys from.
var ErrWeakSecret = fmt.Errorf("secret_key must be at least %d characters", MinSecretLen)

// Purposes. Each names one use; changing a name invalidates what that key made.
const (
	SessionCookie = "partnergate session cookie v1"
	CSRF          = "partnergate csrf v1"
	AdminCSRF     = "partnergate admin csrf v1"
	// ConnectionSecrets encrypts the client secrets of SSO connections
	// at rest (package secretbox).
	ConnectionSecrets = "partnergate sso connection secrets v1"
	// Portal seals the admin portal's own sessions (operators, setup
	// links) and derives their CSRF tokens.
	Portal = "partnergate admin portal v1"
)

// Derive returns a 32-byte key for purpose, derived from secret with HKDF-SHA256.
func Derive(secret, purpose string) ([]byte, error) {
	if len(secret) < MinSecretLen {
		return nil, ErrWeakSecret
	}
	if purpose == "" {
		return nil, errors.New("derive key: empty purpose")
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("derive key for %q: %w", purpose, err)
	}
	return key, nil
}
