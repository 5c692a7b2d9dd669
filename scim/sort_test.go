package scim

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// listed returns the values of attr of a ListResponse's resources, in
// order.
func listed(list Resource, attr string) []string {
	var out []string
	resources, _ := list["Resources"].([]any)
	for _, r := range resources {
		v, _ := r.(map[string]any)[attr].(string)
		out = append(out, v)
	}
	return out
}

func TestSort(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		for _, u := range []struct{ name, externalID string }{{"carol", "3"}, {"Alice", ""}, {"bob", "1"}, {"dave", ""}} {
			rec, _ := e.call(acme, "POST", "/scim/v2/acme/Users", fmt.Sprintf(`{"userName": "%s@acme.example", "externalId": %q}`, u.name, u.externalID))
			if rec.Code != http.StatusCreated {
				t.Fatalf("create %s: %d %s", u.name, rec.Code, rec.Body)
			}
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			// userName is not caseExact: Alice sorts first.
			{"sortBy=userName", []string{"Alice@acme.example", "bob@acme.example", "carol@acme.example", "dave@acme.example"}},
			{"sortBy=USERNAME&sortOrder=descending", []string{"dave@acme.example", "carol@acme.example", "bob@acme.example", "Alice@acme.example"}},
			{"sortBy=userName&startIndex=2&count=2", []string{"bob@acme.example", "carol@acme.example"}},
			{"sortBy=emails&count=1", []string{"Alice@acme.example"}},
		} {
			rec, list := e.call(acme, "GET", "/scim/v2/acme/Users?"+c.query, "")
			if got := listed(list, "userName"); rec.Code != http.StatusOK || !slices.Equal(got, c.want) {
				t.Errorf("%s: %d %v, want %v", c.query, rec.Code, got, c.want)
			}
		}
		// Users without an externalId come last ascending, first
		// descending, in id order among themselves either way.
		_, asc := e.call(acme, "GET", "/scim/v2/acme/Users?sortBy=externalId", "")
		_, desc := e.call(acme, "GET", "/scim/v2/acme/Users?sortBy=externalId&sortOrder=descending", "")
		if got := listed(asc, "externalId"); !slices.Equal(got, []string{"1", "3", "", ""}) {
			t.Errorf("ascending by externalId: %v", got)
		}
		if got := listed(desc, "externalId"); !slices.Equal(got, []string{"", "", "3", "1"}) {
			t.Errorf("descending by externalId: %v", got)
		}
		if a, d := listed(asc, "id"), listed(desc, "id"); !slices.Equal(a[2:], d[:2]) || a[2] > a[3] {
			t.Errorf("users without externalId not in id order: %v, %v", a, d)
		}
		rec, list := e.call(acme, "POST", "/scim/v2/acme/Users/.search", `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
			"filter": "userName ne \"dave@acme.example\"", "sortBy": "userName", "sortOrder": "descending", "count": 2}`)
		if got := listed(list, "userName"); rec.Code != http.StatusOK || list["totalResults"] != float64(3) || !slices.Equal(got, []string{"carol@acme.example", "bob@acme.example"}) {
			t.Errorf(".search sorted: %d %v %s", rec.Code, got, rec.Body)
		}
		for _, q := range []string{"sortBy=nickname2", "sortBy=name", "sortBy=userName&sortOrder=sideways"} {
			if rec, _ := e.call(acme, "GET", "/scim/v2/acme/Users?"+q, ""); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "invalidValue") {
				t.Errorf("%s: %d %s", q, rec.Code, rec.Body)
			}
		}
		for _, name := range []string{"Zeta", "alpha", "Mu"} {
			e.addGroup(groupJSON(name))
		}
		rec, list = e.call(acme, "GET", "/scim/v2/acme/Groups?sortBy=displayName", "")
		if got := listed(list, "displayName"); rec.Code != http.StatusOK || !slices.Equal(got, []string{"alpha", "Mu", "Zeta"}) {
			t.Errorf("groups by displayName: %d %v", rec.Code, got)
		}
		if rec, _ := e.call(acme, "GET", "/scim/v2/acme/Groups?sortBy=userName", ""); rec.Code != http.StatusBadRequest {
			t.Errorf("groups by userName: %d %s", rec.Code, rec.Body)
		}
	})
}
