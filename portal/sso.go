package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The SSO pages: the partner's connections, and a wizard that connects
// an identity provider in three steps: pick the provider, set it up on
// both sides, then test and activate the connection.

var (
	noticeConnectionCreated     = notice("sso_created", "Connection saved. Test a sign-in, then activate it.")
	noticeConnectionActivated   = notice("sso_activated", "Connection activated: users at its email domains now sign in through it.")
	noticeConnectionRequired    = notice("sso_activated_required", "Connection activated, and single sign-on is now required.")
	noticeConnectionDeactivated = notice("sso_deactivated", "Connection deactivated.")
	noticeConnectionDeleted     = notice("sso_deleted", "Connection deleted.")
)

func (h *Handler) ssoRoutes() {
	both := []viewerKind{partnerAdminViewer, setupViewer}
	h.mux.Handle("GET /sso", h.page(h.ssoList, both...))
	h.mux.Handle("GET /sso/new", h.page(h.ssoPickProvider, both...))
	h.mux.Handle("GET /sso/new/{preset}", h.page(h.ssoSetupForm, both...))
	h.mux.Handle("POST /sso/new/{preset}", h.page(h.ssoCreate, both...))
	h.mux.Handle("GET /sso/{cid}", h.page(h.ssoConnectionPage, both...))
	h.mux.Handle("GET /sso/{cid}/tests/{tid}", h.page(h.ssoTestResult, both...))
	// A connection's own pages and actions share one pattern each: as
	// /sso/{cid}/test and the like, they would overlap /sso/new/{preset}
	// without either being the more specific.
	h.mux.Handle("GET /sso/{cid}/{page}", h.page(h.ssoConnectionAction(map[string]pageFunc{
		"delete": h.ssoConfirmDelete,
	}), both...))
	h.mux.Handle("POST /sso/{cid}/{page}", h.page(h.ssoConnectionAction(map[string]pageFunc{
		"test":       h.ssoStartTest,
		"activate":   h.ssoActivate,
		"deactivate": h.ssoDeactivate,
		"delete":     h.ssoDelete,
	}), both...))
}

func (h *Handler) ssoConnectionAction(fns map[string]pageFunc) pageFunc {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) error {
		fn, ok := fns[r.PathValue("page")]
		if !ok {
			return &apiError{Status: http.StatusNotFound}
		}
		return fn(w, r, v)
	}
}

// presetJSON is an SSO preset as the API answers it, rendered for the
// partner when read under the partner.
type presetJSON struct {
	ID        string   `json:"id"`
	Name      string   `json:"name"`
	Protocols []string `json:"protocols"`
	OIDC      *struct {
		IssuerHints []string     `json:"issuer_hints"`
		Steps       []presetStep `json:"steps"`
	} `json:"oidc"`
	SAML *struct {
		Steps []presetStep `json:"steps"`
	} `json:"saml"`
}

type presetStep struct {
	Title     string        `json:"title"`
	Body      string        `json:"body"`
	Copy      []presetField `json:"copy"`
	BringBack []string      `json:"bring_back"`
}

// presetField is a value to paste into the IdP.
type presetField struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Value string `json:"value"`
}

// steps are the preset's instructions for one protocol.
func (p presetJSON) steps(protocol string) []presetStep {
	switch {
	case protocol == "oidc" && p.OIDC != nil:
		return p.OIDC.Steps
	case protocol == "saml" && p.SAML != nil:
		return p.SAML.Steps
	}
	return nil
}

// copyFields are every value to paste of one protocol, each once.
func (p presetJSON) copyFields(protocol string) []presetField {
	var out []presetField
	seen := map[string]bool{}
	for _, s := range p.steps(protocol) {
		for _, f := range s.Copy {
			if !seen[f.Name] {
				seen[f.Name] = true
				out = append(out, f)
			}
		}
	}
	return out
}

