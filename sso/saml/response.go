package saml

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	crewjam "github.com/crewjam/saml"

	"github.com/partnergate/partnergate/sso"
)

// ParseResponse verifies the SAMLResponse form value the browser posted to
// the ACS and returns what the assertion says about the user. requestIDs
// are the ids of the AuthnRequests this browser's sign-ins sent; replay
// remembers assertion ids so each can be used once.
func ParseResponse(ctx context.Context, sp Config, samlResponse string, requestIDs []string, replay sso.ReplayCache) (sso.Claims, error) {
	csp, err := sp.serviceProvider()
	if err != nil {
		return sso.Claims{}, err
	}
	if replay == nil {
		return sso.Claims{}, sso.Fail(sso.Misconfigured, "The connection has no replay cache, so responses cannot be checked for reuse.")
	}
	now := sp.now()
	if err := checkCertificatesValid(sp.IdP, now); err != nil {
		return sso.Claims{}, err
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(samlResponse))
	if err != nil {
		return sso.Claims{}, sso.Wrap(sso.Malformed, "The SAMLResponse the browser posted is not valid base64.", err)
	}
	// crewjam accepts a signed Response with several assertions and
	// returns the first; refusing them outright leaves no doubt which one
	// a sign-in used. This reads the untrusted XML only to refuse.
	if n := countAssertions(raw); n > 1 {
		return sso.Claims{}, sso.Fail(sso.Malformed, "The response holds more than one assertion; exactly one is expected.",
			sso.Fact{Label: "Assertions", Value: fmt.Sprint(n)})
	}

	assertion, err := csp.ParseXMLResponse(raw, requestIDs, csp.AcsURL)
	if err != nil {
		return sso.Claims{}, classify(sp, err, now, newUntrusted(raw))
	}
	// crewjam takes a signed Response as vouching for the assertion in it.
	// The SP metadata promises WantAssertionsSigned, and an assertion that
	// is signed on its own cannot be lifted into another response, so it
	// must carry its own signature.
	if assertion.Signature == nil {
		return sso.Claims{}, sso.Fail(sso.Unsigned,
			"The assertion is not signed (only the response around it is); configure the identity provider to sign assertions.",
			sso.Fact{Label: "Issuer", Value: truncate(assertion.Issuer.Value, 200)})
	}
	if err := checkTimes(assertion, sp.ACSURL, now); err != nil {
		return sso.Claims{}, err
	}
	ok, err := replay.Claim(ctx, assertion.ID, replayUntil(assertion, sp.ACSURL))
	if err != nil {
		return sso.Claims{}, sso.Wrap(sso.Internal, "The sign-in could not be checked for reuse. Try again; if it persists, contact support.",
			fmt.Errorf("claiming assertion id: %w", err))
	}
	if !ok {
		return sso.Claims{}, sso.Fail(sso.Replay,
			"This assertion was already used to sign in; each one is accepted once.",
			sso.Fact{Label: "Assertion ID", Value: truncate(assertion.ID, 100)},
			sso.TimeFact("Issued", assertion.IssueInstant))
	}
	return claimsOf(assertion), nil
}

// checkCertificatesValid refuses up front when no IdP certificate can be
// valid: the admin then learns of the expiry rather than of a signature
// that does not verify.
func checkCertificatesValid(idp IdP, now time.Time) error {
	facts := make([]sso.Fact, 0, len(idp.Certificates)+1)
	for _, c := range idp.Certificates {
		if !now.After(c.NotAfter) {
			return nil
		}
		facts = append(facts, sso.TimeFact("Certificate "+certName(c)+" expired", c.NotAfter))
	}
	facts = append(facts, sso.TimeFact("Server time", now))
	return sso.Fail(sso.CertificateExpired,
		"Every signing certificate configured for the identity provider has expired; update the IdP metadata or certificate.",
		facts...)
}

func countAssertions(raw []byte) int {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return 0
	}
	n := 0
	for _, c := range doc.Root().ChildElements() {
		if c.Tag == "Assertion" || c.Tag == "EncryptedAssertion" {
			n++
		}
	}
	return n
}

// bearerData is the SubjectConfirmationData that admitted the assertion:
// crewjam requires a bearer confirmation addressed to the ACS.
func bearerData(a *crewjam.Assertion, acsURL string) *crewjam.SubjectConfirmationData {
	if a.Subject == nil {
		return nil
	}
	for _, c := range a.Subject.SubjectConfirmations {
		if c.Method == "urn:oasis:names:tc:SAML:2.0:cm:bearer" && c.SubjectConfirmationData != nil &&
			c.SubjectConfirmationData.Recipient == acsURL {
			return c.SubjectConfirmationData
		}
	}
	return nil
}

