package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/partnergate/partnergate/scim"
)

func init() {
	caddy.RegisterModule(PartnerSCIM{})
}

// PartnerSCIM serves SCIM 2.0 under /scim/v2/{partner}/ for the partners'
// identity providers.
type PartnerSCIM struct {
	h *scim.Handler
}

// CaddyModule returns the Caddy module information.
func (PartnerSCIM) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.partner_scim",
		New: func() caddy.Module { return new(PartnerSCIM) },
	}
}

// Provision builds the SCIM endpoint on the partnergate app's shared parts.
func (h *PartnerSCIM) Provision(ctx caddy.Context) error {
	app, err := partnergateApp(ctx)
	if err != nil {
		return err
	}
	h.h, err = scim.New(scim.Config{
		Store:    app.store,
		Revoker:  app.sessions,
		Audit:    app.audit,
		Hashing:  app.hashing,
		Policies: app.policies,
		Logger:   ctx.Logger(),
	})
	return err
}

func (h *PartnerSCIM) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.h.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*PartnerSCIM)(nil)
	_ caddyhttp.MiddlewareHandler = (*PartnerSCIM)(nil)
)