// spMetadataURL is where the gateway serves the service provider's SAML
// metadata. Not every preset's steps name it; the SP entity id is that
// same URL, as SAML recommends and the presets render it.
func spMetadataURL(fields []presetField) string {
	var entity string
	for _, f := range fields {
		switch f.Name {
		case "sp_metadata_url":
			return f.Value
		case "sp_entity_id":
			entity = f.Value
		}
	}
	return entity
}

// wizardStep is one entry of the wizard's progress list.
type wizardStep struct {
	Label   string
	Current bool
	Done    bool
}

func ssoWizard(current int) []wizardStep {
	labels := []string{"Choose your provider", "Connect it", "Test and activate"}
	out := make([]wizardStep, len(labels))
	for i, l := range labels {
		out[i] = wizardStep{Label: l, Current: i == current, Done: i < current}
	}
	return out
}

func (h *Handler) presets(v *viewer) (map[string]presetJSON, []presetJSON, error) {
	var all list[presetJSON]
	if err := v.api.do("GET", apiPath("sso-presets"), nil, &all); err != nil {
		return nil, nil, err
	}
	byID := make(map[string]presetJSON, len(all.Data))
	for _, p := range all.Data {
		byID[p.ID] = p
	}
	return byID, all.Data, nil
}

// ssoListPage lists the partner's connections.
type ssoListPage struct {
	frame
	Connections []ssoRow
}

type ssoRow struct {
	connectionJSON
	Provider string
}

func (h *Handler) ssoList(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := ssoListPage{frame: h.frame(r, v, "Single sign-on", "sso")}
	byID, _, err := h.presets(v)
	if err != nil {
		return err
	}
	var conns list[connectionJSON]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "sso-connections"), nil, &conns); err != nil {
		return err
	}
	for _, c := range conns.Data {
		name := byID[c.Preset].Name
		if name == "" {
			name = c.Preset
		}
		page.Connections = append(page.Connections, ssoRow{connectionJSON: c, Provider: name})
	}
	return h.render(w, http.StatusOK, "sso", page)
}

// ssoProvidersPage is the wizard's first step.
type ssoProvidersPage struct {
	frame
	Steps   []wizardStep
	Presets []presetJSON
}

func (h *Handler) ssoPickProvider(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := ssoProvidersPage{frame: h.frame(r, v, "Connect an identity provider", "sso"), Steps: ssoWizard(0)}
	var err error
	if _, page.Presets, err = h.presets(v); err != nil {
		return err
	}
	return h.render(w, http.StatusOK, "sso_new", page)
}

// ssoForm is what an admin brings back from the IdP. The client secret
// is not kept: a refused form asks for it again rather than echo it.
type ssoForm struct {
	Name, Domains       string
	JIT                 bool
	Issuer, ClientID    string
	MetadataURL         string
	MetadataXML         string
	EntityID, SSOURL    string
	Certificates        string
	ManualOpen, XMLOpen bool
	ClientSecretRefused bool
}

// ssoSetupPage is the wizard's second step for one provider.
type ssoSetupPage struct {
	frame
	Steps        []wizardStep
	Preset       presetJSON
	Protocol     string
	Other        string
	Instructions []presetStep
	IssuerHints  []string
	MetadataURL  string
	Form         ssoForm
	Errors       map[string]string
}

// ssoFields are the create body's fields the form shows messages beside.
var ssoFields = []string{
	"name", "domains", "jit", "oidc", "oidc.issuer", "oidc.client_id", "oidc.client_secret", "oidc.scopes",
	"saml", "saml.metadata_url", "saml.metadata_xml", "saml.entity_id", "saml.sso_url", "saml.certificates",
	"attribute_mapping.email",
}

func ssoFieldErrors(ae *apiError) map[string]string {
	out := map[string]string{}
	if ae == nil {
		return out
	}
	for _, f := range ssoFields {
		if m := ae.problemFor(f); m != "" {
			out[f] = m
		}
	}
	// A bad entry of a list is named by its index; the form has one field.
	for _, d := range append(ae.Details, problem{Field: ae.Field, Message: ae.Message}) {
		if strings.HasPrefix(d.Field, "domains[") && out["domains"] == "" {
			out["domains"] = d.Message
		}
	}
	return out
}