// checkTimes applies sso.Skew, which is stricter than crewjam's own
// tolerance, to the verified assertion.
func checkTimes(a *crewjam.Assertion, acsURL string, now time.Time) error {
	server := sso.TimeFact("Server time", now)
	if c := a.Conditions; c != nil {
		if !c.NotBefore.IsZero() && now.Before(c.NotBefore.Add(-sso.Skew)) {
			return sso.Fail(sso.NotYetValid,
				"The assertion is not valid yet; the clocks of the identity provider and this service probably disagree.",
				sso.TimeFact("Assertion NotBefore", c.NotBefore), server)
		}
		if !c.NotOnOrAfter.IsZero() && !now.Before(c.NotOnOrAfter.Add(sso.Skew)) {
			return sso.Fail(sso.Expired, "The assertion has expired; the sign-in took too long or the clocks disagree.",
				sso.TimeFact("Assertion NotOnOrAfter", c.NotOnOrAfter), server)
		}
	}
	if d := bearerData(a, acsURL); d != nil && !d.NotOnOrAfter.IsZero() && !now.Before(d.NotOnOrAfter.Add(sso.Skew)) {
		return sso.Fail(sso.Expired, "The assertion has expired; the sign-in took too long or the clocks disagree.",
			sso.TimeFact("SubjectConfirmationData NotOnOrAfter", d.NotOnOrAfter), server)
	}
	return nil
}

// replayUntil is how long the assertion id must be remembered: as long as
// the assertion could still be accepted.
func replayUntil(a *crewjam.Assertion, acsURL string) time.Time {
	until := a.IssueInstant.Add(crewjam.MaxIssueDelay)
	if d := bearerData(a, acsURL); d != nil && !d.NotOnOrAfter.IsZero() && d.NotOnOrAfter.Before(until) {
		until = d.NotOnOrAfter
	}
	if c := a.Conditions; c != nil && !c.NotOnOrAfter.IsZero() && c.NotOnOrAfter.Before(until) {
		until = c.NotOnOrAfter
	}
	return until.Add(sso.Skew)
}

func claimsOf(a *crewjam.Assertion) sso.Claims {
	c := sso.Claims{Issuer: a.Issuer.Value, Attributes: map[string][]string{}}
	if a.Subject != nil && a.Subject.NameID != nil {
		c.Subject = a.Subject.NameID.Value
	}
	for _, s := range a.AuthnStatements {
		if c.SessionID == "" && s.SessionIndex != "" {
			c.SessionID = s.SessionIndex
		}
		if ref := s.AuthnContext.AuthnContextClassRef; ref != nil && ref.Value != "" {
			c.AuthnContext = append(c.AuthnContext, ref.Value)
		}
	}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			var values []string
			for _, v := range attr.Values {
				switch {
				case v.Nil:
				case v.NameID != nil:
					values = append(values, v.NameID.Value)
				default:
					values = append(values, v.Value)
				}
			}
			c.Attributes[attr.Name] = append(c.Attributes[attr.Name], values...)
			if attr.FriendlyName != "" && attr.FriendlyName != attr.Name {
				c.Attributes[attr.FriendlyName] = append(c.Attributes[attr.FriendlyName], values...)
			}
		}
	}
	return c
}

