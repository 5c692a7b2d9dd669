package scim

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// ops is a PATCH request body with the operations given.
func ops(operations ...string) string {
	return `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [` + strings.Join(operations, ", ") + `]}`
}

// groupJSON is a Group resource with members, given by id.
func groupJSON(displayName string, members ...string) string {
	refs := make([]string, len(members))
	for i, id := range members {
		refs[i] = fmt.Sprintf(`{"value": %q}`, id)
	}
	return fmt.Sprintf(`{"schemas": [%q], "displayName": %q, "members": [%s]}`, GroupSchema, displayName, strings.Join(refs, ", "))
}

// addUser provisions a user of partner through SCIM and returns its id.
func (e *env) addUser(partner, name string) string {
	e.t.Helper()
	rec, res := e.call(e.tokens[partner], "POST", "/scim/v2/"+partner+"/Users",
		fmt.Sprintf(`{"schemas": [%q], "userName": "%s@%s.example", "displayName": %q}`, UserSchema, name, partner, name))
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("create user %s: %d %s", name, rec.Code, rec.Body)
	}
	return res["id"].(string)
}

// addGroup provisions a group of acme through SCIM and returns its id.
func (e *env) addGroup(body string) string {
	e.t.Helper()
	rec, res := e.call(e.tokens["acme"], "POST", "/scim/v2/acme/Groups", body)
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("create group: %d %s", rec.Code, rec.Body)
	}
	return res["id"].(string)
}

// members returns a group's stored member ids, sorted.
func (e *env) members(partner, groupID string) []string {
	e.t.Helper()
	ids, err := e.store.ListGroupMembers(e.t.Context(), partner, groupID, store.Page{})
	if err != nil {
		e.t.Fatal(err)
	}
	return ids
}

// memberValues returns the ids of a Group resource's members, sorted.
func memberValues(res Resource) []string {
	list, _ := res["members"].([]any)
	ids := make([]string, 0, len(list))
	for _, m := range list {
		ids = append(ids, m.(map[string]any)["value"].(string))
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	return slices.Sorted(slices.Values(ids))
}

func userChanged(ids ...string) []store.Event {
	var out []store.Event
	for _, id := range sorted(ids...) {
		out = append(out, store.Event{Kind: store.UserChanged, PartnerID: "acme", ID: id})
	}
	return out
}

var accessChanged = []store.Event{{Kind: store.AccessChanged, PartnerID: "acme"}}

// wantEvents checks the events published since the last check, in any
// order.
func (e *env) wantEvents(want []store.Event) {
	e.t.Helper()
	got := e.spy.takeEvents()
	order := func(a, b store.Event) int { return strings.Compare(string(a.Kind)+a.ID, string(b.Kind)+b.ID) }
	slices.SortFunc(got, order)
	if !slices.Equal(got, want) {
		e.t.Errorf("published %v, want %v", got, want)
	}
}

// groupAudit returns acme's audit events of SCIM group writes, oldest
// first.
func (e *env) groupAudit() []audit.Event {
	e.t.Helper()
	page, err := e.trail.Query(e.t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "scim.group.*"}})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.Reverse(page.Events)
	return page.Events
}

