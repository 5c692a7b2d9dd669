// Package password hashes and verifies end-user passwords with argon2id,
// checks new ones against a partner policy's password rule (length,
// character classes, a common-password list, history) and tells when one
// has expired. It owns the encoded hash format, so parameters can be
// raised later without breaking stored hashes; it never logs or returns a
// plaintext password, and it does not rate-limit attempts — callers count
// failures in the store.
package password
