package admin

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

func TestPartnerLifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	assertJSON(t, e.mustCall("GET", "/api/v1/partners", "", http.StatusOK), `{"data": []}`)

	rec := e.call("POST", "/api/v1/partners",
		`{"id": "acme", "name": "Acme Corp", "hostnames": ["Portal.Acme.com.", "portal.acme.com", "login.acme.com"]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create = %d %s", rec.Code, rec.Body)
	}
	assertHeaders(t, rec)
	if got := rec.Header().Get("Location"); got != "/api/v1/partners/acme" {
		t.Errorf("Location = %q", got)
	}
	acme := `{"id": "acme", "name": "Acme Corp", "hostnames": ["portal.acme.com", "login.acme.com"],
		"default_hostname": "acme.apps.localhost", "domains": [], "suspended": false, "created_at": "` + testTime + `", "updated_at": "` + testTime + `"}`
	assertJSON(t, rec.Body.Bytes(), acme)
	assertJSON(t, e.mustCall("GET", "/api/v1/partners/acme", "", http.StatusOK), acme)

	e.mustCall("POST", "/api/v1/partners", `{"id": "beta", "name": "Beta"}`, http.StatusCreated)
	beta := `{"id": "beta", "name": "Beta", "hostnames": [], "default_hostname": "beta.apps.localhost", "domains": [], "suspended": false,
		"created_at": "` + testTime + `", "updated_at": "` + testTime + `"}`
	assertJSON(t, e.mustCall("GET", "/api/v1/partners", "", http.StatusOK), `{"data": [`+acme+`, `+beta+`]}`)

	e.clock.Advance(time.Minute)
	later := t0.Add(time.Minute).Format(time.RFC3339Nano)
	assertJSON(t, e.mustCall("PATCH", "/api/v1/partners/acme", `{"name": "Acme Inc"}`, http.StatusOK),
		`{"id": "acme", "name": "Acme Inc", "hostnames": ["portal.acme.com", "login.acme.com"],
		"default_hostname": "acme.apps.localhost", "domains": [], "suspended": false, "created_at": "`+testTime+`", "updated_at": "`+later+`"}`)
	assertJSON(t, e.mustCall("PATCH", "/api/v1/partners/acme", `{"hostnames": ["sso.acme.com"]}`, http.StatusOK),
		`{"id": "acme", "name": "Acme Inc", "hostnames": ["sso.acme.com"],
		"default_hostname": "acme.apps.localhost", "domains": [], "suspended": false, "created_at": "`+testTime+`", "updated_at": "`+later+`"}`)
	// A hostname given up by one partner is free for another.
	e.mustCall("PATCH", "/api/v1/partners/beta", `{"hostnames": ["portal.acme.com"]}`, http.StatusOK)
	// Merge-patch null clears the list.
	assertJSON(t, e.mustCall("PATCH", "/api/v1/partners/beta", `{"hostnames": null}`, http.StatusOK),
		`{"id": "beta", "name": "Beta", "hostnames": [], "default_hostname": "beta.apps.localhost", "domains": [], "suspended": false,
		"created_at": "`+testTime+`", "updated_at": "`+later+`"}`)
	e.mustCall("PATCH", "/api/v1/partners/beta", `{}`, http.StatusOK)

	u1 := e.createUser("acme", `{"email": "a@acme.com"}`)
	u2 := e.createUser("acme", `{"email": "b@acme.com"}`)
	e.createUser("beta", `{"email": "a@beta.com"}`)

	rec = e.call("DELETE", "/api/v1/partners/acme", "")
	if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
		t.Fatalf("delete = %d %q", rec.Code, rec.Body)
	}
	assertHeaders(t, rec)
	got, want := e.revoker.revoked(), []revocation{{"acme", u1}, {"acme", u2}}
	if !sameRevocations(got, want) {
		t.Errorf("revoked %v, want %v", got, want)
	}
	assertError(t, e.call("GET", "/api/v1/partners/acme", ""), http.StatusNotFound, "not_found", "")
	assertError(t, e.call("GET", "/api/v1/partners/acme/users", ""), http.StatusNotFound, "not_found", "")
	if s := e.snapshot(); len(s.Partners) != 1 || len(s.Users["beta"]) != 1 {
		t.Errorf("after delete: %+v", s)
	}
	// The deleted partner's hostnames and id are free again.
	e.createPartner("acme", "sso.acme.com")

	wantEvents := []store.Event{}
	for _, id := range []string{"acme", "beta", "acme", "acme", "beta", "beta", "beta", "acme", "acme"} {
		wantEvents = append(wantEvents, store.Event{Kind: store.PartnersChanged, PartnerID: id})
	}
	if got := e.store.published(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events:\n%v\nwant\n%v", got, wantEvents)
	}
}

func sameRevocations(got, want []revocation) bool {
	if len(got) != len(want) {
		return false
	}
	seen := map[revocation]int{}
	for _, r := range got {
		seen[r]++
	}
	for _, r := range want {
		seen[r]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestPartnerErrors(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 64)
	tests := []struct {
		name   string
		req    request
		status int
		code   string
		field  string
	}{
		// 400: not the JSON we parse.
		{"empty body", request{method: "POST", path: "/api/v1/partners", contentType: "application/json"}, 400, "invalid_json", ""},
		{"syntax", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x",`}, 400, "invalid_json", ""},
		{"bad token", request{method: "POST", path: "/api/v1/partners", body: `{"id" "x"}`}, 400, "invalid_json", ""},
		{"array", request{method: "POST", path: "/api/v1/partners", body: `[{"id": "x"}]`}, 400, "invalid_json", ""},
		{"string", request{method: "POST", path: "/api/v1/partners", body: `"x"`}, 400, "invalid_json", ""},
		{"trailing object", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X"} {}`}, 400, "invalid_json", ""},
		{"trailing garbage", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X"} x`}, 400, "invalid_json", ""},
		{"duplicate member", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "id": "y"}`}, 400, "invalid_json", "id"},
		{"unknown field", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "owner": "me"}`}, 400, "unknown_field", "owner"},
		{"case-folded field", request{method: "POST", path: "/api/v1/partners", body: `{"ID": "x", "name": "X"}`}, 400, "unknown_field", "ID"},
		{"read-only on create", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "created_at": "2020-01-01T00:00:00Z"}`}, 400, "read_only_field", "created_at"},
		{"default_hostname", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "default_hostname": "x.evil.com"}`}, 400, "read_only_field", "default_hostname"},
		{"id wrong type", request{method: "POST", path: "/api/v1/partners", body: `{"id": 7, "name": "X"}`}, 400, "invalid_type", "id"},
		{"name wrong type", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": true}`}, 400, "invalid_type", "name"},
		{"hostnames wrong type", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": "a.com"}`}, 400, "invalid_type", "hostnames"},
		{"hostname wrong type", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": [1]}`}, 400, "invalid_type", "hostnames"},
		{"patch id", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"id": "other"}`}, 400, "read_only_field", "id"},
		{"patch updated_at", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"updated_at": "2020-01-01T00:00:00Z"}`}, 400, "read_only_field", "updated_at"},
		{"patch unknown", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"users": []}`}, 400, "unknown_field", "users"},
		// 413, 415.
		{"too large", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "` + strings.Repeat("a", 70<<10) + `"}`}, 413, "body_too_large", ""},
		{"too large patch", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"name": "x"}` + strings.Repeat(" ", 70<<10)}, 413, "body_too_large", ""},
		{"no content type", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X"}`, contentType: "-"}, 415, "unsupported_media_type", ""},
		{"form", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X"}`, contentType: "application/x-www-form-urlencoded"}, 415, "unsupported_media_type", ""},
		// 409.
		{"duplicate id", request{method: "POST", path: "/api/v1/partners", body: `{"id": "acme", "name": "Another"}`}, 409, "conflict", "id"},
		{"hostname of another", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["portal.acme.com"]}`}, 409, "conflict", "hostnames"},
		{"hostname of another, other case", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["PORTAL.Acme.COM."]}`}, 409, "conflict", "hostnames"},
		{"patch to taken hostname", request{method: "PATCH", path: "/api/v1/partners/beta", body: `{"hostnames": ["beta.com", "Portal.acme.com"]}`}, 409, "conflict", "hostnames"},
		// 422: id.
		{"id missing", request{method: "POST", path: "/api/v1/partners", body: `{"name": "X"}`}, 422, "validation_failed", "id"},
		{"id null", request{method: "POST", path: "/api/v1/partners", body: `{"id": null, "name": "X"}`}, 422, "validation_failed", "id"},
		{"id empty", request{method: "POST", path: "/api/v1/partners", body: `{"id": "", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id uppercase", request{method: "POST", path: "/api/v1/partners", body: `{"id": "Acme2", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id leading hyphen", request{method: "POST", path: "/api/v1/partners", body: `{"id": "-x", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id trailing hyphen", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x-", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id underscore", request{method: "POST", path: "/api/v1/partners", body: `{"id": "a_b", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id dot", request{method: "POST", path: "/api/v1/partners", body: `{"id": "a.b", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id too long", request{method: "POST", path: "/api/v1/partners", body: `{"id": "` + long + `", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id unicode", request{method: "POST", path: "/api/v1/partners", body: `{"id": "ácme", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id punycode", request{method: "POST", path: "/api/v1/partners", body: `{"id": "xn--cme-vla", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id admin", request{method: "POST", path: "/api/v1/partners", body: `{"id": "admin", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id www", request{method: "POST", path: "/api/v1/partners", body: `{"id": "www", "name": "X"}`}, 422, "validation_failed", "id"},
		{"id api", request{method: "POST", path: "/api/v1/partners", body: `{"id": "api", "name": "X"}`}, 422, "validation_failed", "id"},
		// 422: name.
		{"name missing", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x"}`}, 422, "validation_failed", "name"},
		{"name blank", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "  "}`}, 422, "validation_failed", "name"},
		{"name too long", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "` + strings.Repeat("é", 201) + `"}`}, 422, "validation_failed", "name"},
		{"name control", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "a\u0000b"}`}, 422, "validation_failed", "name"},
		{"name newline", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "a\nb"}`}, 422, "validation_failed", "name"},
		{"name bidi override", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "a\u202eb"}`}, 422, "validation_failed", "name"},
		{"patch name null", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"name": null}`}, 422, "validation_failed", "name"},
		{"patch name empty", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"name": ""}`}, 422, "validation_failed", "name"},
		// 422: hostnames, each reported by index.
		{"hostname port", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["ok.com", "a.com:443"]}`}, 422, "validation_failed", "hostnames[1]"},
		{"hostname ipv4", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["10.0.0.1"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname short ipv4", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["127.1"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname ipv6", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["[::1]"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname wildcard", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["*.acme.org"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname base domain", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["Apps.Localhost."]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname under base domain", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["acme.apps.localhost"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname single label", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["intranet"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname empty", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": [""]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname null entry", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": [null]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname empty label", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["a..com"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname underscore", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["a_b.com"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname unicode", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["bücher.de"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname url", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["https://a.com/"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"hostname too long", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": ["` + strings.Repeat("abcdefghi.", 26) + `com"]}`}, 422, "validation_failed", "hostnames[0]"},
		{"too many hostnames", request{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X", "hostnames": [` + manyHostnames(101) + `]}`}, 422, "validation_failed", "hostnames"},
		{"patch hostname bad", request{method: "PATCH", path: "/api/v1/partners/acme", body: `{"hostnames": ["a.com", "b.apps.localhost"]}`}, 422, "validation_failed", "hostnames[1]"},
		// 404.
		{"get unknown", request{method: "GET", path: "/api/v1/partners/nope"}, 404, "not_found", ""},
		{"get invalid id", request{method: "GET", path: "/api/v1/partners/ACME"}, 404, "not_found", ""},
		{"get escaped slash", request{method: "GET", path: "/api/v1/partners/ac%2Fme"}, 404, "not_found", ""},
		{"patch unknown", request{method: "PATCH", path: "/api/v1/partners/nope", body: `{"name": "X"}`}, 404, "not_found", ""},
		{"delete unknown", request{method: "DELETE", path: "/api/v1/partners/nope"}, 404, "not_found", ""},
		{"unknown route", request{method: "GET", path: "/api/v1/tenants"}, 404, "not_found", ""},
		{"api root", request{method: "GET", path: "/api/v1/"}, 404, "not_found", ""},
		{"trailing slash", request{method: "GET", path: "/api/v1/partners/"}, 404, "not_found", ""},
		{"sub-resource", request{method: "GET", path: "/api/v1/partners/acme/widgets"}, 404, "not_found", ""},
		{"unclean path", request{method: "GET", path: "/api/v1//partners"}, 404, "not_found", ""},
		{"dot segment", request{method: "DELETE", path: "/api/v1/partners/beta/../acme"}, 404, "not_found", ""},
		{"outside the api", request{method: "GET", path: "/"}, 404, "not_found", ""},
		// 405.
		{"put collection", request{method: "PUT", path: "/api/v1/partners", body: `{}`}, 405, "method_not_allowed", ""},
		{"post item", request{method: "POST", path: "/api/v1/partners/acme", body: `{}`}, 405, "method_not_allowed", ""},
	}
	e := newEnv(t)
	e.createPartner("acme", "portal.acme.com")
	e.createPartner("beta")
	e.createUser("acme", `{"email": "a@acme.com"}`)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.req.contentType == "-" {
				tt.req.contentType = "text/plain"
			}
			var rec *httptest.ResponseRecorder
			e.unchanged(func() { rec = e.do(tt.req) })
			assertError(t, rec, tt.status, tt.code, tt.field)
		})
	}
}

func manyHostnames(n int) string {
	hs := make([]string, n)
	for i := range hs {
		hs[i] = fmt.Sprintf(`"h%d.example.com"`, i)
	}
	return strings.Join(hs, ",")
}

func TestMethodNotAllowedNamesAllowed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tests := map[string]string{
		"/api/v1/partners":                "GET, HEAD, POST",
		"/api/v1/partners/acme":           "GET, HEAD, PATCH, DELETE",
		"/api/v1/partners/acme/users":     "GET, HEAD, POST",
		"/api/v1/partners/acme/users/u_1": "GET, HEAD, PATCH, DELETE",
	}
	for path, allow := range tests {
		rec := e.do(request{method: "PUT", path: path, body: "{}"})
		assertError(t, rec, http.StatusMethodNotAllowed, "method_not_allowed", "")
		if got := rec.Header().Get("Allow"); got != allow {
			t.Errorf("PUT %s: Allow = %q, want %q", path, got, allow)
		}
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := e.mustCall("POST", "/api/v1/partners",
		`{"id": "admin", "name": "", "hostnames": ["ok.com", "1.2.3.4", "x.apps.localhost"]}`, http.StatusUnprocessableEntity)
	assertJSON(t, body, `{"error": {
		"code": "validation_failed",
		"message": "id \"admin\" is reserved for the platform",
		"field": "id",
		"details": [
			{"field": "id", "message": "id \"admin\" is reserved for the platform"},
			{"field": "name", "message": "name is required"},
			{"field": "hostnames[1]", "message": "hostname must not be an IP address"},
			{"field": "hostnames[2]", "message": "hostname must not be apps.localhost or a name under it: those are partners' implied hostnames"}
		]}}`)
}
