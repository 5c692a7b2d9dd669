package saml

import (
	"context"
	"crypto/x509"
	"errors"
	"slices"
	"testing"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/partnergate/partnergate/sso"
)

func parse(t *testing.T, sp Config, el *etree.Element, requestIDs ...string) (sso.Claims, error) {
	t.Helper()
	return ParseResponse(context.Background(), sp, encode(t, el), requestIDs, &memReplay{})
}

func TestParseResponseAccepts(t *testing.T) {
	sp := testConfig(t)
	s := defaultSpec(t)
	claims, err := parse(t, sp, s.response(t, s.assertion(t)), requestID)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "jane@acme.example" || claims.SessionID != "session-42" || claims.Issuer != idpEntityID {
		t.Errorf("claims = %+v", claims)
	}
	if !slices.Equal(claims.AuthnContext, []string{"urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}) || claims.MultiFactor() {
		t.Errorf("authentication context %v (multi-factor %v), want the password class, one factor", claims.AuthnContext, claims.MultiFactor())
	}
	if got := claims.Attributes["mail"]; !slices.Equal(got, []string{"jane@acme.example"}) {
		t.Errorf("attribute by FriendlyName = %q", got)
	}
	if got := claims.Attributes["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"]; len(got) != 1 {
		t.Errorf("attribute by Name = %q", got)
	}
	if got := claims.Attributes["groups"]; !slices.Equal(got, []string{"admins", "staff"}) {
		t.Errorf("multi-valued attribute = %q", got)
	}
}

// evilCopy is the signed assertion with another subject, keeping its
// Signature: what an attacker who saw one valid response can forge.
func evilCopy(signed *etree.Element) *etree.Element {
	e := signed.Copy()
	e.FindElement("./Subject/NameID").SetText("admin@acme.example")
	return e
}

func TestSignatureWrapping(t *testing.T) {
	sp := testConfig(t)
	s := defaultSpec(t)

	t.Run("evil assertion before the signed one", func(t *testing.T) {
		signed := s.assertion(t)
		u := s
		u.signAssertion = false
		u.nameID = "admin@acme.example"
		u.assertionID = "id-evil"
		_, err := parse(t, sp, s.response(t, u.assertion(t), signed), requestID)
		wantFailure(t, err, sso.Malformed, "Assertions", "2")
	})

	t.Run("signed assertion moved into Extensions, evil one in its place", func(t *testing.T) {
		signed := s.assertion(t)
		resp := s.response(t, evilCopy(signed))
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(signed)
		resp.InsertChildAt(resp.SelectElement("Status").Index(), ext)
		_, err := parse(t, sp, resp, requestID)
		wantFailure(t, err, sso.BadSignature, "Expected certificates", "idp-a")
	})

	t.Run("signed assertion moved into the evil one's ds:Object", func(t *testing.T) {
		signed := s.assertion(t)
		e := evilCopy(signed)
		e.CreateAttr("ID", "id-evil")
		obj := e.SelectElement("Signature").CreateElement("ds:Object")
		obj.AddChild(signed)
		_, err := parse(t, sp, s.response(t, e), requestID)
		wantFailure(t, err, sso.BadSignature, "", "")
	})

	// The evil assertion sits inside the Signature, which the enveloped
	// transform drops: the signature still verifies, and only what it
	// covers may be read.
	t.Run("evil assertion inside the signed one's ds:Object", func(t *testing.T) {
		signed := s.assertion(t)
		e := evilCopy(signed)
		e.CreateAttr("ID", "id-evil")
		e.RemoveChild(e.SelectElement("Signature"))
		signed.SelectElement("Signature").CreateElement("ds:Object").AddChild(e)
		claims, err := parse(t, sp, s.response(t, signed), requestID)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != "jane@acme.example" {
			t.Fatalf("subject = %q: the unsigned assertion was read", claims.Subject)
		}
	})

	t.Run("duplicate ID: evil assertion with the signed one's ID", func(t *testing.T) {
		signed := s.assertion(t)
		resp := s.response(t, evilCopy(signed))
		ext := etree.NewElement("samlp:Extensions")
		ext.AddChild(signed)
		resp.InsertChildAt(resp.SelectElement("Issuer").Index()+1, ext)
		_, err := parse(t, sp, resp, requestID)
		wantFailure(t, err, sso.BadSignature, "", "")
	})

	t.Run("comment injection in NameID", func(t *testing.T) {
		u := s
		u.nameID = "admin@acme.example.evil.com"
		signed := u.assertion(t)
		nameID := signed.FindElement("./Subject/NameID")
		nameID.SetText("admin@acme.example")
		nameID.CreateComment("")
		nameID.CreateText(".evil.com")
		// Canonicalization drops the comment, so the signature verifies;
		// the subject must be the whole signed value, not the text before
		// the comment.
		claims, err := parse(t, sp, u.response(t, signed), requestID)
		if err != nil {
			t.Fatal(err)
		}
		if claims.Subject != "admin@acme.example.evil.com" {
			t.Fatalf("subject = %q, want the whole signed value", claims.Subject)
		}
	})
}

func TestParseResponseRefuses(t *testing.T) {
	sp := testConfig(t)
	other := idpB(t)
	attacker := evil(t)
	signedThenEdited := func(t *testing.T, s respSpec) *etree.Element {
		a := s.assertion(t)
		a.FindElement("./AttributeStatement/Attribute/AttributeValue").SetText("ceo@acme.example")
		return s.response(t, a)
	}
	cases := []struct {
		name        string
		edit        func(*respSpec)
		build       func(*testing.T, respSpec) *etree.Element
		requestIDs  []string
		code        sso.Code
		label, want string
	}{
		{name: "signed by a key not in the IdP certificates", edit: func(s *respSpec) { s.signer = attacker },
			code: sso.BadSignature, label: "Signing certificate", want: "attacker"},
		{name: "tampered signed assertion", build: signedThenEdited,
			code: sso.BadSignature, label: "Expected certificates"},
		{name: "signed Response around an unsigned assertion",
			edit: func(s *respSpec) { s.signAssertion = false; kp := idpA(t); s.responseSigner = &kp },
			code: sso.Unsigned, label: "Issuer", want: idpEntityID},
		{name: "unsigned Response around an unsigned assertion", edit: func(s *respSpec) { s.signAssertion = false },
			code: sso.Unsigned, label: "Issuer", want: idpEntityID},
		{name: "signed Response around a signed-then-modified assertion",
			edit:  func(s *respSpec) { kp := idpA(t); s.responseSigner = &kp },
			build: signedThenEdited, code: sso.BadSignature},
		{name: "wrong audience", edit: func(s *respSpec) { s.audience = "https://other-sp.example" },
			code: sso.WrongAudience, label: "Received", want: "https://other-sp.example"},
		{name: "wrong Destination", edit: func(s *respSpec) { s.destination = "https://evil.example/acs" },
			code: sso.WrongRecipient, label: "Received Destination", want: "https://evil.example/acs"},
		{name: "wrong Recipient", edit: func(s *respSpec) { s.recipient = "https://evil.example/acs" },
			code: sso.WrongRecipient, label: "Received Recipient", want: "https://evil.example/acs"},
		{name: "wrong issuer", edit: func(s *respSpec) { s.issuer = "https://idp.other.example" },
			code: sso.UnknownIssuer, label: "Received", want: "https://idp.other.example"},
		{name: "expired long ago", edit: func(s *respSpec) {
			s.issueInstant = testNow.Add(-time.Hour)
			s.notBefore, s.notOnOrAfter, s.scdNotOnOrAfter = testNow.Add(-time.Hour), testNow.Add(-55*time.Minute), testNow.Add(-55*time.Minute)
		}, code: sso.Expired, label: "Assertion NotOnOrAfter", want: "2026-06-01T11:05:00Z"},
		{name: "expired beyond sso.Skew", edit: func(s *respSpec) {
			s.notOnOrAfter, s.scdNotOnOrAfter = testNow.Add(-150*time.Second), testNow.Add(time.Minute)
		}, code: sso.Expired, label: "Server time", want: "2026-06-01T12:00:00Z"},
		{name: "not yet valid", edit: func(s *respSpec) { s.notBefore = testNow.Add(10 * time.Minute) },
			code: sso.NotYetValid, label: "Assertion NotBefore", want: "2026-06-01T12:10:00Z"},
		{name: "not yet valid beyond sso.Skew", edit: func(s *respSpec) { s.notBefore = testNow.Add(150 * time.Second) },
			code: sso.NotYetValid, label: "Assertion NotBefore", want: "2026-06-01T12:02:30Z"},
		{name: "unknown InResponseTo", edit: func(s *respSpec) { s.inResponseTo = "id-forged" },
			code: sso.Unsolicited, label: "InResponseTo", want: "id-forged"},
		{name: "InResponseTo of another pending request", requestIDs: []string{"id-other"},
			code: sso.Unsolicited, label: "InResponseTo", want: requestID},
		{name: "IdP-initiated not allowed", edit: func(s *respSpec) { s.inResponseTo = "" },
			code: sso.Unsolicited, label: "IdP-initiated sign-in"},
		{name: "partner B's IdP response to partner A's SP", edit: func(s *respSpec) {
			s.signer, s.issuer = other, "https://idp.partner-b.example"
		}, code: sso.UnknownIssuer, label: "Expected issuer", want: idpEntityID},
		{name: "IdP error status", build: func(t *testing.T, s respSpec) *etree.Element {
			s.status = &crewjam.Status{
				StatusCode:    crewjam.StatusCode{Value: crewjam.StatusResponder, StatusCode: &crewjam.StatusCode{Value: crewjam.StatusAuthnFailed}},
				StatusMessage: &crewjam.StatusMessage{Value: "User is not assigned to this application"},
			}
			return s.response(t)
		}, code: sso.IdPError, label: "Status codes", want: crewjam.StatusAuthnFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := defaultSpec(t)
			if c.edit != nil {
				c.edit(&s)
			}
			var resp *etree.Element
			if c.build != nil {
				resp = c.build(t, s)
			} else {
				resp = s.response(t, s.assertion(t))
			}
			ids := c.requestIDs
			if ids == nil {
				ids = []string{requestID}
			}
			_, err := parse(t, sp, resp, ids...)
			wantFailure(t, err, c.code, c.label, c.want)
		})
	}
}

