package portal

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/admin"
)

func (h *Handler) groupRoutes() {
	h.mux.Handle("GET /groups", h.page(h.groupsPage, partnerAdminViewer))
	h.mux.Handle("POST /groups", h.page(h.createGroup, partnerAdminViewer))
	h.mux.Handle("POST /role-mappings", h.page(h.createRoleMapping, partnerAdminViewer))
	h.mux.Handle("POST /role-mappings/{id}/delete", h.page(h.deleteRoleMapping, partnerAdminViewer))
	h.mux.Handle("GET /groups/{id}", h.page(h.groupPage, partnerAdminViewer))
	h.mux.Handle("POST /groups/{id}/rename", h.page(h.renameGroup, partnerAdminViewer))
	h.mux.Handle("POST /groups/{id}/delete", h.page(h.deleteGroup, partnerAdminViewer))
	h.mux.Handle("POST /groups/{id}/members", h.page(h.addMember, partnerAdminViewer))
	h.mux.Handle("POST /groups/{id}/members/{uid}/remove", h.page(h.removeMember, partnerAdminViewer))
}

var (
	noticeGroupCreated   = notice("group_created", "Group created.")
	noticeGroupRenamed   = notice("group_renamed", "Group renamed.")
	noticeGroupDeleted   = notice("group_deleted", "Group deleted.")
	noticeMemberAdded    = notice("member_added", "Member added.")
	noticeMemberRemoved  = notice("member_removed", "Member removed.")
	noticeMappingCreated = notice("role_mapping_created", "Role mapping added. Members get the role on their next request.")
	noticeMappingDeleted = notice("role_mapping_deleted", "Role mapping removed.")
)

type groupJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Members   []string  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
}

type roleMappingJSON struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// maxListPages bounds how many pages of the API a page follows to see a
// whole list (all groups, a user by email), so a huge partner costs a
// bounded number of calls per page view.
const maxListPages = 25

// allGroups lists the partner's groups, up to maxListPages pages of 200.
func allGroups(v *viewer) ([]groupJSON, error) {
	var out []groupJSON
	cursor := ""
	for range maxListPages {
		q := url.Values{"limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page list[groupJSON]
		if err := v.api.do("GET", apiPath("partners", v.partnerID, "groups")+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		out = append(out, page.Data...)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	return out, nil
}

// groupNames maps the partner's group ids to their names.
func groupNames(v *viewer) (map[string]string, error) {
	groups, err := allGroups(v)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(groups))
	for _, g := range groups {
		names[g.ID] = g.Name
	}
	return names, nil
}

// namesOf names the groups of ids, by id when a group is unknown.
func namesOf(ids []string, names map[string]string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, cmp.Or(names[id], id))
	}
	return out
}

func roleMappings(v *viewer) ([]roleMappingJSON, error) {
	var ms list[roleMappingJSON]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "role-mappings"), nil, &ms); err != nil {
		return nil, err
	}
	return ms.Data, nil
}

// groupsPage lists groups and the roles they grant.
type groupsPage struct {
	frame
	Groups   []groupRow
	Mappings []mappingRow
	// The forms' values and the API's refusals of each.
	NewName        string
	CreateProblem  *apiError
	MapGroup       string
	MapRole        string
	MappingProblem *apiError
	AdminRole      string
}

type groupRow struct {
	groupJSON
	Roles []string
}

type mappingRow struct {
	roleMappingJSON
	GroupName string
}

func (h *Handler) groupsPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderGroups(w, r, v, http.StatusOK, groupsPage{})
}