// classify turns crewjam's rejection into a failure. crewjam tags its
// errors with sentinel kinds; where it does not (an absent signature, a
// query signature), its message is the only evidence.
func classify(sp Config, err error, now time.Time, u *untrusted) error {
	cause := err
	if ire, ok := errors.AsType[*crewjam.InvalidResponseError](err); ok && ire.PrivateErr != nil {
		cause = ire.PrivateErr
	}
	server := sso.TimeFact("Server time", now)
	msg := cause.Error()
	if bad, ok := errors.AsType[crewjam.ErrBadStatus](cause); ok {
		facts := []sso.Fact{{Label: "Status", Value: truncate(bad.Status, 200)}}
		facts = append(facts, u.statusFacts()...)
		return sso.Wrap(sso.IdPError, "The identity provider answered with an error instead of signing the user in.", err, facts...)
	}
	switch {
	case errors.Is(cause, crewjam.ErrCertificateNotValidNow):
		facts := []sso.Fact{}
		for _, c := range sp.IdP.Certificates {
			facts = append(facts, sso.TimeFact("Certificate "+certName(c)+" valid until", c.NotAfter))
		}
		return sso.Wrap(sso.CertificateExpired,
			"The identity provider signed with a certificate that has expired or is not valid yet.", err,
			append(facts, server)...)
	case errors.Is(cause, crewjam.ErrUntrustedCertificate):
		return sso.Wrap(sso.BadSignature,
			"The identity provider signed with a certificate this connection does not know; it may have rolled over its key, so refresh its metadata.", err,
			sso.Fact{Label: "Signing certificate", Value: u.signingCertificate()},
			sso.Fact{Label: "Expected certificates", Value: certNames(sp.IdP.Certificates)})
	case errors.Is(cause, crewjam.ErrInvalidSignature),
		strings.Contains(msg, "cannot validate signature"), strings.Contains(msg, "unsupported signature algorithm"):
		return sso.Wrap(sso.BadSignature,
			"A signature does not verify against the identity provider's certificates: the message was altered or signed with another key.", err,
			sso.Fact{Label: "Expected certificates", Value: certNames(sp.IdP.Certificates)})
	case strings.Contains(msg, "signature element not present"):
		return sso.Wrap(sso.Unsigned,
			"The identity provider's message is not signed; configure the IdP to sign assertions (and logout requests).", err,
			sso.Fact{Label: "Issuer", Value: u.issuer()})
	case errors.Is(cause, crewjam.ErrDecryptionFailed):
		return sso.Wrap(sso.Misconfigured,
			"The encrypted assertion cannot be decrypted with this connection's key; the IdP may hold an old SP certificate.", err,
			sso.Fact{Label: "SP certificate", Value: certNames([]*x509.Certificate{sp.Certificate})})
	case errors.Is(cause, crewjam.ErrIssuerMismatch):
		return sso.Wrap(sso.UnknownIssuer,
			"The message comes from another identity provider than the one configured for this connection.", err,
			sso.Fact{Label: "Expected issuer", Value: sp.IdP.EntityID},
			sso.Fact{Label: "Received", Value: u.issuer()})
	case errors.Is(cause, crewjam.ErrDestinationMismatch):
		return sso.Wrap(sso.WrongRecipient,
			"The message was addressed to another URL than this connection's; check the SP URLs configured at the IdP.", err,
			append([]sso.Fact{{Label: "Expected", Value: sp.ACSURL}}, u.recipientFacts()...)...)
	case errors.Is(cause, crewjam.ErrRequestIDMismatch):
		if irt := u.inResponseTo(); irt != "" {
			return sso.Wrap(sso.Unsolicited,
				"The response answers a sign-in request this connection did not send, or one that is no longer pending.", err,
				sso.Fact{Label: "InResponseTo", Value: irt})
		}
		return sso.Wrap(sso.Unsolicited,
			"The sign-in was started at the identity provider, which this connection does not allow.", err,
			sso.Fact{Label: "IdP-initiated sign-in", Value: "not allowed"})
	case errors.Is(cause, crewjam.ErrAudienceMismatch):
		return sso.Wrap(sso.WrongAudience,
			"The assertion is meant for another service provider; check the SP entity ID configured at the IdP.", err,
			sso.Fact{Label: "Expected audience", Value: sp.EntityID},
			sso.Fact{Label: "Received", Value: u.audiences()})
	case errors.Is(cause, crewjam.ErrExpired):
		return sso.Wrap(sso.Expired,
			"The assertion has expired; the sign-in took too long or the clocks of the IdP and this service disagree.", err,
			append(u.timeFacts(), server)...)
	case errors.Is(cause, crewjam.ErrNotYetValid):
		return sso.Wrap(sso.NotYetValid,
			"The assertion is not valid yet; the clocks of the identity provider and this service probably disagree.", err,
			append(u.timeFacts(), server)...)
	case errors.Is(cause, crewjam.ErrMalformedMessage), errors.Is(cause, crewjam.ErrMissingElement),
		errors.Is(cause, crewjam.ErrUnsupported):
		return sso.Wrap(sso.Malformed, "The identity provider's message is not a well-formed SAML 2.0 message.", err,
			sso.Fact{Label: "Detail", Value: truncate(msg, 200)})
	}
	return sso.Wrap(sso.Internal, "The sign-in failed on our side. Try again; if it persists, contact support.", err)
}

// certName names a certificate for an admin by subject and fingerprint,
// which is what IdP admin consoles show.
func certName(c *x509.Certificate) string {
	if c == nil {
		return "(none)"
	}
	sum := sha256.Sum256(c.Raw)
	name := c.Subject.CommonName
	if name == "" {
		name = c.Subject.String()
	}
	return fmt.Sprintf("%s (SHA-256 %s…)", truncate(name, 80), strings.ToUpper(hex.EncodeToString(sum[:8])))
}

func certNames(certs []*x509.Certificate) string {
	names := make([]string, len(certs))
	for i, c := range certs {
		names[i] = certName(c)
	}
	return strings.Join(names, ", ")
}
