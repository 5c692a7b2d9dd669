package saml

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"
	"github.com/crewjam/saml/xmlenc"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/partnergate/partnergate/sso"
)

// testNow is the fixed clock of every test, so validity windows are exact.
var testNow = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

const (
	spEntityID  = "https://gw.example.com/saml/acme"
	spACS       = "https://gw.example.com/saml/acme/acs"
	spSLO       = "https://gw.example.com/saml/acme/slo"
	idpEntityID = "https://idp.acme.example/metadata"
	requestID   = "id-request-1"
)

// memReplay is the ReplayCache of the tests.
type memReplay struct {
	mu  sync.Mutex
	ids map[string]time.Time
}

func (r *memReplay) Claim(_ context.Context, id string, expires time.Time) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ids == nil {
		r.ids = map[string]time.Time{}
	}
	if _, ok := r.ids[id]; ok {
		return false, nil
	}
	r.ids[id] = expires
	return true, nil
}

type keyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// RSA key generation dominates test time under -race, so each key is
// made once.
var testKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 5)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	return keys
})

func newPair(t *testing.T, keyIndex int, cn string, notAfter time.Time) keyPair {
	t.Helper()
	key := testKeys()[keyIndex]
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(int64(keyIndex + 1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    testNow.AddDate(-1, 0, 0),
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{key: key, cert: cert}
}

// The tests' parties: the partner's IdP (two keys, for rollover), another
// partner's IdP, an attacker, and the SP.
func idpA(t *testing.T) keyPair  { return newPair(t, 0, "idp-a", testNow.AddDate(1, 0, 0)) }
func idpA2(t *testing.T) keyPair { return newPair(t, 1, "idp-a-next", testNow.AddDate(2, 0, 0)) }
func idpB(t *testing.T) keyPair  { return newPair(t, 2, "idp-b", testNow.AddDate(1, 0, 0)) }
func evil(t *testing.T) keyPair  { return newPair(t, 3, "attacker", testNow.AddDate(1, 0, 0)) }
func spKP(t *testing.T) keyPair  { return newPair(t, 4, "gw", testNow.AddDate(10, 0, 0)) }

func testConfig(t *testing.T) Config {
	sp := spKP(t)
	return Config{
		EntityID:    spEntityID,
		ACSURL:      spACS,
		SLOURL:      spSLO,
		Key:         sp.key,
		Certificate: sp.cert,
		IdP: IdP{
			EntityID:     idpEntityID,
			SSOURL:       "https://idp.acme.example/sso",
			SSOBinding:   crewjam.HTTPRedirectBinding,
			SLOURL:       "https://idp.acme.example/slo",
			SLOBinding:   crewjam.HTTPRedirectBinding,
			Certificates: []*x509.Certificate{idpA(t).cert},
		},
		Now: func() time.Time { return testNow },
	}
}

// respSpec describes a response to build; each test changes what it needs.
type respSpec struct {
	signer          keyPair
	responseSigner  *keyPair
	signAssertion   bool
	encryptFor      *x509.Certificate
	issuer          string
	assertionID     string
	inResponseTo    string
	destination     string
	recipient       string
	audience        string
	nameID          string
	issueInstant    time.Time
	notBefore       time.Time
	notOnOrAfter    time.Time
	scdNotOnOrAfter time.Time
	status          *crewjam.Status
	// sigMethod signs with another algorithm than RSA-SHA256.
	sigMethod string
}

func defaultSpec(t *testing.T) respSpec {
	return respSpec{
		signer:          idpA(t),
		signAssertion:   true,
		issuer:          idpEntityID,
		assertionID:     "id-assertion-1",
		inResponseTo:    requestID,
		destination:     spACS,
		recipient:       spACS,
		audience:        spEntityID,
		nameID:          "jane@acme.example",
		issueInstant:    testNow,
		notBefore:       testNow.Add(-time.Minute),
		notOnOrAfter:    testNow.Add(5 * time.Minute),
		scdNotOnOrAfter: testNow.Add(5 * time.Minute),
	}
}

func sign(t *testing.T, kp keyPair, el *etree.Element) *etree.Element {
	t.Helper()
	return signWith(t, kp, el, "")
}

// signWith signs with method, RSA-SHA256 when "".
func signWith(t *testing.T, kp keyPair, el *etree.Element, method string) *etree.Element {
	t.Helper()
	if method == "" {
		method = dsig.RSASHA256SignatureMethod
	}
	ctx := dsig.NewDefaultSigningContext(dsig.TLSCertKeyStore(tls.Certificate{
		Certificate: [][]byte{kp.cert.Raw},
		PrivateKey:  kp.key,
	}))
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	// SAML's schema puts the Signature right after the Issuer.
	// goxmldsig appends the Signature without indexing it, so it is
	// removed by position.
	sig := signed.RemoveChildAt(len(signed.Child) - 1)
	signed.InsertChildAt(signed.SelectElement("Issuer").Index()+1, sig)
	return signed
}

func (s respSpec) assertion(t *testing.T) *etree.Element {
	t.Helper()
	a := crewjam.Assertion{
		ID:           s.assertionID,
		IssueInstant: s.issueInstant,
		Version:      "2.0",
		Issuer:       crewjam.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: s.issuer},
		Subject: &crewjam.Subject{
			NameID: &crewjam.NameID{Format: string(crewjam.EmailAddressNameIDFormat), Value: s.nameID},
			SubjectConfirmations: []crewjam.SubjectConfirmation{{
				Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &crewjam.SubjectConfirmationData{
					InResponseTo: s.inResponseTo,
					NotOnOrAfter: s.scdNotOnOrAfter,
					Recipient:    s.recipient,
				},
			}},
		},
		Conditions: &crewjam.Conditions{
			NotBefore:            s.notBefore,
			NotOnOrAfter:         s.notOnOrAfter,
			AudienceRestrictions: []crewjam.AudienceRestriction{{Audience: crewjam.Audience{Value: s.audience}}},
		},
		AuthnStatements: []crewjam.AuthnStatement{{
			AuthnInstant: s.issueInstant,
			SessionIndex: "session-42",
			AuthnContext: crewjam.AuthnContext{AuthnContextClassRef: &crewjam.AuthnContextClassRef{Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}},
		}},
		AttributeStatements: []crewjam.AttributeStatement{{Attributes: []crewjam.Attribute{
			{Name: "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", FriendlyName: "mail",
				Values: []crewjam.AttributeValue{{Type: "xs:string", Value: "jane@acme.example"}}},
			{Name: "groups", Values: []crewjam.AttributeValue{{Type: "xs:string", Value: "admins"}, {Type: "xs:string", Value: "staff"}}},
		}}},
	}
	el := a.Element()
	if s.signAssertion {
		el = signWith(t, s.signer, el, s.sigMethod)
	}
	return el
}

// response wraps assertions (already built, maybe mutated) in a Response.
func (s respSpec) response(t *testing.T, assertions ...etree.Token) *etree.Element {
	t.Helper()
	status := crewjam.Status{StatusCode: crewjam.StatusCode{Value: crewjam.StatusSuccess}}
	if s.status != nil {
		status = *s.status
	}
	r := crewjam.Response{
		ID:           "id-response-1",
		InResponseTo: s.inResponseTo,
		Version:      "2.0",
		IssueInstant: s.issueInstant,
		Destination:  s.destination,
		Issuer:       &crewjam.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: s.issuer},
		Status:       status,
	}
	el := r.Element()
	for _, a := range assertions {
		if s.encryptFor != nil {
			a = encryptAssertion(t, a.(*etree.Element), s.encryptFor)
		}
		el.AddChild(a)
	}
	if s.responseSigner != nil {
		el = sign(t, *s.responseSigner, el)
	}
	return el
}

