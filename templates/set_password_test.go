package templates_test

import (
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

const linkToken = "tok-3x4mpl3_SECRET"

func sampleSetPassword(state templates.SetPasswordState, purpose string) templates.SetPassword {
	return templates.SetPassword{
		Page:      acme("Set your password"),
		State:     state,
		Purpose:   purpose,
		Action:    "/.partnergate/password",
		CSRFToken: "csrf-789",
		Token:     linkToken,
		Email:     "jane@acme.example",
		MinLength: 12,
		LoginURL:  "/.partnergate/login",
	}
}

// describedBy returns the ids an element's aria-describedby names.
func describedBy(n *html.Node) []string {
	v, _ := attr(n, "aria-describedby")
	return strings.Fields(v)
}

func TestSetPasswordForm(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		purpose, h1, lede, button string
	}{
		{"invite", "Welcome to Acme Corp", "Choose a password to finish setting up your account.", "Set password"},
		{"reset", "Choose a new password", "Set a new password for your Acme Corp account. You will be signed out everywhere.", "Change password"},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			t.Parallel()
			_, doc := render(t, templates.PageSetPassword, sampleSetPassword(templates.SetPasswordForm, tc.purpose))
			main := find(t, doc, "main", tag("main"))
			if got := text(find(t, main, "partner name", hasClass("brand-name"))); got != "Acme Corp" {
				t.Errorf("partner name = %q, want Acme Corp", got)
			}
			if got := text(find(t, main, "h1", tag("h1"))); got != tc.h1 {
				t.Errorf("h1 = %q, want %q", got, tc.h1)
			}
			if got := text(find(t, main, "lede", hasClass("lede"))); got != tc.lede {
				t.Errorf("lede = %q, want %q", got, tc.lede)
			}

			form := find(t, main, "form", tag("form"))
			for name, want := range map[string]string{"method": "post", "action": "/.partnergate/password"} {
				if got, _ := attr(form, name); got != want {
					t.Errorf("form %s = %q, want %q", name, got, want)
				}
			}
			for name, want := range map[string]string{"csrf_token": "csrf-789", "token": linkToken} {
				in := find(t, form, "hidden "+name, input(name))
				if got, _ := attr(in, "type"); got != "hidden" {
					t.Errorf("%s type = %q, want hidden", name, got)
				}
				if got, _ := attr(in, "value"); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}

			email := find(t, form, "email", withAttr("id", "email"))
			for name, want := range map[string]string{"type": "email", "value": "jane@acme.example", "autocomplete": "username"} {
				if got, _ := attr(email, name); got != want {
					t.Errorf("email %s = %q, want %q", name, got, want)
				}
			}
			if _, ok := attr(email, "readonly"); !ok {
				t.Error("email can be edited")
			}
			if name, ok := attr(email, "name"); ok {
				t.Errorf("email is sent back as %q; the link alone names the account", name)
			}
			if got := labelFor(t, doc, email); got != "Email" {
				t.Errorf("email label = %q, want Email", got)
			}

			hint := find(t, form, "hint", hasClass("hint"))
			hintID, _ := attr(hint, "id")
			if got := text(hint); got != "At least 12 characters." {
				t.Errorf("hint = %q", got)
			}
			for _, f := range []struct{ name, label string }{
				{"password", "New password"},
				{"password_confirm", "Confirm new password"},
			} {
				in := find(t, form, f.name, input(f.name))
				for a, want := range map[string]string{"type": "password", "autocomplete": "new-password", "minlength": "12"} {
					if got, _ := attr(in, a); got != want {
						t.Errorf("%s %s = %q, want %q", f.name, a, got, want)
					}
				}
				if _, ok := attr(in, "required"); !ok {
					t.Errorf("%s is not required", f.name)
				}
				if v, ok := attr(in, "value"); ok {
					t.Errorf("%s has a value %q", f.name, v)
				}
				if got := labelFor(t, doc, in); got != f.label {
					t.Errorf("%s label = %q, want %q", f.name, got, f.label)
				}
			}
			pw := find(t, form, "password", input("password"))
			if got := describedBy(pw); !slices.Equal(got, []string{hintID}) {
				t.Errorf("new password aria-describedby = %q, want the hint %q", got, hintID)
			}
			if _, ok := attr(pw, "autofocus"); !ok {
				t.Error("new password field is not focused")
			}
			if got := describedBy(find(t, form, "confirm", input("password_confirm"))); len(got) != 0 {
				t.Errorf("confirm field points at %q with no error shown", got)
			}

			if got := findAll(doc, withAttr("role", "alert")); len(got) != 0 {
				t.Errorf("alert region shown without an error: %q", text(got[0]))
			}
			button := find(t, form, "submit button", tag("button"))
			if got, _ := attr(button, "type"); got != "submit" {
				t.Errorf("button type = %q, want submit", got)
			}
			if got := text(button); got != tc.button {
				t.Errorf("button = %q, want %q", got, tc.button)
			}
		})
	}
}

