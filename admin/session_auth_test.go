package admin

import (
	"net/http"
	"testing"

	"github.com/partnergate/partnergate/audit"
)

// adminSetup is a partner with a partner admin signed in on its hostname
// and a plain user who is not an admin.
type adminSetup struct {
	admin, plain    string // user ids
	adminEmail      string
	group, mapping  string
	host, otherHost string
	// cookie and csrf are the admin's session; plainCookie the plain
	// user's.
	cookie, csrf string
	plainCookie  string
}

func (e *env) setupPartnerAdmin() adminSetup {
	e.t.Helper()
	s := adminSetup{host: "acme." + testBase, otherHost: "globex." + testBase, adminEmail: "admin@acme.example"}
	e.createPartner("acme")
	e.createPartner("globex")
	s.admin = e.createUser("acme", `{"email": "`+s.adminEmail+`", "name": "Ada Admin"}`)
	s.plain = e.createUser("acme", `{"email": "plain@acme.example"}`)
	var g struct{ ID string }
	e.mustJSON("POST", "/api/v1/partners/acme/groups", `{"name": "Admins", "members": ["`+s.admin+`"]}`, http.StatusCreated, &g)
	s.group = g.ID
	var m struct{ ID string }
	e.mustJSON("POST", "/api/v1/partners/acme/role-mappings", `{"group": "`+s.group+`", "role": "`+PartnerAdminRole+`"}`, http.StatusCreated, &m)
	s.mapping = m.ID
	e.reloadDirectory()
	s.cookie = e.issueSession("acme", s.admin, "192.0.2.10", "admin-browser")
	s.plainCookie = e.issueSession("acme", s.plain, "192.0.2.11", "plain-browser")
	rec := e.do(cookieRequest("GET", s.host, "/api/v1/me", "", s.cookie, ""))
	if rec.Code != http.StatusOK {
		e.t.Fatalf("GET /api/v1/me with the admin's cookie = %d %s", rec.Code, rec.Body)
	}
	s.csrf = decodeAs[meJSON](e.t, rec.Body.Bytes()).CSRFToken
	return s
}

