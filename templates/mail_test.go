package templates_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"golang.org/x/net/html"

	"github.com/partnergate/partnergate/templates"
)

// linkURL has what html/template would rewrite in an attribute or text
// ('&') and the characters of a base64url token, so "verbatim" means it.
const linkURL = "https://acme.apps.example/.partnergate/password?token=AbC-_123xyz&x=1"

func sampleLinkMail(purpose string) templates.LinkMailData {
	return templates.LinkMailData{
		PartnerName: "Acme Corp",
		Email:       "jane@acme.example",
		URL:         linkURL,
		ExpiresAt:   time.Date(2026, 3, 4, 6, 7, 0, 0, time.FixedZone("CET", 3600)),
		Purpose:     purpose,
	}
}

func linkMail(t *testing.T, d templates.LinkMailData) (subject, text string, doc *html.Node, src string) {
	t.Helper()
	subject, text, src, err := templates.LinkMail(d)
	if err != nil {
		t.Fatalf("LinkMail: %v", err)
	}
	doc, err = html.Parse(strings.NewReader(src))
	if err != nil {
		t.Fatalf("html.Parse: %v", err)
	}
	return subject, text, doc, src
}

func TestLinkMail(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		purpose, subject, button string
		says                     []string
	}{
		{"invite", "You're invited to Acme Corp", "Choose your password", []string{"invited to Acme Corp", "ignore"}},
		{"reset", "Reset your Acme Corp password", "Choose a new password", []string{"password reset was requested for your Acme Corp account", "signs you out everywhere"}},
	} {
		t.Run(tc.purpose, func(t *testing.T) {
			t.Parallel()
			subject, body, doc, src := linkMail(t, sampleLinkMail(tc.purpose))
			if subject != tc.subject {
				t.Errorf("subject = %q, want %q", subject, tc.subject)
			}

			// Text: the URL alone on its line, so every mail client links
			// all of it.
			lines := strings.Split(body, "\n")
			if !slices.Contains(lines, linkURL) {
				t.Errorf("text has no line that is exactly the URL:\n%s", body)
			}
			// Shown in UTC, whatever zone the caller used.
			for _, want := range append([]string{"jane@acme.example", "Wednesday 4 March 2026 at 05:07 UTC", "works once"}, tc.says...) {
				if !strings.Contains(body, want) {
					t.Errorf("text does not say %q:\n%s", want, body)
				}
			}

			if got, _ := attr(find(t, doc, "html", tag("html")), "lang"); got != "en" {
				t.Errorf("html lang = %q, want en", got)
			}
			if got := text(find(t, doc, "title", tag("title"))); got != tc.subject {
				t.Errorf("title = %q, want the subject %q", got, tc.subject)
			}
			links := findAll(doc, tag("a"))
			if len(links) != 2 {
				t.Fatalf("HTML has %d links, want the button and the copyable address", len(links))
			}
			for _, a := range links {
				if got, _ := attr(a, "href"); got != linkURL {
					t.Errorf("link href = %q, want %q", got, linkURL)
				}
			}
			if got := text(links[0]); got != tc.button {
				t.Errorf("button = %q, want %q", got, tc.button)
			}
			if got := text(links[1]); got != linkURL {
				t.Errorf("fallback address reads %q, want %q", got, linkURL)
			}
			page := text(doc)
			for _, want := range append([]string{"Acme Corp", "jane@acme.example", "Wednesday 4 March 2026 at 05:07 UTC"}, tc.says...) {
				if !strings.Contains(page, want) {
					t.Errorf("HTML does not say %q", want)
				}
			}
			// Nothing fetched from anywhere: mail clients block remote
			// content, and it would tell a sender the mail was opened.
			for _, el := range []string{"img", "script", "link", "iframe", "object", "form", "style"} {
				if n := findAll(doc, tag(el)); len(n) != 0 {
					t.Errorf("HTML has a <%s>", el)
				}
			}
			for _, banned := range []string{"url(", "@import", "src="} {
				if strings.Contains(src, banned) {
					t.Errorf("HTML source holds %q", banned)
				}
			}
		})
	}
}

