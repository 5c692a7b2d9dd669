package admin

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/branding"
	"github.com/partnergate/partnergate/store"
)

// testPNG is a w × h PNG with a gradient, so it is no single colour.
func testPNG(w, h int) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetNRGBA(x, y, color.NRGBA{R: uint8(x * 255 / max(1, w-1)), G: uint8(y * 255 / max(1, h-1)), B: 0x80, A: 0xff})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

const brandingPath = "/api/v1/partners/acme/branding"

type brandingResp struct {
	DisplayName    string  `json:"display_name"`
	PrimaryColor   string  `json:"primary_color"`
	AccentColor    string  `json:"accent_color"`
	WelcomeMessage string  `json:"welcome_message"`
	Footer         string  `json:"footer"`
	SupportURL     string  `json:"support_url"`
	LogoVersion    string  `json:"logo_version"`
	UpdatedAt      *string `json:"updated_at"`
}

type brandingError struct {
	Error struct {
		Code, Message, Field string
		Details              []problem
	}
}

func (e *env) putLogo(path string, body []byte, contentType string) *httpResult {
	e.t.Helper()
	rec := e.do(request{method: "PUT", path: path, body: string(body), contentType: contentType})
	return &httpResult{status: rec.Code, code: errorCode(rec.Body.Bytes())}
}

func (e *env) brandingEvents() int {
	n := 0
	for _, ev := range e.store.published() {
		if ev.Kind == store.BrandingChanged && ev.PartnerID == "acme" {
			n++
		}
	}
	return n
}

