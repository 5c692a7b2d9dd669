package admin

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/partnergate/partnergate/internal/apicontract"
	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/store"
)

var (
	contractOnce sync.Once
	theContract  *apicontract.Contract
	contractErr  error
)

// loadContract builds the contract, or reports why the document is not a
// usable OpenAPI 3.1 description.
func loadContract(t testing.TB) *apicontract.Contract {
	t.Helper()
	contractOnce.Do(func() { theContract, contractErr = apicontract.Load(openAPIDocument) })
	if contractErr != nil {
		t.Fatalf("openapi.json: %v", contractErr)
	}
	return theContract
}

// validateResponse fails t unless the recorded answer to req is one the
// document describes: a documented status with its headers and body for a
// documented route, the error envelope for any other.
func validateResponse(t testing.TB, req *http.Request, rec *httptest.ResponseRecorder) {
	t.Helper()
	// rec.Result caches its body reader, which reading here would drain
	// for the test; build an independent response instead.
	resp := &http.Response{
		StatusCode: rec.Code,
		Header:     rec.Header().Clone(),
		Body:       io.NopCloser(bytes.NewReader(rec.Body.Bytes())),
		Request:    req,
	}
	if problems := loadContract(t).Check(req, resp); len(problems) > 0 {
		body := rec.Body.String()
		if len(body) > 2000 {
			body = body[:2000] + "…"
		}
		t.Errorf("%s %s answered %d, which openapi.json does not describe:\n  %s\nbody: %s",
			req.Method, req.URL.RequestURI(), rec.Code, strings.Join(problems, "\n  "), body)
	}
}

// The document is OpenAPI 3.1 that libopenapi models without complaint
// and that passes the specification's own schema.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	t.Parallel()
	c := loadContract(t)
	if v := c.Version(); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	if problems := c.ValidateDocument(); len(problems) > 0 {
		t.Errorf("openapi.json fails the OpenAPI 3.1 schema:\n%s", strings.Join(problems, "\n"))
	}
	// Parsing a copy proves OpenAPIDocument hands out the served bytes and
	// that changing the copy cannot change them.
	b := OpenAPIDocument()
	if !bytes.Equal(b, openAPIDocument) {
		t.Fatal("OpenAPIDocument differs from the embedded document")
	}
	b[0] = 'x'
	if openAPIDocument[0] == 'x' {
		t.Error("OpenAPIDocument exposes the embedded bytes")
	}
}

// Every route is documented, and nothing is documented that is not
// routed; each operation names the route's audit action and the
// credentials its reach admits.
func TestOpenAPICoversRoutes(t *testing.T) {
	t.Parallel()
	c := loadContract(t)
	e := newEnv(t)
	routed := map[string]route{}
	for _, rt := range e.h.table {
		routed[rt.method+" "+rt.pattern] = rt
	}
	documented := map[string]*v3.Operation{}
	for path, item := range c.Model().Paths.PathItems.FromOldest() {
		for method, o := range item.GetOperations().FromOldest() {
			documented[strings.ToUpper(method)+" "+path] = o
		}
	}
	for key := range routed {
		if documented[key] == nil {
			t.Errorf("route %s is not in openapi.json", key)
		}
	}
	for key := range documented {
		if _, ok := routed[key]; !ok && key != "GET "+openAPIPath {
			t.Errorf("openapi.json documents %s, which is not routed", key)
		}
	}
	if documented["GET "+openAPIPath] == nil {
		t.Errorf("openapi.json does not describe itself at GET %s", openAPIPath)
	}

	wantSecurity := map[reach][]string{
		self:         {"operatorKey", "adminToken", "sessionCookie"},
		partnerRead:  {"operatorKey", "adminToken", "sessionCookie"},
		partnerWrite: {"operatorKey", "adminToken", "csrfToken+sessionCookie"},
		platform:     {"operatorKey"},
		setupLink:    {"setupLink"},
		setupSession: {"setupLink"},
		operatorKey:  {"operatorKey"},
		// Everywhere else operatorKey stands for operator sessions too
		// (see the scheme's description).
		operatorSession: {"operatorSession"},
	}
	for key, rt := range routed {
		o := documented[key]
		if o == nil {
			continue
		}
		want := wantSecurity[rt.reach]
		if rt.setup == inSetup && rt.reach != setupSession {
			want = append(slices.Clone(want), "setupLink")
		}
		action := ""
		if node, ok := o.Extensions.Get("x-audit-action"); ok {
			action = node.Value
		}
		if action != rt.action {
			t.Errorf("%s: x-audit-action = %q, route records %q", key, action, rt.action)
		}
		var got []string
		for _, req := range o.Security {
			var names []string
			for name := range req.Requirements.KeysFromOldest() {
				names = append(names, name)
			}
			slices.Sort(names)
			got = append(got, strings.Join(names, "+"))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: security = %v, want %v for its reach", key, got, want)
		}
	}
}

