package mail

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/smtptest"
)

func TestEncode(t *testing.T) {
	from, err := parseAddress("Partnergate <no-reply@gate.example.com>")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 1, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		name string
		msg  Message
		// rawSubject, if set, is the Subject line as it must appear.
		rawSubject string
		// unfoldable is set when no space allows folding to 78 columns.
		unfoldable bool
	}{
		{name: "ascii subject", msg: Message{Subject: "Welcome"}, rawSubject: "Subject: Welcome"},
		{name: "utf-8 subject", msg: Message{Subject: "Grüße"}, rawSubject: "Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?="},
		{name: "empty subject", msg: Message{}},
		{name: "long ascii subject", msg: Message{Subject: strings.TrimSpace(strings.Repeat("Welcome to partnergate ", 10))}},
		{name: "long utf-8 subject", msg: Message{Subject: strings.TrimSpace(strings.Repeat("Grüße aus Köln ", 13))}},
		{name: "long word", msg: Message{Subject: strings.Repeat("x", maxSubjectLen)}, unfoldable: true},
		{name: "control characters", msg: Message{Subject: "tab\there, bell\a"}},
		{name: "long text lines", msg: Message{Subject: "x", Text: strings.Repeat("Zoë ", 100) + "\r\n" + strings.Repeat("=", 200)}},
		{name: "dots and bare CR", msg: Message{Subject: "x", Text: "line\r.\n..\nend", HTML: "<p>\n.\n</p>"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := tc.msg
			m.To = "zoe@partner.example"
			if m.Text == "" {
				m.Text = "Hello"
			}
			rcpt, raw, err := encode(from, m, now)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if rcpt != "zoe@partner.example" {
				t.Errorf("recipient %q", rcpt)
			}
			p, err := smtptest.ParseMessage(raw)
			if err != nil {
				t.Fatalf("ParseMessage: %v\n%s", err, raw)
			}
			if p.Subject != m.Subject {
				t.Errorf("Subject = %q, want %q", p.Subject, m.Subject)
			}
			if d := p.Header.Get("Date"); d != "Sun, 01 Mar 2026 09:30:00 +0100" {
				t.Errorf("Date = %q", d)
			}
			// A bare CR is a line break to the encoder, as to most readers.
			wantText := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(m.Text)
			if p.Text != wantText || p.HTML != m.HTML {
				t.Errorf("Text %q, HTML %q; want %q, %q", p.Text, p.HTML, wantText, m.HTML)
			}
			head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
			lines := strings.Split(string(head), "\r\n")
			if tc.rawSubject != "" && !containsLine(lines, tc.rawSubject) {
				t.Errorf("no header line %q in\n%s", tc.rawSubject, head)
			}
			for _, l := range lines {
				if len(l) > foldAt && !tc.unfoldable {
					t.Errorf("header line of %d columns: %q", len(l), l)
				}
			}
		})
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want *mail.Address
	}{
		{"zoe@partner.example", &mail.Address{Address: "zoe@partner.example"}},
		{"Zoë <zoe@partner.example>", &mail.Address{Name: "Zoë", Address: "zoe@partner.example"}},
		{"=?utf-8?q?Zo=C3=AB?= <zoe.m+invite@partner.example>", &mail.Address{Name: "Zoë", Address: "zoe.m+invite@partner.example"}},
		{"zoe@[192.0.2.1]", &mail.Address{Address: "zoe@[192.0.2.1]"}},
		{"zoe", nil},
		{"zoe@partner.example, eve@evil.example", nil},
		{"zoe@partner.example\r\n", nil},
		{"zoë@partner.example", nil},
		{"zoe@pärtner.example", nil},
		{`"zoe m"@partner.example`, nil},
		{".zoe@partner.example", nil},
	} {
		got, err := parseAddress(tc.in)
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("parseAddress(%q) = %v, want an error", tc.in, got)
		case tc.want != nil && (err != nil || *got != *tc.want):
			t.Errorf("parseAddress(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestFold(t *testing.T) {
	x := func(n int) string { return strings.Repeat("x", n) }
	for _, tc := range []struct {
		name, in string
		// want is the folded lines; nil means any lines within foldAt.
		want []string
	}{
		{"short", "Subject: hello", []string{"Subject: hello"}},
		{"exactly foldAt", "Subject: " + x(foldAt-9), []string{"Subject: " + x(foldAt-9)}},
		{"long first word", "Subject: " + x(foldAt-8), []string{"Subject:", " " + x(foldAt-8)}},
		{"no space fits", "Subject: " + x(100) + " y", []string{"Subject:", " " + x(100), " y"}},
		{"no space at all", "Subject:" + x(100), []string{"Subject:" + x(100)}},
		{"encoded words", "Subject: =?utf-8?q?" + x(55) + "?= =?utf-8?q?" + x(55) + "?=", []string{
			"Subject: =?utf-8?q?" + x(55) + "?=",
			" =?utf-8?q?" + x(55) + "?=",
		}},
		{"many words", "Subject: " + strings.Repeat("abcdefghi ", 30) + "end", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			folded := fold(tc.in)
			got := strings.Split(folded, "\r\n")
			if tc.want != nil && strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("fold =\n%q\nwant\n%q", got, tc.want)
			}
			for i, l := range got {
				if tc.want == nil && len(l) > foldAt {
					t.Errorf("line of %d columns: %q", len(l), l)
				}
				if i > 0 && (l == "" || l[0] != ' ') {
					t.Errorf("continuation line %q does not start with a space", l)
				}
			}
			if unfolded := strings.ReplaceAll(folded, "\r\n", ""); unfolded != tc.in {
				t.Errorf("unfolds to %q", unfolded)
			}
		})
	}
}
