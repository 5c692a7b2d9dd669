// Package session issues, looks up and revokes signed-in sessions. It keeps a
// local cache so a request with a valid session touches no network, drops
// entries the moment any node announces a revocation, and refuses to trust
// the cache at all while revocations might be missed. It knows nothing of
// HTTP or Caddy.
package session