func TestBrandingRoundTrip(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")

		rec := e.call("GET", brandingPath, "")
		if rec.Code != http.StatusOK || rec.Header().Get("ETag") == "" {
			t.Fatalf("GET unset = %d %s (ETag %q)", rec.Code, rec.Body, rec.Header().Get("ETag"))
		}
		assertJSON(t, rec.Body.Bytes(), `{"display_name": "", "primary_color": "", "accent_color": "", "welcome_message": "",
			"footer": "", "support_url": "", "logo_version": ""}`)
		stale := rec.Header().Get("ETag")

		rec = e.call("PUT", brandingPath, `{"display_name": "  Acme\n  Corp ", "primary_color": "#0A5FFF", "accent_color": "#06f",
			"welcome_message": "Welcome!\r\n\r\n\r\nSign in   with your Acme account.", "footer": "© Acme", "support_url": " https://help.acme.example/ "}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
		}
		want := `{"display_name": "Acme Corp", "primary_color": "#0a5fff", "accent_color": "#0066ff",
			"welcome_message": "Welcome!\nSign in with your Acme account.", "footer": "© Acme",
			"support_url": "https://help.acme.example/", "logo_version": "", "updated_at": "` + testTime + `"}`
		assertJSON(t, rec.Body.Bytes(), want)
		etag := rec.Header().Get("ETag")
		got := e.call("GET", brandingPath, "")
		assertJSON(t, got.Body.Bytes(), want)
		if got.Header().Get("ETag") != etag {
			t.Errorf("GET ETag %q, PUT answered %q", got.Header().Get("ETag"), etag)
		}
		b, err := e.store.GetBranding(t.Context(), "acme")
		if err != nil || b.DisplayName != "Acme Corp" || b.AccentColor != "#0066ff" {
			t.Errorf("stored %+v, %v", b, err)
		}
		if n := e.brandingEvents(); n != 1 {
			t.Errorf("%d branding events, want 1", n)
		}
		trail := string(e.mustCall("GET", "/api/v1/partners/acme/audit?action=branding.update", "", http.StatusOK))
		for _, field := range []string{"display_name", "primary_color", "support_url"} {
			if !strings.Contains(trail, field) {
				t.Errorf("audit trail does not name %s: %s", field, trail)
			}
		}

		// If-Match: a stale tag changes nothing; the current one goes through.
		e.unchanged(func() {
			rec := e.do(request{method: "PUT", path: brandingPath, body: `{"display_name": "Other"}`, header: http.Header{"If-Match": {stale}}})
			assertError(t, rec, http.StatusPreconditionFailed, "precondition_failed", "")
		})
		// Members left out are cleared.
		rec = e.do(request{method: "PUT", path: brandingPath, body: `{"display_name": "Acme", "footer": null}`, header: http.Header{"If-Match": {etag}}})
		if rec.Code != http.StatusOK {
			t.Fatalf("PUT with If-Match = %d %s", rec.Code, rec.Body)
		}
		assertJSON(t, rec.Body.Bytes(), `{"display_name": "Acme", "primary_color": "", "accent_color": "", "welcome_message": "",
			"footer": "", "support_url": "", "logo_version": "", "updated_at": "`+testTime+`"}`)

		// Strict decoding.
		e.unchanged(func() {
			for _, tt := range []struct{ body, code, field string }{
				{`{"display_name": "Acme", "logo": "x"}`, "unknown_field", "logo"},
				{`{"Display_Name": "Acme"}`, "unknown_field", "Display_Name"},
				{`{"display_name": 7}`, "invalid_type", "display_name"},
				{`{"primary_color": ["#000000"]}`, "invalid_type", "primary_color"},
				{`{"logo_version": "0123456789abcdef"}`, "read_only_field", "logo_version"},
				{`[]`, "invalid_json", ""},
			} {
				assertError(t, e.call("PUT", brandingPath, tt.body), http.StatusBadRequest, tt.code, tt.field)
			}
			rec := e.do(request{method: "PUT", path: brandingPath, body: `{}`, contentType: "text/plain"})
			assertError(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type", "")
		})
	})
}

// Script in text is plain text: stored and answered as the same JSON
// string. Escaping is the pages' job, not the API's.
func TestBrandingTextIsPlainText(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const script = `<script>alert("x")</script>`
		body := fmt.Sprintf(`{"display_name": %q, "welcome_message": %q, "footer": %q, "support_url": "https://help.acme.example/?q=%%3Cscript%%3E"}`,
			"R<D "+script, script+" & \"welcome\"", "<img src=x onerror=alert(1)>")
		rec := e.call("PUT", brandingPath, body)
		if rec.Code != http.StatusOK {
			t.Fatalf("PUT = %d %s", rec.Code, rec.Body)
		}
		got := decodeAs[brandingResp](t, e.mustCall("GET", brandingPath, "", http.StatusOK))
		if got.DisplayName != "R<D "+script || got.WelcomeMessage != script+` & "welcome"` || got.Footer != "<img src=x onerror=alert(1)>" {
			t.Errorf("answered %+v", got)
		}
		b, err := e.store.GetBranding(t.Context(), "acme")
		if err != nil || b.DisplayName != "R<D "+script {
			t.Errorf("stored %+v, %v", b, err)
		}
	})
}

func TestBrandingRefused(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.mustCall("PUT", brandingPath, `{"display_name": "Acme", "primary_color": "#0a5fff"}`, http.StatusOK)

		refuse := func(body string, want ...string) brandingError {
			t.Helper()
			var out brandingError
			e.unchanged(func() {
				rec := e.call("PUT", brandingPath, body)
				assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", want[0])
				out = decodeAs[brandingError](t, rec.Body.Bytes())
			})
			var fields []string
			for _, d := range out.Error.Details {
				fields = append(fields, d.Field)
			}
			if !slices.Equal(fields, want) {
				t.Errorf("%s: details name %v, want %v", body, fields, want)
			}
			return out
		}

		// Control characters, in every text field at once: every problem
		// is listed.
		refuse(`{"display_name": "Acme\u0000", "welcome_message": "hi\u001b[31m", "footer": "\u202eevil"}`,
			"display_name", "welcome_message", "footer")
		refuse(`{"display_name": "Acme\nCorp\u0007"}`, "display_name")

		// A colour too light for white text and too dark for dark text.
		_, ratio := branding.TextOn("#777777")
		if ratio >= branding.MinContrast {
			t.Fatalf("#777777 has contrast %v; pick another colour", ratio)
		}
		out := refuse(`{"display_name": "Acme", "primary_color": "#777", "accent_color": "#0a5fff"}`, "primary_color")
		measured := fmt.Sprintf("%.2f:1", math.Floor(ratio*100)/100)
		if !strings.Contains(out.Error.Message, measured) || !strings.Contains(out.Error.Details[0].Message, measured) {
			t.Errorf("message %q does not give the ratio %s", out.Error.Message, measured)
		}
		refuse(`{"accent_color": "blue"}`, "accent_color")

		// Only https support links.
		for _, u := range []string{"http://help.acme.example/", "javascript:alert(1)", "//help.acme.example", "https://acme.example@evil.example/"} {
			refuse(fmt.Sprintf(`{"support_url": %q}`, u), "support_url")
		}
		refuse(fmt.Sprintf(`{"display_name": %q, "support_url": "http://x.example"}`, strings.Repeat("x", branding.MaxDisplayName+1)),
			"display_name", "support_url")

		// The refusals were audited as failures.
		trail := string(e.mustCall("GET", "/api/v1/partners/acme/audit?action=branding.update", "", http.StatusOK))
		if !strings.Contains(trail, `"validation_failed"`) {
			t.Errorf("audit trail has no refusal: %s", trail)
		}
	})
}

func TestBrandingLogo(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.mustCall("PUT", brandingPath, `{"display_name": "Acme", "primary_color": "#0a5fff"}`, http.StatusOK)
		logoPath := brandingPath + "/logo"

		rec := e.do(request{method: "PUT", path: logoPath, body: string(testPNG(40, 20)), contentType: "image/png"})
		if rec.Code != http.StatusOK {
			t.Fatalf("PUT logo = %d %s", rec.Code, rec.Body)
		}
		answered := decodeAs[brandingResp](t, rec.Body.Bytes())
		stored, version, err := e.store.GetLogo(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(stored)
		if version != hex.EncodeToString(sum[:])[:16] || answered.LogoVersion != version {
			t.Errorf("version %q, answered %q, want the SHA-256 prefix of the stored bytes", version, answered.LogoVersion)
		}
		if answered.DisplayName != "Acme" || answered.PrimaryColor != "#0a5fff" {
			t.Errorf("the logo changed the branding: %+v", answered)
		}
		img, err := png.Decode(bytes.NewReader(stored))
		if err != nil || img.Bounds().Dx() != 40 || img.Bounds().Dy() != 20 {
			t.Errorf("stored logo is not the 40×20 PNG: %v", err)
		}
		if got := decodeAs[brandingResp](t, e.mustCall("GET", brandingPath, "", http.StatusOK)); got.LogoVersion != version {
			t.Errorf("GET logo_version = %q, want %q", got.LogoVersion, version)
		}
		if n := e.brandingEvents(); n != 2 {
			t.Errorf("%d branding events, want 2", n)
		}

		// A JPEG is stored as a PNG as well, and the larger side is capped.
		var jpg bytes.Buffer
		if err := jpeg.Encode(&jpg, image.NewRGBA(image.Rect(0, 0, 1024, 256)), nil); err != nil {
			t.Fatal(err)
		}
		if res := e.putLogo(logoPath, jpg.Bytes(), "image/jpeg"); res.status != http.StatusOK {
			t.Fatalf("PUT jpeg = %d %s", res.status, res.code)
		}
		stored, _, err = e.store.GetLogo(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		if cfg, err := png.DecodeConfig(bytes.NewReader(stored)); err != nil || cfg.Width != branding.LogoSide || cfg.Height != branding.LogoSide/4 {
			t.Errorf("stored JPEG: %+v, %v", cfg, err)
		}

		// Refusals change nothing.
		svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(1)</script></svg>`)
		e.unchanged(func() {
			rec := e.do(request{method: "PUT", path: logoPath, body: string(svg), contentType: "image/png"})
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "logo")
			if msg := decodeAs[brandingError](t, rec.Body.Bytes()).Error.Message; msg != branding.ErrLogoFormat.Error() {
				t.Errorf("SVG message %q", msg)
			}
			rec = e.do(request{method: "PUT", path: logoPath, body: string(testPNG(8, 8)), contentType: "text/html"})
			assertError(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type", "")
			rec = e.do(request{method: "PUT", path: logoPath, body: string(svg), contentType: "image/svg+xml"})
			assertError(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type", "")
			rec = e.do(request{method: "PUT", path: logoPath, body: string(testPNG(8, 8)), contentType: ""})
			assertError(t, rec, http.StatusUnsupportedMediaType, "unsupported_media_type", "")
			big := append(testPNG(8, 8), make([]byte, branding.MaxLogoBytes)...)
			rec = e.do(request{method: "PUT", path: logoPath, body: string(big), contentType: "image/png"})
			assertError(t, rec, http.StatusRequestEntityTooLarge, "body_too_large", "")
			truncated := testPNG(64, 64)
			rec = e.do(request{method: "PUT", path: logoPath, body: string(truncated[:len(truncated)/2]), contentType: "image/png"})
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "logo")
			rec = e.do(request{method: "PUT", path: logoPath, body: string(testPNG(8, 8)), contentType: "image/png",
				header: http.Header{"If-Match": {`"stale"`}}})
			assertError(t, rec, http.StatusPreconditionFailed, "precondition_failed", "")
		})

		// A polyglot: a valid PNG with a script appended. Accepted, and the
		// stored bytes are our own encoding, without the payload.
		polyglot := append(testPNG(16, 16), []byte("<html><script>alert(document.cookie)</script></html>")...)
		if res := e.putLogo(logoPath, polyglot, "image/png"); res.status != http.StatusOK {
			t.Fatalf("PUT polyglot = %d %s", res.status, res.code)
		}
		stored, _, err = e.store.GetLogo(t.Context(), "acme")
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(stored, []byte("<script>")) || bytes.Contains(stored, []byte("alert")) {
			t.Error("the stored logo holds the appended script")
		}
		if _, err := png.Decode(bytes.NewReader(stored)); err != nil {
			t.Errorf("stored polyglot: %v", err)
		}

		// Removal keeps the rest, and is idempotent.
		e.mustCall("DELETE", logoPath, "", http.StatusNoContent)
		if _, _, err := e.store.GetLogo(t.Context(), "acme"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetLogo after DELETE: %v", err)
		}
		got := decodeAs[brandingResp](t, e.mustCall("GET", brandingPath, "", http.StatusOK))
		if got.LogoVersion != "" || got.DisplayName != "Acme" {
			t.Errorf("after DELETE: %+v", got)
		}
		e.mustCall("DELETE", logoPath, "", http.StatusNoContent)
		trail := string(e.mustCall("GET", "/api/v1/partners/acme/audit?action=branding.*", "", http.StatusOK))
		for _, action := range []string{"branding.logo_set", "branding.logo_remove"} {
			if !strings.Contains(trail, action) {
				t.Errorf("audit trail has no %s", action)
			}
		}
	})
}

