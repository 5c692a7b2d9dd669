package portal

import (
	"time"

	"github.com/partnergate/partnergate/audit"
)

// The shapes of the admin API's answers the portal reads. They are the
// API's documented JSON; only the fields pages show are named.

type list[T any] struct {
	Data       []T    `json:"data"`
	NextCursor string `json:"next_cursor"`
}

type partnerJSON struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Hostnames       []string  `json:"hostnames"`
	DefaultHostname string    `json:"default_hostname"`
	Domains         []string  `json:"domains"`
	Suspended       bool      `json:"suspended"`
	CreatedAt       time.Time `json:"created_at"`
}

type userJSON struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	Status    string    `json:"status"`
	Groups    []string  `json:"groups"`
	CreatedAt time.Time `json:"created_at"`
}

type certificateJSON struct {
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	ExpiresSoon bool      `json:"expires_soon"`
	Expired     bool      `json:"expired"`
}

type connectionJSON struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Preset  string   `json:"preset"`
	Enabled bool     `json:"enabled"`
	Domains []string `json:"domains"`
	JIT     bool     `json:"jit"`
	OIDC    *struct {
		Issuer          string   `json:"issuer"`
		ClientID        string   `json:"client_id"`
		ClientSecretSet bool     `json:"client_secret_set"`
		Scopes          []string `json:"scopes"`
	} `json:"oidc"`
	SAML *struct {
		MetadataURL     string            `json:"metadata_url"`
		EntityID        string            `json:"entity_id"`
		SSOURL          string            `json:"sso_url"`
		IdPCertificates []certificateJSON `json:"idp_certificates"`
	} `json:"saml"`
	CreatedAt time.Time `json:"created_at"`
}

// kind is "SAML" or "OpenID Connect".
func (c connectionJSON) Kind() string {
	if c.SAML != nil {
		return "SAML"
	}
	return "OpenID Connect"
}

// CertWarnings are the connection's IdP certificates that expired or
// expire soon.
func (c connectionJSON) CertWarnings() []certificateJSON {
	if c.SAML == nil {
		return nil
	}
	var out []certificateJSON
	for _, cert := range c.SAML.IdPCertificates {
		if cert.Expired || cert.ExpiresSoon {
			out = append(out, cert)
		}
	}
	return out
}

type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Expired   bool       `json:"expired"`
	Token     string     `json:"token"`
}

type scimRequestJSON struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	ScimType   string    `json:"scim_type"`
	Detail     string    `json:"detail"`
	DurationMs int64     `json:"duration_ms"`
}

type auditPage struct {
	Events     []audit.Event `json:"events"`
	NextCursor *string       `json:"next_cursor"`
}