// The document is public: served without a credential, revalidated by
// ETag, and HEAD answers its headers alone.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	none := []string{}
	rec := e.do(request{method: "GET", path: openAPIPath, auth: none})
	if rec.Code != http.StatusOK {
		t.Fatalf("GET %s = %d %s", openAPIPath, rec.Code, rec.Body)
	}
	if !bytes.Equal(rec.Body.Bytes(), openAPIDocument) {
		t.Error("the body is not the embedded document")
	}
	etag := rec.Header().Get("ETag")
	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		"Cache-Control": "no-cache",
		"ETag":          openAPIETag,
	} {
		if got := rec.Header().Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// A bad credential changes nothing: the document needs none.
	if rec := e.do(request{method: "GET", path: openAPIPath, auth: []string{"Bearer wrong"}}); rec.Code != http.StatusOK {
		t.Errorf("with a wrong key: %d", rec.Code)
	}

	for _, inm := range []string{etag, `"other", ` + etag, "W/" + etag, "*"} {
		rec := e.do(request{method: "GET", path: openAPIPath, auth: none, header: http.Header{"If-None-Match": {inm}}})
		if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
			t.Errorf("If-None-Match %s = %d with %d bytes, want 304 without a body", inm, rec.Code, rec.Body.Len())
		}
	}
	rec = e.do(request{method: "GET", path: openAPIPath, auth: none, header: http.Header{"If-None-Match": {`"stale"`}}})
	if rec.Code != http.StatusOK {
		t.Errorf("stale If-None-Match = %d, want 200", rec.Code)
	}

	rec = e.do(request{method: "HEAD", path: openAPIPath, auth: none})
	if rec.Code != http.StatusOK || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
		t.Errorf("HEAD = %d with %d bytes, ETag %q", rec.Code, rec.Body.Len(), rec.Header().Get("ETag"))
	}

	// Only GET and HEAD serve it; anything else needs a credential first.
	if rec := e.do(request{method: "POST", path: openAPIPath, auth: none}); rec.Code != http.StatusUnauthorized {
		t.Errorf("unauthenticated POST = %d, want 401", rec.Code)
	}
}