func (h *Handler) ssoSetupForm(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderSSOSetup(w, r, v, http.StatusOK, r.URL.Query().Get("protocol"), ssoForm{JIT: true}, nil)
}

func (h *Handler) renderSSOSetup(w http.ResponseWriter, r *http.Request, v *viewer, status int, protocol string, form ssoForm, ae *apiError) error {
	var pr presetJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "sso-presets", r.PathValue("preset")), nil, &pr); err != nil {
		return err
	}
	if len(pr.Protocols) == 0 {
		return &apiError{Status: http.StatusNotFound}
	}
	if !slices.Contains(pr.Protocols, protocol) {
		protocol = pr.Protocols[0]
	}
	page := ssoSetupPage{
		frame: h.frame(r, v, "Connect "+pr.Name, "sso"), Steps: ssoWizard(1),
		Preset: pr, Protocol: protocol, Instructions: pr.steps(protocol), Form: form, Errors: ssoFieldErrors(ae),
	}
	page.Problem = ae
	for _, p := range pr.Protocols {
		if p != protocol {
			page.Other = p
		}
	}
	if protocol == "oidc" {
		page.IssuerHints = pr.OIDC.IssuerHints
	} else {
		page.MetadataURL = spMetadataURL(pr.copyFields("saml"))
	}
	page.Form.XMLOpen = form.MetadataXML != "" || page.Errors["saml.metadata_xml"] != ""
	page.Form.ManualOpen = form.EntityID != "" || form.SSOURL != "" || form.Certificates != "" ||
		page.Errors["saml.entity_id"] != "" || page.Errors["saml.sso_url"] != "" || page.Errors["saml.certificates"] != ""
	return h.render(w, status, "sso_setup", page)
}

