package idptest

import (
	"encoding/base64"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/net/html"
)

// startWithSP starts SimpleSAMLphp for a crewjam/saml ServiceProvider that signs its AuthnRequests,
// registered with a SimpleSAMLphp IdP started for it.
func startWithSP(t *testing.T) (*SAMLIdP, *saml.ServiceProvider) {
	t.Helper()
	kp := newKeyPair(t, "idptest SP")
	const base = "http://sp.example.test"
	acs, _ := url.Parse(base + "/saml/acs")
	slo, _ := url.Parse(base + "/saml/slo")
	idp := StartSimpleSAMLphp(t, SAMLServiceProvider{
		EntityID:       base + "/saml/metadata",
		ACSURL:         acs.String(),
		SLOURL:         slo.String(),
		CertificatePEM: kp.CertPEM,
	})
	var md saml.EntityDescriptor
	if err := xml.Unmarshal(idp.MetadataXML, &md); err != nil {
		t.Fatalf("parse IdP metadata: %v\n%s", err, idp.MetadataXML)
	}
	if md.EntityID != idp.EntityID {
		t.Fatalf("metadata entityID = %q, want %q", md.EntityID, idp.EntityID)
	}
	mdURL, _ := url.Parse(base + "/saml/metadata")
	sp := &saml.ServiceProvider{
		EntityID:          mdURL.String(),
		Key:               kp.Key,
		Certificate:       kp.Cert,
		MetadataURL:       *mdURL,
		AcsURL:            *acs,
		SloURL:            *slo,
		IDPMetadata:       &md,
		SignatureMethod:   dsig.RSASHA256SignatureMethod,
		AuthnNameIDFormat: saml.EmailAddressNameIDFormat,
	}
	return idp, sp
}

func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

// startLogin sends a signed HTTP-Redirect AuthnRequest and returns the
// login page it lands on, with the request's ID.
func startLogin(t *testing.T, client *http.Client, sp *saml.ServiceProvider) (page *http.Response, body string, requestID string) {
	t.Helper()
	req, err := sp.MakeAuthenticationRequest(sp.GetSSOBindingLocation(saml.HTTPRedirectBinding), saml.HTTPRedirectBinding, saml.HTTPPostBinding)
	if err != nil {
		t.Fatalf("make AuthnRequest: %v", err)
	}
	u, err := req.Redirect("relay-123", sp)
	if err != nil {
		t.Fatalf("redirect URL: %v", err)
	}
	resp, err := client.Get(u.String())
	if err != nil {
		t.Fatalf("GET SSO: %v", err)
	}
	b := readBody(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSO: %s\n%s", resp.Status, b)
	}
	return resp, b, req.ID
}

