package caddymodule

import (
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/partnergate/partnergate/admin"
	"github.com/partnergate/partnergate/gateway"
)

func init() {
	caddy.RegisterModule(PartnerAdmin{})
}

// PartnerAdmin serves the admin API under /api/v1/ on the sidecar site.
type PartnerAdmin struct {
	api *admin.Handler
}

// CaddyModule returns the Caddy module information.
func (PartnerAdmin) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.partner_admin",
		New: func() caddy.Module { return new(PartnerAdmin) },
	}
}

// Provision builds the admin API on the partnergate app's shared parts.
func (h *PartnerAdmin) Provision(ctx caddy.Context) error {
	app, err := partnergateApp(ctx)
	if err != nil {
		return err
	}
	h.api, err = admin.New(admin.Config{
		Store:        app.store,
		OperatorKeys: app.operators,
		BaseDomain:   app.BaseDomain,
		Revoker:      app.sessions,
		Sessions:     gateway.SessionResolver{Directory: app.directory, Sessions: app.sessions},
		Audit:        app.audit,
		Hashing:      app.hashing,
		Mailer:       app.mailer,
		SecretKey:    app.adminKey,
		SecretsKey:   app.secretsKey,
		ClientIP:     clientIP,
		LinkScheme:   app.LinkScheme,
		LinkPort:     app.LinkPort,
		SAMLMetadata: app.samlMetadata,
		Policies:     app.policies,
		Logger:       ctx.Logger(),
	})
	return err
}

func (h *PartnerAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	h.api.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*PartnerAdmin)(nil)
	_ caddyhttp.MiddlewareHandler = (*PartnerAdmin)(nil)
)
