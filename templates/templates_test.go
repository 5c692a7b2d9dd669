package templates_test

import (
	"bytes"
	"errors"
	"io/fs"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

const assetPrefix = "/.partnergate/assets/"

func acme(title string) templates.Page {
	return templates.Page{PartnerName: "Acme Corp", AssetPrefix: assetPrefix, Title: title}
}

func sampleLogin() templates.Login {
	return templates.Login{
		Page:      acme("Sign in"),
		Action:    "/.partnergate/login",
		CSRFToken: "csrf-123",
		ReturnTo:  "/reports?q=1",
	}
}

func sampleSignOut() templates.SignOut {
	return templates.SignOut{Page: acme("Sign out"), Action: "/.partnergate/logout", CSRFToken: "csrf-456"}
}

func sampleSignedOut() templates.SignedOut {
	return templates.SignedOut{Page: acme("Signed out"), LoginURL: "/.partnergate/login"}
}

// everyPage lists each page in each of its states, with every optional
// part shown.
func everyPage() []struct {
	name, page string
	data       any
} {
	login := sampleLogin()
	login.Error = "x"
	form := sampleSetPassword(templates.SetPasswordForm, "invite")
	form.Error = "x"
	return append([]struct {
		name, page string
		data       any
	}{
		{"login", templates.PageLogin, login},
		{"sign_out", templates.PageSignOut, sampleSignOut()},
		{"signed_out", templates.PageSignedOut, sampleSignedOut()},
		{"set_password form", templates.PageSetPassword, form},
		{"set_password reset form", templates.PageSetPassword, sampleSetPassword(templates.SetPasswordForm, "reset")},
		{"set_password invalid", templates.PageSetPassword, sampleSetPassword(templates.SetPasswordInvalid, "")},
		{"set_password done", templates.PageSetPassword, sampleSetPassword(templates.SetPasswordDone, "invite")},
		{"set_password reset done", templates.PageSetPassword, sampleSetPassword(templates.SetPasswordDone, "reset")},
		{"login with SSO", templates.PageLogin, sampleSSOLogin()},
		{"sso_redirect", templates.PageSSORedirect, sampleSSORedirect()},
		{"sso_error", templates.PageSSOError, sampleSSOError()},
		{"sso_test succeeded", templates.PageSSOTest, sampleSSOTest(true)},
		{"sso_test failed", templates.PageSSOTest, sampleSSOTest(false)},
		{"account_security", templates.PageAccount, sampleAccount()},
		{"not_found", templates.PageNotFound, templates.NotFound{Page: acme("Page not found"), LoginURL: "/.partnergate/login"}},
		{"suspended", templates.PageSuspended, templates.Suspended{Page: acme("Access suspended")}},
		{"branded login", templates.PageLogin, brandedLogin()},
	}, everyMFAPage()...)
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageLogin, sampleLogin())

	if got, _ := attr(find(t, doc, "html", tag("html")), "lang"); got != "en" {
		t.Errorf("html lang = %q, want en", got)
	}
	if got, want := text(find(t, doc, "title", tag("title"))), "Sign in · Acme Corp"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	main := find(t, doc, "main", tag("main"))
	if got, want := text(find(t, main, "partner name", hasClass("brand-name"))), "Acme Corp"; got != want {
		t.Errorf("partner name = %q, want %q", got, want)
	}
	mono := find(t, main, "monogram", hasClass("monogram"))
	if got := text(mono); got != "A" {
		t.Errorf("monogram = %q, want A", got)
	}
	if got, _ := attr(mono, "aria-hidden"); got != "true" {
		t.Errorf("monogram aria-hidden = %q, want true (the name is already read out)", got)
	}
	if got := text(find(t, main, "h1", tag("h1"))); got != "Sign in" {
		t.Errorf("h1 = %q, want Sign in", got)
	}

	form := find(t, main, "form", tag("form"))
	for name, want := range map[string]string{"method": "post", "action": "/.partnergate/login"} {
		if got, _ := attr(form, name); got != want {
			t.Errorf("form %s = %q, want %q", name, got, want)
		}
	}

	for _, tc := range []struct {
		name, typ, label, autocomplete string
	}{
		{"email", "email", "Email", "username"},
		{"password", "password", "Password", "current-password"},
	} {
		in := find(t, form, "input "+tc.name, input(tc.name))
		if got, _ := attr(in, "type"); got != tc.typ {
			t.Errorf("%s type = %q, want %q", tc.name, got, tc.typ)
		}
		if got, _ := attr(in, "autocomplete"); got != tc.autocomplete {
			t.Errorf("%s autocomplete = %q, want %q", tc.name, got, tc.autocomplete)
		}
		if _, ok := attr(in, "required"); !ok {
			t.Errorf("%s is not required", tc.name)
		}
		if got := labelFor(t, doc, in); got != tc.label {
			t.Errorf("%s label = %q, want %q", tc.name, got, tc.label)
		}
		if _, ok := attr(in, "aria-describedby"); ok {
			t.Errorf("%s points at an error that is not there", tc.name)
		}
	}
	if _, ok := attr(find(t, form, "email", input("email")), "autofocus"); !ok {
		t.Error("empty email field is not focused")
	}
	if v, ok := attr(find(t, form, "password", input("password")), "value"); ok {
		t.Errorf("password field has a value %q", v)
	}

	for name, want := range map[string]string{"csrf_token": "csrf-123", "return_to": "/reports?q=1"} {
		in := find(t, form, "hidden "+name, input(name))
		if got, _ := attr(in, "type"); got != "hidden" {
			t.Errorf("%s type = %q, want hidden", name, got)
		}
		if got, _ := attr(in, "value"); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	button := find(t, form, "submit button", tag("button"))
	if got, _ := attr(button, "type"); got != "submit" {
		t.Errorf("button type = %q, want submit", got)
	}
	if got := text(button); got != "Sign in" {
		t.Errorf("button = %q, want Sign in", got)
	}

	if got := findAll(doc, withAttr("role", "alert")); len(got) != 0 {
		t.Errorf("alert region shown without an error: %q", text(got[0]))
	}
	if got, want := text(find(t, doc, "footer", tag("footer"))), "Secured by partnergate"; got != want {
		t.Errorf("footer = %q, want %q", got, want)
	}
}

func TestLoginPageWithError(t *testing.T) {
	t.Parallel()
	const msg = "That email and password don’t match."
	data := sampleLogin()
	data.Email = "jane@acme.example"
	data.Error = msg
	_, doc := render(t, templates.PageLogin, data)

	alert := find(t, doc, "alert region", withAttr("role", "alert"))
	if got := text(alert); got != msg {
		t.Errorf("alert = %q, want %q", got, msg)
	}
	if got := strings.Count(text(doc), msg); got != 1 {
		t.Errorf("error text appears %d times on the page, want once", got)
	}
	// The alert is inside the card, before the form, so it is read first.
	form := find(t, doc, "form", tag("form"))
	if len(findAll(form, withAttr("role", "alert"))) != 0 {
		t.Error("alert is inside the form")
	}

	id, _ := attr(alert, "id")
	email := find(t, doc, "email", input("email"))
	password := find(t, doc, "password", input("password"))
	for _, in := range []*html.Node{email, password} {
		if got, _ := attr(in, "aria-describedby"); id == "" || got != id {
			t.Errorf("%v aria-describedby = %q, want the alert's id %q", in.Attr, got, id)
		}
	}
	if got, _ := attr(email, "value"); got != "jane@acme.example" {
		t.Errorf("email value = %q, want it kept", got)
	}
	if _, ok := attr(email, "autofocus"); ok {
		t.Error("prefilled email field takes the focus")
	}
	if _, ok := attr(password, "autofocus"); !ok {
		t.Error("password field is not focused after a failed attempt")
	}
}

func TestSignOutPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageSignOut, sampleSignOut())

	if got, want := text(find(t, doc, "title", tag("title"))), "Sign out · Acme Corp"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	main := find(t, doc, "main", tag("main"))
	if got := text(find(t, main, "partner name", hasClass("brand-name"))); got != "Acme Corp" {
		t.Errorf("partner name = %q, want Acme Corp", got)
	}
	if got := text(find(t, main, "h1", tag("h1"))); got != "Sign out" {
		t.Errorf("h1 = %q, want Sign out", got)
	}
	if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "Acme Corp") {
		t.Errorf("lede = %q, want it to name the partner", got)
	}
	form := find(t, main, "form", tag("form"))
	for name, want := range map[string]string{"method": "post", "action": "/.partnergate/logout"} {
		if got, _ := attr(form, name); got != want {
			t.Errorf("form %s = %q, want %q", name, got, want)
		}
	}
	csrf := find(t, form, "hidden csrf_token", input("csrf_token"))
	if got, _ := attr(csrf, "type"); got != "hidden" {
		t.Errorf("csrf_token type = %q, want hidden", got)
	}
	if got, _ := attr(csrf, "value"); got != "csrf-456" {
		t.Errorf("csrf_token = %q, want csrf-456", got)
	}
	if got := findAll(form, tag("input")); len(got) != 1 {
		t.Errorf("sign-out form has %d inputs, want only csrf_token", len(got))
	}
	button := find(t, form, "submit button", tag("button"))
	if got, _ := attr(button, "type"); got != "submit" {
		t.Errorf("button type = %q, want submit", got)
	}
	if got := text(button); got != "Sign out" {
		t.Errorf("button = %q, want Sign out", got)
	}
	if got, want := text(find(t, doc, "footer", tag("footer"))), "Secured by partnergate"; got != want {
		t.Errorf("footer = %q, want %q", got, want)
	}
}

func TestSignedOutPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageSignedOut, sampleSignedOut())

	if got, want := text(find(t, doc, "title", tag("title"))), "Signed out · Acme Corp"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	main := find(t, doc, "main", tag("main"))
	if got := text(find(t, main, "partner name", hasClass("brand-name"))); got != "Acme Corp" {
		t.Errorf("partner name = %q, want Acme Corp", got)
	}
	if got := text(find(t, main, "h1", tag("h1"))); !strings.Contains(got, "signed out") {
		t.Errorf("h1 = %q, want it to say signed out", got)
	}
	link := find(t, main, "sign-in link", tag("a"))
	if got := text(link); got != "Sign in again" {
		t.Errorf("link text = %q, want Sign in again", got)
	}
	if got, _ := attr(link, "href"); got != "/.partnergate/login" {
		t.Errorf("link href = %q, want /.partnergate/login", got)
	}
	if got := findAll(doc, tag("form")); len(got) != 0 {
		t.Error("signed-out page has a form")
	}
	if got, want := text(find(t, doc, "footer", tag("footer"))), "Secured by partnergate"; got != want {
		t.Errorf("footer = %q, want %q", got, want)
	}
}

// TestSuspendedPage checks the notice a suspended partner's site shows
// offers no way in: nothing to sign in with, nowhere to go but help.
func TestSuspendedPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageSuspended, templates.Suspended{Page: acme("Access suspended")})

	if got, want := text(find(t, doc, "title", tag("title"))), "Access suspended · Acme Corp"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	main := find(t, doc, "main", tag("main"))
	if got := text(find(t, main, "partner name", hasClass("brand-name"))); got != "Acme Corp" {
		t.Errorf("partner name = %q, want Acme Corp", got)
	}
	if got, want := text(find(t, main, "lede", hasClass("lede"))), "This organization’s access is suspended. Contact your administrator."; got != want {
		t.Errorf("notice = %q, want %q", got, want)
	}
	if got := append(findAll(main, tag("form")), findAll(main, tag("a"))...); len(got) != 0 {
		t.Errorf("the suspended page offers %d forms or links", len(got))
	}
}

