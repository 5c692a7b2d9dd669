package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// The operator's pages: every partner, one partner's hostnames, email
// domains and setup links, the governance baseline and the policy report.

func (h *Handler) operatorRoutes() {
	op := operatorViewer
	h.mux.Handle("POST /partners", h.page(h.createPartner, op))
	h.mux.Handle("GET /partners/{pid}", h.page(h.partnerPage, op))
	h.mux.Handle("POST /partners/{pid}/hostnames", h.page(h.updateHostnames, op))
	h.mux.Handle("POST /partners/{pid}/suspend", h.page(h.setSuspended(true), op))
	h.mux.Handle("POST /partners/{pid}/resume", h.page(h.setSuspended(false), op))
	h.mux.Handle("POST /partners/{pid}/domains", h.page(h.addPartnerDomain, op))
	h.mux.Handle("POST /partners/{pid}/domains/{domain}/remove", h.page(h.removePartnerDomain, op))
	h.mux.Handle("POST /partners/{pid}/setup-links", h.page(h.createSetupLink, op))
	h.mux.Handle("POST /partners/{pid}/setup-links/{lid}/revoke", h.page(h.revokeSetupLink, op))
	h.mux.Handle("GET /governance", h.page(h.governancePage, op))
	h.mux.Handle("POST /governance", h.page(h.saveGovernance, op))
	h.mux.Handle("GET /report", h.page(h.reportPage, op))
}

var (
	noticePartnerCreated   = notice("partner_created", "Partner created. Send its IT admin a setup link to connect their identity provider.")
	noticeHostnamesSaved   = notice("hostnames_saved", "Hostnames saved.")
	noticePartnerSuspended = notice("partner_suspended", "Partner suspended. Its users are signed out and cannot sign in until you resume it.")
	noticePartnerResumed   = notice("partner_resumed", "Partner resumed. Its users can sign in again.")
	noticePartnerDomain    = notice("partner_domain_added", "Email domain added.")
	noticeDomainRemoved    = notice("partner_domain_removed", "Email domain removed.")
	noticeSetupLinkRevoked = notice("setup_link_revoked", "Setup link revoked. It no longer works, and a setup it started has ended.")
	noticeGovernanceSaved  = notice("governance_saved", "Baseline saved. Every partner's effective policy follows it now.")
)

// partnersPageData is the operator's start page.
type partnersPageData struct {
	frame
	Partners []partnerJSON
	// The create form, kept when the API refuses it.
	ID, Name, Hostnames string
}

// Err is the API's message about one field of the refused form.
func (p partnersPageData) Err(field string) string { return p.Problem.problemFor(field) }

func (h *Handler) partnersPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderPartners(w, r, v, http.StatusOK, partnersPageData{})
}

func (h *Handler) renderPartners(w http.ResponseWriter, r *http.Request, v *viewer, status int, page partnersPageData) error {
	problem := page.Problem
	page.frame = h.frame(r, v, "Partners", "partners")
	page.Problem = problem
	var partners list[partnerJSON]
	if err := v.api.do("GET", apiPath("partners"), nil, &partners); err != nil {
		return err
	}
	page.Partners = partners.Data
	return h.render(w, status, "partners", page)
}

// hostnameList reads hostnames typed one per line or separated by commas.
func hostnameList(s string) []string {
	return append([]string{}, strings.Fields(strings.ReplaceAll(s, ",", " "))...)
}

func (h *Handler) createPartner(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := r.PostForm
	page := partnersPageData{ID: strings.TrimSpace(f.Get("id")), Name: strings.TrimSpace(f.Get("name")), Hostnames: f.Get("hostnames")}
	body := map[string]any{"id": page.ID, "name": page.Name, "hostnames": hostnameList(page.Hostnames)}
	var created partnerJSON
	err := v.api.do("POST", apiPath("partners"), body, &created)
	if ae := asRefusal(err); ae != nil {
		page.Problem = ae
		return h.renderPartners(w, r, v, ae.Status, page)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/partners/"+url.PathEscape(created.ID)), noticePartnerCreated)
}

// setupLinkJSON is a setup link as the API lists it; Token only in the
// answer to its creation.
type setupLinkJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
	Redeemed  bool      `json:"redeemed"`
	Token     string    `json:"token"`
	// Expired: the link no longer works.
	Expired bool `json:"-"`
}

