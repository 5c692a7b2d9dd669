package connection

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/store"
)

// Config is what store.SSOConnection.Config holds. Exactly one of OIDC
// and SAML is set.
type Config struct {
	OIDC    *OIDC          `json:"oidc,omitempty"`
	SAML    *SAML          `json:"saml,omitempty"`
	Mapping preset.Mapping `json:"attribute_mapping"`
}

// OIDC are an OpenID Connect connection's settings.
type OIDC struct {
	Issuer       string   `json:"issuer"`
	ClientID     string   `json:"client_id"`
	SealedSecret []byte   `json:"client_secret_sealed,omitempty"`
	Scopes       []string `json:"scopes"`
	// Userinfo asks the userinfo endpoint for claims the ID token lacks.
	Userinfo bool `json:"userinfo,omitempty"`
}

// SAML are a SAML connection's settings. The IdP is described by one of:
// a metadata URL, pasted metadata, or an entity id, SSO URL and
// certificates given by hand.
type SAML struct {
	MetadataURL       string `json:"metadata_url,omitempty"`
	MetadataXML       string `json:"metadata_xml,omitempty"`
	EntityID          string `json:"entity_id,omitempty"`
	SSOURL            string `json:"sso_url,omitempty"`
	Certificates      string `json:"certificates,omitempty"`
	AllowIdPInitiated bool   `json:"allow_idp_initiated"`
	SignRequests      bool   `json:"sign_requests"`
	// The service provider's own key pair, made when the connection is
	// created: the certificate (DER) is published in the SP metadata, the
	// private key (PKCS #8 DER) signs requests and decrypts assertions.
	SPCertificate []byte `json:"sp_certificate,omitempty"`
	SealedSPKey   []byte `json:"sp_key_sealed,omitempty"`
}

// Decode reads c's settings.
func Decode(c store.SSOConnection) (Config, error) {
	var cfg Config
	if err := json.Unmarshal(c.Config, &cfg); err != nil {
		return Config{}, fmt.Errorf("SSO connection %s/%s: stored config: %w", c.PartnerID, c.ID, err)
	}
	if (cfg.OIDC == nil) == (cfg.SAML == nil) {
		return Config{}, fmt.Errorf("SSO connection %s/%s: stored config has %s", c.PartnerID, c.ID, protocolCount(cfg))
	}
	cfg.Mapping = CloneMapping(cfg.Mapping)
	return cfg, nil
}

func protocolCount(cfg Config) string {
	if cfg.OIDC == nil {
		return "neither OIDC nor SAML settings"
	}
	return "both OIDC and SAML settings"
}

// Encode is the JSON to store in store.SSOConnection.Config.
func Encode(cfg Config) (json.RawMessage, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encode SSO connection settings: %w", err)
	}
	return b, nil
}

// SealSecret seals an OIDC client secret for the connection.
func SealSecret(box *secretbox.Box, partnerID, connectionID, secret string) []byte {
	return box.Seal([]byte(secret), binding("client-secret", partnerID, connectionID))
}

// ClientSecret opens the connection's OIDC client secret.
func ClientSecret(box *secretbox.Box, c store.SSOConnection, o *OIDC) (string, error) {
	if len(o.SealedSecret) == 0 {
		return "", fmt.Errorf("SSO connection %s/%s: %w", c.PartnerID, c.ID, ErrNoSecret)
	}
	b, err := box.Open(o.SealedSecret, binding("client-secret", c.PartnerID, c.ID))
	if err != nil {
		return "", fmt.Errorf("SSO connection %s/%s: open client secret: %w", c.PartnerID, c.ID, err)
	}
	return string(b), nil
}

// ErrNoSecret is a connection missing the secret it needs.
var ErrNoSecret = errors.New("no secret stored")

// SealSPKey seals a SAML service provider's private key for the connection.
func SealSPKey(box *secretbox.Box, partnerID, connectionID string, key *rsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode SP key: %w", err)
	}
	return box.Seal(der, binding("sp-key", partnerID, connectionID)), nil
}

// SPKeyPair opens the connection's SAML service provider key pair.
func SPKeyPair(box *secretbox.Box, c store.SSOConnection, s *SAML) (*rsa.PrivateKey, *x509.Certificate, error) {
	if len(s.SealedSPKey) == 0 || len(s.SPCertificate) == 0 {
		return nil, nil, fmt.Errorf("SSO connection %s/%s: SP key pair: %w", c.PartnerID, c.ID, ErrNoSecret)
	}
	der, err := box.Open(s.SealedSPKey, binding("sp-key", c.PartnerID, c.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("SSO connection %s/%s: open SP key: %w", c.PartnerID, c.ID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, nil, fmt.Errorf("SSO connection %s/%s: parse SP key: %w", c.PartnerID, c.ID, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return nil, nil, fmt.Errorf("SSO connection %s/%s: SP key is %T, not RSA", c.PartnerID, c.ID, parsed)
	}
	cert, err := x509.ParseCertificate(s.SPCertificate)
	if err != nil {
		return nil, nil, fmt.Errorf("SSO connection %s/%s: parse SP certificate: %w", c.PartnerID, c.ID, err)
	}
	return key, cert, nil
}

// binding is the additional data a secret is sealed with: its purpose,
// partner and connection.
func binding(purpose, partnerID, connectionID string) []byte {
	return []byte("sso-connection/" + purpose + "/" + partnerID + "/" + connectionID)
}

// CloneMapping deep-copies m, with empty lists rather than nil ones so
// that JSON always shows arrays.
func CloneMapping(m preset.Mapping) preset.Mapping {
	c := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return slices.Clone(s)
	}
	return preset.Mapping{Email: c(m.Email), Name: c(m.Name), GivenName: c(m.GivenName), FamilyName: c(m.FamilyName), Groups: c(m.Groups)}
}
