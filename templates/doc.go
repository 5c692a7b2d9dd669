// Package templates owns what end users see from partnergate: the
// server-rendered pages on a partner's hostname — login, sign-out,
// signed-out and set-password, sharing one layout — with the static assets
// they link to, and the emails that carry invitation and password-reset
// links. It renders typed data through html/template's contextual escaping
// and nothing else: it decides no flow, reads no store and never marks
// caller data as trusted HTML. Every page works under a strict
// Content-Security-Policy: no scripts, no inline styles, no external fonts
// or hosts.
package templates
