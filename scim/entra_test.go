package scim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The requests below are those of Microsoft's "Tutorial: Develop and
// plan provisioning for a SCIM endpoint in Microsoft Entra ID" (its
// "User Operations" and "Group Operations" request examples), and, where
// the aadOptscim062020 flag changes them, of "Known issues and
// resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra
// user provisioning service". Only the ids differ: Entra echoes the ids
// this server assigns.
//
// The flag is set by appending ?aadOptscim062020 to the tenant URL; the
// flagged requests here carry it as a query parameter, which the server
// must ignore.

const aadFlag = "aadOptscim062020"

// entraUser is the body of the tutorial's "Create User" request: the
// enterprise extension named in schemas without attributes of its own,
// meta sent by the client, active true and an empty roles list.
func entraUser(userName, externalID string) string {
	return fmt.Sprintf(`{
	"schemas": [
		"urn:ietf:params:scim:schemas:core:2.0:User",
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
	"externalId": %q,
	"userName": %q,
	"active": true,
	"emails": [{
		"primary": true,
		"type": "work",
		"value": "%s@testuser.com"
	}],
	"meta": {
		"resourceType": "User"
	},
	"name": {
		"formatted": "givenName familyName",
		"familyName": "familyName",
		"givenName": "givenName"
	},
	"roles": []
}`, externalID, userName, userName)
}

// withFlag appends the aadOptscim062020 flag to a request path.
func withFlag(path string) string {
	if strings.Contains(path, "?") {
		return path + "&" + aadFlag
	}
	return path + "?" + aadFlag
}

// entraCreateUser provisions a user of acme as Entra does, lookup
// first, with the flag if flagged, and returns its id.
func (e *env) entraCreateUser(t *testing.T, flagged bool, userName, externalID string) string {
	t.Helper()
	url := func(path string) string { return path }
	if flagged {
		url = withFlag
	}
	rec, res := e.call(e.tokens["acme"], "GET", url("/scim/v2/acme/Users?filter="+urlQuery(fmt.Sprintf(`userName eq %q`, userName))), "")
	listResponse(t, rec, res, 0)
	rec, created := e.call(e.tokens["acme"], "POST", url("/scim/v2/acme/Users"), entraUser(userName, externalID))
	if rec.Code != http.StatusCreated {
		t.Fatalf("create user %s: %d %s", userName, rec.Code, rec.Body)
	}
	wantResource(t, created, "User", UserSchema, "")
	if created["userName"] != userName || created["active"] != true || created["externalId"] != externalID {
		t.Errorf("created user: %v", created)
	}
	id, _ := created["id"].(string)
	if id == "" {
		t.Fatalf("created user without an id: %v", created)
	}
	return id
}

