// Package admin serves the admin REST API under /api/v1/: authentication
// of operator keys, partner admin tokens and partner admins' sessions, the
// one partner each non-operator reaches, request decoding and validation,
// the JSON wire shapes of partners, users, groups, role mappings, admin
// and SCIM tokens and audit events, and an audit event for every write.
// It issues SCIM tokens but never accepts one: the SCIM endpoint checks
// them with package apitoken. It talks to storage only through
// store.Store, ends sessions only through its Revoker, and must not import
// Caddy; the caddymodule package mounts it.
package admin
