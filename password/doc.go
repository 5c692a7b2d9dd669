// Package password hashes and verifies end-user passwords with argon2id and
// holds the default password rule. It owns the encoded hash format, so
// parameters can be raised later without breaking stored hashes; it never
// logs or returns a plaintext password, and it does not rate-limit
// attempts — callers count failures in the store.
package password
