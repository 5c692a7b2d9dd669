package saml

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"fmt"
	"net/url"
	"strings"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/partnergate/partnergate/sso"
)

// IdP is what a service provider knows of a partner's identity provider.
type IdP struct {
	EntityID string
	// SSOURL receives AuthnRequests with SSOBinding: HTTP-Redirect when the
	// IdP offers it, else HTTP-POST.
	SSOURL     string
	SSOBinding string
	// SLOURL receives logout responses with SLOBinding; both are empty when
	// the IdP has no single logout.
	SLOURL     string
	SLOBinding string
	// Certificates are all the IdP's signing certificates: during a key
	// rollover the IdP publishes the old and the new one, and either may
	// sign.
	Certificates []*x509.Certificate
}

// ParseMetadata reads an IdP from its SAML metadata: an EntityDescriptor,
// or an EntitiesDescriptor holding exactly one identity provider.
func ParseMetadata(data []byte) (IdP, error) {
	entities, err := parseEntities(data)
	if err != nil {
		return IdP{}, err
	}
	var idps []crewjam.EntityDescriptor
	for _, e := range entities {
		if len(e.IDPSSODescriptors) > 0 {
			idps = append(idps, e)
		}
	}
	switch len(idps) {
	case 0:
		return IdP{}, sso.Fail(sso.Misconfigured,
			"The metadata describes no identity provider (it has no IDPSSODescriptor).",
			sso.Fact{Label: "Entities in the metadata", Value: fmt.Sprint(len(entities))})
	case 1:
	default:
		ids := make([]string, len(idps))
		for i, e := range idps {
			ids[i] = e.EntityID
		}
		return IdP{}, sso.Fail(sso.Misconfigured,
			"The metadata describes several identity providers; use the metadata of just the one for this connection.",
			sso.Fact{Label: "Identity providers", Value: truncate(strings.Join(ids, ", "), 300)})
	}
	return idpFromDescriptor(idps[0])
}

// parseEntities returns every EntityDescriptor in data, however deeply
// nested in EntitiesDescriptors.
func parseEntities(data []byte) ([]crewjam.EntityDescriptor, error) {
	root, err := rootElementName(data)
	if err != nil {
		return nil, sso.Wrap(sso.Malformed, "The metadata is not valid XML.", err)
	}
	malformed := func(err error) error {
		return sso.Wrap(sso.Malformed, "The metadata does not follow the SAML metadata schema.", err)
	}
	switch root {
	case "EntityDescriptor":
		var e crewjam.EntityDescriptor
		if err := xml.Unmarshal(data, &e); err != nil {
			return nil, malformed(err)
		}
		return []crewjam.EntityDescriptor{e}, nil
	case "EntitiesDescriptor":
		var es crewjam.EntitiesDescriptor
		if err := xml.Unmarshal(data, &es); err != nil {
			return nil, malformed(err)
		}
		var out []crewjam.EntityDescriptor
		var walk func(crewjam.EntitiesDescriptor)
		walk = func(es crewjam.EntitiesDescriptor) {
			out = append(out, es.EntityDescriptors...)
			for _, inner := range es.EntitiesDescriptors {
				walk(inner)
			}
		}
		walk(es)
		return out, nil
	default:
		return nil, sso.Fail(sso.Malformed,
			"The document is not SAML metadata: it must start with an EntityDescriptor or EntitiesDescriptor.",
			sso.Fact{Label: "Root element", Value: truncate(root, 100)})
	}
}

func rootElementName(data []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(data))
	for {
		tok, err := d.Token()
		if err != nil {
			return "", fmt.Errorf("reading the root element: %w", err)
		}
		if start, ok := tok.(xml.StartElement); ok {
			return start.Name.Local, nil
		}
	}
}

func idpFromDescriptor(e crewjam.EntityDescriptor) (IdP, error) {
	idp := IdP{EntityID: e.EntityID}
	if idp.EntityID == "" {
		return IdP{}, sso.Fail(sso.Misconfigured, "The metadata's EntityDescriptor has no entityID.")
	}
	d := e.IDPSSODescriptors[0]
	idp.SSOURL, idp.SSOBinding = pickEndpoint(d.SingleSignOnServices)
	if idp.SSOURL == "" {
		return IdP{}, sso.Fail(sso.Misconfigured,
			"The metadata has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding.",
			sso.Fact{Label: "Entity ID", Value: idp.EntityID})
	}
	idp.SLOURL, idp.SLOBinding = pickEndpoint(d.SingleLogoutServices)
	for _, kd := range d.KeyDescriptors {
		if kd.Use != "" && kd.Use != "signing" {
			continue
		}
		for _, xc := range kd.KeyInfo.X509Data.X509Certificates {
			cert, err := parseBase64Cert(xc.Data)
			if err != nil {
				return IdP{}, sso.Wrap(sso.Malformed, "A signing certificate in the metadata cannot be read.", err,
					sso.Fact{Label: "Entity ID", Value: idp.EntityID})
			}
			idp.Certificates = append(idp.Certificates, cert)
		}
	}
	if len(idp.Certificates) == 0 {
		return IdP{}, sso.Fail(sso.Misconfigured,
			"The metadata has no signing certificate (no KeyDescriptor with use=\"signing\" or without use).",
			sso.Fact{Label: "Entity ID", Value: idp.EntityID})
	}
	return idp, nil
}

