package branding

import (
	"bytes"
	"fmt"
	"math"
)

type rgb [3]uint8

// parseHex accepts only the canonical stored form "#rrggbb" in lowercase.
// Everything that writes CSS goes through it, so a value that is not exactly
// seven bytes of '#' and hex digits can never reach a stylesheet.
func parseHex(s string) (rgb, bool) {
	if len(s) != 7 || s[0] != '#' || !isHex(s[1:]) {
		return rgb{}, false
	}
	var c rgb
	for i := range c {
		c[i] = hexByte(s[1+2*i])<<4 | hexByte(s[2+2*i])
	}
	return c, true
}

func hexByte(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

func (c rgb) String() string { return fmt.Sprintf("#%02x%02x%02x", c[0], c[1], c[2]) }

// luminance is WCAG 2.x relative luminance: sRGB channels linearised with the
// spec's piecewise curve, weighted by Rec. 709 coefficients.
func (c rgb) luminance() float64 {
	lin := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(c[0]) + 0.7152*lin(c[1]) + 0.0722*lin(c[2])
}

func contrast(a, b rgb) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Contrast is the WCAG 2.x contrast ratio (1 to 21) of two colours. Colours
// are normalised first, so "#FFF" works; an unparseable colour gives 0, which
// fails every threshold rather than passing one by accident.
func Contrast(a, b string) float64 {
	ca, okA := parseHex(normalizeColor(a))
	cb, okB := parseHex(normalizeColor(b))
	if !okA || !okB {
		return 0
	}
	return contrast(ca, cb)
}

// TextOn picks the text colour for a background: LightText or DarkText,
// whichever contrasts more, with that ratio. Choosing automatically means a
// partner only picks a brand colour; whether it is usable is then a single
// question (does the better of the two reach 4.5:1?). An unparseable
// background gives ("", 0).
func TextOn(background string) (text string, ratio float64) {
	bg, ok := parseHex(normalizeColor(background))
	if !ok {
		return "", 0
	}
	return textOn(bg)
}

func textOn(bg rgb) (string, float64) {
	light, _ := parseHex(LightText)
	dark, _ := parseHex(DarkText)
	if l, d := contrast(bg, light), contrast(bg, dark); l >= d {
		return LightText, l
	}
	return DarkText, contrast(bg, dark)
}

var (
	black = rgb{0, 0, 0}
	white = rgb{255, 255, 255}
)

// mix moves c a fraction t of the way to target in sRGB. Mixing towards black
// (or white) lowers (or raises) every channel, so luminance moves
// monotonically, which the searches below rely on.
func mix(c, target rgb, t float64) rgb {
	var out rgb
	for i := range c {
		out[i] = uint8(math.Round(float64(c[i]) + (float64(target[i])-float64(c[i]))*t))
	}
	return out
}

// reach moves c towards target in 1% steps until it contrasts at least min
// with against. Used to keep a partner colour legible where the product uses
// --primary as text (links on the page surface), not just as a background.
func reach(c, target, against rgb, min float64) rgb {
	for i := 0; i <= 100; i++ {
		if m := mix(c, target, float64(i)/100); contrast(m, against) >= min {
			return m
		}
	}
	return target
}

// Surfaces of the product stylesheet (templates/assets/style.css) that
// partner colours sit on. Light: the page background #f3f4f6 is darker than
// the #ffffff card, so meeting it meets both. Dark: the card #181b22 is
// lighter than the page #0f1115, so meeting it meets both.
var (
	lightSurface = rgb{0xf3, 0xf4, 0xf6}
	darkSurface  = rgb{0x18, 0x1b, 0x22}
)

type scheme struct {
	primary, hover, active, onPrimary, focus rgb
	accent, onAccent, monoFrom, monoTo       rgb
}

// CSS returns a stylesheet overriding the product's custom properties for a
// branding, or nil when both colours are the product default. It is meant to
// be served as its own file (the pages allow only style-src 'self').
//
// It cannot carry anything a partner typed except colours: it re-normalises
// and re-parses both colours itself (so it stays safe even if handed an
// unvalidated Branding), skips any colour that is not "#rrggbb" or fails the
// AA check, and formats every value from numbers with "#%02x%02x%02x". Text
// fields are never read.
//
// The partner colour is used as given for buttons when it already works as
// link text on the scheme's surface; otherwise it is darkened (light scheme)
// or lightened (dark scheme) just enough, as the product's own palette does,
// because --primary is also the link colour. Hover/active shades move away
// from the button's text colour (darker under white text, lighter under dark
// text) so they never lose contrast. The monogram has fixed white text, so
// its gradient ends are darkened until white reaches 4.5:1.
func CSS(b Branding) []byte {
	n := Normalize(b)
	primary, hasPrimary := usable(n.PrimaryColor)
	accent, hasAccent := usable(n.AccentColor)
	if !hasPrimary && !hasAccent {
		return nil
	}
	var buf bytes.Buffer
	write := func(indent string, light bool) {
		surface, toward := lightSurface, black
		if !light {
			surface, toward = darkSurface, white
		}
		prop := func(name string, c rgb) {
			fmt.Fprintf(&buf, "%s  --%s: %s;\n", indent, name, c)
		}
		fmt.Fprintf(&buf, "%s:root {\n", indent)
		if hasPrimary {
			p := reach(primary, toward, surface, MinContrast)
			onName, _ := textOn(p)
			on, _ := parseHex(onName)
			away := black
			if onName == DarkText {
				away = white
			}
			prop("primary", p)
			prop("primary-hover", mix(p, away, 0.12))
			prop("primary-active", mix(p, away, 0.24))
			prop("on-primary", on)
			// The focus ring needs 3:1 against the surface (WCAG 1.4.11);
			// p already has 4.5:1 there.
			prop("focus", p)
			prop("monogram-from", reach(primary, black, white, MinContrast))
			if !hasAccent {
				prop("monogram-to", reach(mix(primary, black, 0.24), black, white, MinContrast))
			}
		}
		if hasAccent {
			a := reach(accent, toward, surface, MinContrast)
			onName, _ := textOn(a)
			on, _ := parseHex(onName)
			prop("accent", a)
			prop("on-accent", on)
			prop("monogram-to", reach(accent, black, white, MinContrast))
		}
		fmt.Fprintf(&buf, "%s}\n", indent)
	}
	write("", true)
	buf.WriteString("@media (prefers-color-scheme: dark) {\n")
	write("  ", false)
	buf.WriteString("}\n")
	return buf.Bytes()
}

// usable reports whether a normalised colour may be written: parseable and
// passing the same AA rule Validate applies.
func usable(s string) (rgb, bool) {
	c, ok := parseHex(s)
	if !ok {
		return rgb{}, false
	}
	if _, r := textOn(c); r < MinContrast {
		return rgb{}, false
	}
	return c, true
}
