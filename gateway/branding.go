package gateway

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/branding"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// BrandingStore is what pages read of partners' branding.
type BrandingStore interface {
	GetBranding(ctx context.Context, partnerID string) (store.Branding, error)
	GetLogo(ctx context.Context, partnerID string) (png []byte, version string, err error)
}

// brandOf is the partner's branding for a page: its display name and
// its look. Branding is cosmetic, so a store that does not answer gives
// the product's own look rather than no page. ctx is the request's, so a
// client that went away does not keep a store call waiting.
func (g *Gateway) brandOf(ctx context.Context, p *Partner) (string, templates.Brand) {
	if g.cfg.Branding == nil {
		return p.Name, templates.Brand{}
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StoreTimeout)
	defer cancel()
	b, err := g.cfg.Branding.GetBranding(ctx, p.ID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			g.cfg.Logger.Warn("branding unavailable, showing the default look", zap.String("partner", p.ID), zap.Error(err))
		}
		return p.Name, templates.Brand{}
	}
	name := p.Name
	if b.DisplayName != "" {
		name = b.DisplayName
	}
	brand := templates.Brand{Welcome: b.WelcomeMessage, Footer: b.Footer, SupportURL: b.SupportURL}
	if b.PrimaryColor != "" || b.AccentColor != "" {
		brand.StylesheetURL = g.cfg.Prefix + "branding.css?v=" + strconv.FormatInt(b.UpdatedAt.UnixMilli(), 36)
	}
	if b.LogoVersion != "" {
		brand.LogoURL = g.cfg.Prefix + "branding/logo?v=" + url.QueryEscape(b.LogoVersion)
	}
	return name, brand
}

// serveBranding answers the partner's stylesheet and logo.
func (g *Gateway) serveBranding(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	if g.cfg.Branding == nil || (route != "branding.css" && route != "branding/logo") {
		return false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return true
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	if route == "branding.css" {
		b, err := g.cfg.Branding.GetBranding(ctx, p.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			g.unavailable(w, p, err)
			return true
		}
		// Only values the admin API validated were stored; CSS writes
		// nothing but hex colours of those.
		css := branding.CSS(branding.Branding{PrimaryColor: b.PrimaryColor, AccentColor: b.AccentColor})
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(css)
		return true
	}
	png, _, err := g.cfg.Branding.GetLogo(ctx, p.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		http.NotFound(w, r)
	case err != nil:
		g.unavailable(w, p, err)
	default:
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(png)
	}
	return true
}
