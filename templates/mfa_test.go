package templates_test

import (
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

func sampleMFA() templates.MFA {
	return templates.MFA{
		Page:           acme("Verify it’s you"),
		Email:          "jane@acme.example",
		TOTPAction:     "/.partnergate/mfa/totp",
		RecoveryAction: "/.partnergate/mfa/recovery",
		CSRFToken:      "csrf-mfa",
		RememberDays:   30,
		CancelURL:      "/.partnergate/login",
	}
}

func sampleMFAEnroll() templates.MFAEnroll {
	return templates.MFAEnroll{
		Page:      acme("Set up two-step verification"),
		Email:     "jane@acme.example",
		QRURL:     "/.partnergate/mfa/enroll/qr.png",
		Secret:    "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP",
		Action:    "/.partnergate/mfa/enroll",
		CSRFToken: "csrf-enroll",
		CancelURL: "/.partnergate/login",
	}
}

func sampleMFACodes() templates.MFACodes {
	return templates.MFACodes{
		Page: acme("Save your recovery codes"),
		Codes: []string{
			"7h2k-9xqp", "m4rt-c8wz", "p6dn-2jvb", "x3fs-q7lk", "b9gm-5tye",
			"w2cn-h8ra", "k5vp-3zdu", "e8jq-6mwx", "r4yb-1ksn", "t7lh-0gcf",
		},
		Action:    "/.partnergate/mfa/codes",
		CSRFToken: "csrf-codes",
	}
}

// everyMFAPage lists the MFA pages for everyPage, with every optional part
// shown.
func everyMFAPage() []struct {
	name, page string
	data       any
} {
	mfa := sampleMFA()
	mfa.Error = "x"
	recoveryOnly := sampleMFA()
	recoveryOnly.TOTPAction = ""
	recoveryOnly.Error = "x"
	enroll := sampleMFAEnroll()
	enroll.Error = "x"
	return append([]struct {
		name, page string
		data       any
	}{
		{"mfa", templates.PageMFA, mfa},
		{"mfa recovery only", templates.PageMFA, recoveryOnly},
		{"mfa_enroll", templates.PageMFAEnroll, enroll},
		{"mfa_codes", templates.PageMFACodes, sampleMFACodes()},
	}, everySMSPushPage()...)
}

// checkForm checks a form's method, action and CSRF token and returns its
// submit button's text.
func checkForm(t *testing.T, form *html.Node, action, csrf string) string {
	t.Helper()
	for name, want := range map[string]string{"method": "post", "action": action} {
		if got, _ := attr(form, name); got != want {
			t.Errorf("form %s = %q, want %q", name, got, want)
		}
	}
	in := find(t, form, "hidden csrf_token", input("csrf_token"))
	if got, _ := attr(in, "type"); got != "hidden" {
		t.Errorf("csrf_token type = %q, want hidden", got)
	}
	if got, _ := attr(in, "value"); got != csrf {
		t.Errorf("csrf_token = %q, want %q", got, csrf)
	}
	button := find(t, form, "submit button", tag("button"))
	if got, _ := attr(button, "type"); got != "submit" {
		t.Errorf("button type = %q, want submit", got)
	}
	return text(button)
}

// checkTOTPInput checks the field an authenticator app's code goes in.
func checkTOTPInput(t *testing.T, doc, in *html.Node) {
	t.Helper()
	for name, want := range map[string]string{
		"name":         "code",
		"type":         "text",
		"inputmode":    "numeric",
		"autocomplete": "one-time-code",
		"pattern":      "[0-9 ]{6,7}",
		"maxlength":    "7",
	} {
		if got, _ := attr(in, name); got != want {
			t.Errorf("code input %s = %q, want %q", name, got, want)
		}
	}
	if _, ok := attr(in, "required"); !ok {
		t.Error("code input is not required")
	}
	if got := labelFor(t, doc, in); got != "Code from your authenticator app" {
		t.Errorf("code label = %q", got)
	}
}

// checkUniqueIDs checks that no two elements share an id, so every label-for and
// aria-describedby points at one element.
func checkUniqueIDs(t *testing.T, doc *html.Node) {
	t.Helper()
	seen := map[string]bool{}
	for n := range doc.Descendants() {
		if id, ok := attr(n, "id"); ok {
			if seen[id] {
				t.Errorf("id %q is used twice", id)
			}
			seen[id] = true
		}
	}
}

func TestMFAPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageMFA, sampleMFA())
	main := find(t, doc, "main", tag("main"))
	checkUniqueIDs(t, doc)

	if got := text(find(t, main, "h1", tag("h1"))); got != "Verify it’s you" {
		t.Errorf("h1 = %q", got)
	}
	if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "jane@acme.example") {
		t.Errorf("lede = %q, want it to name the account", got)
	}
	if got := findAll(doc, withAttr("role", "alert")); len(got) != 0 {
		t.Errorf("alert region shown without an error: %q", text(got[0]))
	}

	forms := findAll(main, tag("form"))
	if len(forms) != 2 {
		t.Fatalf("%d forms, want the app's and the recovery code's", len(forms))
	}
	totp, recovery := forms[0], forms[1]
	if got := checkForm(t, totp, "/.partnergate/mfa/totp", "csrf-mfa"); got != "Verify" {
		t.Errorf("app form button = %q, want Verify", got)
	}
	if got := checkForm(t, recovery, "/.partnergate/mfa/recovery", "csrf-mfa"); got != "Use recovery code" {
		t.Errorf("recovery form button = %q, want Use recovery code", got)
	}

	code := find(t, totp, "app code input", input("code"))
	checkTOTPInput(t, doc, code)
	if _, ok := attr(code, "autofocus"); !ok {
		t.Error("app code input is not focused")
	}
	if _, ok := attr(code, "aria-describedby"); ok {
		t.Error("app code input points at an error that is not there")
	}

	// The recovery form is folded away in a native disclosure, which needs
	// no script.
	details := find(t, main, "details", tag("details"))
	if got := text(find(t, details, "summary", tag("summary"))); got != "Use a recovery code instead" {
		t.Errorf("summary = %q", got)
	}
	if _, ok := attr(details, "open"); ok {
		t.Error("recovery code form is open by default")
	}
	if recovery.Parent != details {
		t.Error("recovery form is not inside the disclosure")
	}
	rc := find(t, recovery, "recovery code input", input("code"))
	if got, _ := attr(rc, "autocomplete"); got != "off" {
		t.Errorf("recovery code autocomplete = %q, want off", got)
	}
	if _, ok := attr(rc, "required"); !ok {
		t.Error("recovery code input is not required")
	}
	if _, ok := attr(rc, "autofocus"); ok {
		t.Error("folded recovery code input takes the focus")
	}
	if got := labelFor(t, doc, rc); got != "Recovery code" {
		t.Errorf("recovery code label = %q", got)
	}

	// Each form has its own "remember this device" box.
	for _, form := range forms {
		box := find(t, form, "remember checkbox", input("remember"))
		if got, _ := attr(box, "type"); got != "checkbox" {
			t.Errorf("remember type = %q, want checkbox", got)
		}
		if got, _ := attr(box, "value"); got != "on" {
			t.Errorf("remember value = %q, want on", got)
		}
		if _, ok := attr(box, "checked"); ok {
			t.Error("remember is checked by default")
		}
		if got := labelFor(t, doc, box); got != "Remember this device for 30 days" {
			t.Errorf("remember label = %q", got)
		}
	}

	cancel := find(t, main, "cancel link", func(n *html.Node) bool { return n.Data == "a" })
	if got := text(cancel); got != "Cancel sign-in" {
		t.Errorf("cancel link = %q", got)
	}
	if got, _ := attr(cancel, "href"); got != "/.partnergate/login" {
		t.Errorf("cancel href = %q", got)
	}
}

