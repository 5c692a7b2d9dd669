package admin

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/partnergate/partnergate/session"
)

// sortedIDs returns ids in order, so member lists compare whatever order a
// backend keeps them in.
func sortedIDs(ids ...string) []string {
	return slices.Sorted(slices.Values(ids))
}

func (e *env) members(groupID string) []string {
	e.t.Helper()
	var g groupJSON
	e.mustJSON("GET", "/api/v1/partners/acme/groups/"+groupID, "", http.StatusOK, &g)
	return sortedIDs(g.Members...)
}

// TestGroupMembers covers a group's members: set at creation, added to
// without losing anyone, idempotently, all-or-nothing when a user is
// unknown, and removed one at a time.
func TestGroupMembers(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		var u [4]string
		for i := range u {
			u[i] = e.createUser("acme", fmt.Sprintf(`{"email": "user%d@acme.example"}`, i))
		}
		outsider := e.createUser("globex", `{"email": "user@globex.example"}`)
		groups := "/api/v1/partners/acme/groups"

		rec := e.call("POST", groups, `{"name": "Engineering", "members": ["`+u[0]+`", "`+u[1]+`", "`+u[0]+`"]}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		g := decodeAs[groupJSON](t, rec.Body.Bytes())
		if got, want := rec.Header().Get("Location"), groups+"/"+g.ID; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		if rec.Header().Get("ETag") == "" {
			t.Errorf("no ETag on the created group")
		}
		if g.Name != "Engineering" || !slices.Equal(sortedIDs(g.Members...), sortedIDs(u[0], u[1])) {
			t.Errorf("created %+v, want Engineering with users 0 and 1", g)
		}
		if got := e.members(g.ID); !slices.Equal(got, sortedIDs(u[0], u[1])) {
			t.Errorf("GET shows members %v", got)
		}
		// A member's user record names the group.
		var user userJSON
		e.mustJSON("GET", "/api/v1/partners/acme/users/"+u[0], "", http.StatusOK, &user)
		if !slices.Equal(user.Groups, []string{g.ID}) {
			t.Errorf("user 0's groups = %v, want [%s]", user.Groups, g.ID)
		}

		members := groups + "/" + g.ID + "/members"
		// Adding keeps who was there...
		var added groupJSON
		e.mustJSON("POST", members, `{"members": ["`+u[2]+`"]}`, http.StatusOK, &added)
		want := sortedIDs(u[0], u[1], u[2])
		if !slices.Equal(sortedIDs(added.Members...), want) {
			t.Errorf("after adding user 2 the answer lists %v, want %v", added.Members, want)
		}
		// ...and adding again is harmless.
		e.mustCall("POST", members, `{"members": ["`+u[2]+`", "`+u[0]+`"]}`, http.StatusOK)
		if got := e.members(g.ID); !slices.Equal(got, want) {
			t.Errorf("after adding existing members again: %v, want %v", got, want)
		}
		var page pageJSON[string]
		e.mustJSON("GET", members, "", http.StatusOK, &page)
		if !slices.Equal(sortedIDs(page.Data...), want) || page.NextCursor != nil {
			t.Errorf("member list = %+v, want %v in one page", page, want)
		}

		// An unknown user, or another partner's, fails the whole
		// request and names each bad entry.
		e.unchanged(func() {
			rec := e.call("POST", members, `{"members": ["`+u[3]+`", "u_aaaaaaaaaaaaaaaaaaaa", "`+outsider+`"]}`)
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "members[1]")
			if got := detailFields(t, rec.Body.Bytes()); !slices.Equal(got, []string{"members[1]", "members[2]"}) {
				t.Errorf("details name %v, want members[1] and members[2]", got)
			}
		})
		e.unchanged(func() {
			assertError(t, e.call("POST", members, `{"members": []}`), http.StatusUnprocessableEntity, "validation_failed", "members")
			assertError(t, e.call("POST", members, `{"members": [""]}`), http.StatusUnprocessableEntity, "validation_failed", "members[0]")
			assertError(t, e.call("POST", members, `{"members": "`+u[3]+`"}`), http.StatusBadRequest, "invalid_type", "members")
			assertError(t, e.call("POST", groups+"/g_aaaaaaaaaaaaaaaaaaaa/members", `{"members": ["`+u[3]+`"]}`), http.StatusNotFound, "not_found", "")
		})

		// Removing takes out exactly one member.
		rec = e.call("DELETE", members+"/"+u[1], "")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("remove member = %d %s", rec.Code, rec.Body)
		}
		if got := e.members(g.ID); !slices.Equal(got, sortedIDs(u[0], u[2])) {
			t.Errorf("after removing user 1: %v", got)
		}
		e.unchanged(func() {
			assertError(t, e.call("DELETE", members+"/"+u[1], ""), http.StatusNotFound, "not_found", "")
			assertError(t, e.call("DELETE", members+"/"+u[3], ""), http.StatusNotFound, "not_found", "")
		})
	})
}

// TestGroupNames checks group names are unique within a partner, on
// create and rename, and that a rename shows.
func TestGroupNames(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		groups := "/api/v1/partners/acme/groups"
		var eng, ops groupJSON
		e.mustJSON("POST", groups, `{"name": "Engineering"}`, http.StatusCreated, &eng)
		e.mustJSON("POST", groups, `{"name": "Operations"}`, http.StatusCreated, &ops)
		// Another partner may use the same name.
		e.mustCall("POST", "/api/v1/partners/globex/groups", `{"name": "Engineering"}`, http.StatusCreated)

		e.unchanged(func() {
			assertError(t, e.call("POST", groups, `{"name": "Engineering"}`), http.StatusConflict, "conflict", "name")
			assertError(t, e.call("PATCH", groups+"/"+ops.ID, `{"name": "Engineering"}`), http.StatusConflict, "conflict", "name")
			assertError(t, e.call("PATCH", groups+"/"+ops.ID, `{"members": []}`), http.StatusBadRequest, "read_only_field", "members")
			assertError(t, e.call("POST", groups, `{"name": ""}`), http.StatusUnprocessableEntity, "validation_failed", "name")
		})
		var renamed groupJSON
		e.mustJSON("PATCH", groups+"/"+ops.ID, `{"name": "Ops"}`, http.StatusOK, &renamed)
		if renamed.Name != "Ops" {
			t.Errorf("renamed to %q", renamed.Name)
		}
		// The old name is free again.
		e.mustCall("POST", groups, `{"name": "Operations"}`, http.StatusCreated)

		var list pageJSON[groupJSON]
		e.mustJSON("GET", groups+"?limit=2", "", http.StatusOK, &list)
		if len(list.Data) != 2 || list.NextCursor == nil {
			t.Fatalf("first page = %+v, want 2 groups and a cursor", list)
		}
		var rest pageJSON[groupJSON]
		e.mustJSON("GET", groups+"?limit=2&cursor="+*list.NextCursor, "", http.StatusOK, &rest)
		if len(rest.Data) != 1 || rest.NextCursor != nil {
			t.Errorf("second page = %+v, want the last group and no cursor", rest)
		}
	})
}

// TestGroupCreateWithUnknownMember checks the documented partial
// success: the group is created without members, and the 422 names the
// bad entry and says the group exists.
func TestGroupCreateWithUnknownMember(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		known := e.createUser("acme", `{"email": "a@acme.example"}`)
		e.unchanged(func() {
			rec := e.call("POST", "/api/v1/partners/acme/groups", `{"name": "Engineering", "members": ["`+known+`", "u_aaaaaaaaaaaaaaaaaaaa"]}`)
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "members[1]")
		})
	})
}

// TestGroupETags checks a group's ETag covers its members, so a rename
// or delete conditioned on a version read before a membership change is
// refused.
func TestGroupETags(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		user := e.createUser("acme", `{"email": "a@acme.example"}`)
		var g groupJSON
		e.mustJSON("POST", "/api/v1/partners/acme/groups", `{"name": "Engineering"}`, http.StatusCreated, &g)
		path := "/api/v1/partners/acme/groups/" + g.ID
		stale := e.call("GET", path, "").Header().Get("ETag")
		e.mustCall("POST", path+"/members", `{"members": ["`+user+`"]}`, http.StatusOK)
		current := e.call("GET", path, "").Header().Get("ETag")
		if current == stale || current == "" {
			t.Fatalf("ETag %q did not change with the members (was %q)", current, stale)
		}
		e.unchanged(func() {
			assertError(t, e.do(request{method: "PATCH", path: path, body: `{"name": "Renamed"}`, header: http.Header{"If-Match": {stale}}}),
				http.StatusPreconditionFailed, "precondition_failed", "")
			assertError(t, e.do(request{method: "DELETE", path: path, header: http.Header{"If-Match": {stale}}}),
				http.StatusPreconditionFailed, "precondition_failed", "")
		})
		rec := e.do(request{method: "PATCH", path: path, body: `{"name": "Renamed"}`, header: http.Header{"If-Match": {current}}})
		if rec.Code != http.StatusOK {
			t.Fatalf("PATCH with the current ETag = %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(request{method: "DELETE", path: path, header: http.Header{"If-Match": {rec.Header().Get("ETag")}}}); rec.Code != http.StatusNoContent {
			t.Errorf("DELETE with the current ETag = %d %s", rec.Code, rec.Body)
		}
	})
}

// TestRoleMappings covers the mapping routes: create, list, get, delete,
// and the conflicts and unknown groups they refuse.
func TestRoleMappings(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		var g, other groupJSON
		e.mustJSON("POST", "/api/v1/partners/acme/groups", `{"name": "Engineering"}`, http.StatusCreated, &g)
		e.mustJSON("POST", "/api/v1/partners/globex/groups", `{"name": "Engineering"}`, http.StatusCreated, &other)
		mappings := "/api/v1/partners/acme/role-mappings"

		rec := e.call("POST", mappings, `{"group": "`+g.ID+`", "role": "deploy:prod"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create = %d %s", rec.Code, rec.Body)
		}
		m := decodeAs[roleMappingJSON](t, rec.Body.Bytes())
		if got, want := rec.Header().Get("Location"), mappings+"/"+m.ID; got != want {
			t.Errorf("Location = %q, want %q", got, want)
		}
		want := fmt.Sprintf(`{"id": %q, "group": %q, "role": "deploy:prod", "created_at": %q}`, m.ID, g.ID, testTime)
		assertJSON(t, rec.Body.Bytes(), want)
		assertJSON(t, e.mustCall("GET", mappings+"/"+m.ID, "", http.StatusOK), want)
		e.mustCall("POST", mappings, `{"group": "`+g.ID+`", "role": "viewer"}`, http.StatusCreated)
		var list listJSON[roleMappingJSON]
		e.mustJSON("GET", mappings, "", http.StatusOK, &list)
		roles := []string{}
		for _, rm := range list.Data {
			roles = append(roles, rm.Role)
		}
		if !slices.Equal(sortedIDs(roles...), []string{"deploy:prod", "viewer"}) {
			t.Errorf("listed roles %v", roles)
		}

		e.unchanged(func() {
			assertError(t, e.call("POST", mappings, `{"group": "`+g.ID+`", "role": "viewer"}`), http.StatusConflict, "conflict", "role")
			assertError(t, e.call("POST", mappings, `{"group": "g_aaaaaaaaaaaaaaaaaaaa", "role": "viewer"}`), http.StatusUnprocessableEntity, "validation_failed", "group")
			// Another partner's group is as unknown as a made-up one.
			assertError(t, e.call("POST", mappings, `{"group": "`+other.ID+`", "role": "viewer"}`), http.StatusUnprocessableEntity, "validation_failed", "group")
			assertError(t, e.call("POST", mappings, `{"group": "`+g.ID+`", "role": "two words"}`), http.StatusUnprocessableEntity, "validation_failed", "role")
			rec := e.call("POST", mappings, `{}`)
			assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", "group")
			if got := detailFields(t, rec.Body.Bytes()); !slices.Equal(got, []string{"group", "role"}) {
				t.Errorf("details name %v, want group and role", got)
			}
			assertError(t, e.call("GET", "/api/v1/partners/globex/role-mappings/"+m.ID, ""), http.StatusNotFound, "not_found", "")
		})

		rec = e.call("DELETE", mappings+"/"+m.ID, "")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("delete = %d %s", rec.Code, rec.Body)
		}
		assertError(t, e.call("GET", mappings+"/"+m.ID, ""), http.StatusNotFound, "not_found", "")
		assertError(t, e.call("DELETE", mappings+"/"+m.ID, ""), http.StatusNotFound, "not_found", "")
		// The pair is free again.
		e.mustCall("POST", mappings, `{"group": "`+g.ID+`", "role": "deploy:prod"}`, http.StatusCreated)
		// Deleting a group takes its mappings with it.
		e.mustCall("DELETE", "/api/v1/partners/acme/groups/"+g.ID, "", http.StatusNoContent)
		assertJSON(t, e.mustCall("GET", mappings, "", http.StatusOK), `{"data": []}`)
	})
}