// ssoSplitList reads a comma or whitespace separated list of a form field.
func ssoSplitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (h *Handler) ssoCreate(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := r.PostForm
	protocol := f.Get("protocol")
	form := ssoForm{
		Name: strings.TrimSpace(f.Get("name")), Domains: strings.TrimSpace(f.Get("domains")), JIT: f.Get("jit") == "on",
		Issuer: strings.TrimSpace(f.Get("issuer")), ClientID: strings.TrimSpace(f.Get("client_id")),
		MetadataURL: strings.TrimSpace(f.Get("metadata_url")), MetadataXML: strings.TrimSpace(f.Get("metadata_xml")),
		EntityID: strings.TrimSpace(f.Get("entity_id")), SSOURL: strings.TrimSpace(f.Get("sso_url")),
		Certificates: strings.TrimSpace(f.Get("certificates")),
	}
	body := map[string]any{
		"name": form.Name, "preset": r.PathValue("preset"), "enabled": false, "jit": form.JIT,
	}
	if domains := ssoSplitList(form.Domains); len(domains) > 0 {
		body["domains"] = domains
	}
	switch protocol {
	case "oidc":
		body["oidc"] = map[string]string{"issuer": form.Issuer, "client_id": form.ClientID, "client_secret": f.Get("client_secret")}
	case "saml":
		// Only the way the admin described the IdP is sent: the API
		// wants exactly one.
		saml := map[string]string{}
		for k, val := range map[string]string{"metadata_url": form.MetadataURL, "metadata_xml": form.MetadataXML, "entity_id": form.EntityID, "sso_url": form.SSOURL, "certificates": form.Certificates} {
			if val != "" {
				saml[k] = val
			}
		}
		body["saml"] = saml
	default:
		return &apiError{Status: http.StatusBadRequest, Code: "bad_form", Message: "The form could not be read."}
	}
	var created connectionJSON
	err := v.api.do("POST", apiPath("partners", v.partnerID, "sso-connections"), body, &created)
	if ae := asRefusal(err); ae != nil {
		form.ClientSecretRefused = f.Get("client_secret") != ""
		return h.renderSSOSetup(w, r, v, ae.Status, protocol, form, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/sso/"+url.PathEscape(created.ID)), noticeConnectionCreated)
}

// failureJSON is one failed sign-in through a connection.
type failureJSON struct {
	Time    time.Time `json:"time"`
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Facts   []struct {
		Label string `json:"label"`
		Value string `json:"value"`
	} `json:"facts"`
	Email string `json:"email"`
	Test  bool   `json:"test"`
}

// ssoConnectionPage is one connection: its settings, the values to paste
// into the IdP, testing, activation and deletion.
type ssoConnectionPage struct {
	frame
	Steps       []wizardStep
	Conn        connectionJSON
	Provider    string
	Copy        []presetField
	MetadataURL string
	Failures    []failureJSON
	// CanRequire says whether the viewer may change the security policy:
	// a setup link reaches SSO but not the policy.
	CanRequire  bool
	SSORequired bool
	// PolicyProblem is the refusal of the policy write of an activation
	// that itself succeeded.
	PolicyProblem *apiError
}

func (h *Handler) ssoConnectionPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderConnection(w, r, v, http.StatusOK, nil, nil)
}

func (h *Handler) connectionPath(v *viewer, r *http.Request, more ...string) string {
	return apiPath(append([]string{"partners", v.partnerID, "sso-connections", r.PathValue("cid")}, more...)...)
}

func (h *Handler) renderConnection(w http.ResponseWriter, r *http.Request, v *viewer, status int, problem, policyProblem *apiError) error {
	page := ssoConnectionPage{frame: h.frame(r, v, "Connection", "sso"), CanRequire: v.kind == partnerAdminViewer, PolicyProblem: policyProblem}
	page.Problem = problem
	if err := v.api.do("GET", h.connectionPath(v, r), nil, &page.Conn); err != nil {
		return err
	}
	page.Title = page.Conn.Name
	if !page.Conn.Enabled {
		page.Steps = ssoWizard(2)
	}
	var pr presetJSON
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "sso-presets", page.Conn.Preset), nil, &pr); err != nil {
		return err
	}
	page.Provider = pr.Name
	protocol := "oidc"
	if page.Conn.SAML != nil {
		protocol = "saml"
	}
	page.Copy = pr.copyFields(protocol)
	if protocol == "saml" {
		if u := spMetadataURL(page.Copy); u != "" {
			// A partner may have several SAML connections, each with its
			// own signing key: the metadata names which.
			page.MetadataURL = u + "?connection=" + url.QueryEscape(page.Conn.ID)
		}
	}
	var failures list[failureJSON]
	if err := v.api.do("GET", h.connectionPath(v, r, "failures")+"?limit=10", nil, &failures); err != nil {
		return err
	}
	page.Failures = failures.Data
	if page.CanRequire {
		var pol struct {
			Policy struct {
				SSORequired bool `json:"sso_required"`
			} `json:"policy"`
		}
		if err := v.api.do("GET", apiPath("partners", v.partnerID, "policy"), nil, &pol); err != nil {
			return err
		}
		page.SSORequired = pol.Policy.SSORequired
	}
	return h.render(w, status, "sso_connection", page)
}

// ssoTestPage hands over the single-use link of a test sign-in.
type ssoTestPage struct {
	frame
	Conn   connectionJSON
	URL    string
	TestID string
}

func (h *Handler) ssoStartTest(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := ssoTestPage{frame: h.frame(r, v, "Test sign-in", "sso")}
	if err := v.api.do("GET", h.connectionPath(v, r), nil, &page.Conn); err != nil {
		return err
	}
	var started struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	err := v.api.do("POST", h.connectionPath(v, r, "test"), nil, &started)
	if ae := asRefusal(err); ae != nil {
		return h.renderConnection(w, r, v, ae.Status, ae, nil)
	}
	if err != nil {
		return err
	}
	page.URL, page.TestID = started.URL, started.ID
	return h.render(w, http.StatusOK, "sso_test", page)
}