func TestSimpleSAMLphpLogin(t *testing.T) {
	idp, sp := startWithSP(t)
	alice := idp.User(t, "alice")
	client := newBrowser(t)

	page, body, requestID := startLogin(t, client, sp)
	form := findForm(t, body, "password")
	if !strings.HasSuffix(page.Request.URL.Path, "/module.php/core/loginuserpass.php") {
		t.Errorf("login page at %s, want .../module.php/core/loginuserpass.php", page.Request.URL)
	}
	if form.fields["AuthState"] == "" {
		t.Fatalf("login form has no AuthState: %v", form.fields)
	}
	form.fields["username"] = alice.Username
	form.fields["password"] = alice.Password
	resp, err := client.PostForm(form.resolve(t, page.Request.URL), form.values())
	if err != nil {
		t.Fatalf("post login: %v", err)
	}
	body = readBody(t, resp)

	// The IdP answers with an auto-submitting form to the SP's ACS.
	post := findForm(t, body, "SAMLResponse")
	if post.action != sp.AcsURL.String() {
		t.Errorf("response form action = %q, want %q", post.action, sp.AcsURL.String())
	}
	if got := post.fields["RelayState"]; got != "relay-123" {
		t.Errorf("RelayState = %q", got)
	}
	raw, err := base64.StdEncoding.DecodeString(post.fields["SAMLResponse"])
	if err != nil {
		t.Fatalf("decode SAMLResponse: %v", err)
	}
	assertion, err := sp.ParseXMLResponse(raw, []string{requestID}, sp.AcsURL)
	if err != nil {
		t.Fatalf("crewjam rejects the SimpleSAMLphp response: %v\n%s", describe(err), raw)
	}

	if assertion.Subject == nil || assertion.Subject.NameID == nil {
		t.Fatal("assertion has no NameID")
	}
	if got := assertion.Subject.NameID.Value; got != alice.Email {
		t.Errorf("NameID = %q, want %q", got, alice.Email)
	}
	if got := assertion.Subject.NameID.Format; got != string(saml.EmailAddressNameIDFormat) {
		t.Errorf("NameID format = %q", got)
	}
	attrs := attributes(assertion)
	if got := attrs["email"]; !slices.Equal(got, []string{alice.Email}) {
		t.Errorf("email = %q", got)
	}
	if got := attrs["groups"]; !slices.Equal(got, []string{"engineering", "admins"}) {
		t.Errorf("groups = %q", got)
	}
	for name, want := range map[string]string{"firstName": "Alice", "lastName": "Anderson", "displayName": "Alice Anderson"} {
		if got := attrs[name]; !slices.Equal(got, []string{want}) {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	// crewjam needs only one valid signature; the harness promises both.
	if n := strings.Count(string(raw), "<ds:Signature "); n != 2 {
		t.Errorf("%d signatures, want the Response's and the Assertion's", n)
	}
	if !strings.Contains(string(raw), `Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"`) {
		t.Error("not signed with RSA-SHA256")
	}
	if !strings.Contains(string(raw), `NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"`) {
		t.Error("attributes are not in the basic name format")
	}
}

func TestSimpleSAMLphpWrongPassword(t *testing.T) {
	idp, sp := startWithSP(t)
	client := newBrowser(t)

	page, body, _ := startLogin(t, client, sp)
	form := findForm(t, body, "password")
	form.fields["username"] = "alice"
	form.fields["password"] = "not-" + idp.User(t, "alice").Password
	resp, err := client.PostForm(form.resolve(t, page.Request.URL), form.values())
	if err != nil {
		t.Fatalf("post login: %v", err)
	}
	body = readBody(t, resp)
	if strings.Contains(body, "SAMLResponse") {
		t.Fatal("a wrong password produced a SAMLResponse")
	}
	again := findForm(t, body, "password")
	if again.fields["AuthState"] == "" {
		t.Errorf("login form shown again without AuthState")
	}
}

func TestSimpleSAMLphpRefusesUnsignedRequest(t *testing.T) {
	_, sp := startWithSP(t)
	sp.SignatureMethod = "" // the IdP was told to require signatures
	client := newBrowser(t)
	u, err := sp.MakeRedirectAuthenticationRequest("")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := client.Get(u.String())
	if err != nil {
		t.Fatal(err)
	}
	body := readBody(t, resp)
	if strings.Contains(body, `name="password"`) {
		t.Fatal("an unsigned AuthnRequest reached the login form")
	}
	// SimpleSAMLphp 1.19 shows its error page with status 200, so the
	// reason is the only thing to check.
	if !strings.Contains(body, "no signature found on message") {
		t.Errorf("refusal does not name the missing signature:\n%s", body)
	}
}

func attributes(a *saml.Assertion) map[string][]string {
	out := map[string][]string{}
	for _, st := range a.AttributeStatements {
		for _, attr := range st.Attributes {
			for _, v := range attr.Values {
				out[attr.Name] = append(out[attr.Name], v.Value)
			}
		}
	}
	return out
}

// describe unwraps crewjam's InvalidResponseError, whose Error() hides
// the reason.
func describe(err error) string {
	if ire, ok := err.(*saml.InvalidResponseError); ok {
		return ire.PrivateErr.Error()
	}
	return err.Error()
}

func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// htmlForm is a parsed <form>: its action and its named inputs' values.
type htmlForm struct {
	action string
	fields map[string]string
}

func (f htmlForm) values() url.Values {
	v := url.Values{}
	for k, s := range f.fields {
		v.Set(k, s)
	}
	return v
}

func (f htmlForm) resolve(t *testing.T, page *url.URL) string {
	t.Helper()
	u, err := page.Parse(f.action)
	if err != nil {
		t.Fatalf("form action %q: %v", f.action, err)
	}
	return u.String()
}

// findForm returns the first form on the page with an input named field.
func findForm(t *testing.T, page, field string) htmlForm {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	var forms []*htmlForm
	var walk func(n *html.Node, cur *htmlForm)
	walk = func(n *html.Node, cur *htmlForm) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				cur = &htmlForm{action: attr(n, "action"), fields: map[string]string{}}
				forms = append(forms, cur)
			case "input", "button", "textarea":
				if cur != nil && attr(n, "name") != "" {
					cur.fields[attr(n, "name")] = attr(n, "value")
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	for _, f := range forms {
		if _, ok := f.fields[field]; ok {
			return *f
		}
	}
	t.Fatalf("no form with a %q field on the page:\n%s", field, page)
	return htmlForm{}
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}