func TestTitleWithoutPageTitle(t *testing.T) {
	t.Parallel()
	data := sampleSignedOut()
	data.Title = ""
	_, doc := render(t, templates.PageSignedOut, data)
	if got := text(find(t, doc, "title", tag("title"))); got != "Acme Corp" {
		t.Errorf("title = %q, want Acme Corp", got)
	}
}

// TestStrictCSP checks every page against what
// "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'"
// lets a browser load: no script, no inline style, nothing from another host.
func TestStrictCSP(t *testing.T) {
	t.Parallel()
	for _, pg := range everyPage() {
		t.Run(pg.name, func(t *testing.T) {
			t.Parallel()
			_, doc := render(t, pg.page, pg.data)
			for _, el := range []string{"script", "style", "iframe", "object", "embed", "base"} {
				if n := findAll(doc, tag(el)); len(n) != 0 {
					t.Errorf("page has a <%s>", el)
				}
			}
			for n := range doc.Descendants() {
				for _, a := range n.Attr {
					if a.Key == "style" || strings.HasPrefix(a.Key, "on") {
						t.Errorf("<%s> has attribute %s", n.Data, a.Key)
					}
					// A partner's support link is the one way off the
					// site: a navigation the user chooses, never a fetch.
					supportLink := n.Data == "a" && a.Key == "href" && strings.HasPrefix(a.Val, "https://")
					if (a.Key == "href" || a.Key == "src" || a.Key == "action") && !supportLink {
						if strings.Contains(a.Val, ":") || strings.HasPrefix(a.Val, "//") {
							t.Errorf("<%s %s=%q> leaves the origin", n.Data, a.Key, a.Val)
						}
					}
				}
			}
			sheets := findAll(doc, withAttr("rel", "stylesheet"))
			if len(sheets) == 2 {
				if href, _ := attr(sheets[1], "href"); !strings.HasPrefix(href, "/.partnergate/branding.css") {
					t.Errorf("second stylesheet %q is not the partner's colours", href)
				}
				sheets = sheets[:1]
			}
			if len(sheets) != 1 {
				t.Fatalf("%d stylesheets, want the product's and at most the partner's", len(sheets))
			}
			href, _ := attr(sheets[0], "href")
			if !regexp.MustCompile(`^` + regexp.QuoteMeta(assetPrefix) + `style\.css\?v=[0-9a-f]+$`).MatchString(href) {
				t.Errorf("stylesheet href = %q, want %sstyle.css?v=<hash>", href, assetPrefix)
			}
		})
	}
}

