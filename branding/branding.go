// Package branding validates a partner's login-page branding and turns it
// into artefacts the product can serve without trusting the partner: a
// stylesheet built only from checked hex colours, and a logo re-encoded from
// decoded pixels.
//
// The security argument is structural rather than a filter: partners never
// supply HTML, CSS or script. Text fields are plain text that the pages
// HTML-escape like any other data, so Validate deliberately does not refuse
// '<' (refusing it would suggest escaping is optional and would break
// legitimate names such as "R<D Labs"). Text fields never reach CSS at all;
// CSS writes nothing but fixed property names and "#rrggbb" values that it
// re-derives itself.
package branding

import (
	"fmt"
	"math"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length caps in runes (what a person counts), not bytes, so non-Latin
// scripts get the same room as English.
const (
	MaxDisplayName    = 80
	MaxWelcomeMessage = 280
	MaxFooter         = 200
	MaxSupportURL     = 2048 // bytes: a URL is ASCII on the wire
	// MinContrast is WCAG 2.x AA for normal-size text.
	MinContrast = 4.5
)

// The two text colours the pages can put on a partner colour. #111827 is the
// product's own --text colour, so dark-on-light buttons match the rest of the
// page instead of introducing a pure black.
const (
	LightText = "#ffffff"
	DarkText  = "#111827"
)

// Branding is a partner's branding as stored and as accepted by the API.
type Branding struct {
	DisplayName    string `json:"display_name"`
	PrimaryColor   string `json:"primary_color"` // "#rrggbb" or "" (the product's default)
	AccentColor    string `json:"accent_color"`
	WelcomeMessage string `json:"welcome_message"`
	Footer         string `json:"footer"`
	SupportURL     string `json:"support_url"`
}

// Problem is one reason a branding was refused, addressed to the field by its
// JSON name so a UI can show it next to the input.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Normalize returns the canonical form of b, which is what should be stored:
// surrounding spaces trimmed; display_name on one line with runs of
// whitespace (including newlines) collapsed to one space; welcome_message and
// footer with CRLF/CR turned into LF, runs of spaces and tabs collapsed within
// each line and runs of blank lines collapsed to a single newline; colours
// lowercased with "#rgb" expanded to "#rrggbb". Normalize never makes an
// invalid value valid except by these spellings; Validate judges the result.
func Normalize(b Branding) Branding {
	return Branding{
		DisplayName:    strings.Join(strings.Fields(b.DisplayName), " "),
		PrimaryColor:   normalizeColor(b.PrimaryColor),
		AccentColor:    normalizeColor(b.AccentColor),
		WelcomeMessage: normalizeMultiline(b.WelcomeMessage),
		Footer:         normalizeMultiline(b.Footer),
		SupportURL:     strings.TrimSpace(b.SupportURL),
	}
}

func normalizeMultiline(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	var lines []string
	for line := range strings.SplitSeq(s, "\n") {
		// Fields also splits on other Unicode spaces (NBSP, NEL, …), so
		// none of them survive as invisible padding.
		if l := strings.Join(strings.Fields(line), " "); l != "" {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

func normalizeColor(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 4 && s[0] == '#' && isHex(s[1:]) {
		return string([]byte{'#', s[1], s[1], s[2], s[2], s[3], s[3]})
	}
	return s
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Validate reports every problem with Normalize(b), in field order; nil means
// Normalize(b) may be stored. Judging the normalized form means the rules
// apply to exactly what will be shown (a pasted display name with a trailing
// newline is fine; its length is counted after collapsing).
func (b Branding) Validate() []Problem {
	n := Normalize(b)
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	text := func(field, v string, maxRunes int, newlines bool) {
		if !utf8.ValidString(v) {
			add(field, "%s must be valid UTF-8 text", field)
			return
		}
		if c := utf8.RuneCountInString(v); c > maxRunes {
			add(field, "%s is %d characters long; the limit is %d", field, c, maxRunes)
		}
		if r, bad := forbiddenRune(v, newlines); bad {
			add(field, "%s contains the control character U+%04X; use plain text", field, r)
		}
	}
	text("display_name", n.DisplayName, MaxDisplayName, false)
	validateColor("primary_color", n.PrimaryColor, add)
	validateColor("accent_color", n.AccentColor, add)
	text("welcome_message", n.WelcomeMessage, MaxWelcomeMessage, true)
	text("footer", n.Footer, MaxFooter, true)
	validateURL(n.SupportURL, add)
	return ps
}

// forbiddenRune finds C0/C1 control characters (which have no business in
// displayed text and can corrupt terminals, logs and mail headers) and the
// bidi embedding/override/isolate controls, which could visually reorder a
// partner's text against the product's own wording ("Trojan Source" style
// spoofing). Newline is allowed only where the field is multi-line.
func forbiddenRune(s string, newlines bool) (rune, bool) {
	for _, r := range s {
		switch {
		case r == '\n' && newlines:
		case unicode.IsControl(r):
			return r, true
		case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return r, true
		}
	}
	return 0, false
}

type addFunc func(field, format string, args ...any)

func validateColor(field, c string, add addFunc) {
	if c == "" {
		return // the product's default colour
	}
	if _, ok := parseHex(c); !ok {
		add(field, "%s must be a colour like #0a5fff or #06f", field)
		return
	}
	if _, ratio := TextOn(c); ratio < MinContrast {
		// Truncate, never round up: reporting 4.496 as "4.50:1 … needs
		// 4.5:1" would read as a contradiction.
		add(field, "%s %s gives text a contrast of only %.2f:1; WCAG AA needs 4.5:1 — choose a darker or lighter colour",
			field, c, math.Floor(ratio*100)/100)
	}
}

func validateURL(s string, add addFunc) {
	const field = "support_url"
	if s == "" {
		return // no support link
	}
	if len(s) > MaxSupportURL {
		add(field, "support_url is %d bytes long; the limit is %d", len(s), MaxSupportURL)
		return
	}
	// Whitespace, controls and backslashes are refused outright: browsers
	// strip or reinterpret them (a backslash acts as a slash), so the URL a
	// browser follows could differ from the one Go parsed and checked.
	if strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == '\\'
	}) {
		add(field, "support_url must not contain spaces, control characters or backslashes")
		return
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "https" || u.Opaque != "" {
		// Only https: no javascript:/data: (script), no http (the link
		// leaves a login page, and a downgrade there is an easy phish).
		add(field, "support_url must be an absolute https:// link")
		return
	}
	if u.User != nil {
		// https://bank.example@evil.example/ reads as bank.example.
		add(field, "support_url must not contain a user name or password")
		return
	}
	if u.Hostname() == "" {
		add(field, "support_url must name a host")
	}
}
