package portal

import (
	"net/http"

	"github.com/partnergate/partnergate/audit"
)

// overviewPage is a partner admin's start page: the state of their
// users, SSO and SCIM at a glance, what needs attention, and what
// happened last.
type overviewPage struct {
	frame
	Partner     partnerJSON
	Users       int
	MoreUsers   bool
	Suspended   int
	Connections []connectionJSON
	Active      int
	SCIMTokens  int
	LastSCIM    *scimRequestJSON
	Warnings    []string
	Events      []audit.Event
}

// overviewSample is how many users the overview counts before it says
// "more than".
const overviewSample = 200

func (h *Handler) overview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	page := overviewPage{frame: h.frame(r, v, "Overview", "overview")}
	p := v.partnerID
	if err := v.api.do("GET", apiPath("partners", p), nil, &page.Partner); err != nil {
		return err
	}
	var users list[userJSON]
	if err := v.api.do("GET", apiPath("partners", p, "users")+"?limit=200", nil, &users); err != nil {
		return err
	}
	page.Users, page.MoreUsers = len(users.Data), users.NextCursor != ""
	for _, u := range users.Data {
		if !u.Active {
			page.Suspended++
		}
	}
	var conns list[connectionJSON]
	if err := v.api.do("GET", apiPath("partners", p, "sso-connections"), nil, &conns); err != nil {
		return err
	}
	page.Connections = conns.Data
	for _, c := range conns.Data {
		if c.Enabled {
			page.Active++
		}
		for _, cert := range c.CertWarnings() {
			state := "expires " + cert.NotAfter.UTC().Format("2 Jan 2006")
			if cert.Expired {
				state = "has expired"
			}
			page.Warnings = append(page.Warnings, "The signing certificate of "+c.Name+" ("+cert.Subject+") "+state+". Upload the new one under Single sign-on before it does.")
		}
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
	var reqs list[scimRequestJSON]
	if err := v.api.do("GET", apiPath("partners", p, "scim-requests"), nil, &reqs); err != nil {
		return err
	}
	if len(reqs.Data) > 0 {
		page.LastSCIM = &reqs.Data[0]
	}
	if page.Active == 0 {
		page.Warnings = append(page.Warnings, "No identity provider is connected yet: users sign in with passwords only.")
	}
	var events auditPage
	if err := v.api.do("GET", apiPath("partners", p, "audit")+"?limit=8", nil, &events); err != nil {
		return err
	}
	page.Events = events.Events
	return h.render(w, http.StatusOK, "overview", page)
}