// The validator behind every test's requests does catch drift: each of
// these answers breaks the document in one way.
func TestOpenAPICatchesDrift(t *testing.T) {
	t.Parallel()
	c := loadContract(t)
	const partner = `{"id": "acme", "name": "Acme", "hostnames": [], "default_hostname": "acme.apps.localhost",
		"domains": [], "suspended": false, "created_at": "2025-03-04T05:06:07.89Z", "updated_at": "2025-03-04T05:06:07.89Z"}`
	// One line: JSON lines allow no newline inside an event.
	const event = `{"seq": 1, "time": "2025-03-04T05:06:07.89Z", "partner_id": "acme", ` +
		`"actor": {"type": "operator", "id": "ops", "name": "ops"}, "action": "user.create", ` +
		`"outcome": "success", "hash": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}`
	headers := func(kv ...string) http.Header {
		h := http.Header{"X-Request-Id": {"req_abcdefghijklmnopqrst"}, "Cache-Control": {"no-store"}, "Content-Type": {"application/json"}}
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	tests := []struct {
		name         string
		method, path string
		status       int
		header       http.Header
		body         string
		valid        bool
	}{
		{"partner as documented", "GET", "/api/v1/partners/acme", 200, headers("ETag", `"abc"`), partner, true},
		{"partner without ETag", "GET", "/api/v1/partners/acme", 200, headers(), partner, false},
		{"unknown member", "GET", "/api/v1/partners/acme", 200, headers(),
			strings.Replace(partner, `"id"`, `"tenant": "acme", "id"`, 1), false},
		{"missing member", "GET", "/api/v1/partners/acme", 200, headers(),
			strings.Replace(partner, `"hostnames": [], `, "", 1), false},
		{"wrong type", "GET", "/api/v1/partners/acme", 200, headers(),
			strings.Replace(partner, `"hostnames": []`, `"hostnames": null`, 1), false},
		{"not a date-time", "GET", "/api/v1/partners/acme", 200, headers(),
			strings.Replace(partner, `"2025-03-04T05:06:07.89Z"`, `"yesterday"`, 1), false},
		{"undocumented status", "GET", "/api/v1/partners/acme", 418, headers(),
			`{"error": {"code": "not_found", "message": "m"}}`, false},
		{"no request id", "GET", "/api/v1/partners/acme", 200, headers("X-Request-Id", ""), partner, false},
		{"created without Location", "POST", "/api/v1/partners", 201, headers(), partner, false},
		{"user without ETag", "GET", "/api/v1/partners/acme/users/u_1", 404, headers(),
			`{"error": {"code": "not_found", "message": "user not found"}}`, true},
		{"error code of another status", "GET", "/api/v1/partners/acme", 404, headers(),
			`{"error": {"code": "conflict", "message": "m"}}`, false},
		{"undocumented error code", "GET", "/api/v1/partners/acme", 404, headers(),
			`{"error": {"code": "gone", "message": "m"}}`, false},
		{"401 without WWW-Authenticate", "GET", "/api/v1/me", 401, headers(),
			`{"error": {"code": "unauthorized", "message": "m"}}`, false},
		{"503 without Retry-After", "GET", "/api/v1/me", 503, headers(),
			`{"error": {"code": "unavailable", "message": "m"}}`, false},
		{"unknown route, envelope", "GET", "/api/v1/nothing", 404, headers(),
			`{"error": {"code": "not_found", "message": "no such resource"}}`, true},
		{"unknown route, other body", "GET", "/api/v1/nothing", 404, headers(), `{"message": "no"}`, false},
		{"unknown route, success", "GET", "/api/v1/nothing", 200, headers(), `{}`, false},
		{"export as documented", "GET", "/api/v1/partners/acme/audit/export", 200,
			headers("Content-Type", "application/x-ndjson", "Content-Disposition", `attachment; filename="acme-audit.jsonl"`),
			event + "\n" + event + "\n", true},
		{"export cut short", "GET", "/api/v1/partners/acme/audit/export", 200,
			headers("Content-Type", "application/x-ndjson", "Content-Disposition", `attachment; filename="acme-audit.jsonl"`),
			event + "\n" + event, false},
		{"export line off the schema", "GET", "/api/v1/partners/acme/audit/export", 200,
			headers("Content-Type", "application/x-ndjson", "Content-Disposition", `attachment; filename="acme-audit.jsonl"`),
			event + "\n" + strings.Replace(event, `"success"`, `"maybe"`, 1) + "\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req := httptest.NewRequest(tt.method, tt.path, nil)
			resp := &http.Response{StatusCode: tt.status, Header: tt.header, Body: io.NopCloser(strings.NewReader(tt.body))}
			problems := c.Check(req, resp)
			if valid := len(problems) == 0; valid != tt.valid {
				t.Errorf("valid = %v, want %v; problems: %q", valid, tt.valid, problems)
			}
		})
	}
}

// tourMailer accepts every message, or fails every one with err.
type tourMailer struct{ err error }