func TestBrandingAccess(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		e.mustCall("PUT", brandingPath, `{"display_name": "Acme"}`, http.StatusOK)
		if res := e.putLogo(brandingPath+"/logo", testPNG(8, 8), "image/png"); res.status != http.StatusOK {
			t.Fatalf("PUT logo = %d %s", res.status, res.code)
		}
		_, readOnly := e.newToken("acme", `{"name": "reporting", "read_only": true}`)
		_, globex := e.newToken("globex", `{"name": "globex"}`)
		_, acme := e.newToken("acme", `{"name": "automation"}`)
		logo := string(testPNG(12, 12))

		e.unchanged(func() {
			for _, tt := range []struct {
				method, path, body, contentType string
				token                           string
				status                          int
				code                            string
			}{
				{"PUT", brandingPath, `{"display_name": "Hijacked"}`, "", readOnly, 403, "read_only_token"},
				{"PUT", brandingPath + "/logo", logo, "image/png", readOnly, 403, "read_only_token"},
				{"DELETE", brandingPath + "/logo", "", "", readOnly, 403, "read_only_token"},
				{"GET", brandingPath, "", "", globex, 404, "not_found"},
				{"PUT", brandingPath, `{"display_name": "Hijacked"}`, "", globex, 404, "not_found"},
				{"PUT", brandingPath + "/logo", logo, "image/png", globex, 404, "not_found"},
				{"DELETE", brandingPath + "/logo", "", "", globex, 404, "not_found"},
			} {
				rec := e.do(request{method: tt.method, path: tt.path, body: tt.body, contentType: tt.contentType, auth: bearer(tt.token)})
				if rec.Code != tt.status || errorCode(rec.Body.Bytes()) != tt.code {
					t.Errorf("%s %s: %d %s, want %d %s", tt.method, tt.path, rec.Code, rec.Body, tt.status, tt.code)
				}
			}
		})
		if rec := e.do(request{method: "GET", path: brandingPath, auth: bearer(readOnly)}); rec.Code != http.StatusOK {
			t.Errorf("read-only GET = %d", rec.Code)
		}
		if rec := e.do(request{method: "PUT", path: brandingPath + "/logo", body: logo, contentType: "image/png", auth: bearer(acme)}); rec.Code != http.StatusOK {
			t.Errorf("acme's own token PUT logo = %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(request{method: "GET", path: "/api/v1/partners/nobody/branding"}); rec.Code != http.StatusNotFound {
			t.Errorf("unknown partner = %d", rec.Code)
		}
	})
}