// partnerPage is one partner as the operator manages it.
type partnerPage struct {
	frame
	Partner    partnerJSON
	SetupLinks []setupLinkJSON
	// The forms, kept when the API refuses them.
	Hostnames, Domain, LinkName, LinkValidity string
	// NewLink is the link just created, shown this once.
	NewLink     *setupLinkJSON
	NewLinkURL  string
	Validities  []policyOption
	ProblemForm string
}

// Err is the API's message about one field of the form that was refused.
func (p partnerPage) Err(form, field string) string {
	if p.ProblemForm != form {
		return ""
	}
	return p.Problem.problemFor(field)
}

var setupLinkValidities = []policyOption{{"24h", "24 hours"}, {"72h", "3 days"}, {"168h", "7 days"}}

func (h *Handler) partnerPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderPartner(w, r, v, http.StatusOK, partnerPage{})
}

// renderPartner shows the partner's page; page carries what a refused
// form asked, or the link just created.
func (h *Handler) renderPartner(w http.ResponseWriter, r *http.Request, v *viewer, status int, page partnerPage) error {
	pid := r.PathValue("pid")
	problem := page.Problem
	page.frame = h.frame(r, v, "Partner", "partners")
	page.Problem = problem
	page.Validities = setupLinkValidities
	if err := v.api.do("GET", apiPath("partners", pid), nil, &page.Partner); err != nil {
		return err
	}
	page.Title = page.Partner.Name
	if page.ProblemForm != "hostnames" {
		page.Hostnames = strings.Join(page.Partner.Hostnames, "\n")
	}
	if page.LinkValidity == "" {
		page.LinkValidity = "72h"
	}
	var links list[setupLinkJSON]
	if err := v.api.do("GET", apiPath("partners", pid, "setup-links"), nil, &links); err != nil {
		return err
	}
	for i := range links.Data {
		links.Data[i].Expired = !h.now().Before(links.Data[i].ExpiresAt)
	}
	page.SetupLinks = links.Data
	return h.render(w, status, "partner", page)
}

// refusedOn re-renders the partner's page with form's refusal beside it.
func (h *Handler) refusedOn(w http.ResponseWriter, r *http.Request, v *viewer, form string, ae *apiError, page partnerPage) error {
	page.Problem, page.ProblemForm = ae, form
	return h.renderPartner(w, r, v, ae.Status, page)
}

func (h *Handler) updateHostnames(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pid := r.PathValue("pid")
	typed := r.PostForm.Get("hostnames")
	err := v.api.do("PATCH", apiPath("partners", pid), map[string]any{"hostnames": hostnameList(typed)}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.refusedOn(w, r, v, "hostnames", ae, partnerPage{Hostnames: typed})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/partners/"+url.PathEscape(pid)), noticeHostnamesSaved)
}

// setSuspended suspends or resumes the partner; the API ends its users'
// sessions.
func (h *Handler) setSuspended(suspended bool) pageFunc {
	key := noticePartnerResumed
	if suspended {
		key = noticePartnerSuspended
	}
	return func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		pid := r.PathValue("pid")
		err := v.api.do("PATCH", apiPath("partners", pid), map[string]bool{"suspended": suspended}, nil)
		if ae := asRefusal(err); ae != nil {
			return h.refusedOn(w, r, v, "suspension", ae, partnerPage{})
		}
		if err != nil {
			return err
		}
		return done(w, r, v.link("/partners/"+url.PathEscape(pid)), key)
	}
}

