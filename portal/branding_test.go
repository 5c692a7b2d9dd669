package portal

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
)

// brandingForm is the editor's form as a browser sends it untouched,
// with the changes in set.
func brandingForm(set map[string]string) url.Values {
	f := url.Values{}
	for _, k := range []string{"display_name", "primary_color", "accent_color", "welcome_message", "footer", "support_url", "primary_color_was", "accent_color_was"} {
		f.Set(k, "")
	}
	f.Set("primary_color_pick", "#3b4fd8")
	f.Set("accent_color_pick", "#6a3bd8")
	for k, v := range set {
		f.Set(k, v)
	}
	return f
}

func (e *env) branding(partnerID string) brandingJSON {
	e.t.Helper()
	var b brandingJSON
	e.apiJSON("GET", "/api/v1/partners/"+partnerID+"/branding", nil, &b)
	return b
}

func TestBrandingSaveAndPreview(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		res := b.form("/branding", "/branding", brandingForm(map[string]string{
			"display_name": "Acme Login", "primary_color": "#0b5394", "welcome_message": "Welcome back", "support_url": "https://help.acme.test/",
		}))
		if res.status != http.StatusSeeOther || res.header.Get("Location") != partnerPath+"/branding?done=branding_saved" {
			t.Fatalf("save: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		got := e.branding("acme")
		if got.DisplayName != "Acme Login" || got.PrimaryColor != "#0b5394" || got.WelcomeMessage != "Welcome back" || got.SupportURL != "https://help.acme.test/" {
			t.Errorf("stored branding: %+v", got)
		}
		page := b.get("/branding?done=branding_saved")
		for _, want := range []string{"Branding saved.", `value="Acme Login"`, `value="#0b5394"`, `data-preview="brand-preview"`, `<iframe id="brand-preview" src="/.partnergate/admin/branding/preview"`} {
			if !strings.Contains(page.body, want) {
				t.Errorf("editor lacks %q", want)
			}
		}
		pv := b.get("/branding/preview")
		if pv.status != http.StatusOK || !strings.Contains(pv.body, "Acme Login") || !strings.Contains(pv.body, "Welcome back") || !strings.Contains(pv.body, ">Continue<") {
			t.Errorf("preview: %d\n%s", pv.status, pv.body)
		}
		if csp := pv.header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'self'") || strings.Contains(csp, "frame-ancestors 'none'") || pv.header.Get("X-Frame-Options") != "SAMEORIGIN" {
			t.Errorf("preview headers: %v", pv.header)
		}
		if page.header.Get("X-Frame-Options") != "DENY" {
			t.Error("the editor itself may be framed")
		}
		css := b.get("/branding/preview.css")
		if css.status != http.StatusOK || !strings.Contains(css.body, "--primary: #0b5394;") || !strings.Contains(css.body, "--on-primary: #ffffff;") {
			t.Errorf("preview stylesheet: %d\n%s", css.status, css.body)
		}
	})
}

// Without script, moving a colour picker and leaving its text field is a
// choice of that colour.
func TestBrandingPickerWithoutScript(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	res := b.form("/branding", "/branding", brandingForm(map[string]string{"primary_color_pick": "#0b5394"}))
	if res.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.status, res.body)
	}
	if got := e.branding("acme").PrimaryColor; got != "#0b5394" {
		t.Errorf("primary colour %q", got)
	}
}

func TestBrandingRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.apiJSON("PUT", "/api/v1/partners/acme/branding", map[string]string{"display_name": "Acme", "primary_color": "#0b5394"}, nil)
		before := e.branding("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		res := b.form("/branding", "/branding", brandingForm(map[string]string{
			"display_name": "Acme New", "primary_color": "#777777", "support_url": "http://help.acme.test/", "footer": "a\x01b",
		}))
		if res.status != http.StatusUnprocessableEntity {
			t.Fatalf("refused save: %d\n%s", res.status, res.body)
		}
		for _, want := range []string{
			"contrast of only 4.47:1", // the measured ratio, beside the field
			`id="primary_color-error"`, `id="support_url-error"`, "absolute https:// link", `id="footer-error"`, "U&#43;0001",
			`value="Acme New"`, `value="#777777"`, `value="http://help.acme.test/"`, // what was typed is kept
		} {
			if !strings.Contains(res.body, want) {
				t.Errorf("refusal lacks %q\n%s", want, res.body)
			}
		}
		if after := e.branding("acme"); after != before {
			t.Errorf("a refused save changed the branding: %+v", after)
		}
	})
}