// Okta's Group Push: create with members, rename with a path-less
// replace echoing the id, add and remove members, read the group
// without members, delete.
func TestOktaGroupPush(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		dana, eve := e.addUser("acme", "dana"), e.addUser("acme", "eve")
		e.spy.takeEvents()

		rec, created := e.call(acme, "POST", "/scim/v2/acme/Groups", fmt.Sprintf(`{"schemas": [%q], "displayName": "Engineering",
			"members": [{"value": %q, "display": "whatever Okta thinks"}]}`, GroupSchema, dana))
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		id := created["id"].(string)
		path := "/scim/v2/acme/Groups/" + id
		if rec.Header().Get("Location") != "https://sso.example"+path {
			t.Errorf("Location = %q", rec.Header().Get("Location"))
		}
		wantMember := []any{map[string]any{"value": dana, "display": "dana", "type": "User", "$ref": "https://sso.example/scim/v2/acme/Users/" + dana}}
		meta, _ := created["meta"].(map[string]any)
		if created["displayName"] != "Engineering" || !slices.Equal(created["schemas"].([]any), []any{GroupSchema}) ||
			fmt.Sprint(created["members"]) != fmt.Sprint(wantMember) ||
			meta["resourceType"] != "Group" || meta["location"] != "https://sso.example"+path || meta["version"] != rec.Header().Get("ETag") {
			t.Errorf("created: %v", created)
		}
		e.wantEvents(userChanged(dana))

		// The member's own resource lists the group.
		_, user := e.call(acme, "GET", "/scim/v2/acme/Users/"+dana, "")
		if fmt.Sprint(user["groups"]) != fmt.Sprint([]any{map[string]any{"value": id, "display": "Engineering", "type": "direct"}}) {
			t.Errorf("user's groups: %v", user["groups"])
		}

		rec, _ = e.call(acme, "PATCH", path, ops(fmt.Sprintf(`{"op": "replace", "value": {"id": %q, "displayName": "Engineering EU"}}`, id)))
		if rec.Code != http.StatusNoContent || rec.Header().Get("ETag") == "" {
			t.Fatalf("rename: %d %s", rec.Code, rec.Body)
		}
		if g, _ := e.store.GetGroup(t.Context(), "acme", id); g.Name != "Engineering EU" {
			t.Errorf("stored name %q", g.Name)
		}
		e.wantEvents(accessChanged)

		rec, _ = e.call(acme, "PATCH", path, ops(
			fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q, "display": "eve@acme.example"}]}`, eve),
			fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, dana)))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("members: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", id); !slices.Equal(got, []string{eve}) {
			t.Errorf("members %v, want [%s]", got, eve)
		}
		e.wantEvents(userChanged(dana, eve))

		rec, got := e.call(acme, "GET", path+"?excludedAttributes=members", "")
		if _, ok := got["members"]; rec.Code != http.StatusOK || ok || got["displayName"] != "Engineering EU" || got["id"] != id {
			t.Errorf("without members: %d %s", rec.Code, rec.Body)
		}
		if _, got := e.call(acme, "GET", path, ""); !slices.Equal(memberValues(got), []string{eve}) {
			t.Errorf("with members: %v", got)
		}
		if _, got := e.call(acme, "GET", path+"?attributes=members", ""); !slices.Equal(slices.Sorted(maps.Keys(got)), []string{"id", "members", "schemas"}) {
			t.Errorf("attributes=members: %v", got)
		}

		if rec, _ := e.call(acme, "DELETE", path, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(acme, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("deleted group: %d", rec.Code)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", eve); len(u.Groups) != 0 {
			t.Errorf("former member's groups: %v", u.Groups)
		}
		e.wantEvents(accessChanged)
		trail := e.groupAudit()
		var actions []string
		for _, ev := range trail {
			actions = append(actions, ev.Action)
			if ev.Target != (audit.Target{Type: "group", ID: id}) || ev.Actor.Type != audit.ActorSCIMToken {
				t.Errorf("%s: target %v, actor %v", ev.Action, ev.Target, ev.Actor)
			}
		}
		if want := []string{"scim.group.create", "scim.group.patch", "scim.group.patch", "scim.group.delete"}; !slices.Equal(actions, want) {
			t.Fatalf("audit %v, want %v", actions, want)
		}
		if got, want := fmt.Sprint(trail[2].Changes), fmt.Sprintf("[{members.added <nil> [%s] false} {members.removed <nil> [%s] false}]", eve, dana); got != want {
			t.Errorf("changes of the members PATCH: %s, want %s", got, want)
		}
	})
}

// Microsoft Entra ID looks a group up by name with members excluded,
// adds members several at a time and removes them by value, in both of
// the forms it uses, and retries.
func TestEntraGroupPush(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		u1, u2 := e.addUser("acme", "u1"), e.addUser("acme", "u2")
		byName := "/scim/v2/acme/Groups?excludedAttributes=members&filter=" + urlQuery(`displayName eq "Sales"`)
		if rec, list := e.call(acme, "GET", byName, ""); rec.Code != http.StatusOK || list["totalResults"] != float64(0) {
			t.Fatalf("before: %d %s", rec.Code, rec.Body)
		}
		id := e.addGroup(fmt.Sprintf(`{"schemas": [%q], "externalId": "8aa1a0c0", "displayName": "Sales", "members": []}`, GroupSchema))
		path := "/scim/v2/acme/Groups/" + id
		e.spy.takeEvents()

		rec, _ := e.call(acme, "PATCH", path, ops(fmt.Sprintf(`{"op": "Add", "path": "members", "value": [{"value": %q}, {"value": %q}]}`, u1, u2)))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("add: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", id); !slices.Equal(got, sorted(u1, u2)) {
			t.Errorf("members after add: %v", got)
		}
		e.wantEvents(userChanged(u1, u2))

		for _, q := range []string{byName, "/scim/v2/acme/Groups?excludedAttributes=members&filter=" + urlQuery(`externalId eq "8aa1a0c0"`)} {
			rec, list := e.call(acme, "GET", q, "")
			found, _ := list["Resources"].([]any)
			if rec.Code != http.StatusOK || len(found) != 1 {
				t.Fatalf("%s: %d %s", q, rec.Code, rec.Body)
			}
			if _, ok := found[0].(map[string]any)["members"]; ok || found[0].(map[string]any)["id"] != id {
				t.Errorf("%s found %v", q, found[0])
			}
		}

		rec, _ = e.call(acme, "PATCH", path, ops(fmt.Sprintf(`{"op": "Remove", "path": "members", "value": [{"value": %q}]}`, u1)))
		if got := e.members("acme", id); rec.Code != http.StatusNoContent || !slices.Equal(got, []string{u2}) {
			t.Errorf("remove by value: %d, members %v", rec.Code, got)
		}
		rec, _ = e.call(acme, "PATCH", path, ops(fmt.Sprintf(`{"op": "Remove", "path": "members[value eq \"%s\"]"}`, u2)))
		if got := e.members("acme", id); rec.Code != http.StatusNoContent || len(got) != 0 {
			t.Errorf("remove by filter: %d, members %v", rec.Code, got)
		}
		e.wantEvents(userChanged(u1, u2))

		// Retried, the removal changes nothing and is not announced.
		g, _ := e.store.GetGroup(t.Context(), "acme", id)
		rec, _ = e.call(acme, "PATCH", path, ops(fmt.Sprintf(`{"op": "Remove", "path": "members[value eq \"%s\"]"}`, u2)))
		if after, _ := e.store.GetGroup(t.Context(), "acme", id); rec.Code != http.StatusNoContent || !after.UpdatedAt.Equal(g.UpdatedAt) {
			t.Errorf("retried removal: %d, group %+v", rec.Code, after)
		}
		e.wantEvents(nil)

		rec, _ = e.call(acme, "PATCH", path, ops(`{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}`))
		if g, _ := e.store.GetGroup(t.Context(), "acme", id); rec.Code != http.StatusNoContent || g.Name != "Sales EMEA" {
			t.Errorf("rename: %d, name %q", rec.Code, g.Name)
		}
		e.wantEvents(accessChanged)
	})
}

// PUT replaces the member set: only the difference is written and
// announced.
func TestGroupReplace(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		u1, u2, u3 := e.addUser("acme", "u1"), e.addUser("acme", "u2"), e.addUser("acme", "u3")
		id := e.addGroup(groupJSON("Ops", u1, u2))
		path := "/scim/v2/acme/Groups/" + id
		e.spy.takeEvents()

		rec, res := e.call(acme, "PUT", path, strings.Replace(groupJSON("Ops", u2, u3), "{", fmt.Sprintf(`{"id": %q, "externalId": "x1", `, id), 1))
		if rec.Code != http.StatusOK || res["externalId"] != "x1" || !slices.Equal(memberValues(res), sorted(u2, u3)) {
			t.Fatalf("replace: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", id); !slices.Equal(got, sorted(u2, u3)) {
			t.Errorf("stored members %v", got)
		}
		e.wantEvents(userChanged(u1, u3))

		// Members left out are none; a new name is announced for all.
		rec, res = e.call(acme, "PUT", path, fmt.Sprintf(`{"schemas": [%q], "displayName": "Operations"}`, GroupSchema))
		if _, ok := res["members"]; rec.Code != http.StatusOK || ok || res["externalId"] != nil || len(e.members("acme", id)) != 0 {
			t.Errorf("replace without members: %d %s", rec.Code, rec.Body)
		}
		e.wantEvents(accessChanged)

		before, _ := e.store.GetGroup(t.Context(), "acme", id)
		for name, body := range map[string]string{
			"other id":        strings.Replace(groupJSON("Ops"), "{", `{"id": "g_other", `, 1),
			"no displayName":  fmt.Sprintf(`{"schemas": [%q], "members": []}`, GroupSchema),
			"unknown member":  groupJSON("Renamed", u1, "u_nobody"),
			"group as member": fmt.Sprintf(`{"schemas": [%q], "displayName": "Ops", "members": [{"value": %q, "type": "Group"}]}`, GroupSchema, id),
		} {
			if rec, _ := e.call(acme, "PUT", path, body); rec.Code != http.StatusBadRequest {
				t.Errorf("%s: %d %s", name, rec.Code, rec.Body)
			}
		}
		if after, _ := e.store.GetGroup(t.Context(), "acme", id); after != before || len(e.members("acme", id)) != 0 {
			t.Errorf("refused PUTs changed the group: %+v, members %v", after, e.members("acme", id))
		}
		e.wantEvents(nil)
		if rec, _ := e.call(acme, "PUT", "/scim/v2/acme/Groups/g_nothere", groupJSON("Ops")); rec.Code != http.StatusNotFound {
			t.Errorf("PUT to an unknown group: %d", rec.Code)
		}
	})
}

// Groups are one partner's: another partner's token is refused, and a
// member must be a user of the group's own partner.
func TestGroupPartnerIsolation(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme, globex := e.tokens["acme"], e.tokens["globex"]
		mine, theirs := e.addUser("acme", "dana"), e.addUser("globex", "gus")
		id := e.addGroup(groupJSON("Admins", mine))
		path := "/scim/v2/acme/Groups/" + id
		e.spy.takeEvents()

		for _, req := range []struct{ method, path, body string }{
			{"GET", "/scim/v2/acme/Groups", ""},
			{"GET", path, ""},
			{"POST", "/scim/v2/acme/Groups", groupJSON("Mine now", theirs)},
			{"PUT", path, groupJSON("Admins", theirs)},
			{"PATCH", path, ops(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q}]}`, theirs))},
			{"DELETE", path, ""},
		} {
			if rec, _ := e.call(globex, req.method, req.path, req.body); rec.Code != http.StatusUnauthorized {
				t.Errorf("globex's token on %s %s: %d", req.method, req.path, rec.Code)
			}
		}
		if rec, _ := e.call(globex, "GET", "/scim/v2/globex/Groups/"+id, ""); rec.Code != http.StatusNotFound {
			t.Errorf("acme's group under globex: %d", rec.Code)
		}
		if rec, list := e.call(globex, "GET", "/scim/v2/globex/Groups?filter="+urlQuery(`displayName eq "Admins"`), ""); rec.Code != http.StatusOK || list["totalResults"] != float64(0) {
			t.Errorf("globex finds: %d %s", rec.Code, rec.Body)
		}

		for _, req := range []struct{ method, path, body string }{
			{"PATCH", path, ops(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q}]}`, theirs))},
			{"PUT", path, groupJSON("Admins", mine, theirs)},
			{"POST", "/scim/v2/acme/Groups", groupJSON("Poached", theirs)},
		} {
			rec, _ := e.call(acme, req.method, req.path, req.body)
			if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `"invalidValue"`) || !strings.Contains(rec.Body.String(), theirs) {
				t.Errorf("acme %s with globex's user: %d %s", req.method, rec.Code, rec.Body)
			}
		}
		if got := e.members("acme", id); !slices.Equal(got, []string{mine}) {
			t.Errorf("members %v", got)
		}
		if u, _ := e.store.GetUser(t.Context(), "globex", theirs); len(u.Groups) != 0 {
			t.Errorf("globex's user joined %v", u.Groups)
		}
		if _, err := e.store.GetGroupByName(t.Context(), "acme", "Poached"); err == nil {
			t.Error("a refused POST left its group")
		}
		e.wantEvents(nil)

		// Names are unique within a partner only.
		if rec, _ := e.call(globex, "POST", "/scim/v2/globex/Groups", groupJSON("Admins", theirs)); rec.Code != http.StatusCreated {
			t.Errorf("globex's own Admins: %d %s", rec.Code, rec.Body)
		}
	})
}

// Every refused request leaves the groups, their members and the events
// as they were.
func TestGroupRefusals(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		u1, u2 := e.addUser("acme", "u1"), e.addUser("acme", "u2")
		id := e.addGroup(groupJSON("Admins", u1))
		e.addGroup(fmt.Sprintf(`{"schemas": [%q], "displayName": "Other", "externalId": "ext-other"}`, GroupSchema))
		path := "/scim/v2/acme/Groups/" + id
		before, _ := e.store.GetGroup(t.Context(), "acme", id)
		e.spy.takeEvents()
		huge := groupJSON("Big", strings.Repeat("u", maxBodyBytes))
		add := func(ids ...string) string {
			refs := make([]string, len(ids))
			for i, id := range ids {
				refs[i] = fmt.Sprintf(`{"value": %q}`, id)
			}
			return ops(`{"op": "add", "path": "members", "value": [` + strings.Join(refs, ", ") + `]}`)
		}
		for _, tt := range []struct {
			name, method, path, contentType, body string
			status                                int
			scimType                              string
		}{
			{"no displayName", "POST", "/scim/v2/acme/Groups", "", fmt.Sprintf(`{"schemas": [%q]}`, GroupSchema), 400, "invalidValue"},
			{"blank displayName", "POST", "/scim/v2/acme/Groups", "", groupJSON("  "), 400, "invalidValue"},
			{"control character", "POST", "/scim/v2/acme/Groups", "", groupJSON("A\tB"), 400, "invalidValue"},
			{"taken name in another case", "POST", "/scim/v2/acme/Groups", "", groupJSON("ADMINS"), 409, "uniqueness"},
			{"taken externalId", "POST", "/scim/v2/acme/Groups", "", fmt.Sprintf(`{"schemas": [%q], "displayName": "New", "externalId": "ext-other"}`, GroupSchema), 409, "uniqueness"},
			{"unknown member", "POST", "/scim/v2/acme/Groups", "", groupJSON("New", u2, "u_nobody"), 400, "invalidValue"},
			{"member without value", "POST", "/scim/v2/acme/Groups", "", fmt.Sprintf(`{"schemas": [%q], "displayName": "New", "members": [{"display": "x"}]}`, GroupSchema), 400, "invalidValue"},
			{"not JSON", "POST", "/scim/v2/acme/Groups", "", `{"displayName": `, 400, "invalidSyntax"},
			{"form body", "POST", "/scim/v2/acme/Groups", "application/x-www-form-urlencoded", "displayName=New", 415, ""},
			{"too big", "POST", "/scim/v2/acme/Groups", "", huge, 413, ""},
			{"PATCH too big", "PATCH", path, "", huge, 413, ""},
			{"PATCH form body", "PATCH", path, "text/plain", add(u2), 415, ""},
			{"rename to a taken name", "PATCH", path, "", ops(`{"op": "replace", "path": "displayName", "value": "other"}`), 409, "uniqueness"},
			{"taken externalId by PATCH", "PATCH", path, "", ops(`{"op": "add", "path": "externalId", "value": "ext-other"}`), 409, "uniqueness"},
			{"remove displayName", "PATCH", path, "", ops(`{"op": "remove", "path": "displayName"}`), 400, "invalidValue"},
			{"unknown member added", "PATCH", path, "", add(u2, "u_nobody"), 400, "invalidValue"},
			{"unknown member replaced", "PATCH", path, "", ops(`{"op": "replace", "path": "members", "value": [{"value": "u_nobody"}]}`), 400, "invalidValue"},
			{"members selected by display", "PATCH", path, "", ops(`{"op": "remove", "path": "members[display eq \"u1\"]"}`), 400, "invalidFilter"},
			{"member changed in place", "PATCH", path, "", ops(fmt.Sprintf(`{"op": "replace", "path": "members[value eq \"%s\"].display", "value": "x"}`, u1)), 400, "mutability"},
			{"group as member", "PATCH", path, "", ops(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q, "type": "Group"}]}`, id)), 400, "invalidValue"},
			{"rename and unknown member", "PATCH", path, "", ops(`{"op": "replace", "path": "displayName", "value": "Renamed"}`, `{"op": "add", "path": "members", "value": [{"value": "u_nobody"}]}`), 400, "invalidValue"},
			{"PATCH unknown group", "PATCH", "/scim/v2/acme/Groups/g_nothere", "", add(u2), 404, ""},
			{"GET unknown group", "GET", "/scim/v2/acme/Groups/g_nothere", "", "", 404, ""},
			{"DELETE unknown group", "DELETE", "/scim/v2/acme/Groups/g_nothere", "", "", 404, ""},
			{"bad filter", "GET", "/scim/v2/acme/Groups?filter=" + urlQuery(`displayName eqq "x"`), "", "", 400, "invalidFilter"},
			{"filter on an unknown attribute", "GET", "/scim/v2/acme/Groups?filter=" + urlQuery(`userName eq "x"`), "", "", 400, "invalidFilter"},
			{"bad count", "GET", "/scim/v2/acme/Groups?count=many", "", "", 400, "invalidValue"},
		} {
			contentType := tt.contentType
			if contentType == "" && tt.body != "" {
				contentType = "application/scim+json"
			}
			rec, res := e.send(acme, tt.method, tt.path, contentType, tt.body)
			if rec.Code != tt.status || (res["scimType"] != nil || tt.scimType != "") && res["scimType"] != tt.scimType {
				t.Errorf("%s: %d %s, want %d %s", tt.name, rec.Code, rec.Body, tt.status, tt.scimType)
			}
			if tt.scimType == "invalidValue" && strings.Contains(tt.body, "u_nobody") && !strings.Contains(rec.Body.String(), "u_nobody") {
				t.Errorf("%s: the error does not name the unknown user: %s", tt.name, rec.Body)
			}
		}
		if after, _ := e.store.GetGroup(t.Context(), "acme", id); after != before {
			t.Errorf("group %+v, was %+v", after, before)
		}
		if got := e.members("acme", id); !slices.Equal(got, []string{u1}) {
			t.Errorf("members %v", got)
		}
		if groups, _ := e.store.ListGroups(t.Context(), "acme", store.Page{}); len(groups) != 2 {
			t.Errorf("%d groups after the refusals", len(groups))
		}
		e.wantEvents(nil)
		if got := e.groupAudit(); len(got) != 2 {
			t.Errorf("%d audit events: refusals were recorded", len(got))
		}
	})
}

