package portal

import (
	"net/http"
	"strings"
)

// setupPage is the checklist an IT admin holding a setup link works
// through: the partner's email domains, an SSO connection, SCIM, the
// login page's look, and finally who becomes the first partner admin.
type setupPage struct {
	frame
	Partner     partnerJSON
	Connections []connectionJSON
	Active      bool
	SCIMTokens  int
	Problem     *apiError
	Email, Name string
}

var (
	noticeDomainAdded = notice("domain_added", "Email domain added.")
)

func (h *Handler) setupChecklist(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderSetup(w, r, v, http.StatusOK, nil, "", "")
}

func (h *Handler) renderSetup(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem *apiError, email, name string) error {
	page := setupPage{frame: h.frame(r, v, "Setup", "setup"), Problem: problem, Email: email, Name: name}
	p := v.partnerID
	if err := v.api.do("GET", apiPath("partners", p), nil, &page.Partner); err != nil {
		return err
	}
	var conns list[connectionJSON]
	if err := v.api.do("GET", apiPath("partners", p, "sso-connections"), nil, &conns); err != nil {
		return err
	}
	page.Connections = conns.Data
	for _, c := range conns.Data {
		page.Active = page.Active || c.Enabled
	}
	var tokens list[tokenJSON]
	if err := v.api.do("GET", apiPath("partners", p, "scim-tokens"), nil, &tokens); err != nil {
		return err
	}
	for _, t := range tokens.Data {
		if !t.Expired {
			page.SCIMTokens++
		}
	}
	return h.render(w, status, "setup", page)
}

// addSetupDomain adds one of the partner's email domains, which routes
// its users to the partner's IdP from the sign-in page.
func (h *Handler) addDomain(w http.ResponseWriter, r *http.Request, v *viewer) error {
	domain := strings.TrimSpace(r.PostForm.Get("domain"))
	err := v.api.do("POST", apiPath("partners", v.partnerID, "domains"), map[string]string{"domain": domain}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderSetup(w, r, v, ae.Status, ae, "", "")
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/"), noticeDomainAdded)
}

// finishedPage tells the new partner admin where to sign in.
type finishedPage struct {
	frame
	Email     string
	SignInURL string
}

// finishSetup makes the IT admin the partner's first partner admin; the
// API ends the setup session in the same step.
func (h *Handler) finishSetup(w http.ResponseWriter, r *http.Request, v *viewer) error {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	name := strings.TrimSpace(r.PostForm.Get("name"))
	var partner partnerJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID), nil, &partner); err != nil {
		return err
	}
	err := v.api.do("POST", apiPath("partners", v.partnerID, "setup", "complete"), map[string]string{"email": email, "name": name}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderSetup(w, r, v, ae.Status, ae, email, name)
	}
	if err != nil {
		return err
	}
	h.clearSession(w)
	page := finishedPage{frame: h.frame(r, nil, "Setup complete", ""), Email: email, SignInURL: h.siteURL(partner.DefaultHostname) + h.cfg.GatewayPrefix + "admin/"}
	return h.render(w, http.StatusOK, "setup_done", page)
}

// asRefusal is err when it is the API refusing what was asked (a 4xx
// other than a missing session), for the page to show beside the form.
func asRefusal(err error) *apiError {
	ae, ok := err.(*apiError)
	if !ok || ae.Status < 400 || ae.Status > 499 || ae.Status == http.StatusUnauthorized || ae.Status == http.StatusNotFound {
		return nil
	}
	return ae
}

func (h *Handler) siteURL(host string) string {
	if h.cfg.SiteURL != nil {
		return h.cfg.SiteURL(host)
	}
	return "https://" + host
}