func TestReplay(t *testing.T) {
	sp := testConfig(t)
	s := defaultSpec(t)
	raw := encode(t, s.response(t, s.assertion(t)))
	replay := &memReplay{}
	if _, err := ParseResponse(context.Background(), sp, raw, []string{requestID}, replay); err != nil {
		t.Fatal(err)
	}
	_, err := ParseResponse(context.Background(), sp, raw, []string{requestID}, replay)
	wantFailure(t, err, sso.Replay, "Assertion ID", "id-assertion-1")
	if exp := replay.ids["id-assertion-1"]; !exp.After(testNow) {
		t.Errorf("replay entry expires %v, want after %v", exp, testNow)
	}
}

func TestIdPInitiated(t *testing.T) {
	sp := testConfig(t)
	sp.AllowIdPInitiated = true
	s := defaultSpec(t)
	s.inResponseTo = ""
	claims, err := parse(t, sp, s.response(t, s.assertion(t)))
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "jane@acme.example" {
		t.Errorf("subject = %q", claims.Subject)
	}
	// Allowing IdP-initiated sign-ins must not let an InResponseTo that
	// names an unknown request through.
	s.inResponseTo = "id-forged"
	_, err = parse(t, sp, s.response(t, s.assertion(t)), requestID)
	wantFailure(t, err, sso.Unsolicited, "InResponseTo", "id-forged")
}

