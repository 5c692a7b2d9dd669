package saml

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/partnergate/partnergate/sso"
)

// rawParam returns a query parameter exactly as sent, since the redirect
// binding signs the URL-encoded form.
func rawParam(t *testing.T, rawQuery, name string) string {
	t.Helper()
	for part := range strings.SplitSeq(rawQuery, "&") {
		if k, v, _ := strings.Cut(part, "="); k == name {
			return v
		}
	}
	t.Fatalf("no %s in %s", name, rawQuery)
	return ""
}

func inflate(t *testing.T, b64 string) *etree.Element {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	xmlBytes, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xmlBytes); err != nil {
		t.Fatal(err)
	}
	return doc.Root()
}

func verifyRedirectSignature(t *testing.T, u *url.URL, param string, cert *x509.Certificate) {
	t.Helper()
	q := u.RawQuery
	signed := param + "=" + rawParam(t, q, param)
	if strings.Contains(q, "RelayState=") {
		signed += "&RelayState=" + rawParam(t, q, "RelayState")
	}
	signed += "&SigAlg=" + rawParam(t, q, "SigAlg")
	if got := u.Query().Get("SigAlg"); got != dsig.RSASHA256SignatureMethod {
		t.Fatalf("SigAlg = %q", got)
	}
	sig, err := base64.StdEncoding.DecodeString(u.Query().Get("Signature"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(signed))
	if err := rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, sum[:], sig); err != nil {
		t.Fatalf("redirect signature does not verify with the SP certificate: %v", err)
	}
}

func TestAuthnRequestRedirectSigned(t *testing.T) {
	sp := testConfig(t)
	sp.SignRequests = true
	req, err := AuthnRequest(sp, "state-123")
	if err != nil {
		t.Fatal(err)
	}
	if req.Form != nil || req.ID == "" {
		t.Fatalf("request = %+v", req)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(req.URL, sp.IdP.SSOURL+"?") || u.Query().Get("RelayState") != "state-123" {
		t.Fatalf("URL = %s", req.URL)
	}
	verifyRedirectSignature(t, u, "SAMLRequest", sp.Certificate)
	root := inflate(t, u.Query().Get("SAMLRequest"))
	if root.SelectAttrValue("ID", "") != req.ID || root.SelectAttrValue("AssertionConsumerServiceURL", "") != spACS {
		t.Fatalf("AuthnRequest ID/ACS = %q/%q", root.SelectAttrValue("ID", ""), root.SelectAttrValue("AssertionConsumerServiceURL", ""))
	}

	sp.SignRequests = false
	req, err = AuthnRequest(sp, "")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(req.URL, "Signature=") {
		t.Errorf("unsigned request carries a signature: %s", req.URL)
	}
}

func TestAuthnRequestPostSigned(t *testing.T) {
	sp := testConfig(t)
	sp.SignRequests = true
	sp.IdP.SSOBinding = crewjam.HTTPPostBinding
	req, err := AuthnRequest(sp, "state-123")
	if err != nil {
		t.Fatal(err)
	}
	if req.URL != sp.IdP.SSOURL || req.Form["RelayState"] != "state-123" {
		t.Fatalf("request = %+v", req)
	}
	raw, err := base64.StdEncoding.DecodeString(req.Form["SAMLRequest"])
	if err != nil {
		t.Fatal(err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		t.Fatal(err)
	}
	ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{sp.Certificate}})
	ctx.Clock = dsig.NewFakeClockAt(testNow)
	if _, err := ctx.Validate(doc.Root()); err != nil {
		t.Fatalf("enveloped signature does not verify with the SP certificate: %v", err)
	}
	if doc.Root().SelectAttrValue("ID", "") != req.ID {
		t.Errorf("ID mismatch")
	}
}

func TestAuthnRequestNeedsKeyToSign(t *testing.T) {
	sp := testConfig(t)
	sp.SignRequests = true
	sp.Key = nil
	_, err := AuthnRequest(sp, "")
	wantFailure(t, err, sso.Misconfigured, "", "")
}

