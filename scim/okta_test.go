package scim

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
)

// The requests below are those of Okta's developer guide "SCIM 2.0
// provisioning" (the SCIM protocol reference Okta publishes for SCIM
// app integrations), sent in the order Okta's provisioning sends them,
// with the bodies shaped as Okta shapes them. Only the ids differ: Okta
// echoes the ids this server assigns. The guide's create request also
// carries a password, sent only when the app syncs passwords; it is left
// out here, as the gateway's password rules are tested elsewhere.

// listResponse checks a ListResponse as Okta and Entra read it and
// returns its resources.
func listResponse(t *testing.T, rec *httptest.ResponseRecorder, res Resource, total int) []any {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("list: %d %s", rec.Code, rec.Body)
	}
	if !slices.Equal(stringsOf(res["schemas"]), []string{"urn:ietf:params:scim:api:messages:2.0:ListResponse"}) {
		t.Errorf("list schemas = %v", res["schemas"])
	}
	if res["totalResults"] != float64(total) {
		t.Errorf("totalResults = %v, want %d", res["totalResults"], total)
	}
	resources, ok := res["Resources"].([]any)
	if !ok {
		t.Fatalf("Resources missing or not an array: %v", res)
	}
	return resources
}

// stringsOf returns the strings of a decoded JSON array.
func stringsOf(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, s := range list {
		str, _ := s.(string)
		out = append(out, str)
	}
	return out
}

// wantResource checks the attributes a client reads off every returned
// resource: its schemas, id and meta.resourceType.
func wantResource(t *testing.T, res Resource, resourceType, schemaURN, id string) {
	t.Helper()
	if !slices.Contains(stringsOf(res["schemas"]), schemaURN) {
		t.Errorf("schemas = %v, want %s among them", res["schemas"], schemaURN)
	}
	if id != "" && res["id"] != id {
		t.Errorf("id = %v, want %s", res["id"], id)
	}
	if meta, _ := res["meta"].(map[string]any); meta["resourceType"] != resourceType {
		t.Errorf("meta = %v, want resourceType %s", res["meta"], resourceType)
	}
}