func TestCertificateRollover(t *testing.T) {
	sp := testConfig(t)
	sp.IdP.Certificates = []*x509.Certificate{idpA(t).cert, idpA2(t).cert}
	for _, signer := range []keyPair{idpA(t), idpA2(t)} {
		s := defaultSpec(t)
		s.signer = signer
		if _, err := parse(t, sp, s.response(t, s.assertion(t)), requestID); err != nil {
			t.Errorf("signed by %s: %v", signer.cert.Subject.CommonName, err)
		}
	}
}

func TestEncryptedAssertion(t *testing.T) {
	sp := testConfig(t)
	s := defaultSpec(t)
	s.encryptFor = sp.Certificate
	claims, err := parse(t, sp, s.response(t, s.assertion(t)), requestID)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "jane@acme.example" {
		t.Errorf("subject = %q", claims.Subject)
	}

	// Encryption is no substitute for the assertion's signature.
	unsigned := s
	unsigned.signAssertion = false
	kp := idpA(t)
	unsigned.responseSigner = &kp
	_, err = parse(t, sp, unsigned.response(t, unsigned.assertion(t)), requestID)
	wantFailure(t, err, sso.Unsigned, "Issuer", idpEntityID)

	// Encrypted for another SP's key: the IdP holds a wrong certificate.
	s.encryptFor = idpB(t).cert
	_, err = parse(t, sp, s.response(t, s.assertion(t)), requestID)
	wantFailure(t, err, sso.Misconfigured, "SP certificate", "gw")
}

func TestAllCertificatesExpired(t *testing.T) {
	sp := testConfig(t)
	old := newPair(t, 0, "idp-a-old", testNow.AddDate(0, 0, -3))
	sp.IdP.Certificates = []*x509.Certificate{old.cert}
	s := defaultSpec(t)
	s.signer = old
	_, err := parse(t, sp, s.response(t, s.assertion(t)), requestID)
	wantFailure(t, err, sso.CertificateExpired, "Certificate "+certName(old.cert)+" expired", "2026-05-29T12:00:00Z")
}

func TestMalformedResponse(t *testing.T) {
	sp := testConfig(t)
	_, err := ParseResponse(context.Background(), sp, "%%%", []string{requestID}, &memReplay{})
	wantFailure(t, err, sso.Malformed, "", "")
	_, err = ParseResponse(context.Background(), sp, "PG5vdCB4bWw=", []string{requestID}, &memReplay{})
	wantFailure(t, err, sso.Malformed, "", "")
}

// TestSHA1SignatureRefused: an assertion signed with RSA-SHA1, open to
// collision forgeries, is refused although its key is the IdP's.
func TestSHA1SignatureRefused(t *testing.T) {
	sp := testConfig(t)
	s := defaultSpec(t)
	s.sigMethod = dsig.RSASHA1SignatureMethod
	_, err := parse(t, sp, s.response(t, s.assertion(t)), requestID)
	f, ok := errors.AsType[*sso.Failure](err)
	if !ok || f.Code != sso.BadSignature {
		t.Fatalf("err %v, want bad_signature", err)
	}
}
