package store

import (
	"context"
	"time"
)

// MaxLogoSize is the largest logo, in bytes, every backend keeps.
const MaxLogoSize = 1 << 20

// Branding is a partner's look on its pages, as the admin API validated
// it. The store keeps it as given, except LogoVersion: that belongs to the
// logo, and only PutLogo and DeleteLogo change it.
type Branding struct {
	DisplayName    string `json:"display_name,omitempty"`
	PrimaryColor   string `json:"primary_color,omitempty"`
	AccentColor    string `json:"accent_color,omitempty"`
	WelcomeMessage string `json:"welcome_message,omitempty"`
	Footer         string `json:"footer,omitempty"`
	SupportURL     string `json:"support_url,omitempty"`
	// LogoVersion names the stored logo (a hash of its bytes), "" when
	// none, so pages can link it with a cache-busting query. Reads fill it
	// in from the stored logo; PutBranding ignores what the caller puts
	// there, so a branding written from a stale read never loses or
	// resurrects a logo.
	LogoVersion string    `json:"logo_version,omitempty"`
	UpdatedAt   time.Time `json:"updated_at"` // kept to the millisecond
}

// Brandings stores each partner's branding and logo. Both exist only while
// the partner does: DeletePartner removes them.
type Brandings interface {
	// GetBranding returns the partner's branding; ErrNotFound when it has
	// none or the partner does not exist.
	GetBranding(ctx context.Context, partnerID string) (Branding, error)
	// PutBranding replaces the partner's branding, keeping its
	// LogoVersion; ErrNotFound if the partner does not exist (checked
	// atomically with the write, so no branding outlives a concurrent
	// DeletePartner).
	PutBranding(ctx context.Context, partnerID string, b Branding) error
	// GetLogo returns the logo's bytes and its version; ErrNotFound when
	// none (or no partner).
	GetLogo(ctx context.Context, partnerID string) (png []byte, version string, err error)
	// PutLogo stores the logo (at most MaxLogoSize bytes, kept byte for
	// byte) and sets the branding's LogoVersion to version in the same
	// atomic step, creating an empty branding if none; ErrNotFound if the
	// partner does not exist (checked atomically with the write).
	PutLogo(ctx context.Context, partnerID string, png []byte, version string) error
	// DeleteLogo removes the logo and clears LogoVersion atomically; the
	// rest of the branding stays. Deleting none is not an error, for an
	// unknown partner either.
	DeleteLogo(ctx context.Context, partnerID string) error
}
