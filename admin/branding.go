package admin

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"

	"github.com/partnergate/partnergate/branding"
	"github.com/partnergate/partnergate/store"
)

// brandingJSON is a partner's branding as the API shows it: every text
// field, "" when unset, and the version of the logo, "" when none.
type brandingJSON struct {
	DisplayName    string    `json:"display_name"`
	PrimaryColor   string    `json:"primary_color"`
	AccentColor    string    `json:"accent_color"`
	WelcomeMessage string    `json:"welcome_message"`
	Footer         string    `json:"footer"`
	SupportURL     string    `json:"support_url"`
	LogoVersion    string    `json:"logo_version"`
	UpdatedAt      time.Time `json:"updated_at,omitzero"`
}

func brandingOf(b store.Branding) brandingJSON {
	return brandingJSON{
		DisplayName:    b.DisplayName,
		PrimaryColor:   b.PrimaryColor,
		AccentColor:    b.AccentColor,
		WelcomeMessage: b.WelcomeMessage,
		Footer:         b.Footer,
		SupportURL:     b.SupportURL,
		LogoVersion:    b.LogoVersion,
		UpdatedAt:      b.UpdatedAt,
	}
}

// brandingFields are the writable members, in the contract's order.
var brandingFields = []string{"display_name", "primary_color", "accent_color", "welcome_message", "footer", "support_url"}

var brandingBody = fieldSet{
	writable: brandingFields,
	readOnly: []string{"logo_version", "updated_at"},
}

// currentBranding reads the partner's branding; a partner without one has
// the empty branding.
func (h *Handler) currentBranding(r *http.Request, partnerID string) (store.Branding, error) {
	b, err := h.store.GetBranding(r.Context(), partnerID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Branding{}, nil
	}
	return b, err
}

func (h *Handler) getBranding(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	b, err := h.currentBranding(r, p.ID)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, brandingOf(b))
}

// putBranding replaces the partner's branding: a member left out is
// cleared. The values are stored normalized, and refused whole when any
// is invalid, with every problem listed. The logo is not touched.
func (h *Handler) putBranding(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	asked, err := readBranding(w, r)
	if err != nil {
		return err
	}
	current, err := h.currentBranding(r, p.ID)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, brandingOf(current)); err != nil {
		return err
	}
	next := store.Branding{
		DisplayName:    asked.DisplayName,
		PrimaryColor:   asked.PrimaryColor,
		AccentColor:    asked.AccentColor,
		WelcomeMessage: asked.WelcomeMessage,
		Footer:         asked.Footer,
		SupportURL:     asked.SupportURL,
		UpdatedAt:      h.timestamp(),
	}
	noteTarget(r, "branding", p.ID, diffBranding(current, next)...)
	if err := h.store.PutBranding(r.Context(), p.ID, next); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errPartnerNotFound
		}
		return err
	}
	h.publish(r, store.Event{Kind: store.BrandingChanged, PartnerID: p.ID})
	return h.writeBranding(w, r, p.ID, next)
}

// writeBranding answers the branding just stored, read back so the logo
// version is the stored one; should the read fail, the write stands and
// fallback is answered.
func (h *Handler) writeBranding(w http.ResponseWriter, r *http.Request, partnerID string, fallback store.Branding) error {
	b, err := h.store.GetBranding(r.Context(), partnerID)
	if err != nil {
		b = fallback
	}
	return writeResource(w, http.StatusOK, brandingOf(b))
}

// readBranding decodes a branding body, every member an optional string,
// and returns it normalized once it validates.
func readBranding(w http.ResponseWriter, r *http.Request) (branding.Branding, error) {
	m, err := readObject(w, r, brandingBody)
	if err != nil {
		return branding.Branding{}, err
	}
	var b branding.Branding
	for _, f := range []struct {
		name string
		dst  *string
	}{
		{"display_name", &b.DisplayName},
		{"primary_color", &b.PrimaryColor},
		{"accent_color", &b.AccentColor},
		{"welcome_message", &b.WelcomeMessage},
		{"footer", &b.Footer},
		{"support_url", &b.SupportURL},
	} {
		o, err := member[string](m, f.name)
		if err != nil {
			return branding.Branding{}, err
		}
		*f.dst, _ = o.value() // absent or null: cleared
	}
	if invalid := b.Validate(); len(invalid) > 0 {
		var ps problems
		for _, pr := range invalid {
			ps.add(pr.Field, pr.Message)
		}
		return branding.Branding{}, ps.err()
	}
	return branding.Normalize(b), nil
}

