// Package mfa is the home of the gateway's second-factor building blocks.
// Each subpackage owns one factor's secret material and its verification
// rule, and exposes a small JSON-serialisable State that the caller seals
// (secretbox) and keeps in the store as store.MFAMethod.Secret: totp does
// RFC 6238 authenticator apps with replay protection, recovery does
// one-time backup codes kept only as hashes. None of them rate-limits
// attempts or talks to the store; callers count failures and persist the
// returned State, so a used code stays used.
package mfa