func TestMFAPageRemember(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		days int
		want string // the label, or "" for no checkbox
	}{
		{-1, ""},
		{0, ""},
		{1, "Remember this device for 1 day"},
		{7, "Remember this device for 7 days"},
	} {
		data := sampleMFA()
		data.RememberDays = tc.days
		_, doc := render(t, templates.PageMFA, data)
		boxes := findAll(doc, input("remember"))
		if tc.want == "" {
			if len(boxes) != 0 {
				t.Errorf("RememberDays %d: %d remember checkboxes, want none", tc.days, len(boxes))
			}
			if strings.Contains(text(doc), "Remember") {
				t.Errorf("RememberDays %d: page mentions remembering", tc.days)
			}
			continue
		}
		if len(boxes) != 2 {
			t.Errorf("RememberDays %d: %d remember checkboxes, want one per form", tc.days, len(boxes))
		}
		for _, box := range boxes {
			if got := labelFor(t, doc, box); got != tc.want {
				t.Errorf("RememberDays %d: label = %q, want %q", tc.days, got, tc.want)
			}
		}
	}
}

func TestMFAPageWithError(t *testing.T) {
	t.Parallel()
	const msg = "That code didn’t work. Check the time on your phone and try again."
	data := sampleMFA()
	data.Error = msg
	_, doc := render(t, templates.PageMFA, data)

	alert := find(t, doc, "alert region", withAttr("role", "alert"))
	if got := text(alert); got != msg {
		t.Errorf("alert = %q, want %q", got, msg)
	}
	if got, _ := attr(alert, "id"); got != "mfa-error" {
		t.Errorf("alert id = %q, want mfa-error", got)
	}
	for _, form := range findAll(doc, tag("form")) {
		if len(findAll(form, withAttr("role", "alert"))) != 0 {
			t.Error("alert is inside a form")
		}
	}
	for _, in := range findAll(doc, input("code")) {
		if got, _ := attr(in, "aria-describedby"); got != "mfa-error" {
			t.Errorf("%v aria-describedby = %q, want mfa-error", in.Attr, got)
		}
	}
}