func TestSetPasswordFormWithError(t *testing.T) {
	t.Parallel()
	const msg = "The passwords do not match."
	data := sampleSetPassword(templates.SetPasswordForm, "invite")
	data.Error = msg
	_, doc := render(t, templates.PageSetPassword, data)

	alert := find(t, doc, "alert region", withAttr("role", "alert"))
	if got := text(alert); got != msg {
		t.Errorf("alert = %q, want %q", got, msg)
	}
	form := find(t, doc, "form", tag("form"))
	if len(findAll(form, withAttr("role", "alert"))) != 0 {
		t.Error("alert is inside the form")
	}
	id, _ := attr(alert, "id")
	hintID, _ := attr(find(t, doc, "hint", hasClass("hint")), "id")
	if got := describedBy(find(t, form, "password", input("password"))); id == "" || !slices.Equal(got, []string{id, hintID}) {
		t.Errorf("new password aria-describedby = %q, want the alert %q, then the hint %q", got, id, hintID)
	}
	if got := describedBy(find(t, form, "confirm", input("password_confirm"))); !slices.Equal(got, []string{id}) {
		t.Errorf("confirm aria-describedby = %q, want the alert %q", got, id)
	}
}

func TestSetPasswordFormWithoutMinLength(t *testing.T) {
	t.Parallel()
	data := sampleSetPassword(templates.SetPasswordForm, "reset")
	data.MinLength = 0
	_, doc := render(t, templates.PageSetPassword, data)
	if got := findAll(doc, hasClass("hint")); len(got) != 0 {
		t.Errorf("hint shown with no length to tell: %q", text(got[0]))
	}
	for _, name := range []string{"password", "password_confirm"} {
		in := find(t, doc, name, input(name))
		if v, ok := attr(in, "minlength"); ok {
			t.Errorf("%s minlength = %q, want none", name, v)
		}
		if _, ok := attr(in, "aria-describedby"); ok {
			t.Errorf("%s points at a hint that is not there", name)
		}
	}
}

func TestSetPasswordInvalid(t *testing.T) {
	t.Parallel()
	// The zero State, and one nobody defined, must not offer a form.
	for _, state := range []templates.SetPasswordState{templates.SetPasswordInvalid, "", "Form"} {
		t.Run(string(state), func(t *testing.T) {
			t.Parallel()
			src, doc := render(t, templates.PageSetPassword, sampleSetPassword(state, "invite"))
			if got := findAll(doc, tag("form")); len(got) != 0 {
				t.Error("invalid link page has a form")
			}
			if got := findAll(doc, tag("input")); len(got) != 0 {
				t.Errorf("invalid link page has %d inputs", len(got))
			}
			if strings.Contains(src, linkToken) {
				t.Error("invalid link page shows the token")
			}
			main := find(t, doc, "main", tag("main"))
			if got := text(find(t, main, "h1", tag("h1"))); got != "This link can’t be used" {
				t.Errorf("h1 = %q", got)
			}
			if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "expired") || !strings.Contains(got, "new link") {
				t.Errorf("lede = %q, want it to say the link expired and how to get a new one", got)
			}
			link := find(t, main, "sign-in link", tag("a"))
			if got, _ := attr(link, "href"); got != "/.partnergate/login" {
				t.Errorf("link href = %q, want /.partnergate/login", got)
			}
			if got := text(link); got != "Go to sign in" {
				t.Errorf("link text = %q", got)
			}
		})
	}
}

