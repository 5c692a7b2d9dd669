package scim

import (
	"net/http"
	"strings"
	"testing"
)

// A resource naming a schema its type lacks is refused before anything
// is written; one naming none is taken.
func TestUnknownSchemas(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		const custom = "urn:example:params:scim:schemas:extension:custom:2.0:User"
		userID := e.addUser("acme", "dana")
		groupID := e.addGroup(groupJSON("Ops"))
		for _, c := range []struct{ method, path, body, names string }{
			{"POST", "/scim/v2/acme/Users", `{"schemas": ["` + UserSchema + `", "` + custom + `"], "userName": "eve@acme.example"}`, custom},
			{"POST", "/scim/v2/acme/Users", `{"schemas": ["` + GroupSchema + `"], "userName": "eve@acme.example"}`, GroupSchema},
			{"POST", "/scim/v2/acme/Users", `{"userName": "eve@acme.example", "` + custom + `": {"x": 1}}`, custom},
			{"POST", "/scim/v2/acme/Users", `{"schemas": "` + UserSchema + `", "userName": "eve@acme.example"}`, "array"},
			{"PUT", "/scim/v2/acme/Users/" + userID, `{"schemas": ["` + custom + `"], "userName": "dana@acme.example"}`, custom},
			{"POST", "/scim/v2/acme/Groups", `{"schemas": ["` + UserSchema + `"], "displayName": "Eng"}`, UserSchema},
			{"POST", "/scim/v2/acme/Groups", `{"displayName": "Eng", "` + EnterpriseSchema + `": {}}`, EnterpriseSchema},
			{"PUT", "/scim/v2/acme/Groups/" + groupID, `{"schemas": ["` + GroupSchema + `", "` + custom + `"], "displayName": "Eng"}`, custom},
		} {
			rec, res := e.call(acme, c.method, c.path, c.body)
			if detail, _ := res["detail"].(string); rec.Code != http.StatusBadRequest || res["scimType"] != "invalidSyntax" || !strings.Contains(detail, c.names) {
				t.Errorf("%s %s %s: %d %s", c.method, c.path, c.body, rec.Code, rec.Body)
			}
		}
		if rec, list := e.call(acme, "GET", "/scim/v2/acme/Users", ""); list["totalResults"] != float64(1) {
			t.Errorf("users after the refusals: %s", rec.Body)
		}
		if rec, list := e.call(acme, "GET", "/scim/v2/acme/Groups?filter="+urlQuery(`displayName eq "Ops"`), ""); list["totalResults"] != float64(1) {
			t.Errorf("groups after the refusals: %s", rec.Body)
		}
		for path, body := range map[string]string{
			"/scim/v2/acme/Users":  `{"userName": "eve@acme.example", "` + strings.ToLower(EnterpriseSchema) + `": {"department": "Ops"}}`,
			"/scim/v2/acme/Groups": `{"displayName": "Eng"}`,
		} {
			if rec, _ := e.call(acme, "POST", path, body); rec.Code != http.StatusCreated {
				t.Errorf("POST %s without schemas: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}
