// Package gateway is the request path of a protected site: it resolves the
// partner from the Host, strips client-sent identity headers, serves the
// reserved login routes, checks the session and sets the identity headers
// the upstream app trusts. It imports no Caddy; caddymodule adapts it.
package gateway
