package portal

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

// apiStatusOf calls the API as operator and returns only the status, for
// checking that something is gone.
func apiStatusOf(e *env, method, path string) int {
	r := httptest.NewRequest(method, "http://"+adminHost+path, nil)
	r.Header.Set("Authorization", "Bearer "+testKey)
	w := httptest.NewRecorder()
	e.api.ServeHTTP(w, r)
	return w.Code
}

func apiUser(e *env, partnerID, id string) userJSON {
	e.t.Helper()
	var u userJSON
	e.apiJSON("GET", "/api/v1/partners/"+partnerID+"/users/"+id, nil, &u)
	return u
}

func TestUsersPageListsSearchesAndEscapes(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")
		e.apiJSON("POST", "/api/v1/partners/acme/users/"+bob+"/suspend", nil, nil)
		e.apiJSON("POST", "/api/v1/partners/acme/users", map[string]any{"email": "eve@acme.test", "name": "<script>alert(1)</script>"}, nil)

		res := b.get("/users")
		if res.status != http.StatusOK {
			t.Fatalf("users: %d\n%s", res.status, res.body)
		}
		for _, want := range []string{"ann@acme.test", "bob@acme.test", "suspended", "Admins ann@acme.test", "&lt;script&gt;alert(1)&lt;/script&gt;", `aria-current="page">Users`} {
			if !strings.Contains(res.body, want) {
				t.Errorf("users page lacks %q", want)
			}
		}
		if strings.Contains(res.body, "<script>alert(1)") {
			t.Error("a user's name is shown unescaped")
		}

		res = b.get("/users?email=BOB")
		if !strings.Contains(res.body, "bob@acme.test") || strings.Contains(res.body, "eve@acme.test") {
			t.Errorf("search by email:\n%s", res.body)
		}
		res = b.get("/users?status=suspended")
		if !strings.Contains(res.body, "bob@acme.test") || strings.Contains(res.body, "ann@acme.test</td>") {
			t.Errorf("search by status:\n%s", res.body)
		}
		res = b.get("/users?name=nobody-has-this")
		if !strings.Contains(res.body, "No users match this search") {
			t.Errorf("empty search:\n%s", res.body)
		}
	})
}

func TestUsersPagination(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	b := e.partnerAdmin("acme", "ann@acme.test")
	for i := range 55 {
		e.user("acme", fmt.Sprintf("user%02d@acme.test", i))
	}
	res := b.get("/users")
	next := firstMatch(t, res.body, `href="([^"]*cursor=[^"]*)">Next page`)
	res = b.get(strings.TrimPrefix(strings.ReplaceAll(next, "&amp;", "&"), partnerPath))
	if res.status != http.StatusOK || !strings.Contains(res.body, "First page") || strings.Contains(res.body, "Next page") {
		t.Fatalf("second page: %d\n%s", res.status, res.body)
	}
	if got := strings.Count(res.body, `<tr>`) - 1; got != 56-50 {
		t.Errorf("second page holds %d users, want 6", got)
	}
}

func TestInviteRefusalWithoutMailerIsShown(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		res := b.form("/users", "/users/invite", url.Values{"email": {"dan@acme.test"}, "name": {"Dan"}})
		if res.status != http.StatusConflict || !strings.Contains(res.body, "no mail sender is configured") || !strings.Contains(res.body, `value="dan@acme.test"`) {
			t.Fatalf("invite without a mailer: %d\n%s", res.status, res.body)
		}
		var users list[userJSON]
		e.apiJSON("GET", "/api/v1/partners/acme/users?email=dan", nil, &users)
		if len(users.Data) != 0 {
			t.Errorf("a refused invitation created %v", users.Data)
		}
		// A field the API refuses is shown beside it.
		res = b.form("/users", "/users/invite", url.Values{"email": {"not-an-email"}})
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `id="invite-email-error"`) {
			t.Errorf("bad email: %d\n%s", res.status, res.body)
		}
	})
}

func TestSuspendAndResumeUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")
		page := "/users/" + bob
		res := b.form(page, page+"/suspend", nil)
		if res.status != http.StatusSeeOther || !strings.HasSuffix(res.header.Get("Location"), page+"?done=user_suspended") {
			t.Fatalf("suspend: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if u := apiUser(e, "acme", bob); u.Status != "suspended" {
			t.Errorf("after suspend the API reports %q", u.Status)
		}
		res = b.get(page + "?done=user_suspended")
		if !strings.Contains(res.body, "User suspended.") || !strings.Contains(res.body, "Resume bob@acme.test") {
			t.Errorf("user page after suspend:\n%s", res.body)
		}
		res = b.form(page, page+"/resume", nil)
		if res.status != http.StatusSeeOther {
			t.Fatalf("resume: %d\n%s", res.status, res.body)
		}
		if u := apiUser(e, "acme", bob); u.Status != "active" {
			t.Errorf("after resume the API reports %q", u.Status)
		}
	})
}

func TestForgedCSRFOnSuspendChangesNothing(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")
		for _, csrf := range []string{"", "forged"} {
			res := b.post("/users/"+bob+"/suspend", url.Values{"csrf": {csrf}})
			if res.status != http.StatusForbidden {
				t.Errorf("suspend with csrf %q: %d", csrf, res.status)
			}
		}
		if u := apiUser(e, "acme", bob); u.Status != "active" {
			t.Errorf("a forged form suspended the user: %q", u.Status)
		}
	})
}

