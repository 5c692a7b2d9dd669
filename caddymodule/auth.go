package caddymodule

import (
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/partnergate/partnergate/gateway"
)

func init() {
	caddy.RegisterModule(PartnerAuth{})
}

// PartnerAuth protects a site: the partner comes from the Host, a request
// without a session goes to that partner's login, and an authenticated one
// reaches the next handler with identity headers set.
type PartnerAuth struct {
	// Prefix is where the login routes live (default "/.partnergate/").
	Prefix string `json:"prefix,omitempty"`

	gw *gateway.Gateway
}

// CaddyModule returns the Caddy module information.
func (PartnerAuth) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.handlers.partner_auth",
		New: func() caddy.Module { return new(PartnerAuth) },
	}
}

// Provision builds the gateway on the partnergate app's shared parts.
func (h *PartnerAuth) Provision(ctx caddy.Context) error {
	app, err := partnergateApp(ctx)
	if err != nil {
		return err
	}
	h.gw, err = gateway.New(gateway.Config{
		Directory: app.directory,
		Sessions:  app.sessions,
		Store:     app.store,
		Templates: app.templates,
		Audit:     app.audit,
		Hashing:   app.hashing,
		CSRFKey:   app.csrfKey,
		Prefix:    h.Prefix,
		Scheme:    app.LinkScheme,
		Policies:  app.policies,
		Branding:  app.store,
		MFA:       &gateway.MFA{Store: app.store, Secrets: app.secrets, SMS: app.sms, Push: app.push, PushSecret: app.pushSecret},
		SSO:       &gateway.SSO{Store: app.store, OIDC: app.oidc, SAML: app.samlMetadata, Secrets: app.secrets},
		ClientIP:  clientIP,
		Logger:    ctx.Logger(),
	})
	return err
}

func (h *PartnerAuth) ServeHTTP(w http.ResponseWriter, r *http.Request, next caddyhttp.Handler) error {
	id, ok := h.gw.Serve(w, r)
	if !ok {
		return nil
	}
	repl := r.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer)
	repl.Set("http.auth.user.id", id.UserID)
	repl.Set("http.auth.user.email", id.Email)
	repl.Set("http.auth.user.partner", id.PartnerID)
	return next.ServeHTTP(w, r)
}

// clientIP is the address Caddy determined, honouring trusted_proxies, so
// a forwarded header from an untrusted client never picks the rate-limit key.
func clientIP(r *http.Request) string {
	ip, _ := caddyhttp.GetVar(r.Context(), caddyhttp.ClientIPVarKey).(string)
	return ip
}

func partnergateApp(ctx caddy.Context) (*App, error) {
	v, err := ctx.App("partnergate")
	if err != nil {
		return nil, fmt.Errorf("load partnergate app: %w", err)
	}
	return v.(*App), nil
}

// Interface guards
var (
	_ caddy.Provisioner           = (*PartnerAuth)(nil)
	_ caddyhttp.MiddlewareHandler = (*PartnerAuth)(nil)
)
