package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/scim/filter"
	"github.com/partnergate/partnergate/scim/patch"
	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

const (
	// memberBatch is how many users one AddGroupMembers or
	// RemoveGroupMembers names: each call is one atomic store step over
	// every user it names, which the store asks to keep to about a
	// thousand.
	memberBatch = 1000
	// individualEvents: up to this many users whose membership changed
	// are announced one by one; beyond it, one AccessChanged makes every
	// node drop all of the partner's cached identities, as the admin API
	// does.
	individualEvents = 50
	// auditIDs: up to this many member ids added or removed are listed in
	// the audit event; more are recorded by their number, so that one
	// directory sync cannot write an event of megabytes.
	auditIDs = 100
	// maxNameRunes bounds displayName as the admin API bounds a group's
	// name: both write the same store, and the name reaches upstream apps
	// in X-Auth-Groups.
	maxNameRunes = 200
	// shownIDs bounds how many unknown member ids an error names.
	shownIDs = 20
)

var errGroupNotFound = &schema.Error{Status: http.StatusNotFound, Detail: "group not found"}

// storedGroup is what a Group resource sets on the stored group.
type storedGroup struct {
	Name       string
	ExternalID string
	// Members are the members' user ids, distinct, in the order given.
	Members []string
}

// toStoredGroup reads a Group resource.
func toStoredGroup(res Resource) (storedGroup, error) {
	var sg storedGroup
	name, _ := lookup(res, "displayName").(string)
	switch {
	case strings.TrimSpace(name) == "":
		return sg, invalidValue("displayName is required")
	case utf8.RuneCountInString(name) > maxNameRunes:
		return sg, schema.ErrInvalidValue.Errorf("displayName must be at most %d characters", maxNameRunes)
	case strings.ContainsFunc(name, isUnsafeRune):
		return sg, invalidValue("displayName must not contain control characters")
	}
	sg.Name = name
	sg.ExternalID, _ = lookup(res, "externalId").(string)
	members, err := patch.ParseMembers(lookup(res, "members"))
	if err != nil {
		return sg, err
	}
	sg.Members, err = memberIDs(members)
	return sg, err
}

// memberIDs returns the distinct ids of members, which must be users: the
// gateway maps roles from a user's own groups, so a group nested in
// another would grant nothing.
func memberIDs(members []patch.Member) ([]string, error) {
	ids := make([]string, 0, len(members))
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		if m.Type == "Group" {
			return nil, schema.ErrInvalidValue.Errorf("member %q is a group; the members of a group can only be users", m.Value)
		}
		if !seen[m.Value] {
			seen[m.Value] = true
			ids = append(ids, m.Value)
		}
	}
	return ids, nil
}

func (h *Handler) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.store.GetGroup(r.Context(), partnerOf(r), r.PathValue("id"))
	if err != nil {
		return groupError(err)
	}
	if notModified(w, r, g.UpdatedAt) {
		return nil
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// writeGroup answers a group with its ETag, shaped by the request's
// attributes and excludedAttributes: Okta and Entra exclude members, and
// then they are not read.
func (h *Handler) writeGroup(w http.ResponseWriter, r *http.Request, status int, g store.Group) error {
	proj := queryOf(r).projection(schema.GroupResource)
	res, err := h.renderGroup(r, g, proj.returns("members"))
	if err != nil {
		return err
	}
	w.Header().Set("ETag", version(g.UpdatedAt))
	writeJSON(w, status, proj.apply(res))
	return nil
}

// renderGroup builds a group's resource, with its members if withMembers.
func (h *Handler) renderGroup(r *http.Request, g store.Group, withMembers bool) (Resource, error) {
	var members []any
	if withMembers {
		var err error
		if members, err = h.renderMembers(r, g); err != nil {
			return nil, err
		}
	}
	return groupResource(g, members, location(r, "Groups", g.ID)), nil
}

// renderMembers renders the group's members, reading each one's user for
// the name to display.
func (h *Handler) renderMembers(r *http.Request, g store.Group) ([]any, error) {
	ctx := r.Context()
	var out []any
	err := h.eachMember(ctx, g.PartnerID, g.ID, func(ids []string) error {
		for _, id := range ids {
			u, err := h.store.GetUser(ctx, g.PartnerID, id)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since the page was read
			}
			if err != nil {
				return err
			}
			display := u.Name
			if display == "" {
				display = u.Email
			}
			out = append(out, Resource{"value": u.ID, "display": display, "type": "User", "$ref": location(r, "Users", u.ID)})
		}
		return nil
	})
	return out, err
}

