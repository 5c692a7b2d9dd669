package admin

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/sso/diagnostics"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
)

// idpCert is a self-signed IdP signing certificate valid until notAfter.
func idpCert(t *testing.T, cn string, notAfter time.Time) *x509.Certificate {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: notAfter.AddDate(-1, 0, 0), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// idpMetadata is SAML metadata of an IdP signing with certs.
func idpMetadata(entityID string, certs ...*x509.Certificate) string {
	var keys strings.Builder
	for _, c := range certs {
		keys.WriteString(`<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>` +
			base64.StdEncoding.EncodeToString(c.Raw) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`)
	}
	return `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + entityID + `">` +
		`<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` + keys.String() +
		`<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>` +
		`</md:IDPSSODescriptor></md:EntityDescriptor>`
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestSAMLConnectionGetsItsOwnKeyPair: creating a SAML connection makes an
// SP key pair sealed for that connection alone; the API never shows the
// key, and the IdP's certificates are listed with their expiry flagged 30
// days ahead.
func TestSAMLConnectionGetsItsOwnKeyPair(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		sso := "/api/v1/partners/acme/sso-connections"
		soon := idpCert(t, "soon.idp.example", t0.Add(10*24*time.Hour))
		later := idpCert(t, "later.idp.example", t0.AddDate(2, 0, 0))
		body := `{"name": "ADFS", "preset": "generic-saml", "saml": {"metadata_xml": ` + jsonString(idpMetadata("https://idp.example.com", soon, later)) + `}}`
		var c struct {
			ID   string
			SAML struct {
				SignRequests    bool              `json:"sign_requests"`
				IdPCertificates []certificateJSON `json:"idp_certificates"`
			}
		}
		e.mustJSON("POST", sso, body, http.StatusCreated, &c)
		if !c.SAML.SignRequests {
			t.Error("a new SAML connection must sign its requests by default")
		}
		if len(c.SAML.IdPCertificates) != 2 ||
			!c.SAML.IdPCertificates[0].ExpiresSoon || c.SAML.IdPCertificates[0].Expired || !strings.Contains(c.SAML.IdPCertificates[0].Subject, "soon.idp.example") ||
			c.SAML.IdPCertificates[1].ExpiresSoon {
			t.Errorf("idp_certificates = %+v, want the first flagged as expiring soon and the second not", c.SAML.IdPCertificates)
		}
		e.clock.Advance(11 * 24 * time.Hour)
		got := e.mustCall("GET", sso+"/"+c.ID, "", http.StatusOK)
		if !strings.Contains(string(got), `"expired":true`) {
			t.Errorf("after its end the certificate is not flagged expired: %s", got)
		}
		if strings.Contains(string(got), "sp_key") || strings.Contains(string(got), "PRIVATE") {
			t.Errorf("the answer shows the SP key: %s", got)
		}

		stored, err := e.store.GetSSOConnection(t.Context(), "acme", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := connection.Decode(stored)
		if err != nil {
			t.Fatal(err)
		}
		right, _ := secretbox.New(testSecretsKey)
		key, cert, err := connection.SPKeyPair(right, stored, cfg.SAML)
		if err != nil {
			t.Fatalf("the SP key pair does not open: %v", err)
		}
		if !key.PublicKey.Equal(cert.PublicKey) {
			t.Error("the SP certificate is not the key's")
		}
		var other struct{ ID string }
		e.mustJSON("POST", sso, strings.Replace(body, `"ADFS"`, `"ADFS 2"`, 1), http.StatusCreated, &other)
		stored2, _ := e.store.GetSSOConnection(t.Context(), "acme", other.ID)
		cfg2, _ := connection.Decode(stored2)
		if string(cfg2.SAML.SPCertificate) == string(cfg.SAML.SPCertificate) {
			t.Error("two connections share one SP key pair")
		}
		// A PATCH that changes the IdP keeps the SP key pair.
		e.mustCall("PATCH", sso+"/"+c.ID, `{"saml": {"metadata_url": "https://idp.example.com/metadata"}}`, http.StatusOK)
		after, _ := e.store.GetSSOConnection(t.Context(), "acme", c.ID)
		cfg3, _ := connection.Decode(after)
		if string(cfg3.SAML.SPCertificate) != string(cfg.SAML.SPCertificate) || string(cfg3.SAML.SealedSPKey) != string(cfg.SAML.SealedSPKey) {
			t.Error("a PATCH replaced the SP key pair")
		}
	})
}

// TestSAMLConnectionValidation: the IdP is described one way, every bad
// part named at once, and nothing is stored.
func TestSAMLConnectionValidation(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		sso := "/api/v1/partners/acme/sso-connections"
		pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: idpCert(t, "idp", t0.AddDate(1, 0, 0)).Raw}))
		for name, tc := range map[string]struct {
			saml   string
			fields []string
		}{
			"two sources":      {`{"metadata_url": "https://idp.example/md", "metadata_xml": "<x/>"}`, []string{"saml.metadata_url"}},
			"plain http":       {`{"metadata_url": "http://idp.example.com/md"}`, []string{"saml.metadata_url"}},
			"manual, partial":  {`{"sso_url": "ftp://idp.example/sso"}`, []string{"saml.entity_id", "saml.sso_url", "saml.certificates"}},
			"not certificates": {`{"entity_id": "e", "sso_url": "https://idp.example/sso", "certificates": "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}`, []string{"saml.certificates"}},
			"trailing junk":    {`{"entity_id": "e", "sso_url": "https://idp.example/sso", "certificates": ` + jsonString(pemCert+"junk") + `}`, []string{"saml.certificates"}},
			"wrong types":      {`{"sign_requests": "yes", "entity_id": 5}`, []string{"saml.sign_requests", "saml.entity_id"}},
		} {
			e.unchanged(func() {
				rec := e.call("POST", sso, `{"name": "S", "preset": "generic-saml", "saml": `+tc.saml+`}`)
				if rec.Code != http.StatusUnprocessableEntity {
					t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
				}
				for _, f := range tc.fields {
					if !strings.Contains(rec.Body.String(), `"field":"`+f+`"`) {
						t.Errorf("%s: no problem for %s: %s", name, f, rec.Body)
					}
				}
			})
		}
		// A local IdP may be plain http; a manual IdP is accepted whole.
		e.mustCall("POST", sso, `{"name": "Local", "preset": "generic-saml", "saml": {"metadata_url": "http://127.0.0.1:8080/md"}}`, http.StatusCreated)
		e.mustCall("POST", sso, `{"name": "Manual", "preset": "generic-saml", "saml": {"entity_id": "https://idp.example", "sso_url": "https://idp.example/sso", "certificates": `+jsonString(pemCert)+`, "sign_requests": false}}`, http.StatusCreated)
	})
}