func TestAssetPrefixGetsSlash(t *testing.T) {
	t.Parallel()
	data := sampleLogin()
	data.AssetPrefix = "/.partnergate/assets"
	_, doc := render(t, templates.PageLogin, data)
	href, _ := attr(find(t, doc, "stylesheet", withAttr("rel", "stylesheet")), "href")
	if !strings.HasPrefix(href, "/.partnergate/assets/style.css?v=") {
		t.Errorf("stylesheet href = %q", href)
	}
}

const xss = `<script>alert(1)</script>"'`

func TestEscaping(t *testing.T) {
	t.Parallel()
	page := templates.Page{PartnerName: xss, AssetPrefix: assetPrefix, Title: xss}
	login := templates.Login{Page: page, Action: "/.partnergate/login", CSRFToken: xss, ReturnTo: xss, Email: xss, Error: xss}
	signOut := templates.SignOut{Page: page, Action: "/.partnergate/logout", CSRFToken: xss}
	signedOut := templates.SignedOut{Page: page, LoginURL: "/.partnergate/login"}

	for _, tc := range []struct {
		name string
		data any
		// places the payload must show up in, read back as a browser would
		places map[string]func(*html.Node) string
	}{
		{templates.PageLogin, login, map[string]func(*html.Node) string{
			"title":        func(d *html.Node) string { return text(first(d, tag("title"))) },
			"partner name": func(d *html.Node) string { return text(first(d, hasClass("brand-name"))) },
			"alert":        func(d *html.Node) string { return text(first(d, withAttr("role", "alert"))) },
			"email":        func(d *html.Node) string { v, _ := attr(first(d, input("email")), "value"); return v },
			"csrf_token":   func(d *html.Node) string { v, _ := attr(first(d, input("csrf_token")), "value"); return v },
			"return_to":    func(d *html.Node) string { v, _ := attr(first(d, input("return_to")), "value"); return v },
		}},
		{templates.PageSignOut, signOut, map[string]func(*html.Node) string{
			"title":        func(d *html.Node) string { return text(first(d, tag("title"))) },
			"partner name": func(d *html.Node) string { return text(first(d, hasClass("brand-name"))) },
			"lede":         func(d *html.Node) string { return text(first(d, hasClass("lede"))) },
			"csrf_token":   func(d *html.Node) string { v, _ := attr(first(d, input("csrf_token")), "value"); return v },
		}},
		{templates.PageSignedOut, signedOut, map[string]func(*html.Node) string{
			"title":        func(d *html.Node) string { return text(first(d, tag("title"))) },
			"partner name": func(d *html.Node) string { return text(first(d, hasClass("brand-name"))) },
			"lede":         func(d *html.Node) string { return text(first(d, hasClass("lede"))) },
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, doc := render(t, tc.name, tc.data)
			if strings.Contains(src, "<script") {
				t.Fatalf("page source holds <script:\n%s", src)
			}
			if strings.Contains(src, `"'`) {
				t.Errorf("page source holds the raw quotes of the payload")
			}
			for place, read := range tc.places {
				if got := read(doc); !strings.Contains(got, xss) {
					t.Errorf("%s reads %q, want the payload shown as text", place, got)
				}
			}
			// Nothing but the page's own elements: the payload added no
			// element and no attribute anywhere.
			for n := range doc.Descendants() {
				if n.Type == html.ElementNode && n.Data == "script" {
					t.Error("payload became a <script> element")
				}
				for _, a := range n.Attr {
					if strings.ContainsAny(a.Key, `<>"'()`) || a.Key == "alert(1)" {
						t.Errorf("payload became attribute %q on <%s>", a.Key, n.Data)
					}
				}
			}
		})
	}
}