// renderGroups shows the page with the form values and refusals in
// page, which it completes.
func (h *Handler) renderGroups(w http.ResponseWriter, r *http.Request, v *viewer, status int, page groupsPage) error {
	page.frame, page.AdminRole = h.frame(r, v, "Groups and roles", "groups"), admin.PartnerAdminRole
	groups, err := allGroups(v)
	if err != nil {
		return err
	}
	ms, err := roleMappings(v)
	if err != nil {
		return err
	}
	roles := map[string][]string{}
	for _, m := range ms {
		roles[m.Group] = append(roles[m.Group], m.Role)
	}
	names := map[string]string{}
	for _, g := range groups {
		names[g.ID] = g.Name
		page.Groups = append(page.Groups, groupRow{groupJSON: g, Roles: roles[g.ID]})
	}
	for _, m := range ms {
		page.Mappings = append(page.Mappings, mappingRow{roleMappingJSON: m, GroupName: cmp.Or(names[m.Group], m.Group)})
	}
	return h.render(w, status, "groups", page)
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request, v *viewer) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	var g groupJSON
	err := v.api.do("POST", apiPath("partners", v.partnerID, "groups"), map[string]string{"name": name}, &g)
	if ae := asRefusal(err); ae != nil {
		return h.renderGroups(w, r, v, ae.Status, groupsPage{NewName: name, CreateProblem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups/"+url.PathEscape(g.ID)), noticeGroupCreated)
}

func (h *Handler) createRoleMapping(w http.ResponseWriter, r *http.Request, v *viewer) error {
	group := r.PostForm.Get("group")
	role := strings.TrimSpace(r.PostForm.Get("role"))
	err := v.api.do("POST", apiPath("partners", v.partnerID, "role-mappings"), map[string]string{"group": group, "role": role}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderGroups(w, r, v, ae.Status, groupsPage{MapGroup: group, MapRole: role, MappingProblem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups"), noticeMappingCreated)
}

func (h *Handler) deleteRoleMapping(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "role-mappings", r.PathValue("id")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderGroups(w, r, v, ae.Status, groupsPage{MappingProblem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups"), noticeMappingDeleted)
}

// groupPage is one group: its members, its roles, and forms to change
// them.
type groupPage struct {
	frame
	Group   groupJSON
	Roles   []string
	Members []userJSON
	// Next and First page through the members.
	Next, First   string
	Rename        string
	RenameProblem *apiError
	AddEmail      string
	AddProblem    *apiError
}

// membersPageSize is how many members a group page shows at once; each
// is looked up for its name and email.
const membersPageSize = "50"

// groupForms carries what a refused form on the group page sent back.
type groupForms struct {
	rename, addEmail          string
	renameProblem, addProblem *apiError
	problem                   *apiError
}

func (h *Handler) groupPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return h.renderGroup(w, r, v, http.StatusOK, groupForms{})
}

func (h *Handler) renderGroup(w http.ResponseWriter, r *http.Request, v *viewer, status int, f groupForms) error {
	id := r.PathValue("id")
	page := groupPage{frame: h.frame(r, v, "Group", "groups"), Rename: f.rename, RenameProblem: f.renameProblem, AddEmail: f.addEmail, AddProblem: f.addProblem}
	page.Problem = f.problem
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "groups", id), nil, &page.Group); err != nil {
		return err
	}
	page.Title = page.Group.Name
	if page.Rename == "" {
		page.Rename = page.Group.Name
	}
	ms, err := roleMappings(v)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if m.Group == id {
			page.Roles = append(page.Roles, m.Role)
		}
	}
	cursor := r.URL.Query().Get("cursor")
	q := url.Values{"limit": {membersPageSize}}
	if cursor != "" {
		q.Set("cursor", cursor)
		page.First = v.link("/groups/" + url.PathEscape(id))
	}
	var members list[string]
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "groups", id, "members")+"?"+q.Encode(), nil, &members); err != nil {
		return err
	}
	if members.NextCursor != "" {
		page.Next = v.link("/groups/" + url.PathEscape(id) + "?" + url.Values{"cursor": {members.NextCursor}}.Encode())
	}
	for _, uid := range members.Data {
		var u userJSON
		err := v.api.do("GET", apiPath("partners", v.partnerID, "users", uid), nil, &u)
		switch {
		case isStatus(err, http.StatusNotFound):
			// Deleted since the list was read: show the id only.
			u = userJSON{ID: uid, Status: "deleted"}
		case err != nil:
			return err
		}
		page.Members = append(page.Members, u)
	}
	return h.render(w, status, "group", page)
}

func (h *Handler) renameGroup(w http.ResponseWriter, r *http.Request, v *viewer) error {
	name := strings.TrimSpace(r.PostForm.Get("name"))
	err := v.api.do("PATCH", apiPath("partners", v.partnerID, "groups", r.PathValue("id")), map[string]string{"name": name}, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderGroup(w, r, v, ae.Status, groupForms{rename: name, renameProblem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups/"+url.PathEscape(r.PathValue("id"))), noticeGroupRenamed)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request, v *viewer) error {
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "groups", r.PathValue("id")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderGroup(w, r, v, ae.Status, groupForms{problem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups"), noticeGroupDeleted)
}

// addMember finds the user by email through the user search, which
// matches substrings, then adds the exact match by id.
func (h *Handler) addMember(w http.ResponseWriter, r *http.Request, v *viewer) error {
	email := strings.TrimSpace(r.PostForm.Get("email"))
	gid := r.PathValue("id")
	// The group is checked first, so another partner's group id is a 404
	// page rather than a refusal about the email.
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "groups", gid), nil, nil); err != nil {
		return err
	}
	uid, err := userByEmail(v, email)
	if err == nil {
		err = v.api.do("POST", apiPath("partners", v.partnerID, "groups", gid, "members"), map[string][]string{"members": {uid}}, nil)
	}
	if ae := asRefusal(err); ae != nil {
		return h.renderGroup(w, r, v, ae.Status, groupForms{addEmail: email, addProblem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups/"+url.PathEscape(gid)), noticeMemberAdded)
}

// userByEmail is the id of the partner's user with exactly this email
// (ignoring case), or a refusal naming the email field.
func userByEmail(v *viewer, email string) (string, error) {
	if email == "" {
		return "", &apiError{Status: http.StatusUnprocessableEntity, Code: "invalid", Field: "email", Message: "Enter the email of the user to add."}
	}
	cursor := ""
	for range maxListPages {
		q := url.Values{"email": {email}, "limit": {"200"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var users list[userJSON]
		if err := v.api.do("GET", apiPath("partners", v.partnerID, "users")+"?"+q.Encode(), nil, &users); err != nil {
			return "", err
		}
		if i := slices.IndexFunc(users.Data, func(u userJSON) bool { return strings.EqualFold(u.Email, email) }); i >= 0 {
			return users.Data[i].ID, nil
		}
		if cursor = users.NextCursor; cursor == "" {
			break
		}
	}
	return "", &apiError{Status: http.StatusUnprocessableEntity, Code: "not_found", Field: "email", Message: "No user of this partner has the email " + email + ". Invite them first under Users."}
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request, v *viewer) error {
	gid := r.PathValue("id")
	err := v.api.do("DELETE", apiPath("partners", v.partnerID, "groups", gid, "members", r.PathValue("uid")), nil, nil)
	if ae := asRefusal(err); ae != nil {
		return h.renderGroup(w, r, v, ae.Status, groupForms{problem: ae})
	}
	if err != nil {
		return err
	}
	return done(w, r, v.link("/groups/"+url.PathEscape(gid)), noticeMemberRemoved)
}
