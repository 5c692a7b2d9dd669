package saml

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/beevik/etree"

	"github.com/partnergate/partnergate/sso"
)

// untrusted reads facts for a failure from a message that did not verify.
// Nothing read here is ever trusted: it only tells the admin what the IdP
// sent, after the failure is decided. Values are bounded in length.
type untrusted struct {
	response  *etree.Element // nil when the message does not parse
	assertion *etree.Element // the first plaintext assertion, or nil
}

func newUntrusted(raw []byte) *untrusted {
	u := &untrusted{}
	if len(raw) == 0 {
		return u
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil || doc.Root() == nil {
		return u
	}
	u.response = doc.Root()
	u.assertion = u.response.SelectElement("Assertion")
	return u
}

func (u *untrusted) find(el *etree.Element, path string) *etree.Element {
	if el == nil {
		return nil
	}
	return el.FindElement(path)
}

func (u *untrusted) attr(el *etree.Element, path, name string) string {
	if e := u.find(el, path); e != nil {
		return truncate(e.SelectAttrValue(name, ""), 200)
	}
	return ""
}

func (u *untrusted) text(el *etree.Element, path string) string {
	if e := u.find(el, path); e != nil {
		return truncate(strings.TrimSpace(e.Text()), 200)
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func (u *untrusted) issuer() string {
	if s := u.text(u.response, "./Issuer"); s != "" {
		return s
	}
	return orNone(u.text(u.assertion, "./Issuer"))
}

func (u *untrusted) inResponseTo() string {
	if u.response == nil {
		return ""
	}
	if s := truncate(u.response.SelectAttrValue("InResponseTo", ""), 200); s != "" {
		return s
	}
	return u.attr(u.assertion, "./Subject/SubjectConfirmation/SubjectConfirmationData", "InResponseTo")
}

func (u *untrusted) statusFacts() []sso.Fact {
	var codes []string
	for el := u.find(u.response, "./Status/StatusCode"); el != nil; el = el.SelectElement("StatusCode") {
		codes = append(codes, truncate(el.SelectAttrValue("Value", ""), 200))
	}
	var facts []sso.Fact
	if len(codes) > 1 {
		facts = append(facts, sso.Fact{Label: "Status codes", Value: strings.Join(codes, " / ")})
	}
	if m := u.text(u.response, "./Status/StatusMessage"); m != "" {
		facts = append(facts, sso.Fact{Label: "Status message", Value: m})
	}
	return facts
}

func (u *untrusted) signingCertificate() string {
	for _, el := range []*etree.Element{u.response, u.assertion} {
		if e := u.find(el, "./Signature/KeyInfo/X509Data/X509Certificate"); e != nil {
			if c, err := parseBase64Cert(e.Text()); err == nil {
				return certName(c)
			}
		}
	}
	return "(not named in the signature)"
}

func (u *untrusted) recipientFacts() []sso.Fact {
	var facts []sso.Fact
	if u.response != nil {
		if d := u.response.SelectAttrValue("Destination", ""); d != "" {
			facts = append(facts, sso.Fact{Label: "Received Destination", Value: truncate(d, 200)})
		}
	}
	if r := u.attr(u.assertion, "./Subject/SubjectConfirmation/SubjectConfirmationData", "Recipient"); r != "" {
		facts = append(facts, sso.Fact{Label: "Received Recipient", Value: r})
	}
	return facts
}

func (u *untrusted) audiences() string {
	if u.assertion == nil {
		return "(unreadable)"
	}
	var auds []string
	for _, el := range u.assertion.FindElements("./Conditions/AudienceRestriction/Audience") {
		auds = append(auds, truncate(strings.TrimSpace(el.Text()), 200))
	}
	return orNone(strings.Join(auds, ", "))
}

// timeFacts lists the validity times the IdP put in the message, for an
// admin to compare with the server time.
func (u *untrusted) timeFacts() []sso.Fact {
	var facts []sso.Fact
	add := func(label string, el *etree.Element, path, name string) {
		v := u.attr(el, path, name)
		if v == "" {
			return
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			facts = append(facts, sso.TimeFact(label, t))
		} else {
			facts = append(facts, sso.Fact{Label: label, Value: v})
		}
	}
	add("Response IssueInstant", u.response, ".", "IssueInstant")
	add("Assertion IssueInstant", u.assertion, ".", "IssueInstant")
	add("Assertion NotBefore", u.assertion, "./Conditions", "NotBefore")
	add("Assertion NotOnOrAfter", u.assertion, "./Conditions", "NotOnOrAfter")
	add("SubjectConfirmationData NotOnOrAfter", u.assertion, "./Subject/SubjectConfirmation/SubjectConfirmationData", "NotOnOrAfter")
	return facts
}

// ResponseIssuer reads the Issuer a posted SAMLResponse claims, before
// anything is verified. It only picks which connection verifies the
// response (an unsolicited one names no request of ours): trusting it for
// anything else would be a mistake. "" when the response does not parse
// or names none.
func ResponseIssuer(samlResponse string) string {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(samlResponse))
	if err != nil {
		return ""
	}
	u := newUntrusted(raw)
	if s := u.text(u.response, "./Issuer"); s != "" {
		return s
	}
	return u.text(u.assertion, "./Issuer")
}
