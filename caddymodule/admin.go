package caddymodule

import (
	"net/http"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/partnergate/partnergate/admin"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/portal"
)

func init() {
	caddy.RegisterModule(PartnerAdmin{})
}

// PartnerAdmin serves the admin API under /api/v1/ and the admin portal
// everywhere else: on the sidecar site for operators and setup links, and
// under a path of each partner's site for its partner admins.
type PartnerAdmin struct {
	api    *admin.Handler
	portal *portal.Handler
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
	if err != nil {
		return err
	}
	cfg := portal.Config{
		API:       h.api,
		SecretKey: app.portalKey,
		PartnerOf: func(r *http.Request) (string, bool) {
			p, ok := app.directory.Resolve(r.Host)
			if !ok {
				return "", false
			}
			return p.ID, true
		},
		AdminSite:       app.isAdminSite,
		SiteURL:         app.siteURL,
		InsecureCookies: app.LinkScheme == "http",
		Logger:          ctx.Logger(),
	}
	if app.AdminURL != "" {
		cfg.SCIMBaseURL = app.scimBaseURL
	}
	h.portal, err = portal.New(cfg)
	return err
}

func (h *PartnerAdmin) ServeHTTP(w http.ResponseWriter, r *http.Request, _ caddyhttp.Handler) error {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		h.api.ServeHTTP(w, r)
		return nil
	}
	// The portal finds where it is mounted by comparing the path the
	// client asked for with the one it sees; Caddy's handle_path rewrites
	// both, so it gets the client's own.
	if orig, ok := r.Context().Value(caddyhttp.OriginalRequestCtxKey).(http.Request); ok {
		r = r.Clone(r.Context())
		r.RequestURI = orig.RequestURI
	}
	h.portal.ServeHTTP(w, r)
	return nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*PartnerAdmin)(nil)
	_ caddyhttp.MiddlewareHandler = (*PartnerAdmin)(nil)
)
