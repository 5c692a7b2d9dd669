package portal

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func apiGroup(e *env, partnerID, id string) groupJSON {
	e.t.Helper()
	var g groupJSON
	e.apiJSON("GET", "/api/v1/partners/"+partnerID+"/groups/"+id, nil, &g)
	return g
}

func TestGroupsAndRoleMappings(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")

		res := b.form("/groups", "/groups", url.Values{"name": {"Support <team>"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("create group: %d\n%s", res.status, res.body)
		}
		loc := res.header.Get("Location")
		gid := strings.TrimSuffix(strings.TrimPrefix(loc, partnerPath+"/groups/"), "?done=group_created")
		page := "/groups/" + gid
		if g := apiGroup(e, "acme", gid); g.Name != "Support <team>" {
			t.Fatalf("created group: %+v", g)
		}
		// A taken name is refused beside the form, which keeps the value.
		res = b.form("/groups", "/groups", url.Values{"name": {"Support <team>"}})
		if res.status != http.StatusConflict || !strings.Contains(res.body, "another group of this partner has this name") || !strings.Contains(res.body, `value="Support &lt;team&gt;"`) {
			t.Errorf("duplicate group: %d\n%s", res.status, res.body)
		}

		res = b.form(page, page+"/members", url.Values{"email": {"BOB@acme.test"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("add member: %d\n%s", res.status, res.body)
		}
		if g := apiGroup(e, "acme", gid); !slices.Equal(g.Members, []string{bob}) {
			t.Errorf("members after add: %v", g.Members)
		}
		res = b.get(page)
		for _, want := range []string{"<h1>Support &lt;team&gt;</h1>", "bob@acme.test", ">bob</a>", "Remove bob@acme.test"} {
			if !strings.Contains(res.body, want) {
				t.Errorf("group page lacks %q", want)
			}
		}
		res = b.form(page, page+"/members", url.Values{"email": {"nobody@acme.test"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "No user of this partner has the email nobody@acme.test") {
			t.Errorf("unknown member: %d\n%s", res.status, res.body)
		}

		res = b.form("/groups", "/role-mappings", url.Values{"group": {gid}, "role": {"support:read"}})
		if res.status != http.StatusSeeOther {
			t.Fatalf("add mapping: %d\n%s", res.status, res.body)
		}
		res = b.get("/groups")
		if !strings.Contains(res.body, "support:read") || !strings.Contains(res.body, "Remove support:read from Support &lt;team&gt;") {
			t.Errorf("groups page lacks the mapping:\n%s", res.body)
		}
		res = b.form("/groups", "/role-mappings", url.Values{"group": {gid}, "role": {"bad role!"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "role may hold only") || !strings.Contains(res.body, `value="bad role!"`) {
			t.Errorf("bad role: %d\n%s", res.status, res.body)
		}
		var ms list[roleMappingJSON]
		e.apiJSON("GET", "/api/v1/partners/acme/role-mappings", nil, &ms)
		var mid string
		for _, m := range ms.Data {
			if m.Group == gid {
				mid = m.ID
			}
		}
		res = b.form("/groups", "/role-mappings/"+mid+"/delete", nil)
		if res.status != http.StatusSeeOther {
			t.Fatalf("remove mapping: %d\n%s", res.status, res.body)
		}
		if got := apiStatusOf(e, "GET", "/api/v1/partners/acme/role-mappings/"+mid); got != http.StatusNotFound {
			t.Errorf("removed mapping answers %d", got)
		}

		res = b.form(page, page+"/rename", url.Values{"name": {"Helpdesk"}})
		if res.status != http.StatusSeeOther || apiGroup(e, "acme", gid).Name != "Helpdesk" {
			t.Errorf("rename: %d\n%s", res.status, res.body)
		}
		res = b.form(page, page+"/members/"+bob+"/remove", nil)
		if res.status != http.StatusSeeOther || len(apiGroup(e, "acme", gid).Members) != 0 {
			t.Errorf("remove member: %d\n%s", res.status, res.body)
		}
		res = b.form(page, page+"/delete", nil)
		if res.status != http.StatusSeeOther || apiStatusOf(e, "GET", "/api/v1/partners/acme/groups/"+gid) != http.StatusNotFound {
			t.Errorf("delete group: %d\n%s", res.status, res.body)
		}
	})
}

func TestPartnerAdminCannotReachAnotherPartnersGroup(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.partner("beta")
		b := e.partnerAdmin("acme", "ann@acme.test")
		e.user("acme", "bob@acme.test")
		var g groupJSON
		e.apiJSON("POST", "/api/v1/partners/beta/groups", map[string]any{"name": "Beta team"}, &g)
		if res := b.get("/groups/" + g.ID); res.status != http.StatusNotFound {
			t.Errorf("GET another partner's group: %d", res.status)
		}
		csrf := csrfOf(t, b.get("/groups").body)
		for _, action := range []string{"rename", "delete", "members"} {
			res := b.post("/groups/"+g.ID+"/"+action, url.Values{"csrf": {csrf}, "name": {"Taken"}, "email": {"bob@acme.test"}})
			if res.status != http.StatusNotFound {
				t.Errorf("POST %s on another partner's group: %d", action, res.status)
			}
		}
		if got := apiGroup(e, "beta", g.ID); got.Name != "Beta team" || len(got.Members) != 0 {
			t.Errorf("another partner's group changed: %+v", got)
		}
	})
}
