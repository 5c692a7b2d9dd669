package portal

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/partnergate/partnergate/branding"
)

// brandingJSON is a partner's branding as the API shows it.
type brandingJSON struct {
	DisplayName    string `json:"display_name"`
	PrimaryColor   string `json:"primary_color"`
	AccentColor    string `json:"accent_color"`
	WelcomeMessage string `json:"welcome_message"`
	Footer         string `json:"footer"`
	SupportURL     string `json:"support_url"`
	LogoVersion    string `json:"logo_version"`
}

// brandingPage is the editor: the form (the saved branding, or what was
// just refused), and beside it a preview of the saved sign-in page.
type brandingPage struct {
	frame
	Partner partnerJSON
	Form    brandingJSON
	HasLogo bool
}

// Err is the API's message about one field of the refused save.
func (p brandingPage) Err(field string) string { return p.Problem.problemFor(field) }

// Picker is what a colour picker shows: the field's value when it is a
// colour the picker can hold, the product's default otherwise (a picker
// cannot be empty).
func (p brandingPage) Picker(c, fallback string) string { return pickerColor(c, fallback) }

func pickerColor(c, fallback string) string {
	if len(c) == 7 && c[0] == '#' && strings.Trim(strings.ToLower(c[1:]), "0123456789abcdef") == "" {
		return strings.ToLower(c)
	}
	return fallback
}

// The product's own colours, which an unset colour leaves in place.
const (
	defaultPrimary = "#3b4fd8"
	defaultAccent  = "#6a3bd8"
)

// chosenColor is the colour a save asks for. Script copies the picker
// into the text field; without it, a picker moved while the text field
// was left as it was is the choice.
func chosenColor(f url.Values, field, fallback string) string {
	text, was := strings.TrimSpace(f.Get(field)), f.Get(field+"_was")
	if pick := f.Get(field + "_pick"); text == was && pick != "" && pick != pickerColor(was, fallback) {
		return pick
	}
	return text
}

var (
	noticeBrandingSaved = notice("branding_saved", "Branding saved. Your sign-in page shows it now.")
	noticeLogoSaved     = notice("logo_saved", "Logo uploaded.")
	noticeLogoRemoved   = notice("logo_removed", "Logo removed.")
)

// maxLogoForm caps a logo upload's whole form: a file just over the API's
// 1 MiB still arrives, so the API's own refusal is what the admin reads.
const maxLogoForm = branding.MaxLogoBytes + 64<<10

func (h *Handler) brandingRoutes() {
	who := []viewerKind{partnerAdminViewer, setupViewer}
	h.mux.Handle("GET /branding", h.page(h.brandingEditor, who...))
	h.mux.Handle("POST /branding", h.page(h.saveBranding, who...))
	h.mux.Handle("GET /branding/preview", h.page(h.brandingPreview, who...))
	h.mux.Handle("GET /branding/preview.css", h.page(h.brandingPreviewCSS, who...))
	h.mux.Handle("POST /branding/logo", h.upload(h.uploadLogo, who...))
	h.mux.Handle("POST /branding/logo/remove", h.page(h.removeLogo, who...))
}

func (h *Handler) brandingEditor(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderBranding(w, r, v, http.StatusOK, nil, nil)
}

// renderBranding shows the editor; with form set (a refused save) it
// keeps what was typed, and problem says what the API refused.
func (h *Handler) renderBranding(w http.ResponseWriter, r *http.Request, v *viewer, status int, form *brandingJSON, problem *apiError) error {
	page := brandingPage{frame: h.frame(r, v, "Branding", "branding")}
	page.Problem = problem
	if err := v.api.do("GET", apiPath("partners", v.partnerID), nil, &page.Partner); err != nil {
		return err
	}
	var saved brandingJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "branding"), nil, &saved); err != nil {
		return err
	}
	page.Form, page.HasLogo = saved, saved.LogoVersion != ""
	if form != nil {
		page.Form = *form
	}
	return h.render(w, status, "branding", page)
}