// eachMember calls fn with the group's member ids a page at a time.
func (h *Handler) eachMember(ctx context.Context, partnerID, groupID string, fn func([]string) error) error {
	err := eachPage(func(p store.Page) ([]string, error) { return h.store.ListGroupMembers(ctx, partnerID, groupID, p) },
		func(id string) string { return id }, fn)
	return groupError(err)
}

func (h *Handler) createGroup(w http.ResponseWriter, r *http.Request) error {
	res, err := readResource(w, r)
	if err != nil {
		return err
	}
	if err := checkSchemas(res, schema.GroupResource); err != nil {
		return err
	}
	sg, err := toStoredGroup(res)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := h.now().UTC().Truncate(time.Millisecond)
	g := store.Group{ID: store.NewID("g_"), PartnerID: partnerOf(r), Name: sg.Name, ExternalID: sg.ExternalID, CreatedAt: now, UpdatedAt: now}
	// Checked before the group exists, so that an unknown member leaves
	// nothing behind.
	add, err := h.toAdd(ctx, g, sg.Members)
	if err != nil {
		return err
	}
	if err := h.store.CreateGroup(ctx, g); err != nil {
		return groupError(err)
	}
	if err := h.changeMembers(ctx, g, add, nil); err != nil {
		// A member was deleted since the check: take the group away
		// again, so that the failed request created nothing.
		if err := h.store.DeleteGroup(context.WithoutCancel(ctx), g.PartnerID, g.ID); err != nil {
			h.log.Error("delete group after failed create", zap.String("group", g.ID), zapErr(err))
		}
		// Members of the batches written may have been cached with the
		// group in the meantime.
		h.announce(r, g.PartnerID, true, nil)
		return err
	}
	h.announce(r, g.PartnerID, false, add)
	h.record(r, "scim.group.create", "group", g.ID, groupChanges(store.Group{}, g, add, nil)...)
	w.Header().Set("Location", location(r, "Groups", g.ID))
	return h.writeGroup(w, r, http.StatusCreated, g)
}

