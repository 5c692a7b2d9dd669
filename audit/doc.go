// Package audit records what happens to partners as a tamper-evident
// trail: one hash-chained stream of events per partner plus a platform
// stream for operator actions that belong to none. It queries, exports and
// verifies those streams through store.AuditLog and knows nothing of HTTP,
// Caddy or any backend.
//
// # Chain
//
// Each event is stored as its JSON encoding, Data, and chained by
//
//	hash = hex(SHA-256(prev_hash || Data))
//
// where prev_hash is the previous event's hash, or "" for seq 1. Verify
// hashes the stored bytes rather than encoding the event again, so a
// change of the encoder can never break an old chain. The chain shows an
// event edited, removed or moved by anyone who cannot also rewrite every
// later event and the stream's head; it cannot show the newest events cut
// off together with the head rolled back. Keeping a copy of the head's hash
// elsewhere (an export, a log line) closes that gap.
//
// # Retention
//
// Every stream is bounded by a count and an age (see Retention); Record
// trims the oldest events as part of each append, and Verify accepts a
// stream that starts where retention last cut it.
package audit
