// Package gateway is the request path of a protected site: it resolves the
// partner from the Host, strips client-sent identity headers, serves the
// reserved routes (login, logout, and the page where invitation and
// password-reset links set a password), checks the session and sets the
// identity headers the upstream app trusts. It imports no Caddy;
// caddymodule adapts it.
package gateway
