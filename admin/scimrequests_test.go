package admin

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

func TestSCIMRequests(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		at := e.clock.Now().UTC()
		logRequest := func(partner string, i int, status int, scimType, detail string) {
			t.Helper()
			rec := store.RequestRecord{
				Time: at.Add(time.Duration(i) * time.Second), Method: "GET", Path: "/scim/v2/" + partner + "/Users",
				Status: status, ScimType: scimType, Detail: detail, DurationMs: int64(i),
			}
			if err := e.store.AppendRequest(t.Context(), partner, rec, 200); err != nil {
				t.Fatal(err)
			}
		}
		logRequest("acme", 1, 200, "", "")
		logRequest("acme", 2, 400, "invalidFilter", "the filter is invalid")
		logRequest("acme", 3, 404, "", "no such user")
		logRequest("globex", 4, 200, "", "")

		type row struct {
			Time       time.Time
			Method     string
			Path       string
			Status     int
			ScimType   string `json:"scim_type"`
			Detail     string
			DurationMs int64 `json:"duration_ms"`
		}
		var list struct{ Data []row }
		e.mustJSON("GET", "/api/v1/partners/acme/scim-requests", "", http.StatusOK, &list)
		want := []row{
			{at.Add(3 * time.Second), "GET", "/scim/v2/acme/Users", 404, "", "no such user", 3},
			{at.Add(2 * time.Second), "GET", "/scim/v2/acme/Users", 400, "invalidFilter", "the filter is invalid", 2},
			{at.Add(1 * time.Second), "GET", "/scim/v2/acme/Users", 200, "", "", 1},
		}
		eq := func(a, b row) bool {
			return a.Time.Equal(b.Time) && a.Method == b.Method && a.Path == b.Path && a.Status == b.Status && a.ScimType == b.ScimType && a.Detail == b.Detail && a.DurationMs == b.DurationMs
		}
		if !slices.EqualFunc(list.Data, want, eq) {
			t.Errorf("acme's requests:\n got  %+v\n want %+v", list.Data, want)
		}
		e.mustJSON("GET", "/api/v1/partners/acme/scim-requests?limit=2", "", http.StatusOK, &list)
		if !slices.EqualFunc(list.Data, want[:2], eq) {
			t.Errorf("acme's requests, limit 2:\n got  %+v\n want %+v", list.Data, want[:2])
		}
		assertError(t, e.call("GET", "/api/v1/partners/acme/scim-requests?limit=201", ""), http.StatusUnprocessableEntity, "validation_failed", "limit")
		assertError(t, e.call("GET", "/api/v1/partners/acme/scim-requests?cursor=x", ""), http.StatusBadRequest, "invalid_query", "cursor")
		assertError(t, e.call("GET", "/api/v1/partners/nobody/scim-requests", ""), http.StatusNotFound, "not_found", "")

		// Each partner's admins see their own partner's requests only.
		_, globex := e.newToken("globex", `{"name": "globex automation"}`)
		rec := e.do(request{method: "GET", path: "/api/v1/partners/acme/scim-requests", auth: bearer(globex)})
		assertError(t, rec, http.StatusNotFound, "not_found", "")
		rec = e.do(request{method: "GET", path: "/api/v1/partners/globex/scim-requests", auth: bearer(globex)})
		if rec.Code != http.StatusOK {
			t.Fatalf("globex's own requests: %d %s", rec.Code, rec.Body)
		}
		list = decodeAs[struct{ Data []row }](t, rec.Body.Bytes())
		if len(list.Data) != 1 || list.Data[0].Path != "/scim/v2/globex/Users" {
			t.Errorf("globex's requests: %+v", list.Data)
		}
	})
}