// TestDangerousURLs: a javascript: URL in a link or form target is neutralised
// by html/template, so a bad caller value can never run script on click.
func TestDangerousURLs(t *testing.T) {
	t.Parallel()
	login := sampleLogin()
	login.Action = "javascript:alert(1)"
	_, doc := render(t, templates.PageLogin, login)
	if got, _ := attr(first(doc, tag("form")), "action"); strings.Contains(got, "javascript") {
		t.Errorf("form action = %q", got)
	}

	signOut := sampleSignOut()
	signOut.Action = "javascript:alert(1)"
	_, doc = render(t, templates.PageSignOut, signOut)
	if got, _ := attr(first(doc, tag("form")), "action"); strings.Contains(got, "javascript") {
		t.Errorf("sign-out form action = %q", got)
	}

	signedOut := sampleSignedOut()
	signedOut.LoginURL = "javascript:alert(1)"
	signedOut.AssetPrefix = "javascript:alert(1)//"
	src, doc := render(t, templates.PageSignedOut, signedOut)
	if got, _ := attr(first(doc, tag("a")), "href"); strings.Contains(got, "javascript") {
		t.Errorf("link href = %q", got)
	}
	if strings.Contains(src, "javascript:") {
		t.Errorf("page source holds a javascript: URL:\n%s", src)
	}
}

func first(doc *html.Node, match func(*html.Node) bool) *html.Node {
	if all := findAll(doc, match); len(all) > 0 {
		return all[0]
	}
	return &html.Node{}
}