// TestSSOTestSignIn: a partner admin starts a test and reads its result;
// the link is on the partner's host, and a result is only ever read
// through its own connection.
func TestSSOTestSignIn(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		conns := "/api/v1/partners/acme/sso-connections"
		var c, other struct{ ID string }
		e.mustJSON("POST", conns, validSSOConnection, http.StatusCreated, &c)
		e.mustJSON("POST", conns, `{"name": "Other", "preset": "generic-oidc", "oidc": {"issuer": "https://idp.example", "client_id": "x", "client_secret": "y"}}`, http.StatusCreated, &other)
		var started struct {
			ID, Status, URL string
		}
		rec := e.call("POST", conns+"/"+c.ID+"/test", "")
		if rec.Code != http.StatusCreated {
			t.Fatalf("start test = %d %s", rec.Code, rec.Body)
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &started); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(started.URL)
		if err != nil || u.Host != "acme."+testBase || u.Path != "/.partnergate/sso/test" || len(u.Query().Get("ticket")) < 40 || started.Status != "pending" {
			t.Fatalf("test link %q, status %q", started.URL, started.Status)
		}
		if loc := rec.Header().Get("Location"); loc != conns+"/"+c.ID+"/tests/"+started.ID {
			t.Errorf("Location %q", loc)
		}
		pending := e.mustCall("GET", conns+"/"+c.ID+"/tests/"+started.ID, "", http.StatusOK)
		if !strings.Contains(string(pending), `"status":"pending"`) || strings.Contains(string(pending), u.Query().Get("ticket")) {
			t.Errorf("pending result %s (the link's secret must not be readable again)", pending)
		}
		assertError(t, e.call("GET", conns+"/"+other.ID+"/tests/"+started.ID, ""), http.StatusNotFound, "not_found", "")

		res, err := diagnostics.Load(t.Context(), e.store, "acme", started.ID)
		if err != nil {
			t.Fatal(err)
		}
		res.Status, res.Failure = diagnostics.Failed, sso.Fail(sso.Expired, "The token has expired.", sso.Fact{Label: "Token expires", Value: "2025-03-04T05:00:00Z"})
		if err := diagnostics.Save(t.Context(), e.store, "acme", res, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		done := e.mustCall("GET", conns+"/"+c.ID+"/tests/"+started.ID, "", http.StatusOK)
		if !strings.Contains(string(done), `"status":"failed"`) || !strings.Contains(string(done), `"code":"expired"`) || !strings.Contains(string(done), "Token expires") {
			t.Errorf("finished result %s", done)
		}
		// The test is on the trail.
		trail := e.mustCall("GET", "/api/v1/partners/acme/audit?action=sso_connection.test", "", http.StatusOK)
		if !strings.Contains(string(trail), started.ID) {
			t.Errorf("the audit trail does not record the test: %s", trail)
		}
	})
}

