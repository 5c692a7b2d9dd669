package saml

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/partnergate/partnergate/sso"
)

// Config is the service provider of one partner connection.
type Config struct {
	EntityID string
	ACSURL   string
	SLOURL   string
	// Key and Certificate sign AuthnRequests and logout responses, and
	// decrypt encrypted assertions.
	Key         *rsa.PrivateKey
	Certificate *x509.Certificate
	IdP         IdP
	// SignRequests signs AuthnRequests; some IdPs require it, and the SP
	// metadata says so.
	SignRequests bool
	// AllowIdPInitiated accepts responses that answer no request of ours,
	// for partners who start sign-ins from their IdP's portal.
	AllowIdPInitiated bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// NewKeyPair makes an SP key pair: RSA-2048 and a self-signed certificate
// valid for ten years, since SAML peers pin the certificate rather than
// check its chain.
func NewKeyPair(commonName string, now time.Time) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("generating SP key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, fmt.Errorf("generating certificate serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("creating SP certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("parsing SP certificate: %w", err)
	}
	return key, cert, nil
}

// Metadata is the SP's EntityDescriptor for the partner's IdP admin. more
// are further SP certificates to publish, for a partner with several
// connections to one IdP entity or during an SP key rollover.
func Metadata(sp Config, more ...*x509.Certificate) ([]byte, error) {
	if sp.EntityID == "" || sp.ACSURL == "" {
		return nil, sso.Fail(sso.Misconfigured, "The connection has no SP entity ID or assertion consumer URL.")
	}
	certs := more
	if sp.Certificate != nil {
		certs = append([]*x509.Certificate{sp.Certificate}, more...)
	}
	var keys []crewjam.KeyDescriptor
	for _, c := range certs {
		keys = append(keys, keyDescriptor("signing", c), keyDescriptor("encryption", c))
	}
	var slo []crewjam.Endpoint
	if sp.SLOURL != "" {
		slo = []crewjam.Endpoint{
			{Binding: crewjam.HTTPRedirectBinding, Location: sp.SLOURL},
			{Binding: crewjam.HTTPPostBinding, Location: sp.SLOURL},
		}
	}
	signed, wantSigned, isDefault := sp.SignRequests, true, true
	ed := crewjam.EntityDescriptor{
		EntityID: sp.EntityID,
		SPSSODescriptors: []crewjam.SPSSODescriptor{{
			SSODescriptor: crewjam.SSODescriptor{
				RoleDescriptor: crewjam.RoleDescriptor{
					ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
					KeyDescriptors:             keys,
				},
				SingleLogoutServices: slo,
				NameIDFormats:        []crewjam.NameIDFormat{crewjam.EmailAddressNameIDFormat, crewjam.UnspecifiedNameIDFormat},
			},
			AuthnRequestsSigned:  &signed,
			WantAssertionsSigned: &wantSigned,
			AssertionConsumerServices: []crewjam.IndexedEndpoint{
				{Binding: crewjam.HTTPPostBinding, Location: sp.ACSURL, Index: 1, IsDefault: &isDefault},
			},
		}},
	}
	out, err := xml.MarshalIndent(ed, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshalling SP metadata: %w", err)
	}
	return append([]byte(xml.Header), out...), nil
}

// serviceProvider is crewjam's SP for this connection at this instant.
func (c Config) serviceProvider() (*crewjam.ServiceProvider, error) {
	if c.EntityID == "" || c.ACSURL == "" {
		return nil, sso.Fail(sso.Misconfigured, "The connection has no SP entity ID or assertion consumer URL.")
	}
	if c.IdP.EntityID == "" || len(c.IdP.Certificates) == 0 {
		return nil, sso.Fail(sso.Misconfigured, "The connection has no identity provider entity ID or signing certificate.",
			sso.Fact{Label: "IdP entity ID", Value: c.IdP.EntityID})
	}
	acs, err := url.Parse(c.ACSURL)
	if err != nil {
		return nil, sso.Wrap(sso.Misconfigured, "The connection's assertion consumer URL is not valid.", err)
	}
	slo, err := url.Parse(c.SLOURL)
	if err != nil {
		return nil, sso.Wrap(sso.Misconfigured, "The connection's single logout URL is not valid.", err)
	}
	sp := &crewjam.ServiceProvider{
		EntityID:          c.EntityID,
		Certificate:       c.Certificate,
		AcsURL:            *acs,
		SloURL:            *slo,
		IDPMetadata:       c.IdP.entityDescriptor(),
		AuthnNameIDFormat: crewjam.UnspecifiedNameIDFormat,
		AllowIDPInitiated: c.AllowIdPInitiated,
		// One instant for the whole check: crewjam and goxmldsig both
		// read the time from this clock.
		Clock:          dsig.NewFakeClockAt(c.now()),
		LogoutBindings: []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding},
		// SHA-1 signatures can be forged by collision; no IdP in use
		// today needs them.
		RejectSHA1Signatures: true,
	}
	// A nil *rsa.PrivateKey in the crypto.Signer field would be a non-nil
	// interface that crewjam then calls.
	if c.Key != nil {
		sp.Key = c.Key
		sp.LogoutSignatureMethod = dsig.RSASHA256SignatureMethod
	}
	if c.SignRequests {
		if c.Key == nil || c.Certificate == nil {
			return nil, sso.Fail(sso.Misconfigured, "The connection signs requests but has no SP key pair.")
		}
		sp.SignatureMethod = dsig.RSASHA256SignatureMethod
	}
	return sp, nil
}