func TestLinkMailEscaping(t *testing.T) {
	t.Parallel()
	for _, purpose := range []string{"invite", "reset"} {
		d := sampleLinkMail(purpose)
		d.PartnerName = xss
		d.Email = xss
		subject, body, doc, src := linkMail(t, d)
		if strings.Contains(src, "<script") || strings.Contains(src, `"'`) {
			t.Errorf("%s: HTML source holds the raw payload:\n%s", purpose, src)
		}
		for n := range doc.Descendants() {
			if n.Type == html.ElementNode && n.Data == "script" {
				t.Errorf("%s: payload became a <script> element", purpose)
			}
		}
		if got := text(doc); strings.Count(got, xss) < 2 {
			t.Errorf("%s: HTML does not show the partner and email as text: %q", purpose, got)
		}
		// Plain text and the subject are not HTML: the name stays as typed.
		if !strings.Contains(subject, xss) || !strings.Contains(body, xss) {
			t.Errorf("%s: subject %q or text lost the name as typed", purpose, subject)
		}
	}
}

func TestLinkMailSubjectIsOneShortLine(t *testing.T) {
	t.Parallel()
	d := sampleLinkMail("invite")
	d.PartnerName = "Acme\r\nBcc: victim@example.com\tCorp\x00"
	subject, _, _, err := templates.LinkMail(d)
	if err != nil {
		t.Fatal(err)
	}
	if want := "You're invited to Acme Bcc: victim@example.com Corp"; subject != want {
		t.Errorf("subject = %q, want %q", subject, want)
	}

	d.PartnerName = strings.Repeat("Ölwerke ", 60)
	subject, _, _, err = templates.LinkMail(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(subject) > 250 || !utf8.ValidString(subject) || !strings.HasSuffix(subject, "…") {
		t.Errorf("long name: subject of %d bytes %q, want at most 250 valid UTF-8 bytes ending in …", len(subject), subject)
	}
}

func TestLinkMailRejects(t *testing.T) {
	t.Parallel()
	for name, change := range map[string]func(*templates.LinkMailData){
		"unknown purpose":   func(d *templates.LinkMailData) { d.Purpose = "welcome" },
		"no purpose":        func(d *templates.LinkMailData) { d.Purpose = "" },
		"no partner":        func(d *templates.LinkMailData) { d.PartnerName = " " },
		"no email":          func(d *templates.LinkMailData) { d.Email = "" },
		"no expiry":         func(d *templates.LinkMailData) { d.ExpiresAt = time.Time{} },
		"no URL":            func(d *templates.LinkMailData) { d.URL = "" },
		"relative URL":      func(d *templates.LinkMailData) { d.URL = "/.partnergate/password?token=x" },
		"javascript URL":    func(d *templates.LinkMailData) { d.URL = "javascript:alert(1)" },
		"URL with a space":  func(d *templates.LinkMailData) { d.URL = linkURL + " x" },
		"URL with new line": func(d *templates.LinkMailData) { d.URL = linkURL + "\nx" },
	} {
		d := sampleLinkMail("reset")
		change(&d)
		if s, text, h, err := templates.LinkMail(d); err == nil || s != "" || text != "" || h != "" {
			t.Errorf("%s: LinkMail succeeded or returned content, want an error only", name)
		}
	}
}

func ExampleLinkMail() {
	subject, text, _, err := templates.LinkMail(templates.LinkMailData{
		PartnerName: "Acme Corp",
		Email:       "jane@acme.example",
		URL:         "https://acme.apps.example/.partnergate/password?token=secret",
		ExpiresAt:   time.Date(2026, 3, 4, 5, 6, 0, 0, time.UTC),
		Purpose:     "invite",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(subject)
	fmt.Println(strings.Split(text, "\n")[4])
	// Output:
	// You're invited to Acme Corp
	// https://acme.apps.example/.partnergate/password?token=secret
}
