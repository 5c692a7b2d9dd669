package scim

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
)

// An unfiltered, unsorted list of users pages through the store by
// position: pages are stable and complete, and no page scans the users.
func TestUserPaging(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		ids := e.fillUsers(7)
		scans := e.spy.scans()
		list := func(query string) ([]string, Resource) {
			t.Helper()
			rec, res := e.call(acme, "GET", "/scim/v2/acme/Users"+query, "")
			if rec.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", query, rec.Code, rec.Body)
			}
			var got []string
			for _, u := range res["Resources"].([]any) {
				got = append(got, u.(map[string]any)["id"].(string))
			}
			return got, res
		}

		var seen []string
		for start := 1; start <= len(ids); start += 3 {
			got, res := list(fmt.Sprintf("?startIndex=%d&count=3", start))
			if res["totalResults"] != float64(len(ids)) || res["startIndex"] != float64(start) || res["itemsPerPage"] != float64(len(got)) {
				t.Errorf("page at %d: %v", start, res)
			}
			if again, _ := list(fmt.Sprintf("?startIndex=%d&count=3", start)); !slices.Equal(again, got) {
				t.Errorf("page at %d changed between requests: %v, then %v", start, got, again)
			}
			seen = append(seen, got...)
		}
		if !slices.Equal(seen, ids) {
			t.Errorf("pages held %v, want each user once, in id order: %v", seen, ids)
		}
		if got, res := list("?startIndex=8&count=3"); len(got) != 0 || res["totalResults"] != float64(len(ids)) {
			t.Errorf("past the end: %v", res)
		}
		if got, res := list("?count=0"); len(got) != 0 || res["totalResults"] != float64(len(ids)) {
			t.Errorf("count=0: %v", res)
		}
		if _, res := list("?count=1&excludedAttributes=meta"); res["Resources"].([]any)[0].(map[string]any)["meta"] != nil {
			t.Errorf("excludedAttributes=meta: %v", res["Resources"])
		}
		if got, res := e.call(e.tokens["globex"], "GET", "/scim/v2/globex/Users?count=3", ""); got.Code != http.StatusOK || res["totalResults"] != float64(0) {
			t.Errorf("another partner's users: %d %s", got.Code, got.Body)
		}
		if after := e.spy.scans(); after != scans {
			t.Errorf("unfiltered pages made %d ListUsers calls", after-scans)
		}

		// A filter still scans, and counts only what it matches.
		got, res := list("?count=3&filter=" + urlQuery(`name.formatted pr or active eq true`))
		if res["totalResults"] != float64(len(ids)) || !slices.Equal(got, ids[:3]) {
			t.Errorf("filtered page: %v", res)
		}
		if e.spy.scans() == scans {
			t.Error("a filtered list made no ListUsers call")
		}
	})
}