func (h *Handler) saveBranding(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := r.PostForm
	asked := brandingJSON{
		DisplayName:    f.Get("display_name"),
		PrimaryColor:   chosenColor(f, "primary_color", defaultPrimary),
		AccentColor:    chosenColor(f, "accent_color", defaultAccent),
		WelcomeMessage: f.Get("welcome_message"),
		Footer:         f.Get("footer"),
		SupportURL:     f.Get("support_url"),
	}
	body := map[string]string{
		"display_name":    asked.DisplayName,
		"primary_color":   asked.PrimaryColor,
		"accent_color":    asked.AccentColor,
		"welcome_message": asked.WelcomeMessage,
		"footer":          asked.Footer,
		"support_url":     asked.SupportURL,
	}
	err := v.api.do("PUT", apiPath("partners", v.partnerID, "branding"), body, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderBranding(w, r, v, ae.Status, &asked, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/branding"), noticeBrandingSaved)
}

var errLogoForm = &apiError{Status: http.StatusRequestEntityTooLarge, Code: "logo_unreadable", Field: "logo",
	Message: "The upload could not be read. Choose a PNG, JPEG or WebP file of at most 1 MiB."}

// uploadLogo reads the upload within its own cap (forms are capped far
// lower) and checks the CSRF token from it before anything else.
func (h *Handler) uploadLogo(w http.ResponseWriter, r *http.Request, v *viewer) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxLogoForm)
	if err := r.ParseMultipartForm(maxLogoForm); err != nil {
		// Nothing was written: showing the editor again is a read.
		return h.renderBranding(w, r, v, errLogoForm.Status, nil, errLogoForm)
	}
	defer func() { _ = r.MultipartForm.RemoveAll() }()
	if got := r.MultipartForm.Value["csrf"]; len(got) != 1 || !validCSRF(got[0], v.csrf) {
		return errCSRF
	}
	files := r.MultipartForm.File["logo"]
	if len(files) != 1 {
		ae := &apiError{Status: http.StatusBadRequest, Code: "logo_missing", Field: "logo", Message: "Choose an image file to upload."}
		return h.renderBranding(w, r, v, ae.Status, nil, ae)
	}
	file, err := files[0].Open()
	if err != nil {
		return err
	}
	defer func() { _ = file.Close() }()
	var data bytes.Buffer
	if _, err := io.Copy(&data, file); err != nil {
		return err
	}
	err = v.api.upload("PUT", apiPath("partners", v.partnerID, "branding", "logo"), files[0].Header.Get("Content-Type"), data.Bytes(), nil)
	if ae := asRefusal(err); ae != nil {
		if ae.Field == "" && len(ae.Details) == 0 {
			ae.Field = "logo"
		}
		return h.renderBranding(w, r, v, ae.Status, nil, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/branding"), noticeLogoSaved)
}

func (h *Handler) removeLogo(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "branding", "logo"), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderBranding(w, r, v, ae.Status, nil, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/branding"), noticeLogoRemoved)
}

// previewPage is a sign-in card as the partner's users see it, with the
// saved branding.
type previewPage struct {
	Base     string
	Branding brandingJSON
	Name     string
	Initial  string
	LogoURL  string
}

// brandingPreview is the document the editor frames. It is the one
// portal answer a page of the portal may frame, and only one of its own.
func (h *Handler) brandingPreview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	var b brandingJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "branding"), nil, &b); err != nil {
		return err
	}
	page := previewPage{Base: v.base, Branding: b, Name: b.DisplayName}
	if page.Name == "" {
		var p partnerJSON
		if err := v.api.do("GET", apiPath("partners", v.partnerID), nil, &p); err != nil {
			return err
		}
		page.Name = p.Name
	}
	if first, _ := utf8.DecodeRuneInString(page.Name); first != utf8.RuneError {
		page.Initial = string(unicode.ToUpper(first))
	}
	// The API serves no logo bytes; the gateway does, on the partner's
	// own host, which is where a partner admin is. Elsewhere (a setup
	// link on the admin site) the preview shows the monogram instead.
	if b.LogoVersion != "" && v.kind == partnerAdminViewer {
		page.LogoURL = h.cfg.GatewayPrefix + "branding/logo?v=" + b.LogoVersion
	}
	var buf bytes.Buffer
	if err := pages["branding_preview"].ExecuteTemplate(&buf, "preview", page); err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'self'; base-uri 'none'")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(buf.Bytes())
	return nil
}

// brandingPreviewCSS colours the preview as the gateway colours the real
// page: the same stylesheet, built from nothing but checked colours.
func (h *Handler) brandingPreviewCSS(w http.ResponseWriter, r *http.Request, v *viewer) error {
	var b brandingJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "branding"), nil, &b); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write(branding.CSS(branding.Branding{PrimaryColor: b.PrimaryColor, AccentColor: b.AccentColor}))
	return nil
}