// TestRolesFollowAccessChanges checks what a signed-in user's session
// says about their groups and roles follows every change on the next
// lookup, without signing in again: the admin API announces each change
// and the session cache acts on it.
func TestRolesFollowAccessChanges(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		user := e.createUser("acme", `{"email": "dev@acme.example"}`)
		var g groupJSON
		e.mustJSON("POST", "/api/v1/partners/acme/groups", `{"name": "Engineering"}`, http.StatusCreated, &g)
		var m roleMappingJSON
		e.mustJSON("POST", "/api/v1/partners/acme/role-mappings", `{"group": "`+g.ID+`", "role": "deployer"}`, http.StatusCreated, &m)
		cookie := e.issueSession("acme", user, "192.0.2.20", "dev-browser")
		bus := e.watchBus()

		identity := func() *session.Identity {
			t.Helper()
			bus.settle()
			id, err := e.sessions.Lookup(t.Context(), "acme", cookie)
			if err != nil {
				t.Fatalf("lookup: %v", err)
			}
			return id
		}
		check := func(step string, groups, roles []string) {
			t.Helper()
			id := identity()
			if !slices.Equal(id.Groups, groups) || !slices.Equal(id.Roles, roles) {
				t.Errorf("%s: groups %v roles %v, want groups %v roles %v", step, id.Groups, id.Roles, groups, roles)
			}
		}
		// Looked up once, so later answers would come from the cache
		// if nothing evicted it.
		check("signed in", nil, nil)
		check("again", nil, nil)

		e.mustCall("POST", "/api/v1/partners/acme/groups/"+g.ID+"/members", `{"members": ["`+user+`"]}`, http.StatusOK)
		check("added to the group", []string{"Engineering"}, []string{"deployer"})

		var second roleMappingJSON
		e.mustJSON("POST", "/api/v1/partners/acme/role-mappings", `{"group": "`+g.ID+`", "role": "auditor"}`, http.StatusCreated, &second)
		check("second mapping", []string{"Engineering"}, []string{"auditor", "deployer"})

		e.mustCall("PATCH", "/api/v1/partners/acme/groups/"+g.ID, `{"name": "Platform"}`, http.StatusOK)
		check("group renamed", []string{"Platform"}, []string{"auditor", "deployer"})

		e.mustCall("DELETE", "/api/v1/partners/acme/role-mappings/"+m.ID, "", http.StatusNoContent)
		check("mapping deleted", []string{"Platform"}, []string{"auditor"})

		e.mustCall("DELETE", "/api/v1/partners/acme/groups/"+g.ID+"/members/"+user, "", http.StatusNoContent)
		check("removed from the group", nil, nil)

		e.mustCall("POST", "/api/v1/partners/acme/groups/"+g.ID+"/members", `{"members": ["`+user+`"]}`, http.StatusOK)
		check("added back", []string{"Platform"}, []string{"auditor"})

		e.mustCall("DELETE", "/api/v1/partners/acme/groups/"+g.ID, "", http.StatusNoContent)
		check("group deleted", nil, nil)
	})
}
