package saml

import (
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"slices"
	"testing"
	"time"

	crewjam "github.com/crewjam/saml"

	"github.com/partnergate/partnergate/sso"
)

func idpMetadata(t *testing.T, entityID string, keyDescriptors string) string {
	t.Helper()
	return fmt.Sprintf(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID=%q>
  <IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    %s
    <SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.acme.example/slo"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://idp.acme.example/sso/post"/>
    <SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.acme.example/sso/redirect"/>
  </IDPSSODescriptor>
</EntityDescriptor>`, entityID, keyDescriptors)
}

func keyXML(use string, der []byte) string {
	attr := ""
	if use != "" {
		attr = fmt.Sprintf(" use=%q", use)
	}
	return fmt.Sprintf(`<KeyDescriptor%s><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>
%s
</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`, attr, base64.StdEncoding.EncodeToString(der))
}

func TestParseMetadataTwoSigningCerts(t *testing.T) {
	a, a2, enc := idpA(t).cert, idpA2(t).cert, spKP(t).cert
	data := idpMetadata(t, idpEntityID, keyXML("signing", a.Raw)+keyXML("", a2.Raw)+keyXML("encryption", enc.Raw))
	idp, err := ParseMetadata([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if idp.EntityID != idpEntityID || idp.SSOURL != "https://idp.acme.example/sso/redirect" || idp.SSOBinding != crewjam.HTTPRedirectBinding {
		t.Errorf("idp = %+v", idp)
	}
	if idp.SLOURL != "https://idp.acme.example/slo" || idp.SLOBinding != crewjam.HTTPPostBinding {
		t.Errorf("SLO = %s %s", idp.SLOURL, idp.SLOBinding)
	}
	if len(idp.Certificates) != 2 || !idp.Certificates[0].Equal(a) || !idp.Certificates[1].Equal(a2) {
		t.Errorf("got %d certificates, want the two signing ones", len(idp.Certificates))
	}
	if got := CertificateExpiries(idp); !slices.Equal(got, []time.Time{a.NotAfter, a2.NotAfter}) {
		t.Errorf("expiries = %v", got)
	}
}

func TestParseMetadataEntitiesDescriptor(t *testing.T) {
	a := idpA(t).cert
	sp := `<EntityDescriptor entityID="https://sp.example"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
	<AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="1"/></SPSSODescriptor></EntityDescriptor>`
	one := `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + sp +
		idpMetadata(t, idpEntityID, keyXML("signing", a.Raw)) + `</EntitiesDescriptor>`
	idp, err := ParseMetadata([]byte(one))
	if err != nil {
		t.Fatal(err)
	}
	if idp.EntityID != idpEntityID || len(idp.Certificates) != 1 {
		t.Errorf("idp = %+v", idp)
	}

	two := `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` +
		idpMetadata(t, idpEntityID, keyXML("signing", a.Raw)) +
		idpMetadata(t, "https://idp.other.example", keyXML("signing", a.Raw)) + `</EntitiesDescriptor>`
	_, err = ParseMetadata([]byte(two))
	wantFailure(t, err, sso.Misconfigured, "Identity providers", "https://idp.other.example")
}

func TestParseMetadataRefuses(t *testing.T) {
	enc := spKP(t).cert
	cases := []struct {
		name string
		data string
		code sso.Code
	}{
		{"not XML", "this is not xml", sso.Malformed},
		{"not metadata", `<html><body/></html>`, sso.Malformed},
		{"only an encryption key", idpMetadata(t, idpEntityID, keyXML("encryption", enc.Raw)), sso.Misconfigured},
		{"SP metadata", `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"><SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></EntityDescriptor>`, sso.Misconfigured},
		{"broken certificate", idpMetadata(t, idpEntityID, keyXML("signing", []byte("nope"))), sso.Malformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseMetadata([]byte(c.data))
			wantFailure(t, err, c.code, "", "")
		})
	}
}

func TestManualIdP(t *testing.T) {
	a, a2 := idpA(t).cert, idpA2(t).cert
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.Raw}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a2.Raw})...)
	idp, err := ManualIdP(idpEntityID, "https://idp.acme.example/sso", pemData)
	if err != nil {
		t.Fatal(err)
	}
	if idp.EntityID != idpEntityID || idp.SSOBinding != crewjam.HTTPRedirectBinding || len(idp.Certificates) != 2 {
		t.Errorf("idp = %+v", idp)
	}

	// A manual IdP verifies responses like one read from metadata.
	sp := testConfig(t)
	sp.IdP = idp
	s := defaultSpec(t)
	s.signer = idpA2(t)
	if _, err := parse(t, sp, s.response(t, s.assertion(t)), requestID); err != nil {
		t.Fatal(err)
	}

	_, err = ManualIdP(idpEntityID, "https://idp.acme.example/sso", []byte("MIIB..."))
	wantFailure(t, err, sso.Misconfigured, "", "")
	_, err = ManualIdP(idpEntityID, "/relative", pemData)
	wantFailure(t, err, sso.Misconfigured, "Sign-in URL", "/relative")
	_, err = ManualIdP("", "https://idp.acme.example/sso", pemData)
	wantFailure(t, err, sso.Misconfigured, "", "")
}
