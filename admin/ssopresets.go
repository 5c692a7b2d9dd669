package admin

import (
	"net/http"

	"github.com/partnergate/partnergate/sso/preset"
)

var errPresetNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "SSO preset not found"}

// listSSOPresets serves the presets with their placeholders unfilled: they
// are the same for every partner, so any caller may read them, and a
// wizard can show them before a partner exists.
func (h *Handler) listSSOPresets(w http.ResponseWriter, _ *http.Request) error {
	return writeJSON(w, http.StatusOK, listJSON[preset.Preset]{Data: preset.All()})
}

// getSSOPreset serves one preset rendered for the partner: the URLs to
// copy into the IdP are those of its primary hostname, where its users
// sign in, with the scheme of the links mailed to them.
func (h *Handler) getSSOPreset(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	pr, ok := preset.Get(r.PathValue("preset"))
	if !ok {
		return errPresetNotFound
	}
	return writeJSON(w, http.StatusOK, preset.Render(pr, preset.URLsFor(h.linkScheme, h.partnerHost(p))))
}