func TestRenderRejects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, page string
		data       any
	}{
		{"unknown page", "mfa", sampleLogin()},
		{"login with signed-out data", templates.PageLogin, sampleSignedOut()},
		{"signed_out with login data", templates.PageSignedOut, sampleLogin()},
		{"sign_out with signed-out data", templates.PageSignOut, sampleSignedOut()},
		{"set_password with login data", templates.PageSetPassword, sampleLogin()},
		{"login with set-password data", templates.PageLogin, sampleSetPassword(templates.SetPasswordForm, "invite")},
		{"nil pointer", templates.PageLogin, (*templates.Login)(nil)},
		{"nil", templates.PageLogin, nil},
		{"map", templates.PageLogin, map[string]string{"PartnerName": "Acme"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := pages(t).Render(&buf, tc.page, tc.data); err == nil {
				t.Error("Render succeeded, want an error")
			}
			if buf.Len() != 0 {
				t.Errorf("Render wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestRenderAcceptsPointers(t *testing.T) {
	t.Parallel()
	login := sampleLogin()
	var byValue, byPointer bytes.Buffer
	if err := pages(t).Render(&byValue, templates.PageLogin, login); err != nil {
		t.Fatal(err)
	}
	if err := pages(t).Render(&byPointer, templates.PageLogin, &login); err != nil {
		t.Fatal(err)
	}
	if byValue.String() != byPointer.String() {
		t.Error("a *Login renders differently from a Login")
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("client went away") }

func TestRenderReportsWriteError(t *testing.T) {
	t.Parallel()
	if err := pages(t).Render(failingWriter{}, templates.PageLogin, sampleLogin()); err == nil {
		t.Error("Render hid a write error")
	}
}

func TestRenderConcurrently(t *testing.T) {
	t.Parallel()
	s := pages(t)
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			var buf bytes.Buffer
			data := sampleLogin()
			data.Email = strings.Repeat("a", i) + "@acme.example"
			if err := s.Render(&buf, templates.PageLogin, data); err != nil {
				t.Error(err)
			}
			if !strings.Contains(buf.String(), data.Email) {
				t.Errorf("page %d lost its own email", i)
			}
		})
	}
	wg.Wait()
}

func TestAssets(t *testing.T) {
	t.Parallel()
	assets := templates.Assets()
	if err := fstest.TestFS(assets, "style.css", "favicon.svg"); err != nil {
		t.Fatal(err)
	}
	css, err := fs.ReadFile(assets, "style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"@import", "url(", "http:", "https:", "expression("} {
		if bytes.Contains(css, []byte(banned)) {
			t.Errorf("style.css uses %q: everything must come from 'self' with no further fetches", banned)
		}
	}
}

// TestEveryClassIsStyled catches a class renamed in a template but not in the CSS.
func TestEveryClassIsStyled(t *testing.T) {
	t.Parallel()
	css, err := fs.ReadFile(templates.Assets(), "style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, pg := range everyPage() {
		_, doc := render(t, pg.page, pg.data)
		for n := range doc.Descendants() {
			v, _ := attr(n, "class")
			for _, class := range strings.Fields(v) {
				if !regexp.MustCompile(`\.` + regexp.QuoteMeta(class) + `[\s,:{.]`).Match(css) {
					t.Errorf("%s: class %q has no rule in style.css", pg.name, class)
				}
			}
		}
	}
}

func sampleAccount() templates.AccountSecurity {
	return templates.AccountSecurity{
		Page: acme("Sign-in methods"), Email: "ann@acme.example", RemoveAction: "/.partnergate/account/security/remove", CSRFToken: "csrf-acct",
		Notice: "Removed.",
		Methods: []templates.AccountMethod{
			{ID: "mfa_1", Kind: "Authenticator app", Name: "Authenticator app", Added: "2026-11-28", LastUsed: "2026-11-28"},
			{ID: "mfa_2", Kind: "Recovery codes", Name: "7 of 10 left", Added: "2026-11-28"},
		},
	}
}

// TestAccountSecurityPage: each method has its own removal form, named
// for screen readers, with the CSRF token.
func TestAccountSecurityPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageAccount, sampleAccount())
	forms := findAll(doc, tag("form"))
	if len(forms) != 2 {
		t.Fatalf("%d removal forms, want 2", len(forms))
	}
	for i, f := range forms {
		if v, _ := attr(find(t, f, "method", input("method")), "value"); v != sampleAccount().Methods[i].ID {
			t.Errorf("form %d removes %q", i, v)
		}
		if v, _ := attr(find(t, f, "csrf", input("csrf_token")), "value"); v != "csrf-acct" {
			t.Errorf("form %d token %q", i, v)
		}
		if l, _ := attr(find(t, f, "button", tag("button")), "aria-label"); !strings.HasPrefix(l, "Remove ") {
			t.Errorf("form %d button label %q", i, l)
		}
	}
	if got := text(find(t, doc, "notice", withAttr("role", "status"))); got != "Removed." {
		t.Errorf("notice %q", got)
	}
}

func brandedLogin() templates.Login {
	l := sampleLogin()
	l.Brand = templates.Brand{
		StylesheetURL: "/.partnergate/branding.css?v=1", LogoURL: "/.partnergate/branding/logo?v=abc",
		Welcome: "Welcome to Acme's partner portal.", Footer: "Acme Corp, 1 Main St.", SupportURL: "https://help.acme.example/",
	}
	return l
}

// TestBrandedPages: a partner's look reaches the page as links on the
// site and text; script in any text is only ever text.
func TestBrandedPages(t *testing.T) {
	t.Parallel()
	l := brandedLogin()
	src, doc := render(t, templates.PageLogin, l)
	if href, _ := attr(findAll(doc, withAttr("rel", "stylesheet"))[1], "href"); href != "/.partnergate/branding.css?v=1" {
		t.Errorf("brand stylesheet %q", href)
	}
	if s, _ := attr(find(t, doc, "logo", hasClass("logo")), "src"); s != "/.partnergate/branding/logo?v=abc" {
		t.Errorf("logo %q", s)
	}
	if len(findAll(doc, hasClass("monogram"))) != 0 {
		t.Error("a page with a logo still shows the initial")
	}
	for _, want := range []string{"Welcome to Acme", "Acme Corp, 1 Main St.", "Get help"} {
		if !strings.Contains(text(doc), want) {
			t.Errorf("branded page lacks %q", want)
		}
	}
	evil := `<script>alert(1)</script>`
	l.Brand.Welcome, l.Brand.Footer, l.PartnerName = evil, evil, evil
	l.Brand.SupportURL = "javascript:alert(1)"
	src, _ = render(t, templates.PageLogin, l)
	if strings.Contains(src, "<script>alert") || strings.Contains(src, "javascript:alert") {
		t.Errorf("branding text became markup:\n%s", src)
	}
}

// TestOperatorOverrides: a page the operator overrides renders theirs,
// with the same data; the others stay the product's; a broken override
// fails the parse, not a request.
func TestOperatorOverrides(t *testing.T) {
	t.Parallel()
	dir := fstest.MapFS{"login.html": {Data: []byte(`{{define "content"}}<h1 class="heading">Partner sign-in for {{.PartnerName}}</h1>{{end}}`)}}
	set, err := templates.ParseWith(dir)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := set.Render(&buf, templates.PageLogin, sampleLogin()); err != nil || !strings.Contains(buf.String(), "Partner sign-in for Acme Corp") {
		t.Errorf("overridden login: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := set.Render(&buf, templates.PageSignOut, sampleSignOut()); err != nil || !strings.Contains(buf.String(), `action="/.partnergate/logout"`) {
		t.Errorf("a page not overridden: %v", err)
	}
	if _, err := templates.ParseWith(fstest.MapFS{"login.html": {Data: []byte(`{{define "content"}}{{.Nope`)}}); err == nil {
		t.Error("a broken override parsed")
	}
}