// TestMFAPageRecoveryOnly: a user with no authenticator app gets the
// recovery code form at once, not folded away behind a disclosure.
func TestMFAPageRecoveryOnly(t *testing.T) {
	t.Parallel()
	data := sampleMFA()
	data.TOTPAction = ""
	_, doc := render(t, templates.PageMFA, data)
	checkUniqueIDs(t, doc)

	if got := findAll(doc, tag("details")); len(got) != 0 {
		t.Error("recovery code form is folded away with nothing else to show")
	}
	form := find(t, doc, "form", tag("form"))
	if got := checkForm(t, form, "/.partnergate/mfa/recovery", "csrf-mfa"); got != "Use recovery code" {
		t.Errorf("button = %q", got)
	}
	rc := find(t, form, "recovery code", input("code"))
	if _, ok := attr(rc, "autofocus"); !ok {
		t.Error("recovery code input is not focused")
	}
	if got := labelFor(t, doc, rc); got != "Recovery code" {
		t.Errorf("label = %q", got)
	}
	if got := text(find(t, doc, "lede", hasClass("lede"))); !strings.Contains(got, "recovery code") {
		t.Errorf("lede = %q, want it to ask for a recovery code", got)
	}
}

func TestMFAEnrollPage(t *testing.T) {
	t.Parallel()
	_, doc := render(t, templates.PageMFAEnroll, sampleMFAEnroll())
	main := find(t, doc, "main", tag("main"))
	checkUniqueIDs(t, doc)

	if got := text(find(t, main, "h1", tag("h1"))); got != "Set up two-step verification" {
		t.Errorf("h1 = %q", got)
	}
	if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "organization requires") {
		t.Errorf("lede = %q, want it to say why", got)
	}
	if got := findAll(doc, withAttr("role", "alert")); len(got) != 0 {
		t.Errorf("alert region shown without an error: %q", text(got[0]))
	}

	steps := find(t, main, "steps", tag("ol"))
	items := findAll(steps, tag("li"))
	if len(items) != 3 {
		t.Fatalf("%d steps, want 3", len(items))
	}
	for i, want := range []string{"authenticator app", "QR code", "6-digit code"} {
		if got := text(items[i]); !strings.Contains(got, want) {
			t.Errorf("step %d = %q, want it to mention %q", i+1, got, want)
		}
	}

	img := find(t, items[1], "QR image", tag("img"))
	for name, want := range map[string]string{
		"src":    "/.partnergate/mfa/enroll/qr.png",
		"alt":    "QR code for setting up your authenticator app",
		"width":  "200",
		"height": "200",
	} {
		if got, _ := attr(img, name); got != want {
			t.Errorf("img %s = %q, want %q", name, got, want)
		}
	}
	if got := text(find(t, items[1], "secret", tag("code"))); got != "JBSW Y3DP EHPK 3PXP JBSW Y3DP EHPK 3PXP" {
		t.Errorf("secret = %q", got)
	}

	form := find(t, items[2], "form", tag("form"))
	if got := checkForm(t, form, "/.partnergate/mfa/enroll", "csrf-enroll"); got != "Turn on" {
		t.Errorf("button = %q, want Turn on", got)
	}
	code := find(t, form, "code", input("code"))
	checkTOTPInput(t, doc, code)
	// The user scans first: focusing the field would scroll a phone past
	// the QR code.
	if _, ok := attr(code, "autofocus"); ok {
		t.Error("code input takes the focus before the QR code is scanned")
	}

	cancel := find(t, main, "cancel link", tag("a"))
	if got := text(cancel); got != "Cancel sign-in" {
		t.Errorf("cancel link = %q", got)
	}
	if got, _ := attr(cancel, "href"); got != "/.partnergate/login" {
		t.Errorf("cancel href = %q", got)
	}
}

