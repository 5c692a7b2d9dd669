// Package templates owns the server-rendered HTML that end users see on a
// partner's hostname — the login, sign-out and signed-out pages, sharing one layout —
// and the static assets those pages link to. It renders typed page data
// through html/template's contextual escaping and nothing else: it decides no
// flow, reads no store and never marks caller data as trusted HTML. Every page
// works under a strict Content-Security-Policy: no scripts, no inline styles,
// no external fonts or hosts.
package templates
