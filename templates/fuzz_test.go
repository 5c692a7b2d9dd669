package templates_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

// shape lists a document's elements and their attribute names, in order: what
// a value may never change, whatever it holds.
func shape(doc *html.Node) string {
	var b strings.Builder
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		b.WriteString("<" + n.Data)
		for _, a := range n.Attr {
			b.WriteString(" " + a.Key)
		}
		b.WriteString(">")
	}
	return b.String()
}

// FuzzLogin renders the login page with arbitrary values and checks that no
// value changes the page's structure, and that each value reads back exactly
// as the caller gave it.
func FuzzLogin(f *testing.F) {
	for _, seed := range [][5]string{
		{"Acme Corp", "jane@acme.example", "Wrong email or password.", "tok", "/app"},
		{xss, xss, xss, xss, xss},
		{`"><img src=x onerror=alert(1)>`, `' autofocus onfocus='alert(1)`, `</p></div><form action=//evil>`, `" type="text`, `javascript:alert(1)`},
		{"<!--", "-->", "<![CDATA[", "]]>", "&amp;&#0;"},
		{"{{.Error}}", "{{template \"layout\"}}", "%s", "\u2028\u2029", "<\u00a0>"},
		{"", "", "x", "", ""},
		{" \t", "\u00a0", " ", "\n", "\t"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4])
	}
	type variant struct{ withError, monogram bool }
	base := func(v variant) string {
		partner := " "
		if v.monogram {
			partner = "A"
		}
		data := templates.Login{Page: templates.Page{PartnerName: partner, AssetPrefix: assetPrefix, Title: "T"},
			Action: "/.partnergate/login", CSRFToken: "c", ReturnTo: "/", Email: "e"}
		if v.withError {
			data.Error = "x"
		}
		_, doc := render(f, templates.PageLogin, data)
		return shape(doc)
	}
	shapes := map[variant]string{}
	for _, v := range []variant{{false, false}, {false, true}, {true, false}, {true, true}} {
		shapes[v] = base(v)
	}

	f.Fuzz(func(t *testing.T, partner, email, errMsg, csrf, returnTo string) {
		for _, s := range []string{partner, email, errMsg, csrf, returnTo} {
			// The HTML parser normalises these on input, so they cannot
			// read back byte for byte; html/template is not at fault.
			if !utf8.ValidString(s) || strings.ContainsAny(s, "\r\x00") {
				return
			}
		}
		if partner == "" || email == "" {
			return // empty values drop optional attributes and elements
		}
		data := templates.Login{
			Page:   templates.Page{PartnerName: partner, AssetPrefix: assetPrefix, Title: "Sign in"},
			Action: "/.partnergate/login", CSRFToken: csrf, ReturnTo: returnTo, Email: email, Error: errMsg,
		}
		_, doc := render(t, templates.PageLogin, data)

		// A monogram is shown when the name has something visible to show.
		monogram := strings.IndexFunc(partner, func(r rune) bool { return unicode.IsGraphic(r) && !unicode.IsSpace(r) }) >= 0
		if got, want := shape(doc), shapes[variant{errMsg != "", monogram}]; got != want {
			t.Fatalf("values changed the page's structure:\n got %s\nwant %s", got, want)
		}
		for name, want := range map[string]string{"email": email, "csrf_token": csrf, "return_to": returnTo} {
			if got, _ := attr(first(doc, input(name)), "value"); got != want {
				t.Errorf("%s reads back %q, want %q", name, got, want)
			}
		}
		collapse := func(s string) string { return strings.Join(strings.Fields(s), " ") }
		if got, want := text(first(doc, hasClass("brand-name"))), collapse(partner); got != want {
			t.Errorf("partner name reads back %q, want %q", got, want)
		}
		if errMsg != "" {
			if got, want := text(first(doc, withAttr("role", "alert"))), collapse(errMsg); got != want {
				t.Errorf("error reads back %q, want %q", got, want)
			}
		}
	})
}