func TestGroupListing(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		u1 := e.addUser("acme", "u1")
		red, blue := e.addGroup(groupJSON("Team Red", u1)), e.addGroup(groupJSON("Team Blue"))
		e.addGroup(groupJSON("Admins"))
		list := func(query string) ([]string, Resource) {
			t.Helper()
			rec, res := e.call(acme, "GET", "/scim/v2/acme/Groups"+query, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
			}
			var ids []string
			for _, g := range res["Resources"].([]any) {
				ids = append(ids, g.(map[string]any)["id"].(string))
			}
			return ids, res
		}
		if ids, res := list("?count=2"); len(ids) != 2 || res["totalResults"] != float64(3) || res["itemsPerPage"] != float64(2) {
			t.Errorf("first page: %v", res)
		}
		if ids, res := list("?startIndex=3&count=2"); len(ids) != 1 || res["startIndex"] != float64(3) {
			t.Errorf("last page: %v", res)
		}
		if ids, _ := list("?filter=" + urlQuery(`displayName sw "team"`)); !slices.Equal(sorted(ids...), sorted(red, blue)) {
			t.Errorf("scan found %v", ids)
		}
		// A filter on members reads them, though they are not returned.
		if ids, res := list("?excludedAttributes=members&filter=" + urlQuery(fmt.Sprintf(`members[value eq "%s"]`, u1))); !slices.Equal(ids, []string{red}) ||
			res["Resources"].([]any)[0].(map[string]any)["members"] != nil {
			t.Errorf("filter on members: %v", res)
		}
		pages, _ := e.spy.stats()
		if ids, res := list("?excludedAttributes=members"); len(ids) != 3 || strings.Contains(fmt.Sprint(res), u1) {
			t.Errorf("without members: %v", res)
		}
		if after, _ := e.spy.stats(); after != pages {
			t.Errorf("listing groups without members read %d member pages", after-pages)
		}
		if _, res := list("?attributes=displayName&filter=" + urlQuery(`displayName eq "team red"`)); fmt.Sprint(res["Resources"]) != fmt.Sprint([]any{map[string]any{"schemas": []any{GroupSchema}, "id": red, "displayName": "Team Red"}}) {
			t.Errorf("attributes=displayName: %v", res["Resources"])
		}

		rec, res := e.call(acme, "POST", "/scim/v2/acme/Groups/.search", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
			"filter": "displayName eq \"Team Red\"", "excludedAttributes": ["members", "meta"], "startIndex": 1, "count": 10}`)
		found, _ := res["Resources"].([]any)
		if rec.Code != http.StatusOK || len(found) != 1 || !slices.Equal(slices.Sorted(maps.Keys(found[0].(map[string]any))), []string{"displayName", "id", "schemas"}) {
			t.Errorf(".search: %d %s", rec.Code, rec.Body)
		}
	})
}

// A group of more members than one store call takes: writes go in
// batches, large changes are announced at once, and a PATCH adding and
// removing members never reads the member list.
func TestLargeGroup(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		const n = memberBatch + 100
		ids := e.fillUsers(n + 1)
		extra := ids[n]
		ids = ids[:n]
		rec, res := e.call(e.tokens["acme"], "POST", "/scim/v2/acme/Groups", groupJSON("Everyone", ids...))
		if rec.Code != http.StatusCreated || len(memberValues(res)) != n {
			t.Fatalf("create: %d, %d members", rec.Code, len(memberValues(res)))
		}
		id := res["id"].(string)
		path := "/scim/v2/acme/Groups/" + id
		if got := e.members("acme", id); len(got) != n {
			t.Fatalf("%d members stored", len(got))
		}
		e.wantEvents(accessChanged)

		pages, _ := e.spy.stats()
		for _, body := range []string{
			ops(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q}]}`, extra),
				fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, ids[0])),
			ops(`{"op": "replace", "value": {"displayName": "All of us"}}`),
		} {
			if rec, _ := e.call(e.tokens["acme"], "PATCH", path, body); rec.Code != http.StatusNoContent {
				t.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
			}
		}
		if after, _ := e.spy.stats(); after != pages {
			t.Errorf("PATCH read %d pages of members", after-pages)
		}
		e.wantEvents(append(accessChanged, userChanged(ids[0], extra)...))
		if u, _ := e.store.GetUser(t.Context(), "acme", extra); !slices.Equal(u.Groups, []string{id}) {
			t.Errorf("added member's groups: %v", u.Groups)
		}

		// Removing 51 members is announced as one change of access.
		refs := make([]string, individualEvents+1)
		for i := range refs {
			refs[i] = fmt.Sprintf(`{"value": %q}`, ids[1+i])
		}
		if rec, _ := e.call(e.tokens["acme"], "PATCH", path, ops(`{"op": "remove", "path": "members", "value": [`+strings.Join(refs, ",")+`]}`)); rec.Code != http.StatusNoContent {
			t.Fatalf("remove many: %d %s", rec.Code, rec.Body)
		}
		e.wantEvents(accessChanged)

		// PUT back the original membership: a difference of 53 users.
		body := strings.Replace(groupJSON("Everyone", ids...), "{", fmt.Sprintf(`{"id": %q, `, id), 1)
		if rec, _ := e.call(e.tokens["acme"], "PUT", path+"?excludedAttributes=members", body); rec.Code != http.StatusOK {
			t.Fatalf("PUT: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", id); !slices.Equal(got, sorted(ids...)) {
			t.Errorf("after PUT: %d members", len(got))
		}
		if _, maxBatch := e.spy.stats(); maxBatch > memberBatch {
			t.Errorf("one store call named %d users", maxBatch)
		}
		e.wantEvents(accessChanged)
	})
}

