package templates_test

import (
	"strings"
	"testing"

	"github.com/partnergate/partnergate/templates"
)

func sampleSSOLogin() templates.Login {
	l := sampleLogin()
	l.PasswordOptional = true
	l.Connections = []templates.SSOOption{
		{Name: "Acme Okta", URL: "/.partnergate/sso/start?connection=sso_1&return_to=%2Freports"},
		{Name: "Contractors (Entra)", URL: "/.partnergate/sso/start?connection=sso_2"},
	}
	return l
}

func sampleSSORedirect() templates.SSORedirect {
	return templates.SSORedirect{Page: acme("Continue"), Provider: "Acme Okta", URL: "/.partnergate/sso/start?connection=sso_1&return_to=%2Freports"}
}

func sampleSSOError() templates.SSOError {
	return templates.SSOError{Page: acme("Sign-in failed"), Message: "Your organization’s sign-in service could not sign you in.", Reference: "wrong_audience", LoginURL: "/.partnergate/login"}
}

func sampleSSOTest(ok bool) templates.SSOTest {
	d := templates.SSOTest{Page: acme("Test sign-in"), Connection: "Acme Okta", Succeeded: ok}
	if ok {
		d.Subject, d.Issuer = "00u1", "https://acme.okta.com"
		d.Claims = []templates.Fact{{Label: "email", Value: "ann@acme.com"}, {Label: "groups", Value: "eng, ops"}}
		d.Profile = []templates.Fact{{Label: "Email", Value: "ann@acme.com"}}
		d.UserNote, d.Groups, d.Roles = "Existing user ann@acme.com", []string{"eng"}, []string{"admin"}
		return d
	}
	d.Code, d.Message = "expired", "The token has expired."
	d.Facts = []templates.Fact{{Label: "Token expires", Value: "2025-03-04T05:00:00Z"}, {Label: "Server time", Value: "2025-03-04T05:10:00Z"}}
	return d
}

// TestLoginOffersSSO: each connection is a link a keyboard reaches, and
// with home-realm discovery the password may stay empty.
func TestLoginOffersSSO(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageLogin, sampleSSOLogin())
	links := findAll(doc, hasClass("button-secondary"))
	if len(links) != 2 || text(links[0]) != "Sign in with Acme Okta" {
		t.Fatalf("SSO links: %d, first %q", len(links), text(first(doc, hasClass("button-secondary"))))
	}
	if href, _ := attr(links[0], "href"); href != "/.partnergate/sso/start?connection=sso_1&return_to=%2Freports" {
		t.Errorf("link href %q", href)
	}
	pw := find(t, doc, "password", input("password"))
	if _, required := attr(pw, "required"); required {
		t.Error("with home-realm discovery the password must not be required")
	}
	if d, _ := attr(pw, "aria-describedby"); d != "password-hint" {
		t.Errorf("the password field is not described by its hint: %q", d)
	}
	if got := text(find(t, doc, "button", tag("button"))); got != "Continue" {
		t.Errorf("submit button %q, want Continue", got)
	}
	_, plain := render(t, templates.PageLogin, sampleLogin())
	if _, required := attr(find(t, plain, "password", input("password")), "required"); !required {
		t.Error("without SSO the password stays required")
	}
	if len(findAll(plain, hasClass("sso-options"))) != 0 {
		t.Error("a login without connections shows SSO options")
	}
}

// TestSSORedirectLeavesByPlainNavigation: a meta refresh and a link, both
// to the same-site start URL, intact.
func TestSSORedirectLeavesByPlainNavigation(t *testing.T) {
	t.Parallel()
	src, doc := render(t, templates.PageSSORedirect, sampleSSORedirect())
	var refresh string
	for _, m := range findAll(doc, tag("meta")) {
		if v, _ := attr(m, "http-equiv"); v == "refresh" {
			refresh, _ = attr(m, "content")
		}
	}
	want := "0;url=/.partnergate/sso/start?connection=sso_1&return_to=%2Freports"
	if refresh != want {
		t.Errorf("meta refresh %q, want %q\n%s", refresh, want, src)
	}
	if href, _ := attr(first(doc, hasClass("button")), "href"); href != "/.partnergate/sso/start?connection=sso_1&return_to=%2Freports" {
		t.Errorf("continue link %q", href)
	}
	evil := sampleSSORedirect()
	evil.URL = "javascript:alert(1)"
	if src, _ := render(t, templates.PageSSORedirect, evil); strings.Contains(src, "javascript:") {
		t.Errorf("a javascript: URL survived:\n%s", src)
	}
}

func TestSSOErrorPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageSSOError, sampleSSOError())
	if got := text(find(t, doc, "alert", withAttr("role", "alert"))); !strings.Contains(got, "could not sign you in") {
		t.Errorf("alert %q", got)
	}
	if got := text(find(t, doc, "reference", tag("code"))); got != "wrong_audience" {
		t.Errorf("reference %q", got)
	}
	if href, _ := attr(first(doc, hasClass("button")), "href"); href != "/.partnergate/login" {
		t.Errorf("try-again link %q", href)
	}
}

// TestSSOTestPage shows what the IdP sent, mapped, or the typed failure
// with its facts; IdP values are text, never markup.
func TestSSOTestPage(t *testing.T) {
	t.Parallel()
	d := sampleSSOTest(true)
	d.Claims = append(d.Claims, templates.Fact{Label: "<b>x</b>", Value: `<script>alert(1)</script>`})
	src, doc := render(t, templates.PageSSOTest, d)
	body := text(doc)
	for _, want := range []string{"Test sign-in succeeded", "ann@acme.com", "eng, ops", "admin", "https://acme.okta.com", "never signs anyone in"} {
		if !strings.Contains(body, want) {
			t.Errorf("succeeded page lacks %q", want)
		}
	}
	if strings.Contains(src, "<script>") || strings.Contains(src, "<b>") {
		t.Errorf("an IdP value became markup:\n%s", src)
	}
	_, doc = render(t, templates.PageSSOTest, sampleSSOTest(false))
	body = text(doc)
	for _, want := range []string{"Test sign-in failed", "The token has expired.", "expired", "Token expires", "2025-03-04T05:10:00Z"} {
		if !strings.Contains(body, want) {
			t.Errorf("failed page lacks %q", want)
		}
	}
}

// TestSSOPostPage: the one page with a script (an asset, to submit the
// form at once) and a form leaving the site; a button works without it.
func TestSSOPostPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageSSOPost, templates.SSOPost{
		Page: acme("Continue"), Provider: "ADFS", Action: "https://idp.example.com/sso",
		Fields:    []templates.Field{{Name: "RelayState", Value: "abc"}, {Name: "SAMLRequest", Value: `PHNhbWw+"&`}},
		ScriptURL: "/.partnergate/assets/autopost.js",
	})
	form := find(t, doc, "form", tag("form"))
	if a, _ := attr(form, "action"); a != "https://idp.example.com/sso" {
		t.Errorf("form action %q", a)
	}
	if v, _ := attr(find(t, doc, "SAMLRequest", input("SAMLRequest")), "value"); v != `PHNhbWw+"&` {
		t.Errorf("SAMLRequest value %q", v)
	}
	if src, _ := attr(find(t, doc, "script", tag("script")), "src"); src != "/.partnergate/assets/autopost.js" {
		t.Errorf("script src %q", src)
	}
	if len(findAll(doc, withAttr("type", "submit"))) != 1 {
		t.Error("no button to send the form without scripts")
	}
}