// TestSSOFailuresList: a connection's failed sign-ins, newest first, each
// with its typed reason, and none of another connection's.
func TestSSOFailuresList(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		conns := "/api/v1/partners/acme/sso-connections"
		var c, other struct{ ID string }
		e.mustJSON("POST", conns, validSSOConnection, http.StatusCreated, &c)
		e.mustJSON("POST", conns, `{"name": "Other", "preset": "generic-oidc", "oidc": {"issuer": "https://idp.example", "client_id": "x", "client_secret": "y"}}`, http.StatusCreated, &other)
		for i, code := range []string{"bad_signature", "wrong_audience", "expired"} {
			if err := e.store.AppendSSOFailure(t.Context(), "acme", c.ID, store.SSOFailure{
				Time: t0.Add(time.Duration(i) * time.Minute), Code: code, Message: "m", Email: "ann@acme.com",
			}, 50); err != nil {
				t.Fatal(err)
			}
		}
		var got struct {
			Data []struct{ Code string }
		}
		e.mustJSON("GET", conns+"/"+c.ID+"/failures?limit=2", "", http.StatusOK, &got)
		if len(got.Data) != 2 || got.Data[0].Code != "expired" || got.Data[1].Code != "wrong_audience" {
			t.Errorf("failures %+v, want the two newest, newest first", got.Data)
		}
		e.mustJSON("GET", conns+"/"+other.ID+"/failures", "", http.StatusOK, &got)
		if len(got.Data) != 0 {
			t.Errorf("another connection shows %+v", got.Data)
		}
		assertError(t, e.call("GET", conns+"/sso_nope/failures", ""), http.StatusNotFound, "not_found", "")
	})
}

// TestSAMLMetadataURLCertificates: certificates behind a metadata URL are
// flagged too, and, since the IdP may change them at any time, they do not
// enter the ETag: a PATCH with the ETag of a GET succeeds.
func TestSAMLMetadataURLCertificates(t *testing.T) {
	t.Parallel()
	soon := idpCert(t, "rolling.idp.example", t0.Add(20*24*time.Hour))
	md := idpMetadata("https://idp.example.com", soon)
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		io.WriteString(w, md)
	}))
	t.Cleanup(idp.Close)
	onEachStore(t, func(t *testing.T, backend string) {
		var e *env
		e = newEnvOn(t, backend, func(c *Config) {
			c.SAMLMetadata = saml.NewMetadataCache(idp.Client(), time.Second, time.Hour, func() time.Time { return e.clock.Now() })
		})
		e.createPartner("acme")
		sso := "/api/v1/partners/acme/sso-connections"
		var c struct{ ID string }
		e.mustJSON("POST", sso, `{"name": "Ping", "preset": "generic-saml", "saml": {"metadata_url": "`+strings.Replace(idp.URL, "127.0.0.1", "localhost", 1)+`/md"}}`, http.StatusCreated, &c)
		rec := e.call("GET", sso+"/"+c.ID, "")
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "rolling.idp.example") || !strings.Contains(rec.Body.String(), `"expires_soon":true`) {
			t.Fatalf("GET = %d %s", rec.Code, rec.Body)
		}
		etag := rec.Header().Get("ETag")
		if rec := e.do(request{method: "PATCH", path: sso + "/" + c.ID, body: `{"name": "Ping prod"}`, header: http.Header{"If-Match": {etag}}}); rec.Code != http.StatusOK {
			t.Errorf("PATCH with the GET's ETag = %d %s", rec.Code, rec.Body)
		}
	})
}

// TestRepointingOIDCNeedsANewSecret: a PATCH moving the connection to
// another issuer or client must bring that client's secret, or the
// stored one would be sent to whoever runs the new issuer; nothing
// changes on refusal.
func TestRepointingOIDCNeedsANewSecret(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		conns := "/api/v1/partners/acme/sso-connections"
		var c struct{ ID string }
		e.mustJSON("POST", conns, validSSOConnection, http.StatusCreated, &c)
		for _, patch := range []string{
			`{"oidc": {"issuer": "https://attacker.example"}}`,
			`{"oidc": {"client_id": "0oa-other"}}`,
		} {
			e.unchanged(func() {
				rec := e.call("PATCH", conns+"/"+c.ID, patch)
				if rec.Code != http.StatusUnprocessableEntity || !strings.Contains(rec.Body.String(), `"field":"oidc.client_secret"`) {
					t.Errorf("%s: %d %s", patch, rec.Code, rec.Body)
				}
			})
		}
		e.mustCall("PATCH", conns+"/"+c.ID, `{"oidc": {"issuer": "https://acme.okta.com/oauth2/default", "client_secret": "new-secret-value"}}`, http.StatusOK)
		e.mustCall("PATCH", conns+"/"+c.ID, `{"oidc": {"scopes": ["openid", "email"]}}`, http.StatusOK)
	})
}