// pickEndpoint prefers HTTP-Redirect, which needs no page of our own to
// post from.
func pickEndpoint(endpoints []crewjam.Endpoint) (location, binding string) {
	for _, want := range []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding} {
		for _, e := range endpoints {
			if e.Binding == want && e.Location != "" {
				return e.Location, e.Binding
			}
		}
	}
	return "", ""
}

func parseBase64Cert(data string) (*x509.Certificate, error) {
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
	if err != nil {
		return nil, fmt.Errorf("decoding base64 certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	return cert, nil
}

// ManualIdP is an IdP configured by hand, for partners who hand over an
// entity id, a sign-in URL and a certificate rather than metadata. The
// IdP is sent requests with HTTP-Redirect, which every IdP supports.
func ManualIdP(entityID, ssoURL string, certPEM []byte) (IdP, error) {
	if strings.TrimSpace(entityID) == "" {
		return IdP{}, sso.Fail(sso.Misconfigured, "The identity provider's entity ID is missing.")
	}
	if u, err := url.Parse(ssoURL); err != nil || !u.IsAbs() || u.Host == "" {
		return IdP{}, sso.Fail(sso.Misconfigured,
			"The identity provider's sign-in URL is not an absolute URL.",
			sso.Fact{Label: "Sign-in URL", Value: truncate(ssoURL, 200)})
	}
	var certs []*x509.Certificate
	for rest := certPEM; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return IdP{}, sso.Wrap(sso.Malformed, "A certificate of the identity provider cannot be read.", err,
				sso.Fact{Label: "Certificate number", Value: fmt.Sprint(len(certs) + 1)})
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return IdP{}, sso.Fail(sso.Misconfigured,
			"No certificate was found: paste the identity provider's signing certificate in PEM form (-----BEGIN CERTIFICATE-----).")
	}
	return IdP{
		EntityID:     entityID,
		SSOURL:       ssoURL,
		SSOBinding:   crewjam.HTTPRedirectBinding,
		Certificates: certs,
	}, nil
}

// CertificateExpiries lists when each IdP signing certificate expires, so
// the admin can be warned ahead of a sign-in outage.
func CertificateExpiries(idp IdP) []time.Time {
	out := make([]time.Time, len(idp.Certificates))
	for i, c := range idp.Certificates {
		out[i] = c.NotAfter
	}
	return out
}

// entityDescriptor is the IdP as crewjam's ServiceProvider reads it.
func (idp IdP) entityDescriptor() *crewjam.EntityDescriptor {
	keys := make([]crewjam.KeyDescriptor, len(idp.Certificates))
	for i, c := range idp.Certificates {
		keys[i] = keyDescriptor("signing", c)
	}
	d := crewjam.IDPSSODescriptor{
		SSODescriptor: crewjam.SSODescriptor{
			RoleDescriptor: crewjam.RoleDescriptor{
				ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
				KeyDescriptors:             keys,
			},
		},
		SingleSignOnServices: []crewjam.Endpoint{{Binding: idp.SSOBinding, Location: idp.SSOURL}},
	}
	if idp.SLOURL != "" {
		d.SingleLogoutServices = []crewjam.Endpoint{{Binding: idp.SLOBinding, Location: idp.SLOURL}}
	}
	return &crewjam.EntityDescriptor{EntityID: idp.EntityID, IDPSSODescriptors: []crewjam.IDPSSODescriptor{d}}
}

func keyDescriptor(use string, cert *x509.Certificate) crewjam.KeyDescriptor {
	return crewjam.KeyDescriptor{
		Use: use,
		KeyInfo: crewjam.KeyInfo{X509Data: crewjam.X509Data{
			X509Certificates: []crewjam.X509Certificate{{Data: base64.StdEncoding.EncodeToString(cert.Raw)}},
		}},
	}
}

// truncate bounds a value taken from a partner's document before it goes
// into a failure's facts.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
