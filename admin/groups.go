package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/store"
)

// Limits of group requests.
const (
	maxMembersPerRequest = 1000
	maxRoleLen           = 100
	maxRoleMappings      = 500
	// individualEvents: up to this many members changed at once are
	// announced one by one; more, and the partner's cached identities are
	// dropped in one event.
	individualEvents = 50
)

var (
	groupCreateFields = fieldSet{
		writable: []string{"name", "members"},
		readOnly: []string{"id", "created_at", "updated_at"},
	}
	groupPatchFields = fieldSet{
		writable: []string{"name"},
		readOnly: []string{"id", "members", "created_at", "updated_at"},
	}
	membersFields = fieldSet{writable: []string{"members"}}
	mappingFields = fieldSet{
		writable: []string{"group", "role"},
		readOnly: []string{"id", "created_at"},
	}
)

// groupJSON is a group on the wire, with its members' user ids.
type groupJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Members   []string  `json:"members"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

type roleMappingJSON struct {
	ID        string    `json:"id"`
	Group     string    `json:"group"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

func toMappingJSON(m store.RoleMapping) roleMappingJSON {
	return roleMappingJSON{ID: m.ID, Group: m.GroupID, Role: m.Role, CreatedAt: m.CreatedAt}
}

func (h *Handler) groupJSON(r *http.Request, g store.Group) (groupJSON, error) {
	members, err := h.store.ListGroupMembers(r.Context(), g.PartnerID, g.ID, store.Page{})
	if err != nil {
		return groupJSON{}, groupError(err)
	}
	return groupJSON{ID: g.ID, Name: g.Name, Members: nonNil(members), CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}, nil
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	q, err := readQuery(r, "limit", "cursor")
	if err != nil {
		return err
	}
	var ps problems
	limit, after := pageParams(q, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	groups, err := h.store.ListGroups(r.Context(), p.ID, store.Page{After: after, Limit: limit})
	if err != nil {
		return err
	}
	out := pageJSON[groupJSON]{Data: make([]groupJSON, 0, len(groups))}
	for _, g := range groups {
		gj, err := h.groupJSON(r, g)
		if err != nil {
			return err
		}
		out.Data = append(out.Data, gj)
	}
	if len(groups) == limit {
		out.NextCursor = encodeCursor(groups[len(groups)-1].ID)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, groupCreateFields)
	if err != nil {
		return err
	}
	name, err := member[string](m, "name")
	if err != nil {
		return err
	}
	members, err := member[[]string](m, "members")
	if err != nil {
		return err
	}
	var ps problems
	ps.add("name", checkName("name", name.val, true))
	checkMemberList(members.val, &ps)
	if len(ps) == 0 {
		// Checked before anything is written, so a bad member list leaves
		// no half-made group behind.
		if err := h.missingUsers(r, p.ID, members.val, &ps); err != nil {
			return err
		}
	}
	if err := ps.err(); err != nil {
		return err
	}
	now := h.timestamp()
	g := store.Group{ID: store.NewID("g_"), PartnerID: p.ID, Name: name.val, CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreateGroup(r.Context(), g); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict("name", "another group of this partner has this name", err)
		}
		return groupError(err)
	}
	noteTarget(r, "group", g.ID, change{Field: "name", To: g.Name})
	if len(members.val) > 0 {
		if err := h.addGroupMembers(r, g, members.val); err != nil {
			// Only a user deleted since the check gets here; the group
			// exists, so say so rather than leave the client guessing.
			var ae *apiError
			if errors.As(err, &ae) {
				// A copy: ae may be a shared value such as errGroupNotFound.
				created := *ae
				created.message = "the group was created without members: " + ae.message
				return &created
			}
			return err
		}
	}
	w.Header().Set("Location", partnerPath(p.ID)+"/groups/"+g.ID)
	return h.writeGroup(w, r, http.StatusCreated, g)
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.group(r)
	if err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// writeGroup answers a group with its members and ETag.
func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g store.Group) error {
	gj, err := h.groupJSON(r, g)
	if err != nil {
		return err
	}
	return writeResource(w, status, gj)
}

// checkGroupPrecondition honours If-Match against the group as a client
// sees it: members are part of the representation the ETag covers.
func (h *Handler) checkGroupPrecondition(r *http.Request, g store.Group) (precondition, error) {
	pre, err := preconditionOf(r)
	if err != nil || !pre.set {
		return pre, err
	}
	gj, err := h.groupJSON(r, g)
	if err != nil {
		return pre, err
	}
	return pre, pre.check(gj)
}