func TestBrandingTextIsPlain(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	script := `<script>alert("x")</script>`
	if res := b.form("/branding", "/branding", brandingForm(map[string]string{"welcome_message": script, "display_name": script})); res.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", res.status, res.body)
	}
	if got := e.branding("acme"); got.WelcomeMessage != script {
		t.Errorf("stored %q", got.WelcomeMessage)
	}
	for _, path := range []string{"/branding", "/branding/preview"} {
		res := b.get(path)
		if strings.Contains(res.body, "<script>alert") || !strings.Contains(res.body, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
			t.Errorf("%s does not show the script escaped:\n%s", path, res.body)
		}
	}
}

// upload posts a logo form as a browser does.
func (b *browser) upload(path, csrf, filename, contentType string, data []byte) response {
	b.e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", csrf)
	hdr := textproto.MIMEHeader{}
	hdr.Set("Content-Disposition", `form-data; name="logo"; filename="`+filename+`"`)
	hdr.Set("Content-Type", contentType)
	part, _ := mw.CreatePart(hdr)
	_, _ = part.Write(data)
	_ = mw.Close()
	r := httptest.NewRequest("POST", "http://"+b.host+b.prefix()+path, &body)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(r)
}

func testPNG(t *testing.T) []byte {
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for i := range 8 {
		img.Set(i, i, color.RGBA{10, 80, 200, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLogoUpload(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		csrf := csrfOf(t, b.get("/branding").body)

		// A page of script behind an image's first bytes is no image.
		polyglot := append([]byte("GIF89a\x01\x00\x01\x00"), []byte("<script>alert(1)</script>")...)
		res := b.upload("/branding/logo", csrf, "logo.png", "image/png", polyglot)
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "use a PNG, JPEG or WebP image") || !strings.Contains(res.body, `id="logo-error"`) {
			t.Errorf("polyglot: %d\n%s", res.status, res.body)
		}
		big := append(testPNG(t), bytes.Repeat([]byte{0}, 1<<20)...)
		res = b.upload("/branding/logo", csrf, "logo.png", "image/png", big)
		if res.status != http.StatusRequestEntityTooLarge || !strings.Contains(res.body, "exceeds 1048576 bytes (1 MiB)") {
			t.Errorf("oversized: %d\n%s", res.status, res.body)
		}
		res = b.upload("/branding/logo", csrf, "logo.svg", "image/svg+xml", []byte("<svg/>"))
		if res.status != http.StatusUnsupportedMediaType || !strings.Contains(res.body, "image/png, image/jpeg or image/webp") {
			t.Errorf("svg: %d\n%s", res.status, res.body)
		}
		res = b.upload("/branding/logo", "forged", "logo.png", "image/png", testPNG(t))
		if res.status != http.StatusForbidden {
			t.Errorf("forged csrf: %d", res.status)
		}
		if v := e.branding("acme").LogoVersion; v != "" {
			t.Fatalf("a refused upload stored a logo %q", v)
		}

		res = b.upload("/branding/logo", csrf, "logo.png", "image/png", testPNG(t))
		if res.status != http.StatusSeeOther {
			t.Fatalf("upload: %d\n%s", res.status, res.body)
		}
		version := e.branding("acme").LogoVersion
		if version == "" {
			t.Fatal("no logo stored")
		}
		if pv := b.get("/branding/preview"); !strings.Contains(pv.body, `src="/.partnergate/branding/logo?v=`+version+`"`) {
			t.Errorf("preview does not show the logo:\n%s", pv.body)
		}
		if res := b.form("/branding", "/branding/logo/remove", nil); res.status != http.StatusSeeOther {
			t.Fatalf("remove: %d\n%s", res.status, res.body)
		}
		if v := e.branding("acme").LogoVersion; v != "" {
			t.Errorf("logo still there: %q", v)
		}
		if pv := b.get("/branding/preview"); !strings.Contains(pv.body, `class="signin-monogram"`) {
			t.Errorf("preview without a logo shows no monogram:\n%s", pv.body)
		}
	})
}

func TestBrandingIsOnlyForPartners(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	op := e.operator()
	for _, path := range []string{"/branding", "/branding/preview", "/policy"} {
		if res := op.get(path); res.status != http.StatusNotFound {
			t.Errorf("operator GET %s: %d", path, res.status)
		}
	}
}