// fillUsers creates n users of acme through the store, which is quicker
// than SCIM, and returns their ids.
func (e *env) fillUsers(n int) []string {
	e.t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("u_%05d", i)
		u := store.User{ID: ids[i], PartnerID: "acme", Email: ids[i] + "@acme.example", Name: ids[i], Active: true, CreatedAt: now, UpdatedAt: now}
		if err := e.store.CreateUser(e.t.Context(), u); err != nil {
			e.t.Fatal(err)
		}
	}
	return ids
}

// BenchmarkGroupPatch10k measures a SCIM PATCH adding one member to a
// group of 10,000 and removing another, through the handler. Run it with
//
//	go test ./scim -run '^$' -bench GroupPatch10k
func BenchmarkGroupPatch10k(b *testing.B) {
	for _, backend := range backends {
		b.Run(backend, func(b *testing.B) {
			e := newEnv(b, openStore(b, backend))
			const n = 10_000
			ids := e.fillUsers(n + 1)
			now := time.Now().UTC().Truncate(time.Millisecond)
			g := store.Group{ID: "g_bench", PartnerID: "acme", Name: "Everyone", CreatedAt: now, UpdatedAt: now}
			if err := e.store.CreateGroup(b.Context(), g); err != nil {
				b.Fatal(err)
			}
			for batch := range slices.Chunk(ids[:n], memberBatch) {
				if err := e.store.AddGroupMembers(b.Context(), "acme", g.ID, batch); err != nil {
					b.Fatal(err)
				}
			}
			// Each PATCH undoes the one before, so that every one changes
			// two memberships.
			swap := func(in, out string) string {
				return ops(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q}]}`, in),
					fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, out))
			}
			bodies := []string{swap(ids[n], ids[0]), swap(ids[0], ids[n])}
			path := "/scim/v2/acme/Groups/" + g.ID
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if rec, _ := e.call(e.tokens["acme"], "PATCH", path, bodies[i%2]); rec.Code != http.StatusNoContent {
					b.Fatalf("PATCH: %d %s", rec.Code, rec.Body)
				}
			}
			if pages, _ := e.spy.stats(); pages != 0 {
				b.Errorf("the PATCHes read %d pages of members", pages)
			}
		})
	}
}