func TestNewKeyPair(t *testing.T) {
	key, cert, err := NewKeyPair("gw.example.com", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 || cert.Subject.CommonName != "gw.example.com" {
		t.Errorf("key bits %d, CN %q", key.N.BitLen(), cert.Subject.CommonName)
	}
	if got := cert.NotAfter.Sub(testNow); got < 10*365*24*time.Hour {
		t.Errorf("valid for %v, want 10 years", got)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Error("certificate is not for the key")
	}
}

func TestMetadata(t *testing.T) {
	sp := testConfig(t)
	sp.SignRequests = true
	second := idpB(t).cert
	data, err := Metadata(sp, second)
	if err != nil {
		t.Fatal(err)
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(data, &ed); err != nil {
		t.Fatal(err)
	}
	if ed.EntityID != spEntityID || len(ed.SPSSODescriptors) != 1 {
		t.Fatalf("entity = %+v", ed)
	}
	d := ed.SPSSODescriptors[0]
	if d.AuthnRequestsSigned == nil || !*d.AuthnRequestsSigned || d.WantAssertionsSigned == nil || !*d.WantAssertionsSigned {
		t.Errorf("AuthnRequestsSigned/WantAssertionsSigned not true")
	}
	uses := map[string][]string{}
	for _, kd := range d.KeyDescriptors {
		for _, c := range kd.KeyInfo.X509Data.X509Certificates {
			uses[kd.Use] = append(uses[kd.Use], c.Data)
		}
	}
	for _, use := range []string{"signing", "encryption"} {
		want := []string{base64.StdEncoding.EncodeToString(sp.Certificate.Raw), base64.StdEncoding.EncodeToString(second.Raw)}
		if !slices.Equal(uses[use], want) {
			t.Errorf("%s certificates: got %d, want the SP certificate and the extra one", use, len(uses[use]))
		}
	}
	if len(d.AssertionConsumerServices) != 1 || d.AssertionConsumerServices[0].Location != spACS ||
		d.AssertionConsumerServices[0].Binding != crewjam.HTTPPostBinding {
		t.Errorf("ACS = %+v", d.AssertionConsumerServices)
	}
	var sloBindings []string
	for _, e := range d.SingleLogoutServices {
		if e.Location == spSLO {
			sloBindings = append(sloBindings, e.Binding)
		}
	}
	if !slices.Equal(sloBindings, []string{crewjam.HTTPRedirectBinding, crewjam.HTTPPostBinding}) {
		t.Errorf("SLO bindings = %v", sloBindings)
	}
	if !slices.Equal(d.NameIDFormats, []crewjam.NameIDFormat{crewjam.EmailAddressNameIDFormat, crewjam.UnspecifiedNameIDFormat}) {
		t.Errorf("NameIDFormats = %v", d.NameIDFormats)
	}
}

func logoutRequest(t *testing.T, sessionIndex string) *etree.Element {
	t.Helper()
	req := crewjam.LogoutRequest{
		ID:           "id-logout-1",
		Version:      "2.0",
		IssueInstant: testNow,
		Destination:  spSLO,
		Issuer:       &crewjam.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: idpEntityID},
		NameID:       &crewjam.NameID{Value: "jane@acme.example"},
		SessionIndex: &crewjam.SessionIndex{Value: sessionIndex},
	}
	return req.Element()
}

func postRequest(t *testing.T, el *etree.Element) *http.Request {
	t.Helper()
	form := url.Values{"SAMLRequest": {encode(t, el)}}
	r := httptest.NewRequest(http.MethodPost, spSLO, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

func deflateEncode(t *testing.T, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	var buf bytes.Buffer
	w, err := flate.NewWriter(&buf, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := doc.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// redirectRequest signs the query as an IdP does for the redirect binding.
func redirectRequest(t *testing.T, el *etree.Element, signer *keyPair) *http.Request {
	t.Helper()
	q := "SAMLRequest=" + url.QueryEscape(deflateEncode(t, el)) + "&RelayState=" + url.QueryEscape("rs")
	if signer != nil {
		q += "&SigAlg=" + url.QueryEscape(dsig.RSASHA256SignatureMethod)
		sum := sha256.Sum256([]byte(q))
		sig, err := rsa.SignPKCS1v15(nil, signer.key, crypto.SHA256, sum[:])
		if err != nil {
			t.Fatal(err)
		}
		q += "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig))
	}
	return httptest.NewRequest(http.MethodGet, spSLO+"?"+q, nil)
}

func TestParseLogoutRequest(t *testing.T) {
	sp := testConfig(t)
	idp := idpA(t)
	attacker := evil(t)
	check := func(t *testing.T, r *http.Request) {
		t.Helper()
		nameID, session, id, err := ParseLogoutRequest(sp, r)
		if err != nil {
			t.Fatal(err)
		}
		if nameID != "jane@acme.example" || session != "session-42" || id != "id-logout-1" {
			t.Errorf("got %q %q %q", nameID, session, id)
		}
	}
	t.Run("POST signed", func(t *testing.T) { check(t, postRequest(t, sign(t, idp, logoutRequest(t, "session-42")))) })
	t.Run("Redirect signed", func(t *testing.T) { check(t, redirectRequest(t, logoutRequest(t, "session-42"), &idp)) })
	t.Run("POST unsigned", func(t *testing.T) {
		_, _, _, err := ParseLogoutRequest(sp, postRequest(t, logoutRequest(t, "session-42")))
		wantFailure(t, err, sso.Unsigned, "", "")
	})
	t.Run("Redirect unsigned", func(t *testing.T) {
		_, _, _, err := ParseLogoutRequest(sp, redirectRequest(t, logoutRequest(t, "session-42"), nil))
		wantFailure(t, err, sso.Unsigned, "", "")
	})
	t.Run("Redirect signed by another key", func(t *testing.T) {
		_, _, _, err := ParseLogoutRequest(sp, redirectRequest(t, logoutRequest(t, "session-42"), &attacker))
		wantFailure(t, err, sso.BadSignature, "Expected certificates", "idp-a")
	})
	t.Run("POST signed by another key", func(t *testing.T) {
		_, _, _, err := ParseLogoutRequest(sp, postRequest(t, sign(t, attacker, logoutRequest(t, "session-42"))))
		wantFailure(t, err, sso.BadSignature, "Signing certificate", "attacker")
	})
}

func TestLogoutResponse(t *testing.T) {
	sp := testConfig(t)
	resp, err := LogoutResponse(sp, "id-logout-1", "rs")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.URL, sp.IdP.SLOURL+"?") {
		t.Fatalf("URL = %s", resp.URL)
	}
	verifyRedirectSignature(t, u, "SAMLResponse", sp.Certificate)
	if got := inflate(t, u.Query().Get("SAMLResponse")).SelectAttrValue("InResponseTo", ""); got != "id-logout-1" {
		t.Errorf("InResponseTo = %q", got)
	}

	sp.IdP.SLOBinding = crewjam.HTTPPostBinding
	resp, err = LogoutResponse(sp, "id-logout-1", "rs")
	if err != nil {
		t.Fatal(err)
	}
	if resp.Form["SAMLResponse"] == "" || resp.Form["RelayState"] != "rs" || resp.URL != sp.IdP.SLOURL {
		t.Fatalf("POST response = %+v", resp)
	}
}
