package gateway

import (
	"net/http"
	"strings"

	"github.com/partnergate/partnergate/templates"
)

// serveSuspended answers a request to a suspended partner's site. No
// sign-in, SSO callback or MFA step runs and nothing reaches the app,
// whatever session the request carries; only the files the notice is
// drawn with are served, so it shows in the partner's look.
func (g *Gateway) serveSuspended(w http.ResponseWriter, r *http.Request, p *Partner) {
	route, reserved := strings.CutPrefix(r.URL.Path, g.cfg.Prefix)
	if reserved && !ambiguous(r.URL.EscapedPath()) &&
		(strings.HasPrefix(route, "assets/") || route == "branding.css" || route == "branding/logo") {
		g.serveReserved(w, r, p)
		return
	}
	if !isBrowser(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Forbidden: this organization's access is suspended", http.StatusForbidden)
		return
	}
	setPageHeaders(w.Header())
	g.render(w, http.StatusForbidden, templates.PageSuspended, templates.Suspended{Page: g.page(r.Context(), p, "Access suspended")})
}