func TestSignOutEverywhereAndRevokeOneSession(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		ann := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.partnerAdmin("acme", "bob@acme.test")
		var bobUser list[userJSON]
		e.apiJSON("GET", "/api/v1/partners/acme/users?email=bob@acme.test", nil, &bobUser)
		bobID := bobUser.Data[0].ID
		if res := bob.get("/"); res.status != http.StatusOK {
			t.Fatalf("bob before: %d", res.status)
		}
		page := "/users/" + bobID
		if res := ann.get(page); !strings.Contains(res.body, "192.0.2.10") {
			t.Errorf("sessions list lacks bob's session:\n%s", res.body)
		}
		res := ann.form(page, page+"/sign-out", nil)
		if res.status != http.StatusSeeOther {
			t.Fatalf("sign out everywhere: %d\n%s", res.status, res.body)
		}
		if res := bob.get("/"); res.status != http.StatusFound || !strings.Contains(res.header.Get("Location"), "/.partnergate/login") {
			t.Errorf("bob's browser after sign-out everywhere: %d %s", res.status, res.header.Get("Location"))
		}

		carol := e.user("acme", "carol@acme.test")
		e.signedIn("acme", carol)
		var sessions list[sessionJSON]
		e.apiJSON("GET", "/api/v1/partners/acme/users/"+carol+"/sessions", nil, &sessions)
		if len(sessions.Data) != 1 {
			t.Fatalf("carol's sessions: %v", sessions.Data)
		}
		page = "/users/" + carol
		res = ann.form(page, page+"/sessions/"+sessions.Data[0].ID+"/revoke", nil)
		if res.status != http.StatusSeeOther {
			t.Fatalf("revoke one: %d\n%s", res.status, res.body)
		}
		e.apiJSON("GET", "/api/v1/partners/acme/users/"+carol+"/sessions", nil, &sessions)
		if len(sessions.Data) != 0 {
			t.Errorf("carol's session survived: %v", sessions.Data)
		}
	})
}

func TestMFAMethodRemovalAndRefusals(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")
		m := store.MFAMethod{ID: "mfa_1", PartnerID: "acme", UserID: bob, Kind: store.MFATOTP, Name: "Bob's phone", Secret: []byte("0123456789abcdef0123"), CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
		if err := e.store.AddMFAMethod(t.Context(), m); err != nil {
			t.Fatal(err)
		}
		page := "/users/" + bob
		if res := b.get(page); !strings.Contains(res.body, "Remove Bob&#39;s phone") {
			t.Fatalf("user page lacks the factor:\n%s", res.body)
		}
		res := b.form(page, page+"/mfa-methods/mfa_1/remove", nil)
		if res.status != http.StatusSeeOther {
			t.Fatalf("remove factor: %d\n%s", res.status, res.body)
		}
		var methods list[mfaMethodJSON]
		e.apiJSON("GET", "/api/v1/partners/acme/users/"+bob+"/mfa-methods", nil, &methods)
		if len(methods.Data) != 0 {
			t.Errorf("factor survived: %v", methods.Data)
		}
		// Without a mailer a reset is refused, on the user's page.
		res = b.form(page, page+"/password-reset", nil)
		if res.status != http.StatusConflict || !strings.Contains(res.body, "no mail sender is configured") || !strings.Contains(res.body, "<h1>bob</h1>") {
			t.Errorf("reset without a mailer: %d\n%s", res.status, res.body)
		}
	})
}

func TestDeleteUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")
		res := b.form("/users/"+bob, "/users/"+bob+"/delete", nil)
		if res.status != http.StatusSeeOther || !strings.HasSuffix(res.header.Get("Location"), "/users?done=user_deleted") {
			t.Fatalf("delete: %d %s\n%s", res.status, res.header.Get("Location"), res.body)
		}
		if got := apiStatusOf(e, "GET", "/api/v1/partners/acme/users/"+bob); got != http.StatusNotFound {
			t.Errorf("deleted user answers %d", got)
		}
		if res := b.get("/users/" + bob); res.status != http.StatusNotFound {
			t.Errorf("deleted user's page: %d", res.status)
		}
	})
}

func TestPartnerAdminCannotReachAnotherPartnersUser(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.partner("beta")
		b := e.partnerAdmin("acme", "ann@acme.test")
		other := e.user("beta", "bob@beta.test")
		e.signedIn("beta", other)
		if res := b.get("/users/" + other); res.status != http.StatusNotFound || !strings.Contains(res.body, "Page not found") {
			t.Errorf("GET another partner's user: %d\n%s", res.status, res.body)
		}
		csrf := csrfOf(t, b.get("/users").body)
		for _, action := range []string{"suspend", "sign-out", "delete", "password-reset", "sessions/x/revoke", "mfa-methods/x/remove"} {
			res := b.post("/users/"+other+"/"+action, url.Values{"csrf": {csrf}})
			if res.status != http.StatusNotFound {
				t.Errorf("POST %s on another partner's user: %d", action, res.status)
			}
		}
		if u := apiUser(e, "beta", other); u.Status != "active" {
			t.Errorf("another partner's user changed: %q", u.Status)
		}
		var sessions list[sessionJSON]
		e.apiJSON("GET", "/api/v1/partners/beta/users/"+other+"/sessions", nil, &sessions)
		if len(sessions.Data) != 1 {
			t.Errorf("another partner's user lost sessions: %v", sessions.Data)
		}
	})
}

// firstMatch is the first group of pattern's first match in body.
func firstMatch(t *testing.T, body, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", pattern, body)
	}
	return m[1]
}
