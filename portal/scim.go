package portal

import (
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The SCIM page: the endpoint a directory provisions users through, its
// tokens, how Okta and Entra ID are pointed at it, and its request log.

var noticeSCIMTokenRevoked = notice("scim_token_revoked", "SCIM token revoked: requests with it are refused from now on.")

func (h *Handler) scimRoutes() {
	h.mux.Handle("GET /scim", h.page(h.scimPage, partnerAdminViewer, setupViewer))
	h.mux.Handle("POST /scim/tokens", h.page(h.createSCIMToken, partnerAdminViewer, setupViewer))
	h.mux.Handle("POST /scim/tokens/{tid}/revoke", h.page(h.revokeSCIMToken, partnerAdminViewer, setupViewer))
}

// scimPage is the SCIM setup page. NewToken is set only in the answer to
// the token's creation: its secret is shown that once.
type scimPage struct {
	frame
	BaseURL  string
	Tokens   []tokenJSON
	Live     int
	NewToken *tokenJSON
	Requests []scimRequestJSON
	Name     string
	Expires  string
	Errors   map[string]string
}

func (h *Handler) scimPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderSCIM(w, r, v, http.StatusOK, scimPage{}, nil)
}

func (h *Handler) renderSCIM(w http.ResponseWriter, r *http.Request, v *viewer, status int, page scimPage, ae *apiError) error {
	page.frame = h.frame(r, v, "Provisioning (SCIM)", "scim")
	page.Problem = ae
	page.Errors = map[string]string{"name": ae.problemFor("name"), "expires_at": ae.problemFor("expires_at")}
	page.BaseURL = h.scimBaseURL(r, v.partnerID)
	var tokens list[tokenJSON]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "scim-tokens"), nil, &tokens); err != nil {
		return err
	}
	page.Tokens = tokens.Data
	for _, t := range tokens.Data {
		if !t.Expired {
			page.Live++
		}
	}
	var reqs list[scimRequestJSON]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "scim-requests")+"?limit=25", nil, &reqs); err != nil {
		return err
	}
	page.Requests = reqs.Data
	return h.render(w, status, "scim", page)
}

// scimBaseURL is where the partner's SCIM endpoint is served: on the
// admin site, which a viewer on it reaches by the request's own host.
func (h *Handler) scimBaseURL(r *http.Request, partnerID string) string {
	if h.cfg.SCIMBaseURL != nil {
		return h.cfg.SCIMBaseURL(partnerID)
	}
	return (&url.URL{Scheme: "https", Host: r.Host, Path: "/scim/v2/" + partnerID + "/"}).String()
}

func (h *Handler) createSCIMToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	expires := strings.TrimSpace(r.PostForm.Get("expires"))
	body := map[string]any{"name": name}
	if expires != "" {
		day, err := time.Parse(time.DateOnly, expires)
		if err != nil {
			return h.renderSCIM(w, r, v, http.StatusUnprocessableEntity, scimPage{Name: name, Expires: expires}, &apiError{
				Status: http.StatusUnprocessableEntity, Message: "The token was not created.",
				Details: []problem{{Field: "expires_at", Message: "Enter a date such as 2027-01-31."}},
			})
		}
		// The token works through the whole of the day chosen.
		body["expires_at"] = day.AddDate(0, 0, 1)
	}
	var created tokenJSON
	err := v.api.do("POST", apiPath("partners", v.partnerID, "scim-tokens"), body, &created)
	if ae := asRefusal(err); ae != nil {
		return h.renderSCIM(w, r, v, ae.Status, scimPage{Name: name, Expires: expires}, ae)
	}
	if err != nil {
		return err
	}
	return h.renderSCIM(w, r, v, http.StatusOK, scimPage{NewToken: &created}, nil)
}

func (h *Handler) revokeSCIMToken(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "scim-tokens", r.PathValue("tid")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderSCIM(w, r, v, ae.Status, scimPage{}, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/scim"), noticeSCIMTokenRevoked)
}