func (m tourMailer) Send(context.Context, mail.Message) error { return m.err }

// TestOpenAPITour calls every documented operation at least once through
// e.do, whose hook validates each answer: the successes, and the rarer
// statuses other tests may not reach, so every operation's contract is
// proven against the code here whatever else the suite covers.
func TestOpenAPITour(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, "bolt", withMailer(tourMailer{}))
	type step struct {
		method, path, body string
		want               int
		header             http.Header
	}
	seen := map[string]bool{}
	run := func(s step) *httptest.ResponseRecorder {
		t.Helper()
		// do sets Content-Type from its own field, over any header.
		rec := e.do(request{method: s.method, path: s.path, body: s.body, header: s.header, contentType: s.header.Get("Content-Type")})
		if rec.Code != s.want {
			t.Fatalf("%s %s = %d %s, want %d", s.method, s.path, rec.Code, rec.Body, s.want)
		}
		pattern := loadContract(t).Route(httptest.NewRequest(s.method, s.path, nil))
		seen[pattern] = true
		return rec
	}
	id := func(rec *httptest.ResponseRecorder) string {
		return decodeAs[struct{ ID string }](t, rec.Body.Bytes()).ID
	}
	const (
		p   = "/api/v1/partners/acme"
		pwd = "a tour of every route"
	)

	run(step{"GET", "/api/v1/me", "", 200, nil})
	run(step{"POST", "/api/v1/partners", `{"id": "acme", "name": "Acme", "hostnames": ["portal.acme.test"]}`, 201, nil})
	run(step{"POST", "/api/v1/partners", `{"id": "doomed", "name": "Doomed"}`, 201, nil})
	run(step{"GET", "/api/v1/partners", "", 200, nil})
	run(step{"GET", p, "", 200, nil})
	run(step{"HEAD", p, "", 200, nil})
	run(step{"PATCH", p, `{"hostnames": null}`, 200, http.Header{"Content-Type": {"application/merge-patch+json"}}})
	run(step{"POST", p + "/domains", `{"domain": "Acme.Test."}`, 201, nil})
	run(step{"POST", p + "/domains", `{"domain": "acme.test"}`, 409, nil})
	run(step{"GET", p + "/domains", "", 200, nil})
	run(step{"DELETE", p + "/domains/acme.test", "", 204, nil})

	alice := id(run(step{"POST", p + "/users", `{"email": "alice@acme.test", "name": "Alice", "password": "` + pwd + `"}`, 201, nil}))
	bob := id(run(step{"POST", p + "/users", `{"email": "bob@acme.test", "active": false}`, 201, nil}))
	u := p + "/users/" + alice
	run(step{"POST", p + "/users", `{"email": "carol@acme.test"}`, 415, http.Header{"Content-Type": {"text/plain"}}})
	run(step{"POST", p + "/users", `{"name": "` + strings.Repeat("x", maxBodyBytes) + `"}`, 413, nil})
	run(step{"GET", p + "/users?status=active&limit=1", "", 200, nil})
	run(step{"GET", p + "/users?stauts=active", "", 400, nil})
	run(step{"GET", p + "/users?limit=0", "", 422, nil})
	etag := run(step{"GET", u, "", 200, nil}).Header().Get("ETag")
	run(step{"PATCH", u, `{"name": "Alice A."}`, 200, http.Header{"If-Match": {etag}}})
	run(step{"PATCH", u, `{"name": "Alice B."}`, 412, http.Header{"If-Match": {etag}}})
	run(step{"PATCH", u, `{"name": "Alice B."}`, 400, http.Header{"If-Match": {"unquoted"}}})
	run(step{"POST", u + "/suspend", "", 200, nil})
	run(step{"POST", u + "/resume", "", 200, nil})
	run(step{"PUT", u + "/password", `{"password": "` + pwd + ` again"}`, 204, nil})
	run(step{"POST", u + "/password-reset", "", 202, nil})
	run(step{"POST", p + "/users/" + bob + "/password-reset", "", 409, nil})

	run(step{"POST", p + "/invitations", `{"email": "dave@acme.test", "name": "Dave"}`, 201, nil})
	run(step{"POST", p + "/invitations", `{"email": "dave@acme.test"}`, 200, nil})
	run(step{"POST", p + "/invitations", `{"email": "alice@acme.test"}`, 409, nil})

	g := p + "/groups/" + id(run(step{"POST", p + "/groups", `{"name": "Admins", "members": ["` + alice + `"]}`, 201, nil}))
	run(step{"GET", p + "/groups?limit=1", "", 200, nil})
	run(step{"GET", g, "", 200, nil})
	run(step{"PATCH", g, `{"name": "Owners"}`, 200, nil})
	run(step{"POST", g + "/members", `{"members": ["` + bob + `", "u_nobody"]}`, 422, nil})
	run(step{"POST", g + "/members", `{"members": ["` + bob + `"]}`, 200, nil})
	run(step{"GET", g + "/members?limit=1", "", 200, nil})
	run(step{"DELETE", g + "/members/" + bob, "", 204, nil})
	m := p + "/role-mappings/" + id(run(step{"POST", p + "/role-mappings", `{"group": "` + g[len(p+"/groups/"):] + `", "role": "` + PartnerAdminRole + `"}`, 201, nil}))
	run(step{"GET", p + "/role-mappings", "", 200, nil})
	run(step{"GET", m, "", 200, nil})

	// A partner admin signed in on acme's hostname: the CSRF token from
	// /me is what makes a write go through.
	e.reloadDirectory()
	cookie := e.issueSession("acme", alice, "192.0.2.9", "tour")
	run(step{"GET", u + "/sessions", "", 200, nil})
	me := e.do(cookieRequest("GET", "acme."+testBase, "/api/v1/me", "", cookie, ""))
	csrf := decodeAs[struct {
		CSRF string `json:"csrf_token"`
	}](t, me.Body.Bytes()).CSRF
	if rec := e.do(cookieRequest("POST", "acme."+testBase, p+"/groups", `{"name": "Cookies"}`, cookie, "")); rec.Code != 403 {
		t.Errorf("cookie write without CSRF token = %d", rec.Code)
	}
	if rec := e.do(cookieRequest("POST", "acme."+testBase, p+"/groups", `{"name": "Cookies"}`, cookie, csrf)); rec.Code != 201 {
		t.Errorf("cookie write with CSRF token = %d %s", rec.Code, rec.Body)
	}
	sessions := decodeAs[struct{ Data []struct{ ID string } }](t, run(step{"GET", u + "/sessions", "", 200, nil}).Body.Bytes())
	if len(sessions.Data) != 1 {
		t.Fatalf("sessions = %+v", sessions)
	}
	run(step{"DELETE", u + "/sessions/" + sessions.Data[0].ID, "", 204, nil})
	run(step{"DELETE", u + "/sessions", "", 204, nil})

	for _, m := range []store.MFAMethod{
		{ID: "mfa_tour_totp", Kind: store.MFATOTP, Name: "Phone", Secret: []byte("tour-seed"), LastUsedAt: e.clock.Now()},
		{ID: "mfa_tour_recovery", Kind: store.MFARecovery, Secret: []byte("tour-codes")},
	} {
		m.PartnerID, m.UserID, m.CreatedAt = "acme", alice, e.clock.Now()
		if err := e.store.AddMFAMethod(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	run(step{"GET", u + "/mfa-methods", "", 200, nil})
	run(step{"DELETE", u + "/mfa-methods/mfa_tour_totp", "", 204, nil})
	run(step{"DELETE", u + "/mfa-methods/mfa_tour_totp", "", 404, nil})

	expires := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	created := run(step{"POST", p + "/admin-tokens", `{"name": "reporting", "read_only": true, "expires_at": "` + expires + `"}`, 201, nil})
	tok := decodeAs[struct{ ID, Token string }](t, created.Body.Bytes())
	run(step{"GET", p + "/admin-tokens", "", 200, nil})
	run(step{"GET", p + "/admin-tokens/" + tok.ID, "", 200, nil})
	if rec := e.do(request{method: "DELETE", path: m, auth: bearer(tok.Token)}); rec.Code != 403 {
		t.Errorf("write with a read-only token = %d", rec.Code)
	}
	run(step{"DELETE", p + "/admin-tokens/" + tok.ID, "", 204, nil})
	scim := decodeAs[struct{ ID, Token string }](t, run(step{"POST", p + "/scim-tokens", `{"name": "okta", "expires_at": "` + expires + `"}`, 201, nil}).Body.Bytes())
	run(step{"GET", p + "/scim-tokens", "", 200, nil})
	run(step{"GET", p + "/scim-tokens/" + scim.ID, "", 200, nil})
	sso := p + "/sso-connections"
	run(step{"POST", sso, `{"name": "x", "preset": "nope", "oidc": {"issuer": "http://idp.example"}}`, 422, nil})
	conn := id(run(step{"POST", sso, validSSOConnection, 201, nil}))
	run(step{"POST", sso, `{"name": "Other", "preset": "generic-saml", "domains": ["ACME.com"], "saml": {"metadata_url": "https://idp.example/md"}}`, 409, nil})
	run(step{"GET", sso, "", 200, nil})
	run(step{"GET", sso + "/" + conn, "", 200, nil})
	run(step{"PATCH", sso + "/" + conn, `{"enabled": true, "oidc": {"scopes": null}}`, 200, nil})
	run(step{"PATCH", sso + "/" + conn, `{"enabled": false}`, 412, http.Header{"If-Match": {`"stale"`}}})
	test := id(run(step{"POST", sso + "/" + conn + "/test", "", 201, nil}))
	run(step{"GET", sso + "/" + conn + "/tests/" + test, "", 200, nil})
	run(step{"GET", sso + "/" + conn + "/tests/sst_nope", "", 404, nil})
	if err := e.store.AppendSSOFailure(t.Context(), "acme", conn, store.SSOFailure{
		Time: e.clock.Now(), Code: "wrong_audience", Message: "The token was meant for another application.",
		Facts: []store.FailureFact{{Label: "Expected audience", Value: "0oa1"}}, Email: "ann@acme.com",
	}, 10); err != nil {
		t.Fatal(err)
	}
	run(step{"GET", sso + "/" + conn + "/failures?limit=5", "", 200, nil})
	run(step{"DELETE", sso + "/" + conn, "", 204, nil})
	run(step{"GET", sso + "/" + conn, "", 404, nil})
	if rec := e.do(request{method: "GET", path: p + "/scim-tokens", auth: bearer(scim.Token)}); rec.Code != 401 {
		t.Errorf("a SCIM token as an admin credential = %d", rec.Code)
	}
	run(step{"DELETE", p + "/scim-tokens/" + scim.ID, "", 204, nil})
	if err := e.store.AppendRequest(t.Context(), "acme", store.RequestRecord{
		Time: e.clock.Now(), Method: "GET", Path: "/scim/v2/acme/Users/nobody", Status: 404, ScimType: "noTarget", Detail: "no such user", DurationMs: 3,
	}, 10); err != nil {
		t.Fatal(err)
	}
	run(step{"GET", p + "/scim-requests?limit=5", "", 200, nil})
	run(step{"GET", p + "/scim-requests?limit=0", "", 422, nil})
	run(step{"GET", "/api/v1/governance", "", 200, nil})
	run(step{"PUT", "/api/v1/governance", `{"session": {"max_lifetime": "8h"}, "password": {"min_length": 14}}`, 200, nil})
	run(step{"PUT", "/api/v1/governance", `{"session": {"max_lifetime": "forever"}}`, 422, nil})
	run(step{"GET", p + "/policy", "", 200, nil})
	run(step{"PUT", p + "/policy", `{"mfa": {"required": true, "methods": ["webauthn", "totp"]}, "session": {"idle_timeout": "15m"}}`, 200, nil})
	run(step{"PUT", p + "/policy", `{"session": {"max_lifetime": "24h"}, "password": {"min_length": 8}}`, 422, nil})
	run(step{"PUT", p + "/policy", `{"mfa": {"required": "yes"}}`, 400, nil})
	run(step{"GET", p + "/policy/effective", "", 200, nil})
	run(step{"GET", "/api/v1/policy-report", "", 200, nil})
	run(step{"DELETE", p + "/policy", "", 204, nil})
	run(step{"GET", p + "/branding", "", 200, nil})
	brand := run(step{"PUT", p + "/branding", `{"display_name": "Acme", "primary_color": "#0a5fff", "accent_color": "#06f", ` +
		`"welcome_message": "Welcome", "footer": "© Acme", "support_url": "https://help.acme.test/"}`, 200, nil})
	run(step{"PUT", p + "/branding", `{"primary_color": "#777777", "support_url": "http://help.acme.test/"}`, 422, nil})
	run(step{"PUT", p + "/branding", `{"colour": "#0a5fff"}`, 400, nil})
	run(step{"PUT", p + "/branding", `{}`, 412, http.Header{"If-Match": {`"stale"`}}})
	run(step{"PUT", p + "/branding/logo", string(testPNG(32, 32)), 200, http.Header{"Content-Type": {"image/png"}, "If-Match": {brand.Header().Get("ETag")}}})
	run(step{"PUT", p + "/branding/logo", "<svg/>", 422, http.Header{"Content-Type": {"image/png"}}})
	run(step{"PUT", p + "/branding/logo", "<svg/>", 415, http.Header{"Content-Type": {"image/svg+xml"}}})
	run(step{"PUT", p + "/branding/logo", strings.Repeat("x", 1<<20+1), 413, http.Header{"Content-Type": {"image/png"}}})
	run(step{"GET", p + "/branding", "", 200, nil})
	run(step{"DELETE", p + "/branding/logo", "", 412, http.Header{"If-Match": {`"stale"`}}})
	run(step{"DELETE", p + "/branding/logo", "", 204, nil})
	run(step{"GET", "/api/v1/sso-presets", "", 200, nil})
	run(step{"GET", p + "/sso-presets/entra", "", 200, nil})
	run(step{"GET", p + "/sso-presets/nope", "", 404, nil})
	run(step{"DELETE", m, "", 412, http.Header{"If-Match": {`"stale"`}}})
	run(step{"DELETE", m, "", 204, nil})
	run(step{"DELETE", g, "", 204, nil})
	run(step{"DELETE", p + "/users/" + bob, "", 204, nil})
	run(step{"DELETE", "/api/v1/partners/doomed", "", 204, nil})

	// A setup link: issued by the operator, redeemed into a setup session,
	// which completes the setup and ends.
	runAs := func(token string, s step) *httptest.ResponseRecorder {
		t.Helper()
		rec := e.do(request{method: s.method, path: s.path, body: s.body, auth: bearer(token)})
		if rec.Code != s.want {
			t.Fatalf("%s %s = %d %s, want %d", s.method, s.path, rec.Code, rec.Body, s.want)
		}
		seen[loadContract(t).Route(httptest.NewRequest(s.method, s.path, nil))] = true
		return rec
	}
	// Only for a partner without users.
	run(step{"POST", p + "/setup-links", `{}`, 409, nil})
	run(step{"POST", "/api/v1/partners", `{"id": "fresh", "name": "Fresh"}`, 201, nil})
	const f = "/api/v1/partners/fresh"
	link := decodeAs[struct{ Token string }](t, run(step{"POST", f + "/setup-links", `{"name": "Fresh IT", "expires_in": "48h"}`, 201, nil}).Body.Bytes())
	run(step{"POST", f + "/setup-links", `{"expires_in": "5m"}`, 422, nil})
	run(step{"GET", f + "/setup-links", "", 200, nil})
	run(step{"POST", f + "/setup/complete", `{"email": "it@fresh.test"}`, 403, nil})
	early := id(run(step{"POST", f + "/users", `{"email": "early@fresh.test"}`, 201, nil}))
	runAs(link.Token, step{"POST", "/api/v1/setup-links/redeem", "", 409, nil})
	run(step{"DELETE", f + "/users/" + early, "", 204, nil})
	setup := decodeAs[struct{ Token string }](t, runAs(link.Token, step{"POST", "/api/v1/setup-links/redeem", "", 200, nil}).Body.Bytes())
	runAs(setup.Token, step{"POST", "/api/v1/setup-links/redeem", "", 410, nil})
	runAs(setup.Token, step{"GET", f + "/users", "", 403, nil})
	runAs(setup.Token, step{"POST", f + "/setup/complete", `{"email": "it@fresh.test", "name": "Fresh IT"}`, 200, nil})
	runAs(setup.Token, step{"GET", "/api/v1/me", "", 401, nil})
	// A partner that stays without users: a session signs out, a link is
	// revoked.
	run(step{"POST", "/api/v1/partners", `{"id": "spare", "name": "Spare"}`, 201, nil})
	ended := decodeAs[struct{ Token string }](t, run(step{"POST", "/api/v1/partners/spare/setup-links", `{}`, 201, nil}).Body.Bytes())
	setup = decodeAs[struct{ Token string }](t, runAs(ended.Token, step{"POST", "/api/v1/setup-links/redeem", "", 200, nil}).Body.Bytes())
	runAs(setup.Token, step{"POST", "/api/v1/setup/end", "", 204, nil})
	runAs(setup.Token, step{"POST", "/api/v1/setup/end", "", 401, nil})
	spare := id(run(step{"POST", "/api/v1/partners/spare/setup-links", `{}`, 201, nil}))
	run(step{"DELETE", "/api/v1/partners/spare/setup-links/" + spare, "", 204, nil})
	run(step{"DELETE", "/api/v1/partners/spare/setup-links/" + spare, "", 404, nil})

	// An operator session, as the portal holds one.
	session := decodeAs[struct{ Token string }](t, run(step{"POST", "/api/v1/operator-sessions", "", 201, nil}).Body.Bytes())
	runAs(session.Token, step{"GET", "/api/v1/partners", "", 200, nil})
	runAs(session.Token, step{"POST", "/api/v1/operator-sessions", "", 403, nil})
	run(step{"DELETE", "/api/v1/operator-sessions/current", "", 403, nil})
	runAs(session.Token, step{"DELETE", "/api/v1/operator-sessions/current", "", 204, nil})
	runAs(session.Token, step{"DELETE", "/api/v1/operator-sessions/current", "", 401, nil})

	run(step{"GET", p + "/audit?limit=2&action=user.*", "", 200, nil})
	run(step{"GET", p + "/audit?since=yesterday", "", 400, nil})
	run(step{"GET", p + "/audit/export?action=user.create", "", 200, nil})
	run(step{"GET", p + "/audit/export", "", 200, nil})
	run(step{"GET", p + "/audit/verify", "", 200, nil})
	run(step{"GET", "/api/v1/audit", "", 200, nil})
	run(step{"GET", "/api/v1/openapi.json", "", 200, nil})

	for _, rt := range e.h.table {
		if !seen[rt.method+" "+rt.pattern] {
			t.Errorf("the tour skipped %s %s", rt.method, rt.pattern)
		}
	}

	// Links that cannot be mailed, or no mailer at all.
	for _, tt := range []struct {
		opt  func(*Config)
		want int
	}{{withMailer(tourMailer{err: errBroken}), 502}, {func(*Config) {}, 409}} {
		e := newLiveEnv(t, "bolt", tt.opt)
		e.mustCall("POST", "/api/v1/partners", `{"id": "acme", "name": "Acme"}`, 201)
		if rec := e.call("POST", p+"/invitations", `{"email": "erin@acme.test"}`); rec.Code != tt.want {
			t.Errorf("invitation = %d %s, want %d", rec.Code, rec.Body, tt.want)
		}
	}
}