// diffBranding names the fields that change, for the audit trail.
func diffBranding(from, to store.Branding) []change {
	a, b := brandingValues(from), brandingValues(to)
	var out []change
	for i, field := range brandingFields {
		if a[i] != b[i] {
			out = append(out, change{Field: field, From: a[i], To: b[i]})
		}
	}
	return out
}

func brandingValues(b store.Branding) []string {
	return []string{b.DisplayName, b.PrimaryColor, b.AccentColor, b.WelcomeMessage, b.Footer, b.SupportURL}
}

// logoTypes are the Content-Types a logo upload may declare. The bytes
// decide the decoder; the type only keeps anything else (an HTML form, an
// SVG) from being sent as a logo by mistake.
var logoTypes = []string{"image/png", "image/jpeg", "image/webp"}

var errLogoMediaType = &apiError{
	status:  http.StatusUnsupportedMediaType,
	code:    "unsupported_media_type",
	message: "Content-Type must be image/png, image/jpeg or image/webp",
}

var errLogoTooLarge = &apiError{
	status:  http.StatusRequestEntityTooLarge,
	code:    "body_too_large",
	message: fmt.Sprintf("the logo file exceeds %d bytes (1 MiB)", branding.MaxLogoBytes),
}

// putLogo stores the partner's logo. What is stored is never the upload:
// it is a PNG encoded afresh from the decoded pixels, so nothing but an
// image (no script, no metadata, no appended payload) is ever served.
func (h *Handler) putLogo(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(logoTypes, mt) {
		return errLogoMediaType
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, branding.MaxLogoBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errLogoTooLarge
		}
		return fmt.Errorf("read logo: %w", err)
	}
	logo, err := branding.ProcessLogo(data)
	if err != nil {
		if !isLogoError(err) {
			return err
		}
		var ps problems
		ps.add("logo", err.Error())
		return ps.err()
	}
	if len(logo.PNG) > store.MaxLogoSize {
		var ps problems
		ps.add("logo", "the logo is too detailed to store; use a simpler or smaller image")
		return ps.err()
	}
	current, err := h.currentBranding(r, p.ID)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, brandingOf(current)); err != nil {
		return err
	}
	sum := sha256.Sum256(logo.PNG)
	version := hex.EncodeToString(sum[:])[:16]
	noteTarget(r, "branding", p.ID, change{Field: "logo", From: current.LogoVersion, To: version})
	if err := h.store.PutLogo(r.Context(), p.ID, logo.PNG, version); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errPartnerNotFound
		}
		return err
	}
	h.publish(r, store.Event{Kind: store.BrandingChanged, PartnerID: p.ID})
	current.LogoVersion = version
	return h.writeBranding(w, r, p.ID, current)
}

// isLogoError tells ProcessLogo's refusals, whose messages are written for
// the partner, from anything else.
func isLogoError(err error) bool {
	for _, e := range []error{branding.ErrLogoTooLarge, branding.ErrLogoFormat, branding.ErrLogoDimensions, branding.ErrLogoCorrupt} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// deleteLogo removes the partner's logo; the rest of the branding stays.
// Removing none succeeds.
func (h *Handler) deleteLogo(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	current, err := h.currentBranding(r, p.ID)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, brandingOf(current)); err != nil {
		return err
	}
	var changes []change
	if current.LogoVersion != "" {
		changes = append(changes, change{Field: "logo", From: current.LogoVersion})
	}
	noteTarget(r, "branding", p.ID, changes...)
	if err := h.store.DeleteLogo(r.Context(), p.ID); err != nil {
		return err
	}
	h.publish(r, store.Event{Kind: store.BrandingChanged, PartnerID: p.ID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}
