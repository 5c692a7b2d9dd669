// Package caddymodule is the Caddy glue: the partnergate app, the
// partner_auth and partner_admin handlers and their Caddyfile syntax. It
// only parses config, wires the Caddy-free packages together and adapts
// their handlers; the work happens in gateway, session, admin and store.
package caddymodule