// updateGroup renames; members change through their own endpoints so two
// admins adding different members never overwrite each other.
func (h *Handler) updateGroup(w http.ResponseWriter, r *http.Request) error {
	cur, err := h.group(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, groupPatchFields)
	if err != nil {
		return err
	}
	name, err := member[string](m, "name")
	if err != nil {
		return err
	}
	var ps problems
	if name.set {
		ps.add("name", checkName("name", name.val, true))
	}
	if err := ps.err(); err != nil {
		return err
	}
	pre, err := h.checkGroupPrecondition(r, cur)
	if err != nil {
		return err
	}
	noteTarget(r, "group", cur.ID, change{Field: "name", From: cur.Name, To: name.val})
	now := h.timestamp()
	g, err := h.store.UpdateGroup(r.Context(), cur.PartnerID, cur.ID, func(g store.Group) (store.Group, error) {
		// Checked against what was read above; a rename since then is a
		// newer version than the client saw.
		if pre.set && !g.UpdatedAt.Equal(cur.UpdatedAt) {
			return g, errPreconditionFailed
		}
		if name.set {
			g.Name = name.val
		}
		g.UpdatedAt = now
		return g, nil
	})
	if err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict("name", "another group of this partner has this name", err)
		}
		return groupError(err)
	}
	h.publish(r, store.Event{Kind: store.AccessChanged, PartnerID: g.PartnerID})
	return h.writeGroup(w, r, http.StatusOK, g)
}