func encryptAssertion(t *testing.T, a *etree.Element, cert *x509.Certificate) *etree.Element {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(a.Copy())
	buf, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	enc := xmlenc.OAEP()
	enc.BlockCipher = xmlenc.AES128GCM
	data, err := enc.Encrypt(cert, buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	data.CreateAttr("Type", "http://www.w3.org/2001/04/xmlenc#Element")
	wrapper := etree.NewElement("saml:EncryptedAssertion")
	wrapper.AddChild(data)
	return wrapper
}

func encode(t *testing.T, el *etree.Element) string {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	buf, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf)
}

// wantFailure asserts err is a failure with code and a fact labelled
// label whose value contains want (any value when want is "").
func wantFailure(t *testing.T, err error, code sso.Code, label, want string) *sso.Failure {
	t.Helper()
	f, ok := errors.AsType[*sso.Failure](err)
	if !ok {
		t.Fatalf("error %v is not an *sso.Failure", err)
	}
	if f.Code != code {
		t.Fatalf("code = %s, want %s (%v)", f.Code, code, err)
	}
	if label == "" {
		return f
	}
	i := slices.IndexFunc(f.Facts, func(fact sso.Fact) bool { return fact.Label == label })
	if i < 0 {
		t.Fatalf("no fact %q in %+v", label, f.Facts)
	}
	if want != "" && !strings.Contains(f.Facts[i].Value, want) {
		t.Fatalf("fact %q = %q, want it to contain %q", label, f.Facts[i].Value, want)
	}
	return f
}
