// Package admin serves the admin REST API under /api/v1/: authentication
// of operator keys, request decoding and validation, and the JSON wire
// shapes of partners and users. It talks to storage only through
// store.Store, ends sessions only through its Revoker, and must not import
// Caddy; the caddymodule package mounts it.
package admin