func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.group(r)
	if err != nil {
		return err
	}
	if _, err := h.checkGroupPrecondition(r, g); err != nil {
		return err
	}
	noteTarget(r, "group", g.ID, change{Field: "name", From: g.Name})
	if err := h.store.DeleteGroup(r.Context(), g.PartnerID, g.ID); err != nil {
		return groupError(err)
	}
	h.publish(r, store.Event{Kind: store.AccessChanged, PartnerID: g.PartnerID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listMembers(w http.ResponseWriter, r *http.Request) error {
	g, err := h.group(r)
	if err != nil {
		return err
	}
	q, err := readQuery(r, "limit", "cursor")
	if err != nil {
		return err
	}
	var ps problems
	limit, after := pageParams(q, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	ids, err := h.store.ListGroupMembers(r.Context(), g.PartnerID, g.ID, store.Page{After: after, Limit: limit})
	if err != nil {
		return groupError(err)
	}
	out := pageJSON[string]{Data: nonNil(ids)}
	if len(ids) == limit {
		out.NextCursor = encodeCursor(ids[len(ids)-1])
	}
	return writeJSON(w, http.StatusOK, out)
}

// addMembers adds to the group without rewriting its list.
func (h *Handler) addMembers(w http.ResponseWriter, r *http.Request) error {
	g, err := h.group(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, membersFields)
	if err != nil {
		return err
	}
	members, err := member[[]string](m, "members")
	if err != nil {
		return err
	}
	var ps problems
	if !members.set || len(members.val) == 0 {
		ps.add("members", "members must list at least one user id")
	}
	checkMemberList(members.val, &ps)
	if err := ps.err(); err != nil {
		return err
	}
	noteTarget(r, "group", g.ID)
	if err := h.addGroupMembers(r, g, members.val); err != nil {
		return err
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

func (h *Handler) addGroupMembers(r *http.Request, g store.Group, userIDs []string) error {
	ids := slices.Compact(slices.Sorted(slices.Values(userIDs)))
	err := h.store.AddGroupMembers(r.Context(), g.PartnerID, g.ID, ids)
	if errors.Is(err, store.ErrNotFound) {
		// The group was checked; find which users are missing, so the
		// client can fix every one.
		var ps problems
		if err := h.missingUsers(r, g.PartnerID, userIDs, &ps); err != nil {
			return err
		}
		if len(ps) == 0 {
			return errGroupNotFound
		}
		return ps.err()
	}
	if err != nil {
		return err
	}
	noteTarget(r, "group", g.ID, change{Field: "members", To: "+" + strings.Join(ids, ",+")})
	h.announceMembers(r, g.PartnerID, ids)
	return nil
}

// missingUsers adds a problem for each id that names no user of the
// partner.
func (h *Handler) missingUsers(r *http.Request, partnerID string, userIDs []string, ps *problems) error {
	for i, id := range userIDs {
		_, err := h.store.GetUser(r.Context(), partnerID, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			ps.add(fmt.Sprintf("members[%d]", i), fmt.Sprintf("no user %q in this partner", id))
		case err != nil:
			return err
		}
	}
	return nil
}

func (h *Handler) removeMember(w http.ResponseWriter, r *http.Request) error {
	g, err := h.group(r)
	if err != nil {
		return err
	}
	uid := r.PathValue("userId")
	noteTarget(r, "group", g.ID, change{Field: "members", To: "-" + uid})
	// The member's own record says whether they belong; the group's
	// member list has no bound, so it is not read.
	u, err := h.store.GetUser(r.Context(), g.PartnerID, uid)
	switch {
	case errors.Is(err, store.ErrNotFound), err == nil && !slices.Contains(u.Groups, g.ID):
		return &apiError{status: http.StatusNotFound, code: "not_found", message: "the user is not a member of this group"}
	case err != nil:
		return err
	}
	if err := h.store.RemoveGroupMembers(r.Context(), g.PartnerID, g.ID, []string{uid}); err != nil {
		return groupError(err)
	}
	h.announceMembers(r, g.PartnerID, []string{uid})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// announceMembers tells every node the users' roles changed, so the
// change applies on their next request without a new sign-in.
func (h *Handler) announceMembers(r *http.Request, partnerID string, userIDs []string) {
	if len(userIDs) > individualEvents {
		h.publish(r, store.Event{Kind: store.AccessChanged, PartnerID: partnerID})
		return
	}
	for _, id := range userIDs {
		h.publish(r, store.Event{Kind: store.UserChanged, PartnerID: partnerID, ID: id})
	}
}

func checkMemberList(ids []string, ps *problems) {
	if len(ids) > maxMembersPerRequest {
		ps.add("members", fmt.Sprintf("at most %d members per request", maxMembersPerRequest))
		return
	}
	for i, id := range ids {
		if id == "" || len(id) > 64 {
			ps.add(fmt.Sprintf("members[%d]", i), "must be a user id")
		}
	}
}

// group loads the path's group.
func (h *Handler) group(r *http.Request) (store.Group, error) {
	p, err := h.partner(r)
	if err != nil {
		return store.Group{}, err
	}
	g, err := h.store.GetGroup(r.Context(), p.ID, r.PathValue("groupId"))
	if err != nil {
		return store.Group{}, groupError(err)
	}
	return g, nil
}

func groupError(err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return errGroupNotFound
	}
	return err
}

func (h *Handler) listRoleMappings(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	ms, err := h.store.ListRoleMappings(r.Context(), p.ID)
	if err != nil {
		return err
	}
	out := listJSON[roleMappingJSON]{Data: make([]roleMappingJSON, 0, len(ms))}
	for _, m := range ms {
		out.Data = append(out.Data, toMappingJSON(m))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createRoleMapping(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, mappingFields)
	if err != nil {
		return err
	}
	groupID, err := member[string](m, "group")
	if err != nil {
		return err
	}
	role, err := member[string](m, "role")
	if err != nil {
		return err
	}
	var ps problems
	if groupID.val == "" {
		ps.add("group", "group is required")
	}
	ps.add("role", checkRole(role.val))
	if err := ps.err(); err != nil {
		return err
	}
	existing, err := h.store.ListRoleMappings(r.Context(), p.ID)
	if err != nil {
		return err
	}
	if len(existing) >= maxRoleMappings {
		return conflict("", fmt.Sprintf("a partner has at most %d role mappings", maxRoleMappings), nil)
	}
	rm := store.RoleMapping{ID: store.NewID("rm_"), PartnerID: p.ID, GroupID: groupID.val, Role: role.val, CreatedAt: h.timestamp()}
	noteTarget(r, "role_mapping", rm.ID, change{Field: "group", To: rm.GroupID}, change{Field: "role", To: rm.Role})
	if err := h.store.CreateRoleMapping(r.Context(), rm); err != nil {
		switch {
		case errors.Is(err, store.ErrNotFound):
			var ps problems
			ps.add("group", "no such group in this partner")
			return ps.err()
		case errors.Is(err, store.ErrAlreadyExists):
			return conflict("role", "this group already maps to this role", err)
		}
		return err
	}
	h.publish(r, store.Event{Kind: store.AccessChanged, PartnerID: p.ID})
	w.Header().Set("Location", partnerPath(p.ID)+"/role-mappings/"+rm.ID)
	return writeResource(w, http.StatusCreated, toMappingJSON(rm))
}

func (h *Handler) getRoleMapping(w http.ResponseWriter, r *http.Request) error {
	rm, err := h.roleMapping(r)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, toMappingJSON(rm))
}

func (h *Handler) deleteRoleMapping(w http.ResponseWriter, r *http.Request) error {
	rm, err := h.roleMapping(r)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, toMappingJSON(rm)); err != nil {
		return err
	}
	noteTarget(r, "role_mapping", rm.ID, change{Field: "role", From: rm.Role})
	if err := h.store.DeleteRoleMapping(r.Context(), rm.PartnerID, rm.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errMappingNotFound
		}
		return err
	}
	h.publish(r, store.Event{Kind: store.AccessChanged, PartnerID: rm.PartnerID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) roleMapping(r *http.Request) (store.RoleMapping, error) {
	p, err := h.partner(r)
	if err != nil {
		return store.RoleMapping{}, err
	}
	rm, err := h.store.GetRoleMapping(r.Context(), p.ID, r.PathValue("mappingId"))
	if errors.Is(err, store.ErrNotFound) {
		return store.RoleMapping{}, errMappingNotFound
	}
	return rm, err
}

// checkRole keeps role names to what apps compare literally: no spaces,
// commas or control characters that headers would have to encode.
func checkRole(role string) string {
	if role == "" {
		return "role is required"
	}
	if len(role) > maxRoleLen {
		return fmt.Sprintf("role must be at most %d characters", maxRoleLen)
	}
	for _, c := range role {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.ContainsRune("_-.:/", c):
		default:
			return "role may hold only letters, digits and _ - . : /"
		}
	}
	return ""
}