// ssoTestResultPage is what a test sign-in found.
type ssoTestResultPage struct {
	frame
	Conn   connectionJSON
	Result testResultJSON
}

type testResultJSON struct {
	ID          string              `json:"id"`
	Status      string              `json:"status"`
	CreatedAt   time.Time           `json:"created_at"`
	CompletedAt time.Time           `json:"completed_at"`
	Subject     string              `json:"subject"`
	Issuer      string              `json:"issuer"`
	Claims      map[string][]string `json:"claims"`
	Profile     *struct {
		Email      string `json:"email"`
		Name       string `json:"name"`
		GivenName  string `json:"given_name"`
		FamilyName string `json:"family_name"`
	} `json:"profile"`
	User *struct {
		ID          string `json:"id"`
		Email       string `json:"email"`
		WouldCreate bool   `json:"would_create"`
	} `json:"user"`
	Groups  []string `json:"groups"`
	Roles   []string `json:"roles"`
	Failure *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Facts   []struct {
			Label string `json:"label"`
			Value string `json:"value"`
		} `json:"facts"`
	} `json:"failure"`
}

func (h *Handler) ssoTestResult(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := ssoTestResultPage{frame: h.frame(r, v, "Test sign-in result", "sso")}
	if err := v.api.do("GET", h.connectionPath(v, r), nil, &page.Conn); err != nil {
		return err
	}
	if err := v.api.do("GET", h.connectionPath(v, r, "tests", r.PathValue("tid")), nil, &page.Result); err != nil {
		return err
	}
	return h.render(w, http.StatusOK, "sso_test_result", page)
}

func (h *Handler) ssoActivate(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("PATCH", h.connectionPath(v, r), map[string]bool{"enabled": true}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderConnection(w, r, v, ae.Status, ae, nil)
	}
	if err != nil {
		return err
	}
	to := v.link("/sso/" + url.PathEscape(r.PathValue("cid")))
	if r.PostForm.Get("require_sso") != "on" || v.kind != partnerAdminViewer {
		return done(w, r, to, noticeConnectionActivated)
	}
	err = h.requireSSO(v)
	if ae := asRefusal(err); ae != nil {
		return h.renderConnection(w, r, v, ae.Status, nil, ae)
	}
	if err != nil {
		return err
	}
	return done(w, r, to, noticeConnectionRequired)
}

// requireSSO sets sso_required in the partner's policy. The API replaces
// the policy whole, so every other field is sent back as it was read.
func (h *Handler) requireSSO(v *viewer) error {
	var cur struct {
		Policy map[string]json.RawMessage `json:"policy"`
	}
	path := apiPath("partners", v.partnerID, "policy")
	if err := v.api.do("GET", path, nil, &cur); err != nil {
		return err
	}
	if cur.Policy == nil {
		cur.Policy = map[string]json.RawMessage{}
	}
	cur.Policy["sso_required"] = json.RawMessage("true")
	return v.api.do("PUT", path, cur.Policy, nil)
}

func (h *Handler) ssoDeactivate(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("PATCH", h.connectionPath(v, r), map[string]bool{"enabled": false}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderConnection(w, r, v, ae.Status, ae, nil)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/sso/"+url.PathEscape(r.PathValue("cid"))), noticeConnectionDeactivated)
}

// ssoDeletePage asks before a connection is deleted.
type ssoDeletePage struct {
	frame
	Conn connectionJSON
}

func (h *Handler) ssoConfirmDelete(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := ssoDeletePage{frame: h.frame(r, v, "Delete connection", "sso")}
	if err := v.api.do("GET", h.connectionPath(v, r), nil, &page.Conn); err != nil {
		return err
	}
	page.Title = "Delete " + page.Conn.Name
	return h.render(w, http.StatusOK, "sso_delete", page)
}

func (h *Handler) ssoDelete(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", h.connectionPath(v, r), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderConnection(w, r, v, ae.Status, ae, nil)
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/sso"), noticeConnectionDeleted)
}
