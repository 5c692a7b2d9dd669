// Package keys turns the operator's one secret_key into independent keys,
// one per purpose, so a key leaked from one use (say, CSRF tokens) never
// forges another (session cookies). It does no storage and no I/O.
package keys