// storedGroups returns the ids of the groups the stored user is in,
// sorted: what the gateway sends upstream.
func (e *env) storedGroups(partner, userID string) []string {
	e.t.Helper()
	u, err := e.store.GetUser(e.t.Context(), partner, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	return slices.Sorted(slices.Values(u.Groups))
}

// oktaUser is the body of Okta's "Create the user" request.
const oktaUser = `{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
	"userName": "test.user@okta.local",
	"name": {
		"givenName": "Test",
		"familyName": "User"
	},
	"emails": [{
		"primary": true,
		"value": "test.user@okta.local",
		"type": "work"
	}],
	"displayName": "Test User",
	"locale": "en-US",
	"externalId": "00ujl29u0le5T6Aj10h7",
	"groups": [],
	"active": true
}`

// oktaProfilePush is the body of Okta's "Update a specific user (PUT)":
// the whole profile, with the id and meta Okta read back, and active as
// given.
func oktaProfilePush(id string, active bool) string {
	return fmt.Sprintf(`{
	"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
	"id": %q,
	"userName": "test.user@okta.local",
	"name": {
		"givenName": "Another",
		"middleName": "",
		"familyName": "User"
	},
	"emails": [{
		"primary": true,
		"value": "test.user@okta.local",
		"type": "work"
	}],
	"displayName": "Another User",
	"locale": "en-US",
	"externalId": "00ujl29u0le5T6Aj10h7",
	"groups": [],
	"active": %t,
	"meta": {"resourceType": "User"}
}`, id, active)
}

// Okta's user provisioning: look the user up by userName, create it,
// read it back, push a profile change with PUT, deactivate with PUT
// active false, reactivate and deactivate again with a path-less PATCH.
func TestOktaUserProvisioning(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		okta := e.tokens["acme"]
		const base = "/scim/v2/acme"

		// "Determine if the user already exists": Okta pages through
		// the match with startIndex and count.
		rec, res := e.call(okta, "GET", base+"/Users?filter="+urlQuery(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", "")
		if got := listResponse(t, rec, res, 0); len(got) != 0 {
			t.Errorf("Resources before the user exists: %v", got)
		}

		// "Create the user".
		rec, created := e.call(okta, "POST", base+"/Users", oktaUser)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		id, _ := created["id"].(string)
		wantResource(t, created, "User", UserSchema, "")
		if id == "" || created["userName"] != "test.user@okta.local" || created["active"] != true || created["externalId"] != "00ujl29u0le5T6Aj10h7" {
			t.Errorf("created user: %v", created)
		}
		if created["locale"] != "en-US" || created["displayName"] != "Test User" {
			t.Errorf("created user lost locale or displayName: %v", created)
		}
		if _, ok := created["password"]; ok {
			t.Error("the response carries a password")
		}

		// The lookup finds it now; Okta reads the id off Resources[0].
		rec, res = e.call(okta, "GET", base+"/Users?filter="+urlQuery(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", "")
		if got := listResponse(t, rec, res, 1); len(got) != 1 || got[0].(map[string]any)["id"] != id {
			t.Errorf("lookup after create: %v", got)
		}
		if res["startIndex"] != float64(1) || res["itemsPerPage"] != float64(1) {
			t.Errorf("paging of the lookup: %v", res)
		}

		// "Retrieve a specific user" (GET /Users/{id}).
		rec, got := e.call(okta, "GET", base+"/Users/"+id, "")
		if rec.Code != http.StatusOK || got["userName"] != "test.user@okta.local" {
			t.Fatalf("get: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, got, "User", UserSchema, id)

		// Import: "Retrieve users" pages through every user.
		rec, res = e.call(okta, "GET", base+"/Users?startIndex=1&count=100", "")
		listResponse(t, rec, res, 1)

		// "Update a specific user (PUT)": a profile push.
		rec, pushed := e.call(okta, "PUT", base+"/Users/"+id, oktaProfilePush(id, true))
		if rec.Code != http.StatusOK {
			t.Fatalf("profile push: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, pushed, "User", UserSchema, id)
		if pushed["displayName"] != "Another User" || pushed["name"].(map[string]any)["givenName"] != "Another" || pushed["active"] != true {
			t.Errorf("after the profile push: %v", pushed)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Name != "Another User" || !u.Active {
			t.Errorf("stored after the profile push: name %q, active %t", u.Name, u.Active)
		}
		if got := e.revoked.list(); len(got) != 0 {
			t.Errorf("a profile push ended sessions: %v", got)
		}

		// Deactivation by PUT: the same profile with active false.
		rec, pushed = e.call(okta, "PUT", base+"/Users/"+id, oktaProfilePush(id, false))
		if rec.Code != http.StatusOK || pushed["active"] != false {
			t.Fatalf("deactivating PUT: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Active {
			t.Error("stored user still active after the deactivating PUT")
		}
		if got := e.revoked.list(); !slices.Equal(got, []string{"acme/" + id}) {
			t.Errorf("revoked %v, want acme/%s", got, id)
		}

		// "Update a specific user (PATCH)": Okta reactivates and
		// deactivates with a path-less replace.
		rec, patched := e.call(okta, "PATCH", base+"/Users/"+id, ops(`{"op": "replace", "value": {"active": true}}`))
		if rec.Code != http.StatusOK || patched["active"] != true {
			t.Fatalf("reactivating PATCH: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, patched, "User", UserSchema, id)
		if u, _ := e.store.GetUser(t.Context(), "acme", id); !u.Active || u.Name != "Another User" {
			t.Errorf("stored after reactivation: active %t, name %q", u.Active, u.Name)
		}
		if got := e.revoked.list(); len(got) != 1 {
			t.Errorf("reactivation ended sessions: %v", got)
		}
		rec, patched = e.call(okta, "PATCH", base+"/Users/"+id, ops(`{"op": "replace", "value": {"active": false}}`))
		if rec.Code != http.StatusOK || patched["active"] != false {
			t.Fatalf("deactivating PATCH: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Active {
			t.Error("stored user still active after the deactivating PATCH")
		}
		if got := e.revoked.list(); !slices.Equal(got, []string{"acme/" + id, "acme/" + id}) {
			t.Errorf("revoked %v, want acme/%s twice", got, id)
		}

		// Okta never deletes users, but a deactivated one is still
		// found by the lookup, so Okta does not create it again.
		rec, res = e.call(okta, "GET", base+"/Users?filter="+urlQuery(`userName eq "test.user@okta.local"`)+"&startIndex=1&count=100", "")
		if got := listResponse(t, rec, res, 1); len(got) != 1 || got[0].(map[string]any)["active"] != false {
			t.Errorf("lookup of the deactivated user: %v", got)
		}
	})
}

// Okta's Group Push, as the guide's group section sends it: look the
// group up by displayName, create it empty, read it, rename it with a
// path-less replace echoing the id, add and remove members, replace
// them, delete the group.
func TestOktaGroupPushSequence(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		okta := e.tokens["acme"]
		const base = "/scim/v2/acme"
		_, u1 := e.call(okta, "POST", base+"/Users", oktaUser)
		user1, _ := u1["id"].(string)
		user2 := e.addUser("acme", "other")

		// "Retrieve groups" filtered by displayName before the push.
		rec, res := e.call(okta, "GET", base+"/Groups?filter="+urlQuery(`displayName eq "Test SCIMv2"`)+"&startIndex=1&count=100", "")
		listResponse(t, rec, res, 0)

		// "Create groups".
		rec, created := e.call(okta, "POST", base+"/Groups", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
			"displayName": "Test SCIMv2",
			"members": []
		}`)
		if rec.Code != http.StatusCreated || created["displayName"] != "Test SCIMv2" {
			t.Fatalf("create group: %d %s", rec.Code, rec.Body)
		}
		gid, _ := created["id"].(string)
		wantResource(t, created, "Group", GroupSchema, "")
		path := base + "/Groups/" + gid

		rec, res = e.call(okta, "GET", base+"/Groups?filter="+urlQuery(`displayName eq "Test SCIMv2"`)+"&startIndex=1&count=100", "")
		if got := listResponse(t, rec, res, 1); len(got) != 1 || got[0].(map[string]any)["id"] != gid {
			t.Errorf("group lookup after create: %v", got)
		}

		// "Retrieve specific groups".
		rec, got := e.call(okta, "GET", path, "")
		if rec.Code != http.StatusOK || got["displayName"] != "Test SCIMv2" {
			t.Fatalf("get group: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, got, "Group", GroupSchema, gid)

		// "Update a specific group name": the value map echoes the id.
		rename := ops(fmt.Sprintf(`{"op": "replace", "value": {"id": %q, "displayName": "Test SCIMv2 renamed"}}`, gid))
		if rec, _ := e.call(okta, "PATCH", path, rename); rec.Code != http.StatusNoContent {
			t.Fatalf("rename: %d %s", rec.Code, rec.Body)
		}
		if _, got := e.call(okta, "GET", path, ""); got["displayName"] != "Test SCIMv2 renamed" {
			t.Errorf("after the rename: %v", got)
		}

		// "Update specific group membership": add, with display.
		add := ops(fmt.Sprintf(`{"op": "add", "path": "members", "value": [{"value": %q, "display": "test.user@okta.local"}, {"value": %q, "display": "other@acme.example"}]}`, user1, user2))
		if rec, _ := e.call(okta, "PATCH", path, add); rec.Code != http.StatusNoContent {
			t.Fatalf("add members: %d %s", rec.Code, rec.Body)
		}
		if _, got := e.call(okta, "GET", path, ""); !slices.Equal(memberValues(got), sorted(user1, user2)) {
			t.Errorf("members after the add: %v", got["members"])
		}
		for _, u := range []string{user1, user2} {
			if got := e.storedGroups("acme", u); !slices.Equal(got, []string{gid}) {
				t.Errorf("groups of %s after the add: %v", u, got)
			}
		}
		_, res = e.call(okta, "GET", base+"/Users/"+user1, "")
		if groups, _ := res["groups"].([]any); len(groups) != 1 || groups[0].(map[string]any)["value"] != gid || groups[0].(map[string]any)["display"] != "Test SCIMv2 renamed" {
			t.Errorf("the user's groups attribute: %v", res["groups"])
		}

		// Remove by a filtered path.
		remove := ops(fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, user2))
		if rec, _ := e.call(okta, "PATCH", path, remove); rec.Code != http.StatusNoContent {
			t.Fatalf("remove member: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", gid); !slices.Equal(got, []string{user1}) {
			t.Errorf("members after the remove: %v", got)
		}
		if got := e.storedGroups("acme", user2); len(got) != 0 {
			t.Errorf("groups of the removed user: %v", got)
		}

		// Okta pushes the whole member list with a replace too.
		replace := ops(fmt.Sprintf(`{"op": "replace", "path": "members", "value": [{"value": %q, "display": "other@acme.example"}]}`, user2))
		if rec, _ := e.call(okta, "PATCH", path, replace); rec.Code != http.StatusNoContent {
			t.Fatalf("replace members: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", gid); !slices.Equal(got, []string{user2}) {
			t.Errorf("members after the replace: %v", got)
		}
		if got := e.storedGroups("acme", user1); len(got) != 0 {
			t.Errorf("groups of the replaced-out user: %v", got)
		}

		// "Delete a specific group".
		if rec, _ := e.call(okta, "DELETE", path, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete group: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(okta, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("deleted group: %d", rec.Code)
		}
		if got := e.storedGroups("acme", user2); len(got) != 0 {
			t.Errorf("groups of a member of the deleted group: %v", got)
		}
		if u, err := e.store.GetUser(t.Context(), "acme", user1); err != nil || !u.Active {
			t.Errorf("a group push changed the user: %+v, %v", u, err)
		}
	})
}