func TestMFAEnrollPageWithError(t *testing.T) {
	t.Parallel()
	const msg = "That code didn’t work. Try the newest one."
	data := sampleMFAEnroll()
	data.Error = msg
	_, doc := render(t, templates.PageMFAEnroll, data)
	alert := find(t, doc, "alert region", withAttr("role", "alert"))
	if got := text(alert); got != msg {
		t.Errorf("alert = %q", got)
	}
	id, _ := attr(alert, "id")
	code := find(t, doc, "code", input("code"))
	if got, _ := attr(code, "aria-describedby"); id == "" || got != id {
		t.Errorf("code aria-describedby = %q, want the alert's id %q", got, id)
	}
	if _, ok := attr(code, "autofocus"); !ok {
		t.Error("code input is not focused after a failed attempt")
	}
}

func TestMFACodesPage(t *testing.T) {
	t.Parallel()
	data := sampleMFACodes()
	_, doc := render(t, templates.PageMFACodes, data)
	main := find(t, doc, "main", tag("main"))

	if got := text(find(t, main, "h1", tag("h1"))); got != "Save your recovery codes" {
		t.Errorf("h1 = %q", got)
	}
	if got := text(find(t, main, "lede", hasClass("lede"))); !strings.Contains(got, "once") {
		t.Errorf("lede = %q, want it to say each code works once", got)
	}
	list := find(t, main, "codes list", tag("ol"))
	items := findAll(list, tag("li"))
	if len(items) != len(data.Codes) {
		t.Fatalf("%d codes listed, want %d", len(items), len(data.Codes))
	}
	for i, code := range data.Codes {
		if got := text(items[i]); got != code {
			t.Errorf("code %d = %q, want %q", i+1, got, code)
		}
	}
	if got := text(main); !strings.Contains(got, "won’t be shown again") {
		t.Errorf("page = %q, want it to say the codes won’t be shown again", got)
	}
	form := find(t, main, "form", tag("form"))
	if got := checkForm(t, form, "/.partnergate/mfa/codes", "csrf-codes"); got != "I’ve saved them — continue" {
		t.Errorf("button = %q", got)
	}
	if got := findAll(form, tag("input")); len(got) != 1 {
		t.Errorf("form has %d inputs, want only csrf_token", len(got))
	}
}

