package scim

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestRootSearch(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		bob := e.addUser("acme", "bob")
		e.addUser("acme", "amy")
		e.addUser("globex", "gus")
		e.addGroup(groupJSON("Billing", bob))
		e.addGroup(groupJSON("admins"))
		search := func(body string) (int, Resource) {
			t.Helper()
			rec, list := e.call(acme, "POST", "/scim/v2/acme/.search", body)
			return rec.Code, list
		}
		kinds := func(list Resource) []string {
			var out []string
			for _, r := range list["Resources"].([]any) {
				out = append(out, r.(map[string]any)["schemas"].([]any)[0].(string))
			}
			return out
		}
		code, list := search(`{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"]}`)
		if code != http.StatusOK || list["totalResults"] != float64(4) || !slices.Equal(kinds(list), []string{UserSchema, UserSchema, GroupSchema, GroupSchema}) {
			t.Errorf("everything: %d %v", code, list)
		}
		// displayName is an attribute of both; userName of Users only,
		// members of Groups only.
		for body, want := range map[string][]string{
			`{"filter": "displayName sw \"b\"", "sortBy": "displayName"}`:                            {"Billing", "bob"},
			`{"filter": "displayName sw \"b\"", "sortBy": "displayName", "sortOrder": "descending"}`: {"bob", "Billing"},
			`{"filter": "userName sw \"a\""}`:                                                        {"amy"},
			`{"filter": "members.value eq \"` + bob + `\""}`:                                         {"Billing"},
			`{"sortBy": "displayName", "startIndex": 2, "count": 2}`:                                 {"amy", "Billing"},
		} {
			code, list := search(body)
			if got := listed(list, "displayName"); code != http.StatusOK || !slices.Equal(got, want) {
				t.Errorf("%s: %d %v, want %v", body, code, got, want)
			}
		}
		code, list = search(`{"filter": "displayName eq \"Billing\"", "attributes": ["displayName"]}`)
		if res := list["Resources"].([]any)[0].(map[string]any); code != http.StatusOK || res["members"] != nil || res["schemas"] == nil {
			t.Errorf("projected: %d %v", code, list)
		}
		for _, body := range []string{`{"filter": "nosuch eq 1"}`, `{"filter": "userName eq"}`, `{"sortBy": "nosuch"}`} {
			if code, list := search(body); code != http.StatusBadRequest || list["scimType"] == nil {
				t.Errorf("%s: %d %v", body, code, list)
			}
		}
		if rec, _ := e.call(acme, "GET", "/scim/v2/acme/.search", ""); rec.Code/100 != 4 || strings.Contains(rec.Body.String(), "Resources") {
			t.Errorf("GET .search: %d %s", rec.Code, rec.Body)
		}
	})
}