func (h *Handler) addPartnerDomain(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pid := r.PathValue("pid")
	domain := strings.TrimSpace(r.PostForm.Get("domain"))
	err := v.api.do("POST", apiPath("partners", pid, "domains"), map[string]string{"domain": domain}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.refusedOn(w, r, v, "domains", ae, partnerPage{Domain: domain})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/partners/"+url.PathEscape(pid)), noticePartnerDomain)
}

func (h *Handler) removePartnerDomain(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pid := r.PathValue("pid")
	err := v.api.do("DELETE", apiPath("partners", pid, "domains", r.PathValue("domain")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.refusedOn(w, r, v, "domains", ae, partnerPage{})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/partners/"+url.PathEscape(pid)), noticeDomainRemoved)
}

// createSetupLink answers with the partner's page showing the new link:
// its token is shown this once and never put in a URL the browser keeps.
func (h *Handler) createSetupLink(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pid := r.PathValue("pid")
	name := strings.TrimSpace(r.PostForm.Get("name"))
	validity := r.PostForm.Get("expires_in")
	var link setupLinkJSON
	err := v.api.do("POST", apiPath("partners", pid, "setup-links"), map[string]string{"name": name, "expires_in": validity}, &link)
	if ae := asRefusal(err); ae != nil {
		return h.refusedOn(w, r, v, "setup-link", ae, partnerPage{LinkName: name, LinkValidity: validity})
	}
	if err != nil {
		return err
	}
	page := partnerPage{NewLink: &link, NewLinkURL: h.adminOrigin(r) + basePath(r) + "/setup?" + url.Values{"token": {link.Token}}.Encode()}
	return h.renderPartner(w, r, v, http.StatusCreated, page)
}

// adminOrigin is the admin site's origin as the operator reached it,
// which is where the IT admin opens the link.
func (h *Handler) adminOrigin(r *http.Request) string {
	scheme := "https"
	if r.TLS == nil && h.cfg.InsecureCookies {
		scheme = "http"
	}
	return scheme + "://" + r.Host
}

func (h *Handler) revokeSetupLink(w http.ResponseWriter, r *http.Request, v *viewer) error {
	pid := r.PathValue("pid")
	err := v.api.do("DELETE", apiPath("partners", pid, "setup-links", r.PathValue("lid")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.refusedOn(w, r, v, "setup-link", ae, partnerPage{})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/partners/"+url.PathEscape(pid)), noticeSetupLinkRevoked)
}

// governanceJSON is the baseline in force and where it comes from.
type governanceJSON struct {
	Policy    json.RawMessage `json:"policy"`
	Source    string          `json:"source"`
	UpdatedAt time.Time       `json:"updated_at"`
	UpdatedBy string          `json:"updated_by"`
}

// governancePage is the baseline editor, the policy editor's form
// without a baseline above it.
func (h *Handler) governancePage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderGovernance(w, r, v, http.StatusOK, nil)
}

func (h *Handler) renderGovernance(w http.ResponseWriter, r *http.Request, v *viewer, status int, refusal *apiError) error {
	page := policyPage{frame: h.frame(r, v, "Governance", "governance"), Governance: true}
	page.Problem = refusal
	var g governanceJSON
	if err := v.api.do("GET", apiPath("governance"), nil, &g); err != nil {
		return err
	}
	page.Source, page.UpdatedAt, page.UpdatedBy = g.Source, g.UpdatedAt, g.UpdatedBy
	var form map[string][]string
	if refusal != nil {
		form = r.PostForm
	}
	page.Rows = policyRows(flatPolicy(g.Policy), nil, nil, nil, form, refusal)
	return h.render(w, status, "policy", page)
}

func (h *Handler) saveGovernance(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("PUT", apiPath("governance"), policyBody(r.PostForm), nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderGovernance(w, r, v, ae.Status, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/governance"), noticeGovernanceSaved)
}

// reportRow is one partner's line of the policy report.
type reportRow struct {
	PartnerID   string   `json:"partner_id"`
	Name        string   `json:"name"`
	Stricter    []string `json:"stricter"`
	MFAEnrolled int      `json:"mfa_enrolled"`
	ActiveUsers int      `json:"active_users"`
	MFAShare    float64  `json:"mfa_share"`
}

// Percent is the share of active users with a second factor.
func (r reportRow) Percent() int { return int(r.MFAShare*100 + 0.5) }

type reportPage struct {
	frame
	Rows        []reportRow
	MFARequired string
}

func (h *Handler) reportPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := reportPage{frame: h.frame(r, v, "Policy report", "report")}
	var report struct {
		Baseline json.RawMessage `json:"baseline"`
		Data     []reportRow     `json:"data"`
	}
	if err := v.api.do("GET", apiPath("policy-report"), nil, &report); err != nil {
		return err
	}
	page.Rows = report.Data
	page.MFARequired = policySettings[0].describe(flatPolicy(report.Baseline)["mfa.required"])
	return h.render(w, http.StatusOK, "report", page)
}