// Entra's user provisioning without the flag: lookups by userName and
// externalId, create, capitalised Replace ops on a filtered email path
// and on single attributes, a path-less map with dotted keys, "False" as
// a string to deactivate, and delete.
func TestEntraUserProvisioning(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		entra := e.tokens["acme"]
		const base = "/scim/v2/acme"
		const userName = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
		const externalID = "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"

		// "Get User by query - Zero results".
		rec, res := e.call(entra, "GET", base+"/Users?filter="+urlQuery(`userName eq "non-existent user"`), "")
		listResponse(t, rec, res, 0)

		// "Create User", after the lookup the matching attribute asks for.
		id := e.entraCreateUser(t, false, userName, externalID)
		path := base + "/Users/" + id

		// "Get User" and "Get User by query", by userName and by
		// externalId.
		rec, got := e.call(entra, "GET", path, "")
		if rec.Code != http.StatusOK || got["userName"] != userName {
			t.Fatalf("get: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, got, "User", UserSchema, id)
		for _, f := range []string{fmt.Sprintf(`userName eq %q`, userName), fmt.Sprintf(`externalId eq %q`, externalID)} {
			rec, res := e.call(entra, "GET", base+"/Users?filter="+urlQuery(f), "")
			if got := listResponse(t, rec, res, 1); len(got) != 1 || got[0].(map[string]any)["id"] != id {
				t.Errorf("%s: %v", f, got)
			}
		}

		// "Update User [Multi-valued properties]".
		rec, patched := e.call(entra, "PATCH", path, ops(
			`{"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"}`,
			`{"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}`))
		if rec.Code != http.StatusOK {
			t.Fatalf("multi-valued PATCH: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, patched, "User", UserSchema, id)
		if patched["name"].(map[string]any)["familyName"] != "updatedFamilyName" {
			t.Errorf("after the multi-valued PATCH: %v", patched)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); !strings.EqualFold(u.Email, "updatedEmail@microsoft.com") {
			t.Errorf("stored email %q", u.Email)
		}

		// "Update User [Single-valued properties]".
		const newUserName = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
		rec, patched = e.call(entra, "PATCH", path, ops(`{"op": "Replace", "path": "userName", "value": "`+newUserName+`"}`))
		if rec.Code != http.StatusOK || patched["userName"] != newUserName {
			t.Fatalf("single-valued PATCH: %d %s", rec.Code, rec.Body)
		}
		rec, res = e.call(entra, "GET", base+"/Users?filter="+urlQuery(`userName eq "`+newUserName+`"`), "")
		listResponse(t, rec, res, 1)

		// Without the flag, a path-less replace names sub-attributes by
		// dotted keys.
		rec, patched = e.call(entra, "PATCH", path, ops(`{"op": "Replace", "value": {"displayName": "Test User", "name.givenName": "Test"}}`))
		if rec.Code != http.StatusOK || patched["displayName"] != "Test User" {
			t.Fatalf("path-less PATCH: %d %s", rec.Code, rec.Body)
		}
		if name := patched["name"].(map[string]any); name["givenName"] != "Test" || name["familyName"] != "updatedFamilyName" {
			t.Errorf("name after the path-less PATCH: %v", name)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Name != "Test User" || !u.Active {
			t.Errorf("stored after the profile PATCHes: name %q, active %t", u.Name, u.Active)
		}
		if got := e.revoked.list(); len(got) != 0 {
			t.Errorf("profile changes ended sessions: %v", got)
		}

		// "Disable User", without the flag: the boolean as a string.
		rec, patched = e.call(entra, "PATCH", path, ops(`{"op": "Replace", "path": "active", "value": "False"}`))
		if rec.Code != http.StatusOK || patched["active"] != false {
			t.Fatalf("disabling PATCH: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Active {
			t.Error("stored user still active after the disabling PATCH")
		}
		if got := e.revoked.list(); !slices.Equal(got, []string{"acme/" + id}) {
			t.Errorf("revoked %v, want acme/%s", got, id)
		}

		// "Delete User".
		if rec, _ := e.call(entra, "DELETE", path, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(entra, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("deleted user: %d", rec.Code)
		}
		rec, res = e.call(entra, "GET", base+"/Users?filter="+urlQuery(fmt.Sprintf(`externalId eq %q`, externalID)), "")
		listResponse(t, rec, res, 0)
	})
}

// Entra's user provisioning with the aadOptscim062020 flag: lower-case
// ops, a real boolean to disable, and a path-less replace with nested
// complex values.
func TestEntraUserProvisioningCompliant(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		entra := e.tokens["acme"]
		const base = "/scim/v2/acme"
		const userName = "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"
		id := e.entraCreateUser(t, true, userName, "58342554-38d6-4ec8-948c-50044d0a33fd")
		path := withFlag(base + "/Users/" + id)

		rec, res := e.call(entra, "GET", withFlag(base+"/Users?filter="+urlQuery(`externalId eq "58342554-38d6-4ec8-948c-50044d0a33fd"`)), "")
		if got := listResponse(t, rec, res, 1); len(got) != 1 || got[0].(map[string]any)["id"] != id {
			t.Errorf("externalId lookup: %v", got)
		}

		// With the flag, a path-less replace nests complex values; the
		// sub-attributes left out are kept (RFC 7644 §3.5.2.3).
		rec, patched := e.call(entra, "PATCH", path, ops(`{"op": "replace", "value": {"displayName": "Test User", "name": {"givenName": "Test"}}}`))
		if rec.Code != http.StatusOK || patched["displayName"] != "Test User" {
			t.Fatalf("nested path-less PATCH: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, patched, "User", UserSchema, id)
		if name := patched["name"].(map[string]any); name["givenName"] != "Test" || name["familyName"] != "familyName" {
			t.Errorf("name after the nested PATCH: %v", name)
		}
		rec, patched = e.call(entra, "PATCH", path, ops(`{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"}`))
		if rec.Code != http.StatusOK {
			t.Fatalf("email PATCH: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); !strings.EqualFold(u.Email, "updatedEmail@microsoft.com") || u.Name != "Test User" {
			t.Errorf("stored: email %q, name %q", u.Email, u.Name)
		}
		if got := e.revoked.list(); len(got) != 0 {
			t.Errorf("profile changes ended sessions: %v", got)
		}

		// "Disable User" with the flag: a boolean.
		rec, patched = e.call(entra, "PATCH", path, ops(`{"op": "replace", "path": "active", "value": false}`))
		if rec.Code != http.StatusOK || patched["active"] != false {
			t.Fatalf("disabling PATCH: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); u.Active {
			t.Error("stored user still active after the disabling PATCH")
		}
		if got := e.revoked.list(); !slices.Equal(got, []string{"acme/" + id}) {
			t.Errorf("revoked %v, want acme/%s", got, id)
		}

		// Re-enabling ends no session.
		rec, patched = e.call(entra, "PATCH", path, ops(`{"op": "replace", "path": "active", "value": true}`))
		if rec.Code != http.StatusOK || patched["active"] != true {
			t.Fatalf("enabling PATCH: %d %s", rec.Code, rec.Body)
		}
		if u, _ := e.store.GetUser(t.Context(), "acme", id); !u.Active {
			t.Error("stored user inactive after the enabling PATCH")
		}
		if got := e.revoked.list(); len(got) != 1 {
			t.Errorf("enabling ended sessions: %v", got)
		}

		if rec, _ := e.call(entra, "DELETE", path, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(entra, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("deleted user: %d", rec.Code)
		}
	})
}

// Entra's group provisioning: lookup by displayName without members,
// create with Microsoft's own Group schema URN named, read without
// members, add two members in one PATCH with "$ref": null, rename,
// remove a member by value list (flag off) and by filtered path (flag
// on), a retried removal, delete.
func TestEntraGroupProvisioning(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		entra := e.tokens["acme"]
		const base = "/scim/v2/acme"
		user1 := e.entraCreateUser(t, false, "Test_User_1", "ext-1")
		user2 := e.entraCreateUser(t, false, "Test_User_2", "ext-2")
		lookup := base + "/Groups?excludedAttributes=members&filter=" + urlQuery(`displayName eq "displayName"`)

		// "Get Group by displayName" before create.
		rec, res := e.call(entra, "GET", lookup, "")
		listResponse(t, rec, res, 0)

		// "Create Group".
		rec, created := e.call(entra, "POST", base+"/Groups", `{
			"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
			"externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
			"displayName": "displayName",
			"meta": {
				"resourceType": "Group"
			}
		}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create group: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, created, "Group", GroupSchema, "")
		gid, _ := created["id"].(string)
		if created["displayName"] != "displayName" || created["externalId"] != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
			t.Errorf("created group: %v", created)
		}
		path := base + "/Groups/" + gid
		// Microsoft's Group schema tags a Group only.
		if rec, _ := e.call(entra, "POST", base+"/Users", strings.Replace(entraUser("Test_User_3", "ext-3"), `"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"`, `"http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"`, 1)); rec.Code != http.StatusBadRequest {
			t.Errorf("a User naming Microsoft's Group schema: %d %s", rec.Code, rec.Body)
		}

		// "Get Group", without members.
		rec, got := e.call(entra, "GET", path+"?excludedAttributes=members", "")
		if rec.Code != http.StatusOK {
			t.Fatalf("get group: %d %s", rec.Code, rec.Body)
		}
		wantResource(t, got, "Group", GroupSchema, gid)

		// "Update Group [Add Members]": two members in one operation.
		add := ops(fmt.Sprintf(`{"op": "Add", "path": "members", "value": [{"$ref": null, "value": %q}, {"$ref": null, "value": %q}]}`, user1, user2))
		if rec, _ := e.call(entra, "PATCH", path, add); rec.Code != http.StatusNoContent {
			t.Fatalf("add members: %d %s", rec.Code, rec.Body)
		}
		for _, u := range []string{user1, user2} {
			if got := e.storedGroups("acme", u); !slices.Equal(got, []string{gid}) {
				t.Errorf("groups of %s after the add: %v", u, got)
			}
		}
		_, res = e.call(entra, "GET", base+"/Users/"+user2, "")
		if groups, _ := res["groups"].([]any); len(groups) != 1 || groups[0].(map[string]any)["value"] != gid {
			t.Errorf("the user's groups attribute: %v", res["groups"])
		}
		// Entra adds again on a retry: nothing changes, nothing fails.
		if rec, _ := e.call(entra, "PATCH", path, add); rec.Code != http.StatusNoContent {
			t.Fatalf("repeated add: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", gid); !slices.Equal(got, sorted(user1, user2)) {
			t.Errorf("members after the repeated add: %v", got)
		}

		// "Get Group by displayName": found, members left out even though
		// it has some.
		rec, res = e.call(entra, "GET", lookup, "")
		found := listResponse(t, rec, res, 1)
		if len(found) != 1 || found[0].(map[string]any)["id"] != gid {
			t.Fatalf("lookup: %v", found)
		}
		if _, ok := found[0].(map[string]any)["members"]; ok {
			t.Errorf("excludedAttributes=members returned members: %v", found[0])
		}
		rec, res = e.call(entra, "GET", base+"/Groups?excludedAttributes=members&filter="+urlQuery(`externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"`), "")
		listResponse(t, rec, res, 1)

		// "Update Group [Non-member attributes]".
		if rec, _ := e.call(entra, "PATCH", path, ops(`{"op": "Replace", "path": "displayName", "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}`)); rec.Code != http.StatusNoContent {
			t.Fatalf("rename: %d %s", rec.Code, rec.Body)
		}
		_, res = e.call(entra, "GET", base+"/Users/"+user1, "")
		if groups, _ := res["groups"].([]any); len(groups) != 1 || groups[0].(map[string]any)["display"] != "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" {
			t.Errorf("the user's groups attribute after the rename: %v", res["groups"])
		}

		// "Update Group [Remove Members]" without the flag: a value list.
		remove := ops(fmt.Sprintf(`{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": %q}]}`, user1))
		if rec, _ := e.call(entra, "PATCH", path, remove); rec.Code != http.StatusNoContent {
			t.Fatalf("remove member: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", gid); !slices.Equal(got, []string{user2}) {
			t.Errorf("members after the remove: %v", got)
		}
		if got := e.storedGroups("acme", user1); len(got) != 0 {
			t.Errorf("groups of the removed user: %v", got)
		}
		// A retried removal is no error.
		if rec, _ := e.call(entra, "PATCH", path, remove); rec.Code != http.StatusNoContent {
			t.Fatalf("repeated remove: %d %s", rec.Code, rec.Body)
		}

		// With the flag: a filtered path.
		removeFlagged := ops(fmt.Sprintf(`{"op": "remove", "path": "members[value eq \"%s\"]"}`, user2))
		if rec, _ := e.call(entra, "PATCH", withFlag(path), removeFlagged); rec.Code != http.StatusNoContent {
			t.Fatalf("flagged remove: %d %s", rec.Code, rec.Body)
		}
		if got := e.members("acme", gid); len(got) != 0 {
			t.Errorf("members after the flagged remove: %v", got)
		}
		if got := e.storedGroups("acme", user2); len(got) != 0 {
			t.Errorf("groups of the removed user: %v", got)
		}

		// "Delete Group".
		if rec, _ := e.call(entra, "DELETE", path, ""); rec.Code != http.StatusNoContent {
			t.Fatalf("delete group: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(entra, "GET", path, ""); rec.Code != http.StatusNotFound {
			t.Errorf("deleted group: %d", rec.Code)
		}
		for _, u := range []string{user1, user2} {
			if u, err := e.store.GetUser(t.Context(), "acme", u); err != nil || !u.Active {
				t.Errorf("group provisioning changed user: %+v, %v", u, err)
			}
		}
	})
}
