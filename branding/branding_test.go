package branding

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

const script = "<script>alert(1)</script>"

func TestContrastKnownPairs(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#000", "#FFF", 21}, // short and uppercase forms are normalised
		{"#ffffff", "#ffffff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic just-fails-AA grey
		{"#767676", "#ffffff", 4.54}, // the classic just-passes-AA grey
		{"#ff0000", "#ffffff", 4.00},
		{"#ffff00", "#ffffff", 1.07},
		{"#0a5fff", "#ffffff", 5.13},
		{"#3b4fd8", "#ffffff", 6.37}, // the product's own primary
	} {
		got := Contrast(tc.a, tc.b)
		if math.Abs(got-tc.want) > 0.005 {
			t.Errorf("Contrast(%s, %s) = %.4f, want %.2f", tc.a, tc.b, got, tc.want)
		}
		if rev := Contrast(tc.b, tc.a); rev != got {
			t.Errorf("Contrast not symmetric for %s/%s: %v vs %v", tc.a, tc.b, got, rev)
		}
	}
	for _, bad := range []string{"", "red", "#12345", "#gggggg", "#0a5fff;"} {
		if got := Contrast(bad, "#ffffff"); got != 0 {
			t.Errorf("Contrast(%q, white) = %v, want 0 for an unparseable colour", bad, got)
		}
	}
}