// TestPartnerAdminSession checks a partner admin signed in on their
// partner's hostname reaches that partner through the cookie: reads as
// is, writes only with the CSRF token of their own session.
func TestPartnerAdminSession(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		s := e.setupPartnerAdmin()

		rec := e.do(cookieRequest("GET", s.host, "/api/v1/me", "", s.cookie, ""))
		me := decodeAs[meJSON](t, rec.Body.Bytes())
		if me.Kind != "user" || me.PartnerID != "acme" || me.Name != s.adminEmail || me.ReadOnly || me.CSRFToken == "" {
			t.Errorf("me = %+v, want an acme user with a CSRF token", me)
		}
		// The token is stable for the session, so a page can fetch it once.
		if again := decodeAs[meJSON](t, e.do(cookieRequest("GET", s.host, "/api/v1/me", "", s.cookie, "")).Body.Bytes()); again.CSRFToken != me.CSRFToken {
			t.Errorf("CSRF token changed between requests: %q, %q", me.CSRFToken, again.CSRFToken)
		}

		// Reads need no CSRF token.
		if rec := e.do(cookieRequest("GET", s.host, "/api/v1/partners/acme/users", "", s.cookie, "")); rec.Code != http.StatusOK {
			t.Errorf("read with the cookie = %d %s", rec.Code, rec.Body)
		}

		// A write with the session's CSRF token succeeds and is
		// recorded as the signed-in user's.
		rec = e.do(cookieRequest("POST", s.host, "/api/v1/partners/acme/users", `{"email": "hire@acme.example"}`, s.cookie, s.csrf))
		if rec.Code != http.StatusCreated {
			t.Fatalf("write with the CSRF token = %d %s", rec.Code, rec.Body)
		}
		created := decodeAs[userJSON](t, rec.Body.Bytes())
		page, err := e.audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "user.create", TargetID: created.ID}})
		if err != nil || len(page.Events) != 1 {
			t.Fatalf("audit of the cookie write: %v, %v", page.Events, err)
		}
		if got, want := page.Events[0].Actor, (audit.Actor{Type: audit.ActorUser, ID: s.admin, Name: s.adminEmail}); got != want {
			t.Errorf("actor = %+v, want %+v", got, want)
		}

		// Without the token, with a wrong one, or with the token of
		// another session of the same user, a write changes nothing.
		otherSession := e.issueSession("acme", s.admin, "192.0.2.12", "second-browser")
		otherCSRF := decodeAs[meJSON](t, e.do(cookieRequest("GET", s.host, "/api/v1/me", "", otherSession, "")).Body.Bytes()).CSRFToken
		if otherCSRF == s.csrf {
			t.Fatalf("two sessions share a CSRF token")
		}
		bad := map[string]request{
			"missing":             cookieRequest("POST", s.host, "/api/v1/partners/acme/users", `{"email": "x@acme.example"}`, s.cookie, ""),
			"wrong":               cookieRequest("POST", s.host, "/api/v1/partners/acme/users", `{"email": "x@acme.example"}`, s.cookie, "not-the-token"),
			"other session's":     cookieRequest("POST", s.host, "/api/v1/partners/acme/users", `{"email": "x@acme.example"}`, s.cookie, otherCSRF),
			"on a delete":         cookieRequest("DELETE", s.host, "/api/v1/partners/acme/users/"+s.plain, "", s.cookie, ""),
			"on a mapping delete": cookieRequest("DELETE", s.host, "/api/v1/partners/acme/role-mappings/"+s.mapping, "", s.cookie, "wrong"),
		}
		repeated := cookieRequest("POST", s.host, "/api/v1/partners/acme/users", `{"email": "x@acme.example"}`, s.cookie, "")
		repeated.header["X-Csrf-Token"] = []string{s.csrf, s.csrf}
		bad["repeated"] = repeated
		for name, req := range bad {
			e.unchanged(func() {
				rec := e.do(req)
				if rec.Code != http.StatusForbidden || errorCode(rec.Body.Bytes()) != "csrf_failed" {
					t.Errorf("%s CSRF token: %d %s, want 403 csrf_failed", name, rec.Code, rec.Body)
				}
			})
		}

		// The session reaches its own partner only.
		e.unchanged(func() {
			assertError(t, e.do(cookieRequest("GET", s.host, "/api/v1/partners", "", s.cookie, "")), http.StatusForbidden, "forbidden", "")
			assertError(t, e.do(cookieRequest("GET", s.host, "/api/v1/partners/globex/users", "", s.cookie, "")), http.StatusNotFound, "not_found", "")
			assertError(t, e.do(cookieRequest("POST", s.host, "/api/v1/partners/globex/users", `{"email": "x@globex.example"}`, s.cookie, s.csrf)), http.StatusNotFound, "not_found", "")
		})
		// On another partner's hostname the cookie is nobody's.
		for _, path := range []string{"/api/v1/me", "/api/v1/partners/acme/users", "/api/v1/partners/globex/users"} {
			e.unchanged(func() {
				assertError(t, e.do(cookieRequest("GET", s.otherHost, path, "", s.cookie, "")), http.StatusUnauthorized, "unauthorized", "")
			})
		}
		// A signed-in user who is not an admin is known but refused.
		e.unchanged(func() {
			assertError(t, e.do(cookieRequest("GET", s.host, "/api/v1/me", "", s.plainCookie, "")), http.StatusForbidden, "forbidden", "")
		})
		e.noLeak(s.cookie, s.plainCookie, otherSession)
	})
}

// TestPartnerAdminLosesRole checks that deleting the mapping that made a
// user a partner admin locks their live session out on its next request,
// through the change event the session cache hears, without a new
// sign-in.
func TestPartnerAdminLosesRole(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		s := e.setupPartnerAdmin()
		bus := e.watchBus()
		me := cookieRequest("GET", s.host, "/api/v1/me", "", s.cookie, "")
		if rec := e.do(me); rec.Code != http.StatusOK {
			t.Fatalf("before: %d %s", rec.Code, rec.Body)
		}

		// Removing the admin from the group takes the role away...
		e.mustCall("DELETE", "/api/v1/partners/acme/groups/"+s.group+"/members/"+s.admin, "", http.StatusNoContent)
		bus.settle()
		assertError(t, e.do(me), http.StatusForbidden, "forbidden", "")
		// ...adding them back restores it, on the same cookie...
		e.mustCall("POST", "/api/v1/partners/acme/groups/"+s.group+"/members", `{"members": ["`+s.admin+`"]}`, http.StatusOK)
		bus.settle()
		if rec := e.do(me); rec.Code != http.StatusOK {
			t.Fatalf("after re-adding: %d %s", rec.Code, rec.Body)
		}
		// ...and deleting the mapping takes it away for good.
		e.mustCall("DELETE", "/api/v1/partners/acme/role-mappings/"+s.mapping, "", http.StatusNoContent)
		bus.settle()
		assertError(t, e.do(me), http.StatusForbidden, "forbidden", "")
		e.unchanged(func() {
			assertError(t, e.do(cookieRequest("POST", s.host, "/api/v1/partners/acme/users", `{"email": "x@acme.example"}`, s.cookie, s.csrf)), http.StatusForbidden, "forbidden", "")
		})
		// The session itself lives on: the user is still signed in,
		// just no longer an admin.
		if _, err := e.sessions.Lookup(t.Context(), "acme", s.cookie); err != nil {
			t.Errorf("session ended with the role: %v", err)
		}
	})
}