// replaceGroup is PUT: displayName, externalId and the member set are
// replaced by what was sent, members left out meaning none. Only the
// difference is written: the stored members are compared with those
// sent a page at a time.
func (h *Handler) replaceGroup(w http.ResponseWriter, r *http.Request) error {
	res, err := readResource(w, r)
	if err != nil {
		return err
	}
	if id, ok := lookup(res, "id").(string); ok && id != r.PathValue("id") {
		return schema.ErrMutability.Errorf("id %q does not match the URL", id)
	}
	if err := checkSchemas(res, schema.GroupResource); err != nil {
		return err
	}
	sg, err := toStoredGroup(res)
	if err != nil {
		return err
	}
	cur, err := h.store.GetGroup(r.Context(), partnerOf(r), r.PathValue("id"))
	if err != nil {
		return groupError(err)
	}
	if err := checkIfMatch(r, cur.UpdatedAt); err != nil {
		return err
	}
	add, remove, err := h.replacement(r.Context(), cur, sg.Members)
	if err != nil {
		return err
	}
	// With If-Match, the write must find the group still at cur's
	// version, the one checked.
	g, changed, err := h.updateGroup(r, cur, sg, add, remove, hasIfMatch(r))
	if err != nil {
		return err
	}
	if changed {
		h.record(r, "scim.group.replace", "group", g.ID, groupChanges(cur, g, add, remove)...)
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// patchGroup applies a PATCH (RFC 7644 §3.5.2) to the group. patch.Apply
// patches the group without its members and folds the operations on
// members into a delta, which is written as such: adding or removing a
// member of a group of 10,000 reads and writes that member alone.
//
// Unless attributes or excludedAttributes ask for the group, the answer
// is 204 No Content, which RFC 7644 §3.5.2 allows and Okta and Entra
// expect: the full resource would list every member, the very read the
// delta avoids.
func (h *Handler) patchGroup(w http.ResponseWriter, r *http.Request) error {
	if err := checkContentType(r); err != nil {
		return err
	}
	req, err := patch.Parse(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		return patchParseError(err)
	}
	cur, err := h.store.GetGroup(r.Context(), partnerOf(r), r.PathValue("id"))
	if err != nil {
		return groupError(err)
	}
	if err := checkIfMatch(r, cur.UpdatedAt); err != nil {
		return err
	}
	before := groupResource(cur, nil, "")
	delete(before, "meta")
	after, changes, err := req.Apply(before, schema.GroupResource)
	if err != nil {
		return err
	}
	sg, err := toStoredGroup(after)
	if err != nil {
		return err
	}
	add, remove, err := h.memberDelta(r.Context(), cur, changes.Members)
	if err != nil {
		return err
	}
	g, changed, err := h.updateGroup(r, cur, sg, add, remove, changes.Modified || hasIfMatch(r))
	if err != nil {
		return err
	}
	if changed {
		h.record(r, "scim.group.patch", "group", g.ID, groupChanges(cur, g, add, remove)...)
	}
	if q := queryOf(r); q.attributes == "" && q.excludedAttributes == "" {
		w.Header().Set("ETag", version(g.UpdatedAt))
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return h.writeGroup(w, r, http.StatusOK, g)
}

// memberDelta turns a PATCH's change to the members into the users to add
// and to remove. Without a replacement it reads only the users named.
func (h *Handler) memberDelta(ctx context.Context, g store.Group, d patch.MemberDelta) (add, remove []string, err error) {
	ids, err := memberIDs(d.Add)
	if err != nil {
		return nil, nil, err
	}
	if d.Replace {
		return h.replacement(ctx, g, ids)
	}
	if add, err = h.toAdd(ctx, g, ids); err != nil {
		return nil, nil, err
	}
	// Removing an id that is no member, or no user, changes nothing
	// rather than failing: Entra retries removals.
	remove, _, _, err = h.membership(ctx, g, d.Remove)
	return add, remove, err
}

// replacement computes what makes the group's members exactly want: the
// stored members not wanted, read a page at a time, are removed, and the
// wanted users not among them added.
func (h *Handler) replacement(ctx context.Context, g store.Group, want []string) (add, remove []string, err error) {
	found := make(map[string]bool, len(want))
	for _, id := range want {
		found[id] = false
	}
	err = h.eachMember(ctx, g.PartnerID, g.ID, func(ids []string) error {
		for _, id := range ids {
			if _, ok := found[id]; ok {
				found[id] = true
			} else {
				remove = append(remove, id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	var missing []string
	for _, id := range want {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	if add, err = h.toAdd(ctx, g, missing); err != nil {
		return nil, nil, err
	}
	return add, remove, nil
}

// toAdd returns those of ids that are not yet members of g. Each must
// name a user of g's partner, the store scoping every read to it;
// otherwise the error names every unknown id, so that the client can fix
// them at once, before anything is written.
func (h *Handler) toAdd(ctx context.Context, g store.Group, ids []string) ([]string, error) {
	_, add, unknown, err := h.membership(ctx, g, ids)
	if err != nil {
		return nil, err
	}
	if len(unknown) > 0 {
		return nil, unknownUsers(unknown)
	}
	return add, nil
}

// membership sorts ids by the users they name: members of g, other users
// of the partner, and ids of no user of the partner. The users' records
// list their groups, so this reads as many records as ids, whatever the
// size of g.
func (h *Handler) membership(ctx context.Context, g store.Group, ids []string) (members, others, unknown []string, err error) {
	for _, id := range ids {
		u, err := h.store.GetUser(ctx, g.PartnerID, id)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = append(unknown, id)
		case err != nil:
			return nil, nil, nil, err
		case slices.Contains(u.Groups, g.ID):
			members = append(members, id)
		default:
			others = append(others, id)
		}
	}
	return members, others, unknown, nil
}

// unknownUsers is the error of member ids that name no user.
func unknownUsers(ids []string) error {
	shown := ids[:min(len(ids), shownIDs)]
	quoted := make([]string, len(shown))
	for i, id := range shown {
		quoted[i] = strconv.Quote(id)
	}
	more := ""
	if len(ids) > shownIDs {
		more = fmt.Sprintf(" and %d more", len(ids)-shownIDs)
	}
	return schema.ErrInvalidValue.Errorf("members must be users of this partner, and these ids name none: %s%s", strings.Join(quoted, ", "), more)
}

// updateGroup stores sg's name and externalId on cur and adds and removes
// the members, the checks all done, so that a refusal (a name or
// externalId taken, 409) comes before anything is written. It reports
// whether anything changed. Any change moves meta.lastModified, a change
// of members too, though the store's membership writes leave the group
// record alone: in SCIM the members are part of the group. If
// ifUnchanged, the fields were computed, or If-Match checked, against
// cur, and a write to the group since it was read fails the update,
// which would otherwise undo that write or slip past the check.
func (h *Handler) updateGroup(r *http.Request, cur store.Group, sg storedGroup, add, remove []string, ifUnchanged bool) (store.Group, bool, error) {
	if sg.Name == cur.Name && sg.ExternalID == cur.ExternalID && len(add) == 0 && len(remove) == 0 {
		return cur, false, nil
	}
	ctx := r.Context()
	now := h.now().UTC().Truncate(time.Millisecond)
	g, err := h.store.UpdateGroup(ctx, cur.PartnerID, cur.ID, func(g store.Group) (store.Group, error) {
		if ifUnchanged && !g.UpdatedAt.Equal(cur.UpdatedAt) {
			return g, store.ErrConflict
		}
		g.Name, g.ExternalID, g.UpdatedAt = sg.Name, sg.ExternalID, now
		return g, nil
	})
	if errors.Is(err, store.ErrConflict) {
		return g, false, &schema.Error{Status: http.StatusPreconditionFailed, Detail: "the group changed while the request was applied; send it again"}
	}
	if err != nil {
		return g, false, groupError(err)
	}
	if err := h.changeMembers(ctx, g, add, remove); err != nil {
		// The batches written before the failure, and the group record,
		// changed access: which users they named is not worth tracking,
		// so every node drops the partner's cached identities.
		h.announce(r, g.PartnerID, true, nil)
		return g, false, err
	}
	h.announce(r, g.PartnerID, g.Name != cur.Name, slices.Concat(add, remove))
	return g, true, nil
}

// changeMembers adds and removes members of g a batch at a time.
func (h *Handler) changeMembers(ctx context.Context, g store.Group, add, remove []string) error {
	for batch := range slices.Chunk(add, memberBatch) {
		err := h.store.AddGroupMembers(ctx, g.PartnerID, g.ID, batch)
		if errors.Is(err, store.ErrNotFound) {
			// The users were checked, so one of them or the group was
			// deleted since.
			if _, _, unknown, err := h.membership(ctx, g, batch); err == nil && len(unknown) > 0 {
				return unknownUsers(unknown)
			}
		}
		if err != nil {
			return groupError(err)
		}
	}
	for batch := range slices.Chunk(remove, memberBatch) {
		if err := h.store.RemoveGroupMembers(ctx, g.PartnerID, g.ID, batch); err != nil {
			return groupError(err)
		}
	}
	return nil
}

// deleteGroup removes the group with its memberships and role mappings.
func (h *Handler) deleteGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := h.store.GetGroup(r.Context(), partnerOf(r), r.PathValue("id"))
	if err != nil {
		return groupError(err)
	}
	// The store has no conditional delete: a write between this read and
	// the delete goes unseen, as it would a moment before the read.
	if err := checkIfMatch(r, g.UpdatedAt); err != nil {
		return err
	}
	if err := h.store.DeleteGroup(r.Context(), g.PartnerID, g.ID); err != nil {
		return groupError(err)
	}
	h.announce(r, g.PartnerID, true, nil)
	h.record(r, "scim.group.delete", "group", g.ID, audit.Change{Field: "displayName", From: g.Name})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// announce tells every node whose access changed, so that the gateway
// applies it on their next request, without a new sign-in. A group
// renamed or deleted changes what all its members send upstream, in
// X-Auth-Groups and through role mappings in X-Auth-Roles: one
// AccessChanged covers them, as it covers more than individualEvents
// users.
func (h *Handler) announce(r *http.Request, partnerID string, wholeGroup bool, userIDs []string) {
	var events []store.Event
	if wholeGroup || len(userIDs) > individualEvents {
		events = append(events, store.Event{Kind: store.AccessChanged, PartnerID: partnerID})
	} else {
		for _, id := range userIDs {
			events = append(events, store.Event{Kind: store.UserChanged, PartnerID: partnerID, ID: id})
		}
	}
	ctx := context.WithoutCancel(r.Context())
	for _, e := range events {
		if err := h.store.Publish(ctx, e); err != nil {
			h.log.Error("publish access change", zapErr(err))
		}
	}
}

// groupChanges lists what a write changed, for the audit trail.
func groupChanges(before, after store.Group, add, remove []string) []audit.Change {
	var out []audit.Change
	for _, f := range []struct{ field, from, to string }{
		{"displayName", before.Name, after.Name},
		{"externalId", before.ExternalID, after.ExternalID},
	} {
		if f.from == f.to {
			continue
		}
		c := audit.Change{Field: f.field}
		if f.from != "" {
			c.From = f.from
		}
		if f.to != "" {
			c.To = f.to
		}
		out = append(out, c)
	}
	for _, m := range []struct {
		field string
		ids   []string
	}{{"members.added", add}, {"members.removed", remove}} {
		switch {
		case len(m.ids) == 0:
		case len(m.ids) <= auditIDs:
			out = append(out, audit.Change{Field: m.field, To: m.ids})
		default:
			out = append(out, audit.Change{Field: m.field, To: len(m.ids)})
		}
	}
	return out
}

func (h *Handler) listGroups(w http.ResponseWriter, r *http.Request) error {
	return h.serveGroupQuery(w, r, queryOf(r))
}

// searchGroups is POST /Groups/.search (RFC 7644 §3.4.3).
func (h *Handler) searchGroups(w http.ResponseWriter, r *http.Request) error {
	q, err := searchQuery(w, r)
	if err != nil {
		return err
	}
	return h.serveGroupQuery(w, r, q)
}

// serveGroupQuery lists the members only of the groups on the page, and
// only if the projection keeps them.
func (h *Handler) serveGroupQuery(w http.ResponseWriter, r *http.Request, q query) error {
	withMembers := q.projection(schema.GroupResource).returns("members")
	return serveList(w, q, schema.GroupResource,
		func(f *filter.Filter) ([]store.Group, error) { return h.matchingGroups(r, f) },
		func(g store.Group) (Resource, error) { return h.renderGroup(r, g, sortsByMembers(q)) },
		func(g store.Group) (Resource, error) { return h.renderGroup(r, g, withMembers) })
}

// matchingGroups returns the groups f matches, in id order. An equality
// on displayName or externalId, which is what Okta and Entra send, is an
// index lookup; any other filter scans this partner's groups, reading
// their members only if the filter does.
func (h *Handler) matchingGroups(r *http.Request, f *filter.Filter) ([]store.Group, error) {
	ctx, partnerID := r.Context(), partnerOf(r)
	withMembers := f != nil && f.Reads("members")
	var out []store.Group
	keep := func(g store.Group) error {
		if f == nil {
			out = append(out, g)
			return nil
		}
		res, err := h.renderGroup(r, g, withMembers)
		if err != nil {
			return err
		}
		if f.Match(res) {
			out = append(out, g)
		}
		return nil
	}
	if f != nil {
		if attr, value, ok := filter.Equality(f); ok {
			get := h.store.GetGroupByExternalID
			if attr == "displayName" {
				get = h.store.GetGroupByName
			}
			g, err := get(ctx, partnerID, value)
			if errors.Is(err, store.ErrNotFound) {
				return nil, nil
			}
			if err != nil {
				return nil, err
			}
			err = keep(g)
			return out, err
		}
	}
	err := eachPage(func(p store.Page) ([]store.Group, error) { return h.store.ListGroups(ctx, partnerID, p) },
		func(g store.Group) string { return g.ID },
		func(batch []store.Group) error {
			for _, g := range batch {
				if err := keep(g); err != nil {
					return err
				}
			}
			return nil
		})
	return out, err
}

func groupError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errGroupNotFound
	case errors.Is(err, store.ErrAlreadyExists):
		return schema.ErrUniqueness.Errorf("displayName or externalId is already used by another group of this partner")
	}
	return err
}