func TestTextOnPicksTheBetter(t *testing.T) {
	for _, bg := range []string{"#000000", "#ffffff", "#0a5fff", "#ffff00", "#777777", "#ff0000", "#3b4fd8", "#8ea0ff", "#fafafa", "#123456"} {
		text, ratio := TextOn(bg)
		other := DarkText
		if text == DarkText {
			other = LightText
		} else if text != LightText {
			t.Fatalf("TextOn(%s) = %q, want %s or %s", bg, text, LightText, DarkText)
		}
		if ratio != Contrast(bg, text) {
			t.Errorf("TextOn(%s) ratio %v != Contrast %v", bg, ratio, Contrast(bg, text))
		}
		if Contrast(bg, other) > ratio {
			t.Errorf("TextOn(%s) = %s (%.2f) but %s gives %.2f", bg, text, ratio, other, Contrast(bg, other))
		}
	}
	if text, _ := TextOn("#0a5fff"); text != LightText {
		t.Errorf("TextOn(#0a5fff) = %s, want white", text)
	}
	if text, _ := TextOn("#ffff00"); text != DarkText {
		t.Errorf("TextOn(#ffff00) = %s, want dark", text)
	}
	if text, r := TextOn("javascript:"); text != "" || r != 0 {
		t.Errorf("TextOn(garbage) = %q, %v", text, r)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize(Branding{
		DisplayName:    "  Acme \n\n  Corp\t Ltd  ",
		PrimaryColor:   " #0A5FFF ",
		AccentColor:    "#F0A",
		WelcomeMessage: " Hello   there \r\n\r\n\r\n  second\tline  \n",
		Footer:         "a\rb",
		SupportURL:     "  https://help.example/  ",
	})
	want := Branding{
		DisplayName:    "Acme Corp Ltd",
		PrimaryColor:   "#0a5fff",
		AccentColor:    "#ff00aa",
		WelcomeMessage: "Hello there\nsecond line",
		Footer:         "a\nb",
		SupportURL:     "https://help.example/",
	}
	if got != want {
		t.Errorf("Normalize:\n got %#v\nwant %#v", got, want)
	}
	if again := Normalize(got); again != got {
		t.Errorf("Normalize not idempotent: %#v", again)
	}
}

func problemsFor(ps []Problem, field string) []string {
	var out []string
	for _, p := range ps {
		if p.Field == field {
			out = append(out, p.Message)
		}
	}
	return out
}

func TestValidate(t *testing.T) {
	valid := Branding{
		DisplayName:    "Acme",
		PrimaryColor:   "#0a5fff",
		AccentColor:    "#0f766e",
		WelcomeMessage: "Welcome to Acme.\nSign in with your work account.",
		Footer:         "© Acme Ltd",
		SupportURL:     "https://help.acme.example/login?src=pg#top",
	}
	if ps := valid.Validate(); ps != nil {
		t.Fatalf("valid branding refused: %v", ps)
	}
	if ps := (Branding{}).Validate(); ps != nil {
		t.Fatalf("empty branding (all defaults) refused: %v", ps)
	}

	type tc struct {
		name  string
		edit  func(*Branding)
		field string // "" = must be accepted
		msg   string // substring of the problem
	}
	cases := []tc{
		// Text is plain text: markup is accepted as literal characters
		// (pages HTML-escape it, and text never reaches CSS, see
		// TestCSSNeverCarriesText). These cases assert acceptance on
		// purpose: refusing '<' is not the defence.
		{"script in display_name is accepted as text", func(b *Branding) { b.DisplayName = script }, "", ""},
		{"script in welcome_message is accepted as text", func(b *Branding) { b.WelcomeMessage = script + "\n" + script }, "", ""},
		{"script in footer is accepted as text", func(b *Branding) { b.Footer = script }, "", ""},
		{"html-ish display name", func(b *Branding) { b.DisplayName = `R<D "Labs" & Co' <img src=x onerror=alert(1)>` }, "", ""},
		{"non-latin name at cap", func(b *Branding) { b.DisplayName = strings.Repeat("日", MaxDisplayName) }, "", ""},

		// But script-bearing fields that are not text are refused.
		{"script in primary_color", func(b *Branding) { b.PrimaryColor = script }, "primary_color", "must be a colour"},
		{"script in accent_color", func(b *Branding) { b.AccentColor = script }, "accent_color", "must be a colour"},
		{"css injection in colour", func(b *Branding) { b.PrimaryColor = "#0a5fff;}body{background:url(//evil)}" }, "primary_color", "must be a colour"},
		{"script in support_url", func(b *Branding) { b.SupportURL = script }, "support_url", "https://"},
		{"javascript: support_url", func(b *Branding) { b.SupportURL = "javascript:alert(1)" }, "support_url", "https://"},
		{"JavaScript: mixed case", func(b *Branding) { b.SupportURL = "JavaScript:alert(1)//https://x" }, "support_url", "https://"},
		{"data: support_url", func(b *Branding) { b.SupportURL = "data:text/html,<script>alert(1)</script>" }, "support_url", "https://"},
		{"http support_url", func(b *Branding) { b.SupportURL = "http://help.acme.example/" }, "support_url", "https://"},
		{"relative support_url", func(b *Branding) { b.SupportURL = "/help" }, "support_url", "https://"},
		{"scheme-relative support_url", func(b *Branding) { b.SupportURL = "//evil.example/" }, "support_url", "https://"},
		{"opaque https", func(b *Branding) { b.SupportURL = "https:evil.example" }, "support_url", "https://"},
		{"no host", func(b *Branding) { b.SupportURL = "https:///path" }, "support_url", "host"},
		{"userinfo", func(b *Branding) { b.SupportURL = "https://bank.example@evil.example/" }, "support_url", "user name"},
		{"backslash", func(b *Branding) { b.SupportURL = `https://evil.example\@bank.example/` }, "support_url", "backslash"},
		{"space inside url", func(b *Branding) { b.SupportURL = "https://a.example/x y" }, "support_url", "spaces"},
		{"url too long", func(b *Branding) { b.SupportURL = "https://a.example/" + strings.Repeat("a", MaxSupportURL) }, "support_url", "limit is 2048"},
		{"HTTPS upper scheme ok", func(b *Branding) { b.SupportURL = "HTTPS://Help.Example/" }, "", ""},

		// Lengths (runes after Normalize).
		{"display_name too long", func(b *Branding) { b.DisplayName = strings.Repeat("a", MaxDisplayName+1) }, "display_name", "limit is 80"},
		{"display_name whitespace collapses under cap", func(b *Branding) { b.DisplayName = "a" + strings.Repeat(" ", 200) + "b" }, "", ""},
		{"welcome too long", func(b *Branding) { b.WelcomeMessage = strings.Repeat("é", MaxWelcomeMessage+1) }, "welcome_message", "limit is 280"},
		{"welcome at cap", func(b *Branding) { b.WelcomeMessage = strings.Repeat("é", MaxWelcomeMessage) }, "", ""},
		{"footer too long", func(b *Branding) { b.Footer = strings.Repeat("x", MaxFooter+1) }, "footer", "limit is 200"},
		{"long script in footer exceeds cap", func(b *Branding) { b.Footer = strings.Repeat(script, 10) }, "footer", "limit is 200"},

		// Control characters.
		{"NUL in display_name", func(b *Branding) { b.DisplayName = "Ac\x00me" }, "display_name", "U+0000"},
		{"ESC in display_name", func(b *Branding) { b.DisplayName = "\x1b[31mAcme" }, "display_name", "U+001B"},
		{"DEL in welcome", func(b *Branding) { b.WelcomeMessage = "hi\x7f" }, "welcome_message", "U+007F"},
		{"C1 CSI in footer", func(b *Branding) { b.Footer = "x\u009by" }, "footer", "U+009B"},
		{"bidi override in display_name", func(b *Branding) { b.DisplayName = "Acme\u202egnp.exe" }, "display_name", "U+202E"},
		{"bidi isolate in welcome", func(b *Branding) { b.WelcomeMessage = "a\u2066b" }, "welcome_message", "U+2066"},
		{"invalid utf8", func(b *Branding) { b.Footer = "a\xffb" }, "footer", "UTF-8"},
		{"newline in welcome ok", func(b *Branding) { b.WelcomeMessage = "line 1\nline 2" }, "", ""},
		{"newline in display_name collapses", func(b *Branding) { b.DisplayName = "Acme\nCorp" }, "", ""},
		{"emoji with ZWJ ok", func(b *Branding) { b.DisplayName = "Acme 👩‍💻" }, "", ""},

		// Colours.
		{"short colour ok", func(b *Branding) { b.PrimaryColor = "#06F" }, "", ""},
		{"named colour", func(b *Branding) { b.PrimaryColor = "blue" }, "primary_color", "must be a colour"},
		{"no hash", func(b *Branding) { b.PrimaryColor = "0a5fff" }, "primary_color", "must be a colour"},
		{"rgba form", func(b *Branding) { b.AccentColor = "#0a5fff80" }, "accent_color", "must be a colour"},
		{"rgb() form", func(b *Branding) { b.AccentColor = "rgb(0,0,0)" }, "accent_color", "must be a colour"},
		{"light yellow ok (dark text)", func(b *Branding) { b.PrimaryColor = "#ffff00" }, "", ""},
		{"mid grey refused", func(b *Branding) { b.PrimaryColor = "#777777" }, "primary_color",
			"primary_color #777777 gives text a contrast of only 4.47:1; WCAG AA needs 4.5:1 — choose a darker or lighter colour"},
		{"pure red refused", func(b *Branding) { b.AccentColor = "#f00" }, "accent_color",
			"accent_color #ff0000 gives text a contrast of only 4.43:1"},
		{"mid grey #808080 refused (dark text 4.49, white 3.95)", func(b *Branding) { b.PrimaryColor = "#808080" }, "primary_color", "#808080 gives text a contrast of only 4.49:1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := valid
			c.edit(&b)
			ps := b.Validate()
			if c.field == "" {
				if ps != nil {
					t.Fatalf("refused: %v", ps)
				}
				return
			}
			if len(ps) != 1 {
				t.Fatalf("want exactly one problem on %s, got %v", c.field, ps)
			}
			msgs := problemsFor(ps, c.field)
			if len(msgs) != 1 || !strings.Contains(msgs[0], c.msg) {
				t.Fatalf("problem on %s: %v; want one containing %q", c.field, ps, c.msg)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	ps := Branding{
		DisplayName:    strings.Repeat("a", 81),
		PrimaryColor:   "#777777",
		AccentColor:    "red",
		WelcomeMessage: "\x00",
		Footer:         strings.Repeat("b", 201),
		SupportURL:     "http://x.example",
	}.Validate()
	var fields []string
	for _, p := range ps {
		fields = append(fields, p.Field)
	}
	want := "display_name primary_color accent_color welcome_message footer support_url"
	if got := strings.Join(fields, " "); got != want {
		t.Errorf("fields = %q, want %q", got, want)
	}
}

// Every line of a generated stylesheet must be structure or one of the
// known custom properties set to a lowercase hex colour. Nothing else can
// appear, whatever the input.
var cssLine = regexp.MustCompile(`^(` +
	`:root \{|` +
	`@media \(prefers-color-scheme: dark\) \{|` +
	`  :root \{|` +
	`( {2}| {4})--(primary|primary-hover|primary-active|on-primary|focus|accent|on-accent|monogram-from|monogram-to): #[0-9a-f]{6};|` +
	`  \}|` +
	`\}` +
	`)$`)

var cssProp = regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6});`)

func checkCSS(t *testing.T, css []byte) {
	t.Helper()
	s := string(css)
	if !strings.HasSuffix(s, "\n") {
		t.Fatalf("CSS does not end in newline: %q", s)
	}
	for i, line := range strings.Split(strings.TrimSuffix(s, "\n"), "\n") {
		if !cssLine.MatchString(line) {
			t.Fatalf("CSS line %d not allowed: %q\n%s", i+1, line, s)
		}
	}
	if strings.Count(s, "{") != strings.Count(s, "}") {
		t.Fatalf("unbalanced braces:\n%s", s)
	}
}

// props splits a stylesheet into the light (:root) and dark (@media) maps.
func props(css []byte) (light, dark map[string]string) {
	s := string(css)
	i := strings.Index(s, "@media")
	light, dark = map[string]string{}, map[string]string{}
	for _, m := range cssProp.FindAllStringSubmatch(s[:i], -1) {
		light[m[1]] = m[2]
	}
	for _, m := range cssProp.FindAllStringSubmatch(s[i:], -1) {
		dark[m[1]] = m[2]
	}
	return light, dark
}

func TestCSSDefaultsEmpty(t *testing.T) {
	for _, b := range []Branding{
		{},
		{DisplayName: "Acme", WelcomeMessage: script, Footer: script, SupportURL: "https://x.example"},
		// Colours that fail Validate are never written, even if a caller
		// forgets to validate.
		{PrimaryColor: "#777777", AccentColor: "#ff0000"},
		{PrimaryColor: "#fff;}</style><script>alert(1)</script>"},
		{PrimaryColor: "red", AccentColor: "expression(alert(1))"},
		{PrimaryColor: "#0a5fff\n}body{x:y"},
	} {
		if css := CSS(b); len(css) != 0 {
			t.Errorf("CSS(%#v) = %q, want empty", b, css)
		}
	}
}

func TestCSSNeverCarriesText(t *testing.T) {
	b := Branding{
		DisplayName:    script + "</style>",
		PrimaryColor:   "#0a5fff",
		AccentColor:    "#0f766e",
		WelcomeMessage: "}</style><script>alert(1)</script>{",
		Footer:         "@import url(//evil.example/x.css);",
		SupportURL:     "https://evil.example/\"');}",
	}
	css := CSS(b)
	checkCSS(t, css)
	for _, bad := range []string{"<", ">", "script", "alert", "style", "@import", "url(", "evil", "\"", "'", "\\"} {
		if strings.Contains(string(css), bad) {
			t.Errorf("CSS contains %q:\n%s", bad, css)
		}
	}
	// An invalid colour next to a valid one: only the valid one is written.
	css = CSS(Branding{PrimaryColor: "#0a5fff", AccentColor: "#000;}" + script})
	checkCSS(t, css)
	light, _ := props(css)
	if _, ok := light["accent"]; ok {
		t.Errorf("invalid accent written:\n%s", css)
	}
}

func TestCSSShape(t *testing.T) {
	css := CSS(Branding{PrimaryColor: "#0a5fff", AccentColor: "#0F766E"})
	checkCSS(t, css)
	t.Logf("CSS for #0a5fff/#0f766e:\n%s", css)
	want := []string{"primary", "primary-hover", "primary-active", "on-primary", "focus", "accent", "on-accent", "monogram-from", "monogram-to"}
	light, dark := props(css)
	for _, m := range []map[string]string{light, dark} {
		if len(m) != len(want) {
			t.Errorf("got %d properties, want %d: %v", len(m), len(want), m)
		}
		for _, p := range want {
			if _, ok := m[p]; !ok {
				t.Errorf("missing --%s in %v", p, m)
			}
		}
	}
	// #0a5fff already reads as link text on the light page, so it is used
	// exactly; white text, darker hover and active.
	if light["primary"] != "#0a5fff" || light["on-primary"] != LightText {
		t.Errorf("light primary/on-primary = %s/%s", light["primary"], light["on-primary"])
	}
	if !(lum(light["primary-active"]) < lum(light["primary-hover"]) && lum(light["primary-hover"]) < lum(light["primary"])) {
		t.Errorf("light shades not progressively darker: %v", light)
	}
	// In the dark scheme it is lightened to read on the dark card, and the
	// button text flips to dark.
	if dark["on-primary"] != DarkText || lum(dark["primary"]) <= lum(light["primary"]) {
		t.Errorf("dark scheme primary %s / on %s", dark["primary"], dark["on-primary"])
	}

	// Only primary: accent properties absent, monogram-to derived.
	css = CSS(Branding{PrimaryColor: "#3b4fd8"})
	checkCSS(t, css)
	light, _ = props(css)
	if _, ok := light["accent"]; ok || light["monogram-to"] == "" {
		t.Errorf("primary-only CSS: %v", light)
	}
	// Only accent: primary properties absent.
	css = CSS(Branding{AccentColor: "#3b4fd8"})
	checkCSS(t, css)
	light, _ = props(css)
	if _, ok := light["primary"]; ok || light["accent"] != "#3b4fd8" || len(light) != 3 {
		t.Errorf("accent-only CSS: %v", light)
	}
}

func lum(hex string) float64 {
	c, ok := parseHex(hex)
	if !ok {
		return -1
	}
	return c.luminance()
}

// Whatever the partner picks (among colours Validate accepts), every pair
// the product draws from the generated properties meets its WCAG target.
func TestCSSContrastHolds(t *testing.T) {
	n := 0
	for r := 0; r < 256; r += 17 {
		for g := 0; g < 256; g += 17 {
			for b := 0; b < 256; b += 17 {
				c := rgb{uint8(r), uint8(g), uint8(b)}.String()
				br := Branding{PrimaryColor: c, AccentColor: c}
				if br.Validate() != nil {
					if CSS(br) != nil {
						t.Fatalf("CSS written for refused colour %s", c)
					}
					continue
				}
				n++
				css := CSS(br)
				checkCSS(t, css)
				light, dark := props(css)
				for name, m := range map[string]map[string]string{"light": light, "dark": dark} {
					surface := "#f3f4f6"
					if name == "dark" {
						surface = "#181b22"
					}
					need := func(a, b string, min float64) {
						if got := Contrast(m[a], m[b]); got < min {
							t.Errorf("%s: %s %s on %s %s = %.2f < %v", c, a, m[a], b, m[b], got, min)
						}
					}
					need("primary", "on-primary", 4.5)
					need("primary-hover", "on-primary", 4.5)
					need("primary-active", "on-primary", 4.5)
					need("accent", "on-accent", 4.5)
					for _, p := range []string{"primary", "focus", "accent"} {
						if got := Contrast(m[p], surface); got < 4.5 {
							t.Errorf("%s %s: --%s %s on surface %s = %.2f", c, name, p, m[p], surface, got)
						}
					}
					for _, p := range []string{"monogram-from", "monogram-to"} {
						if got := Contrast(m[p], "#ffffff"); got < 4.5 {
							t.Errorf("%s: --%s %s under white monogram letter = %.2f", c, p, m[p], got)
						}
					}
				}
			}
		}
	}
	if n < 1000 {
		t.Fatalf("only %d colours accepted; sweep too small to mean anything", n)
	}
}
