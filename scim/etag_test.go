package scim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// callIf is call with the header name set to value.
func (e *env) callIf(name, value, method, path, body string) (*httptest.ResponseRecorder, Resource) {
	e.t.Helper()
	req := httptest.NewRequest(method, "https://sso.example"+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+e.tokens["acme"])
	req.Header.Set(name, value)
	if body != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, req)
	var res Resource
	_ = json.Unmarshal(rec.Body.Bytes(), &res)
	return rec, res
}

func TestETags(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		const stale = `W/"1"`
		userPath := "/scim/v2/acme/Users/" + e.addUser("acme", "dana")
		groupPath := "/scim/v2/acme/Groups/" + e.addGroup(groupJSON("Ops"))
		for _, c := range []struct{ path, put, patch string }{
			{userPath, `{"userName": "dana@acme.example", "displayName": "Dana"}`, ops(`{"op": "replace", "path": "displayName", "value": "D."}`)},
			{groupPath, groupJSON("Ops 2"), ops(`{"op": "replace", "path": "displayName", "value": "Ops 3"}`)},
		} {
			rec, res := e.call(e.tokens["acme"], "GET", c.path, "")
			etag := rec.Header().Get("ETag")
			if etag == "" || etag != res["meta"].(map[string]any)["version"] {
				t.Fatalf("%s: ETag %q, meta %v", c.path, etag, res["meta"])
			}
			for _, tag := range []string{etag, "*", strings.TrimPrefix(etag, "W/"), stale + ", " + etag} {
				if rec, _ := e.callIf("If-None-Match", tag, "GET", c.path, ""); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
					t.Errorf("GET %s If-None-Match %s: %d %s", c.path, tag, rec.Code, rec.Body)
				}
			}
			if rec, _ := e.callIf("If-None-Match", stale, "GET", c.path, ""); rec.Code != http.StatusOK {
				t.Errorf("GET %s If-None-Match stale: %d", c.path, rec.Code)
			}
			for _, req := range []struct{ method, body string }{{"PUT", c.put}, {"PATCH", c.patch}, {"DELETE", ""}} {
				rec, res := e.callIf("If-Match", stale, req.method, c.path, req.body)
				if rec.Code != http.StatusPreconditionFailed || res["status"] != "412" || res["scimType"] != nil {
					t.Errorf("%s %s with a stale If-Match: %d %s", req.method, c.path, rec.Code, rec.Body)
				}
			}
			if rec, _ := e.call(e.tokens["acme"], "GET", c.path, ""); rec.Header().Get("ETag") != etag {
				t.Errorf("%s changed by refused writes: %s", c.path, rec.Body)
			}
			if rec, _ := e.callIf("If-Match", etag, "PUT", c.path, c.put); rec.Code != http.StatusOK {
				t.Errorf("PUT %s with its ETag: %d %s", c.path, rec.Code, rec.Body)
			}
			rec, _ = e.call(e.tokens["acme"], "GET", c.path, "")
			if rec, _ := e.callIf("If-Match", rec.Header().Get("ETag"), "PATCH", c.path, c.patch); rec.Code/100 != 2 {
				t.Errorf("PATCH %s with its ETag: %d %s", c.path, rec.Code, rec.Body)
			}
			if rec, _ := e.callIf("If-Match", "*", "DELETE", c.path, ""); rec.Code != http.StatusNoContent {
				t.Errorf("DELETE %s If-Match *: %d %s", c.path, rec.Code, rec.Body)
			}
		}
		_, spc := e.call(e.tokens["acme"], "GET", "/scim/v2/acme/ServiceProviderConfig", "")
		for _, feature := range []string{"etag", "sort"} {
			if spc[feature].(map[string]any)["supported"] != true {
				t.Errorf("ServiceProviderConfig %s = %v", feature, spc[feature])
			}
		}
	})
}
