// Package apitoken is the format of the partner API tokens partnergate
// issues: "<prefix><partner>.<token id>.<secret>". The admin API mints
// them and both it and the SCIM endpoint check them, so the format lives
// here, once.
//
// Naming the partner and the token lets a server fetch the one stored
// record from the partner's own keyspace instead of keeping a global index
// of secrets; the record holds only the secret's SHA-256, which is enough
// for a random 256-bit secret and useless to whoever copies the store.
package apitoken

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Prefixes tell the kinds apart at a glance, for people and for secret
// scanners, and keep one kind's token from ever parsing as another's.
const (
	// AdminPrefix starts an admin token, which opens the admin API.
	AdminPrefix = "pgat."
	// SCIMPrefix starts a SCIM token, which opens the SCIM endpoint.
	SCIMPrefix = "pgsc."
	// SetupPrefix starts a setup link, which lets a partner's IT admin set
	// up SSO and SCIM once, without an account.
	SetupPrefix = "pgsl."
)

// IDPrefix starts every token id; Parse refuses an id without it.
const IDPrefix = "t_"

// secretLen is the length of a secret: 32 random bytes, base64url
// without padding.
const secretLen = 43

// Parse splits raw, a token of the kind prefix names. Only the shape is
// checked: the caller loads the token by partnerID and tokenID and hands
// secret to Verify with the stored hash.
func Parse(prefix, raw string) (partnerID, tokenID, secret string, ok bool) {
	rest, ok := strings.CutPrefix(raw, prefix)
	if !ok {
		return "", "", "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || !isLabel(parts[0]) || !strings.HasPrefix(parts[1], IDPrefix) || len(parts[2]) != secretLen {
		return "", "", "", false
	}
	return parts[0], parts[1], parts[2], true
}

// New returns a fresh token of the kind prefix names, to be shown once,
// and the hash to store in its place.
func New(prefix, partnerID, tokenID string) (token, hash string) {
	secret, hash := NewSecret()
	return prefix + partnerID + "." + tokenID + "." + secret, hash
}

// NewSecret returns a fresh secret and the hash Verify checks it against,
// for credentials of other formats that want the same strength.
func NewSecret() (secret, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	secret = base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:])
}

// Verify reports whether secret is the one whose hash New returned. The
// comparison takes the same time however much of the hash matches.
func Verify(secret, hashHex string) bool {
	want, err := hex.DecodeString(hashHex)
	if err != nil {
		return false
	}
	sum := sha256.Sum256([]byte(secret))
	return subtle.ConstantTimeCompare(sum[:], want) == 1
}

// isLabel reports whether s could be a partner id: a lowercase DNS label.
// Partner ids name store keys, so nothing else may reach a lookup; whether
// the partner exists is the lookup's to say.
func isLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
