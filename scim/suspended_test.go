package scim

import (
	"net/http"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// A suspended partner's SCIM token reaches nothing: every endpoint, read
// or write, answers 403 and the partner's users and groups stay as they
// are. The refusals are logged, and resuming lets the client back in.
func TestSuspendedPartner(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		_, created := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON)
		id := created["id"].(string)
		setSuspended := func(suspended bool) {
			t.Helper()
			if _, err := e.store.UpdatePartner(t.Context(), "acme", func(p store.Partner) (store.Partner, error) {
				p.Suspended = suspended
				return p, nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		setSuspended(true)
		e.spy.takeEvents()

		for _, req := range []struct{ method, path, body string }{
			{"GET", "/scim/v2/acme/ServiceProviderConfig", ""},
			{"GET", "/scim/v2/acme/Users", ""},
			{"GET", "/scim/v2/acme/Users/" + id, ""},
			{"POST", "/scim/v2/acme/Users", strings.ReplaceAll(danaJSON, "dana", "eve")},
			{"PUT", "/scim/v2/acme/Users/" + id, strings.Replace(danaJSON, `"active": true`, `"active": false`, 1)},
			{"PATCH", "/scim/v2/acme/Users/" + id, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "active", "value": false}]}`},
			{"DELETE", "/scim/v2/acme/Users/" + id, ""},
			{"POST", "/scim/v2/acme/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"}`},
			{"GET", "/scim/v2/acme/Nowhere", ""},
		} {
			rec, res := e.call(acme, req.method, req.path, req.body)
			if rec.Code != http.StatusForbidden || res["detail"] != "partner suspended" || res["status"] != "403" {
				t.Errorf("%s %s while suspended: %d %s", req.method, req.path, rec.Code, rec.Body)
			}
		}
		users, err := e.store.ListUsers(t.Context(), "acme", store.Page{})
		if err != nil || len(users) != 1 || users[0].ID != id || !users[0].Active {
			t.Errorf("acme's users after the refusals: %+v, %v", users, err)
		}
		if groups, err := e.store.ListGroups(t.Context(), "acme", store.Page{}); err != nil || len(groups) != 0 {
			t.Errorf("acme's groups after the refusals: %+v, %v", groups, err)
		}
		if events, revoked := e.spy.takeEvents(), e.revoked.list(); len(events) != 0 || len(revoked) != 0 {
			t.Errorf("refusals published %v and revoked %v", events, revoked)
		}
		page, err := e.trail.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "scim.request"}, Limit: 1})
		if err != nil || len(page.Events) != 1 || page.Events[0].Outcome != audit.Failure || page.Events[0].Reason != "forbidden" {
			t.Errorf("audit of a refusal: %+v, %v", page.Events, err)
		}
		if rec, _ := e.call(e.tokens["globex"], "GET", "/scim/v2/globex/Users", ""); rec.Code != http.StatusOK {
			t.Errorf("another partner's client: %d %s", rec.Code, rec.Body)
		}

		setSuspended(false)
		if rec, _ := e.call(acme, "GET", "/scim/v2/acme/Users/"+id, ""); rec.Code != http.StatusOK {
			t.Errorf("after resuming: %d %s", rec.Code, rec.Body)
		}
	})
}
