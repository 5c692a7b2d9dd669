package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// minKeyLen keeps operator keys out of brute-force reach; an operator
// generating one with `openssl rand -base64 32` clears it easily.
const minKeyLen = 16

// CheckOperatorKeys reports what is wrong with a set of operator keys, so
// a config can be refused before anything runs.
func CheckOperatorKeys(keys []string) error {
	_, err := digestKeys(keys)
	return err
}

// digestKeys checks the configured operator keys and keeps only their
// SHA-256 digests: comparing fixed-size digests leaks neither a key's
// length nor how much of it matched.
func digestKeys(keys []string) ([][32]byte, error) {
	if len(keys) == 0 {
		return nil, errors.New("at least one operator key is required")
	}
	digests := make([][32]byte, 0, len(keys))
	for i, k := range keys {
		// Errors name the key by position only: the value is a secret.
		switch {
		case len(k) < minKeyLen:
			return nil, fmt.Errorf("operator key #%d is shorter than %d bytes", i+1, minKeyLen)
		case !isToken68(k):
			return nil, fmt.Errorf("operator key #%d holds characters a Bearer token cannot carry (allowed: A-Z a-z 0-9 - . _ ~ + / and trailing =)", i+1)
		}
		digests = append(digests, sha256.Sum256([]byte(k)))
	}
	return digests, nil
}

// isToken68 reports whether s fits RFC 6750's b64token syntax, the only
// form a client can send after "Bearer ". Catching a stray newline from a
// secrets file here beats a key that silently never matches.
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// authorize decides whether the request may proceed. Today every caller
// is an operator with full access, so knowing the key is enough. Partner
// admin tokens will make this return the caller's partner scope, and the
// handlers will take the tenant from it rather than from the path.
func (h *Handler) authorize(r *http.Request) error {
	token, ok := bearerToken(r)
	if !ok {
		return errUnauthorized
	}
	digest := sha256.Sum256([]byte(token))
	// Compare against every key, never stopping early, so timing does
	// not reveal which key (or whether any) matched.
	match := 0
	for _, k := range h.keys {
		match |= subtle.ConstantTimeCompare(digest[:], k[:])
	}
	if match != 1 {
		return errUnauthorized
	}
	return nil
}

func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}
