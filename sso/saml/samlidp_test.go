package saml

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/partnergate/partnergate/sso"
)

var samlResponseField = regexp.MustCompile(`name="SAMLResponse" value="([^"]+)"`)

// TestWithSamlidp signs a user in end to end against crewjam's own IdP:
// our SP metadata registered there, its metadata parsed here, a real
// AuthnRequest, and the (encrypted, signed) response it issues.
func TestWithSamlidp(t *testing.T) {
	idpURL := url.URL{Scheme: "https", Host: "idp.acme.example"}
	kp := idpA(t)
	server, err := samlidp.New(samlidp.Options{
		URL:         idpURL,
		Key:         kp.key,
		Certificate: kp.cert,
		Store:       &samlidp.MemoryStore{},
		Logger:      log.New(io.Discard, "", 0),
		Clock:       dsig.NewFakeClockAt(testNow),
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(r *http.Request) *httptest.ResponseRecorder {
		t.Helper()
		w := httptest.NewRecorder()
		server.ServeHTTP(w, r)
		return w
	}

	sp := testConfig(t)
	spMetadata, err := Metadata(sp)
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(httptest.NewRequest(http.MethodPut, idpURL.String()+"/services/acme", bytes.NewReader(spMetadata))); w.Code != http.StatusNoContent {
		t.Fatalf("registering the SP: %d %s", w.Code, w.Body)
	}
	user := `{"name": "alice", "password": "hunter2", "email": "alice@acme.example", "groups": ["staff"]}`
	if w := serve(httptest.NewRequest(http.MethodPut, idpURL.String()+"/users/alice", strings.NewReader(user))); w.Code != http.StatusNoContent {
		t.Fatalf("adding the user: %d %s", w.Code, w.Body)
	}

	w := serve(httptest.NewRequest(http.MethodGet, idpURL.String()+"/metadata", nil))
	idp, err := ParseMetadata(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sp.IdP = idp

	login := httptest.NewRequest(http.MethodPost, idpURL.String()+"/login", strings.NewReader("user=alice&password=hunter2"))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	cookies := serve(login).Result().Cookies()
	if len(cookies) != 1 {
		t.Fatalf("login set %d cookies", len(cookies))
	}

	req, err := AuthnRequest(sp, "rs")
	if err != nil {
		t.Fatal(err)
	}
	ssoReq := httptest.NewRequest(http.MethodGet, req.URL, nil)
	ssoReq.AddCookie(cookies[0])
	w = serve(ssoReq)
	m := samlResponseField.FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("no SAMLResponse in the IdP's answer: %d", w.Code)
	}
	samlResponse := html.UnescapeString(m[1])
	if raw, _ := base64.StdEncoding.DecodeString(samlResponse); !bytes.Contains(raw, []byte("EncryptedAssertion")) {
		t.Error("samlidp did not encrypt the assertion for the SP certificate in our metadata")
	}

	replay := &memReplay{}
	claims, err := ParseResponse(context.Background(), sp, samlResponse, []string{req.ID}, replay)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "alice@acme.example" || claims.Issuer != idp.EntityID || claims.SessionID == "" {
		t.Errorf("claims = %+v", claims)
	}
	if got := claims.Attributes["eduPersonAffiliation"]; len(got) == 0 {
		t.Errorf("no groups attribute in %v", claims.Attributes)
	}

	_, err = ParseResponse(context.Background(), sp, samlResponse, []string{req.ID}, replay)
	wantFailure(t, err, sso.Replay, "Assertion ID", "")

	// A signed AuthnRequest, with the POST binding, which is how samlidp
	// takes signed requests.
	signedSP := sp
	signedSP.SignRequests = true
	signedSP.IdP.SSOBinding = crewjam.HTTPPostBinding
	postReq, err := AuthnRequest(signedSP, "rs")
	if err != nil {
		t.Fatal(err)
	}
	form := url.Values{}
	for k, v := range postReq.Form {
		form.Set(k, v)
	}
	ssoPost := httptest.NewRequest(http.MethodPost, postReq.URL, strings.NewReader(form.Encode()))
	ssoPost.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	ssoPost.AddCookie(cookies[0])
	m = samlResponseField.FindStringSubmatch(serve(ssoPost).Body.String())
	if m == nil {
		t.Fatal("no SAMLResponse for the signed POST AuthnRequest")
	}
	if _, err := ParseResponse(context.Background(), signedSP, html.UnescapeString(m[1]), []string{postReq.ID}, replay); err != nil {
		t.Fatal(err)
	}

	// Another partner's connection, whose IdP is another entity with
	// another key, refuses the same response: samlidp signs the Response,
	// and that signature is checked first.
	other := testConfig(t)
	other.IdP.EntityID = "https://idp.partner-b.example"
	other.IdP.Certificates = []*x509.Certificate{idpB(t).cert}
	_, err = ParseResponse(context.Background(), other, samlResponse, []string{req.ID}, &memReplay{})
	wantFailure(t, err, sso.BadSignature, "Signing certificate", "idp-a")
}