func TestSetPasswordDone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ purpose, h1, lede string }{
		{"invite", "Your password is set", "You can now sign in to Acme Corp."},
		{"reset", "Your password is changed", "You have been signed out everywhere. Sign in to Acme Corp with your new password."},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			t.Parallel()
			src, doc := render(t, templates.PageSetPassword, sampleSetPassword(templates.SetPasswordDone, tc.purpose))
			if got := findAll(doc, tag("form")); len(got) != 0 {
				t.Error("done page has a form")
			}
			if strings.Contains(src, linkToken) {
				t.Error("done page shows the token")
			}
			main := find(t, doc, "main", tag("main"))
			if got := text(find(t, main, "h1", tag("h1"))); got != tc.h1 {
				t.Errorf("h1 = %q, want %q", got, tc.h1)
			}
			if got := text(find(t, main, "lede", hasClass("lede"))); got != tc.lede {
				t.Errorf("lede = %q, want %q", got, tc.lede)
			}
			link := find(t, main, "sign-in link", tag("a"))
			if got, _ := attr(link, "href"); got != "/.partnergate/login" {
				t.Errorf("link href = %q, want /.partnergate/login", got)
			}
			if got := text(link); got != "Sign in" {
				t.Errorf("link text = %q, want Sign in", got)
			}
		})
	}
}

func TestSetPasswordEscaping(t *testing.T) {
	t.Parallel()
	for _, state := range []templates.SetPasswordState{templates.SetPasswordForm, templates.SetPasswordInvalid, templates.SetPasswordDone} {
		for _, purpose := range []string{"invite", "reset"} {
			t.Run(string(state)+" "+purpose, func(t *testing.T) {
				t.Parallel()
				data := templates.SetPassword{
					Page:  templates.Page{PartnerName: xss, AssetPrefix: assetPrefix, Title: xss},
					State: state, Purpose: purpose, Action: "/.partnergate/password",
					CSRFToken: xss, Token: xss, Email: xss, MinLength: 12, Error: xss, LoginURL: "/.partnergate/login",
				}
				src, doc := render(t, templates.PageSetPassword, data)
				if strings.Contains(src, "<script") {
					t.Fatalf("page source holds <script:\n%s", src)
				}
				if strings.Contains(src, `"'`) {
					t.Errorf("page source holds the raw quotes of the payload")
				}
				if got := text(first(doc, hasClass("brand-name"))); got != xss {
					t.Errorf("partner name reads %q, want the payload shown as text", got)
				}
				if got := text(first(doc, tag("h1"))) + " " + text(first(doc, hasClass("lede"))); state != templates.SetPasswordInvalid && !strings.Contains(got, xss) {
					t.Errorf("heading and lede read %q, want the partner named as text", got)
				}
				if state == templates.SetPasswordForm {
					for name, want := range map[string]string{"csrf_token": xss, "token": xss} {
						if got, _ := attr(first(doc, input(name)), "value"); got != want {
							t.Errorf("%s reads %q, want the payload", name, got)
						}
					}
					if got, _ := attr(first(doc, withAttr("id", "email")), "value"); got != xss {
						t.Errorf("email reads %q, want the payload", got)
					}
					if got := text(first(doc, withAttr("role", "alert"))); got != xss {
						t.Errorf("alert reads %q, want the payload", got)
					}
				}
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
}
