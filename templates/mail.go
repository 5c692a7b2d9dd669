package templates

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"net/url"
	"strings"
	texttemplate "text/template"
	"time"
	"unicode"
	"unicode/utf8"
)

// LinkMailData is what the email carrying an invitation or password-reset
// link needs. Every field is required.
type LinkMailData struct {
	// PartnerName is the partner's display name, e.g. "Acme Corp".
	PartnerName string
	// Email is the address of the account the link sets a password for.
	Email string
	// URL is the absolute http(s) URL of the link.
	URL string
	// ExpiresAt is when the link stops working; the email shows it in UTC.
	ExpiresAt time.Time
	// Purpose is "invite" or "reset".
	Purpose string
}

// linkMail is what the mail templates read: the caller's data and the
// parts derived from it.
type linkMail struct {
	LinkMailData
	Invite  bool
	Subject string
	Expires string
}

//go:embed mail
var mailFiles embed.FS

var (
	linkMailText = texttemplate.Must(texttemplate.New("link.txt").ParseFS(mailFiles, "mail/link.txt"))
	linkMailHTML = template.Must(template.New("link.html").Funcs(template.FuncMap{"initial": initial}).ParseFS(mailFiles, "mail/link.html"))
)

// subjectNameBytes bounds the partner's name in a subject, so that the
// whole subject stays well under what mail transports accept on one line.
const subjectNameBytes = 200

// LinkMail renders the email that sends a user an invitation or password
// reset link: its subject, a plain-text body with the URL on a line of its
// own, and an HTML alternative.
func LinkMail(d LinkMailData) (subject, text, html string, err error) {
	if err := checkLinkMail(d); err != nil {
		return "", "", "", fmt.Errorf("templates: link mail: %w", err)
	}
	m := linkMail{
		LinkMailData: d,
		Invite:       d.Purpose == "invite",
		Expires:      d.ExpiresAt.UTC().Format("Monday 2 January 2006 at 15:04 MST"),
	}
	name := subjectName(d.PartnerName)
	if m.Invite {
		m.Subject = "You're invited to " + name
	} else {
		m.Subject = "Reset your " + name + " password"
	}
	var t, h bytes.Buffer
	if err := linkMailText.Execute(&t, m); err != nil {
		return "", "", "", fmt.Errorf("templates: link mail text: %w", err)
	}
	if err := linkMailHTML.Execute(&h, m); err != nil {
		return "", "", "", fmt.Errorf("templates: link mail HTML: %w", err)
	}
	return m.Subject, t.String(), h.String(), nil
}

func checkLinkMail(d LinkMailData) error {
	var problems []string
	if d.Purpose != "invite" && d.Purpose != "reset" {
		problems = append(problems, fmt.Sprintf("purpose %q is neither invite nor reset", d.Purpose))
	}
	if strings.TrimSpace(d.PartnerName) == "" {
		problems = append(problems, "no partner name")
	}
	if strings.TrimSpace(d.Email) == "" {
		problems = append(problems, "no email")
	}
	if d.ExpiresAt.IsZero() {
		problems = append(problems, "no expiry time")
	}
	// The text body puts the URL on a line of its own for mail clients to
	// link; a space or line break would cut it short there.
	u, err := url.Parse(d.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		strings.IndexFunc(d.URL, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		problems = append(problems, "URL is not an absolute http(s) URL without spaces")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// subjectName fits a display name on one header line: control characters
// and runs of white space become one space, and a long name is cut short.
func subjectName(name string) string {
	name = strings.Join(strings.FieldsFunc(name, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if len(name) <= subjectNameBytes {
		return name
	}
	cut := subjectNameBytes
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return strings.TrimSpace(name[:cut]) + "…"
}