func TestMFAEscaping(t *testing.T) {
	t.Parallel()
	page := templates.Page{PartnerName: xss, AssetPrefix: assetPrefix, Title: xss}
	mfa := templates.MFA{Page: page, Email: xss, TOTPAction: "/t", RecoveryAction: "/r", CSRFToken: xss, RememberDays: 30, Error: xss, CancelURL: "/c"}
	enroll := templates.MFAEnroll{Page: page, Email: xss, QRURL: "/qr.png", Secret: xss, Action: "/e", CSRFToken: xss, Error: xss, CancelURL: "/c"}
	codes := templates.MFACodes{Page: page, Codes: []string{"ok-1", xss, "ok-3"}, Action: "/k", CSRFToken: xss}

	value := func(name string) func(*html.Node) string {
		return func(d *html.Node) string { v, _ := attr(first(d, input(name)), "value"); return v }
	}
	for _, tc := range []struct {
		name, page string
		data       any
		places     map[string]func(*html.Node) string
	}{
		{"mfa", templates.PageMFA, mfa, map[string]func(*html.Node) string{
			"title":      func(d *html.Node) string { return text(first(d, tag("title"))) },
			"lede":       func(d *html.Node) string { return text(first(d, hasClass("lede"))) },
			"alert":      func(d *html.Node) string { return text(first(d, withAttr("role", "alert"))) },
			"csrf_token": value("csrf_token"),
		}},
		{"mfa_enroll", templates.PageMFAEnroll, enroll, map[string]func(*html.Node) string{
			"lede":       func(d *html.Node) string { return text(first(d, hasClass("lede"))) },
			"alert":      func(d *html.Node) string { return text(first(d, withAttr("role", "alert"))) },
			"secret":     func(d *html.Node) string { return text(first(d, tag("code"))) },
			"csrf_token": value("csrf_token"),
		}},
		{"mfa_codes", templates.PageMFACodes, codes, map[string]func(*html.Node) string{
			"code":       func(d *html.Node) string { return text(findAll(d, tag("li"))[1]) },
			"csrf_token": value("csrf_token"),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, doc := render(t, tc.page, tc.data)
			if strings.Contains(src, "<script") {
				t.Fatalf("page source holds <script:\n%s", src)
			}
			for place, read := range tc.places {
				if got := read(doc); !strings.Contains(got, xss) {
					t.Errorf("%s reads %q, want the payload shown as text", place, got)
				}
			}
			for n := range doc.Descendants() {
				if n.Type == html.ElementNode && n.Data == "script" {
					t.Error("payload became a <script> element")
				}
				for _, a := range n.Attr {
					if strings.ContainsAny(a.Key, `<>"'()`) {
						t.Errorf("payload became attribute %q on <%s>", a.Key, n.Data)
					}
				}
			}
		})
	}
}

// TestMFADangerousURLs: javascript: URLs in form targets, links and the QR
// image are neutralised by html/template.
func TestMFADangerousURLs(t *testing.T) {
	t.Parallel()
	const js = "javascript:alert(1)"
	mfa := sampleMFA()
	mfa.TOTPAction, mfa.RecoveryAction, mfa.CancelURL = js, js, js
	enroll := sampleMFAEnroll()
	enroll.QRURL, enroll.Action, enroll.CancelURL = js, js, js
	codes := sampleMFACodes()
	codes.Action = js

	for _, tc := range []struct {
		name, page string
		data       any
		want       int // URL attributes the page must hold
	}{
		{"mfa", templates.PageMFA, mfa, 3},
		{"mfa_enroll", templates.PageMFAEnroll, enroll, 3},
		{"mfa_codes", templates.PageMFACodes, codes, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src, doc := render(t, tc.page, tc.data)
			if strings.Contains(src, "javascript:") {
				t.Errorf("page source holds a javascript: URL:\n%s", src)
			}
			n := 0
			for el := range doc.Descendants() {
				if el.Data == "link" {
					continue // the layout's stylesheet and icon
				}
				for _, a := range el.Attr {
					if a.Key == "href" || a.Key == "src" || a.Key == "action" {
						n++
						if strings.Contains(strings.ToLower(a.Val), "javascript") {
							t.Errorf("<%s %s=%q>", el.Data, a.Key, a.Val)
						}
					}
				}
			}
			if n != tc.want {
				t.Errorf("%d URL attributes, want %d", n, tc.want)
			}
		})
	}
}