// Request is a message for the browser to carry to the IdP.
type Request struct {
	// URL is where to send the browser.
	URL string
	// Form, when non-nil, holds the fields to auto-post to URL (HTTP-POST
	// binding); otherwise the browser is redirected to URL.
	Form map[string]string
	// ID is an AuthnRequest's id, to keep until the response arrives:
	// its InResponseTo must match. Logout responses expect no answer and
	// leave it empty.
	ID string
}

// AuthnRequest starts an SP-initiated sign-in with the IdP's SSO binding.
func AuthnRequest(sp Config, relayState string) (Request, error) {
	csp, err := sp.serviceProvider()
	if err != nil {
		return Request{}, err
	}
	binding := sp.IdP.SSOBinding
	if binding != crewjam.HTTPPostBinding {
		binding = crewjam.HTTPRedirectBinding
	}
	req, err := csp.MakeAuthenticationRequest(sp.IdP.SSOURL, binding, crewjam.HTTPPostBinding)
	if err != nil {
		return Request{}, sso.Wrap(sso.Misconfigured, "The sign-in request could not be made; check the SP key pair.", err)
	}
	if binding == crewjam.HTTPRedirectBinding {
		u, err := req.Redirect(relayState, csp)
		if err != nil {
			return Request{}, sso.Wrap(sso.Misconfigured, "The sign-in request could not be made; check the SP key pair.", err)
		}
		return Request{URL: u.String(), ID: req.ID}, nil
	}
	form, err := postForm("SAMLRequest", req.Element(), relayState)
	if err != nil {
		return Request{}, err
	}
	return Request{URL: sp.IdP.SSOURL, Form: form, ID: req.ID}, nil
}

func postForm(field string, el *etree.Element, relayState string) (map[string]string, error) {
	doc := etree.NewDocument()
	doc.SetRoot(el)
	buf, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("serializing %s: %w", field, err)
	}
	form := map[string]string{field: base64.StdEncoding.EncodeToString(buf)}
	if relayState != "" {
		form["RelayState"] = relayState
	}
	return form, nil
}

// ParseLogoutRequest reads a logout the IdP started, with HTTP-Redirect or
// HTTP-POST. It must be signed by the IdP: an unsigned one would let anyone
// end a user's sessions.
func ParseLogoutRequest(sp Config, r *http.Request) (nameID, sessionIndex, requestID string, err error) {
	csp, err := sp.serviceProvider()
	if err != nil {
		return "", "", "", err
	}
	if sp.SLOURL == "" {
		return "", "", "", sso.Fail(sso.Misconfigured, "The connection has no single logout URL.")
	}
	req, err := csp.ValidateLogoutRequest(r)
	if err != nil {
		// Only a posted request is at hand as XML; a redirected one's
		// signature is in the query, with no certificate to name.
		raw, _ := base64.StdEncoding.DecodeString(r.PostForm.Get("SAMLRequest"))
		return "", "", "", classify(sp, err, sp.now(), newUntrusted(raw))
	}
	if req.NameID != nil {
		nameID = req.NameID.Value
	}
	if req.SessionIndex != nil {
		sessionIndex = req.SessionIndex.Value
	}
	return nameID, sessionIndex, req.ID, nil
}

// LogoutResponse answers the IdP's LogoutRequest inResponseTo, signed,
// with the IdP's SLO binding.
func LogoutResponse(sp Config, inResponseTo, relayState string) (Request, error) {
	csp, err := sp.serviceProvider()
	if err != nil {
		return Request{}, err
	}
	if sp.IdP.SLOURL == "" {
		return Request{}, sso.Fail(sso.Misconfigured, "The identity provider has no single logout URL.",
			sso.Fact{Label: "IdP entity ID", Value: sp.IdP.EntityID})
	}
	if sp.Key == nil || sp.Certificate == nil {
		return Request{}, sso.Fail(sso.Misconfigured, "The connection has no SP key pair to sign the logout response.")
	}
	if sp.IdP.SLOBinding == crewjam.HTTPPostBinding {
		resp, err := csp.MakeLogoutResponse(sp.IdP.SLOURL, inResponseTo)
		if err != nil {
			return Request{}, sso.Wrap(sso.Misconfigured, "The logout response could not be signed; check the SP key pair.", err)
		}
		form, err := postForm("SAMLResponse", resp.Element(), relayState)
		if err != nil {
			return Request{}, err
		}
		return Request{URL: sp.IdP.SLOURL, Form: form}, nil
	}
	u, err := csp.MakeRedirectLogoutResponse(inResponseTo, relayState)
	if err != nil {
		return Request{}, sso.Wrap(sso.Misconfigured, "The logout response could not be signed; check the SP key pair.", err)
	}
	return Request{URL: u.String()}, nil
}
