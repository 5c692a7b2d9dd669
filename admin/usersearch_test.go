package admin

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/session"
)

// searchIDs runs a user search and returns the ids found, failing on
// anything but a single full page.
func (e *env) searchIDs(query string) []string {
	e.t.Helper()
	var page pageJSON[userJSON]
	e.mustJSON("GET", "/api/v1/partners/acme/users?"+query, "", http.StatusOK, &page)
	if page.NextCursor != nil {
		e.t.Errorf("search %q has more pages than expected", query)
	}
	var ids []string
	for _, u := range page.Data {
		ids = append(ids, u.ID)
	}
	return ids
}

// TestUserSearch checks the email, name and status filters, alone and
// together, on both backends.
func TestUserSearch(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		alice := e.createUser("acme", `{"email": "Alice.Smith@Acme.example", "name": "Alice Smith", "password": "`+alicePassword+`"}`)
		bob := e.createUser("acme", `{"email": "bob@acme.example", "name": "Bob SMITHERS"}`)
		carol := e.createUser("acme", `{"email": "carol@contractors.example", "name": "Carol Jones"}`)
		dave := e.createUser("acme", `{"email": "dave@acme.example", "name": "Dave"}`)
		// The same name at another partner never shows up in acme's.
		e.createUser("globex", `{"email": "alice.smith@globex.example", "name": "Alice Smith"}`)
		e.mustCall("POST", "/api/v1/partners/acme/users/"+bob+"/suspend", "", http.StatusOK)
		// An invited user: no password, and a live link.
		if _, err := invite.Issue(t.Context(), e.store, "acme", carol, invite.Invitation, time.Hour); err != nil {
			t.Fatal(err)
		}

		tests := []struct {
			query string
			want  []string
		}{
			{"", []string{alice, bob, carol, dave}},
			{"email=smith", []string{alice}},
			{"email=ACME.EXAMPLE", []string{alice, bob, dave}},
			{"email=" + url.QueryEscape("@contractors."), []string{carol}},
			{"name=smith", []string{alice, bob}},
			{"name=" + url.QueryEscape("alice smith"), []string{alice}},
			{"name=nobody", nil},
			{"status=active", []string{alice, dave}},
			{"status=suspended", []string{bob}},
			{"status=invited", []string{carol}},
			{"name=smith&status=active", []string{alice}},
			{"email=acme&name=smith&status=suspended", []string{bob}},
			{"email=acme&status=invited", nil},
		}
		for _, tt := range tests {
			if got := e.searchIDs(tt.query); !slices.Equal(got, sortedIDs(tt.want...)) {
				t.Errorf("search %q = %v, want %v", tt.query, got, sortedIDs(tt.want...))
			}
		}
		// A search result is the same user as a GET shows.
		var page pageJSON[userJSON]
		e.mustJSON("GET", "/api/v1/partners/acme/users?status=invited", "", http.StatusOK, &page)
		if len(page.Data) != 1 || page.Data[0].Status != statusInvited || !page.Data[0].Active || page.Data[0].Email != "carol@contractors.example" {
			t.Errorf("invited user listed as %+v", page.Data)
		}
	})
}

// TestUserPagination walks 7 users 3 at a time: each page continues
// where the last ended, no user shows twice or goes missing, and the
// last page says there is no more.
func TestUserPagination(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		var all []string
		for i := range 7 {
			all = append(all, e.createUser("acme", fmt.Sprintf(`{"email": "user%d@acme.example", "name": "User %d"}`, i, i)))
		}
		slices.Sort(all)
		// A suspended user in the middle shows how a filter pages.
		e.mustCall("POST", "/api/v1/partners/acme/users/"+all[3]+"/suspend", "", http.StatusOK)

		walk := func(query string) (pages [][]string) {
			t.Helper()
			cursor := ""
			for range 10 {
				q := "limit=3" + query
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				var page pageJSON[userJSON]
				e.mustJSON("GET", "/api/v1/partners/acme/users?"+q, "", http.StatusOK, &page)
				var ids []string
				for _, u := range page.Data {
					ids = append(ids, u.ID)
				}
				pages = append(pages, ids)
				if page.NextCursor == nil {
					return pages
				}
				cursor = *page.NextCursor
			}
			t.Fatalf("pagination of %q did not end", query)
			return nil
		}
		pages := walk("")
		if len(pages) != 3 || len(pages[0]) != 3 || len(pages[1]) != 3 || len(pages[2]) != 1 {
			t.Errorf("pages = %v, want 3, 3 and 1 users", pages)
		}
		if got := slices.Concat(pages...); !slices.Equal(got, all) {
			t.Errorf("pages hold %v, want every user once in id order %v", got, all)
		}
		active := slices.Delete(slices.Clone(all), 3, 4)
		if got := slices.Concat(walk("&status=active")...); !slices.Equal(got, active) {
			t.Errorf("active users over pages = %v, want %v", got, active)
		}
		// A cursor stays valid when the user it names is deleted.
		var first pageJSON[userJSON]
		e.mustJSON("GET", "/api/v1/partners/acme/users?limit=3", "", http.StatusOK, &first)
		e.mustCall("DELETE", "/api/v1/partners/acme/users/"+all[2], "", http.StatusNoContent)
		var next pageJSON[userJSON]
		e.mustJSON("GET", "/api/v1/partners/acme/users?limit=3&cursor="+url.QueryEscape(*first.NextCursor), "", http.StatusOK, &next)
		if len(next.Data) == 0 || next.Data[0].ID != all[3] {
			t.Errorf("after deleting the cursor's user the next page starts with %+v, want %s", next.Data, all[3])
		}
	})
}

// TestUserListQueryErrors checks a malformed search names the parameter
// at fault and changes nothing. Unknown and repeated parameters are 400
// invalid_query; values out of range are 422, as openapi.json documents.
func TestUserListQueryErrors(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createUser("acme", `{"email": "a@acme.example"}`)
		forged := base64.RawURLEncoding.EncodeToString([]byte("before:u_x"))
		tests := []struct {
			query, code, field string
			status             int
		}{
			{"limit=0", "validation_failed", "limit", 422},
			{"limit=201", "validation_failed", "limit", 422},
			{"limit=ten", "validation_failed", "limit", 422},
			{"limit=-1", "validation_failed", "limit", 422},
			{"cursor=%%%", "invalid_query", "", 400},
			{"cursor=not-base64!", "validation_failed", "cursor", 422},
			{"cursor=" + forged, "validation_failed", "cursor", 422},
			{"status=deleted", "validation_failed", "status", 422},
			{"emial=a", "invalid_query", "emial", 400},
			{"page=2", "invalid_query", "page", 400},
			{"email=a&email=b", "invalid_query", "email", 400},
			{"limit=1&limit=2", "invalid_query", "limit", 400},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				e.unchanged(func() {
					assertError(t, e.call("GET", "/api/v1/partners/acme/users?"+tt.query, ""), tt.status, tt.code, tt.field)
				})
			})
		}
		// Every bad value is reported at once.
		rec := e.call("GET", "/api/v1/partners/acme/users?status=gone&limit=0&cursor=x", "")
		if got := detailFields(t, rec.Body.Bytes()); !slices.Equal(got, []string{"status", "limit", "cursor"}) {
			t.Errorf("details name %v, want status, limit and cursor", got)
		}
	})
}

// liveSessions lists the user's session ids as the store has them.
func (e *env) liveSessions(partnerID, userID string) []string {
	e.t.Helper()
	ss, err := e.store.ListUserSessions(e.t.Context(), partnerID, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	var ids []string
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

// signedIn reports whether the cookie still opens a session.
func (e *env) signedIn(cookie string) bool {
	e.t.Helper()
	_, err := e.sessions.Lookup(e.t.Context(), "acme", cookie)
	if err != nil && !errors.Is(err, session.ErrNoSession) {
		e.t.Fatalf("lookup: %v", err)
	}
	return err == nil
}

// TestSuspendResume checks suspending ends the user's live sessions at
// once, in the store and for the cookie, and resuming lets them sign in
// again without bringing the old sessions back.
func TestSuspendResume(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@acme.example"}`)
		other := e.createUser("acme", `{"email": "b@acme.example"}`)
		cookie := e.issueSession("acme", id, "192.0.2.1", "ua")
		otherCookie := e.issueSession("acme", other, "192.0.2.2", "ua")
		if !e.signedIn(cookie) {
			t.Fatal("fresh session does not work")
		}

		var u userJSON
		e.mustJSON("POST", "/api/v1/partners/acme/users/"+id+"/suspend", "", http.StatusOK, &u)
		if u.Status != statusSuspended || u.Active {
			t.Errorf("after suspend: %+v", u)
		}
		if got := e.liveSessions("acme", id); len(got) != 0 {
			t.Errorf("sessions left after suspend: %v", got)
		}
		if e.signedIn(cookie) {
			t.Errorf("the suspended user's cookie still works")
		}
		if !e.signedIn(otherCookie) {
			t.Errorf("suspending one user ended another's session")
		}
		// Suspending again is harmless.
		e.mustCall("POST", "/api/v1/partners/acme/users/"+id+"/suspend", "", http.StatusOK)

		e.mustJSON("POST", "/api/v1/partners/acme/users/"+id+"/resume", "", http.StatusOK, &u)
		if u.Status != statusActive || !u.Active {
			t.Errorf("after resume: %+v", u)
		}
		if e.signedIn(cookie) {
			t.Errorf("resuming revived the old session")
		}
		if !e.signedIn(e.issueSession("acme", id, "192.0.2.1", "ua")) {
			t.Errorf("the resumed user cannot sign in")
		}
		assertError(t, e.call("POST", "/api/v1/partners/acme/users/u_aaaaaaaaaaaaaaaaaaaa/suspend", ""), http.StatusNotFound, "not_found", "")
	})
}

// TestSetPassword checks an admin-set password works and ends the
// sessions the old one opened.
func TestSetPassword(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@acme.example"}`)
		// An outstanding invitation is void once a password is set.
		if _, err := invite.Issue(t.Context(), e.store, "acme", id, invite.Invitation, time.Hour); err != nil {
			t.Fatal(err)
		}
		cookies := []string{e.issueSession("acme", id, "192.0.2.1", "a"), e.issueSession("acme", id, "192.0.2.2", "b")}

		rec := e.call("PUT", "/api/v1/partners/acme/users/"+id+"/password", `{"password": "`+newPassword+`"}`)
		if rec.Code != http.StatusNoContent || rec.Body.Len() != 0 {
			t.Fatalf("set password = %d %s", rec.Code, rec.Body)
		}
		u, err := e.store.GetUser(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := password.Verify(u.PasswordHash, newPassword); !ok || err != nil {
			t.Errorf("the new password does not verify: %v, %v", ok, err)
		}
		if u.InviteID != "" {
			t.Errorf("the invitation outlived the password")
		}
		if got := e.liveSessions("acme", id); len(got) != 0 {
			t.Errorf("sessions left after the password change: %v", got)
		}
		for _, c := range cookies {
			if e.signedIn(c) {
				t.Errorf("a cookie of the old password still works")
			}
		}
		var got userJSON
		e.mustJSON("GET", "/api/v1/partners/acme/users/"+id, "", http.StatusOK, &got)
		if got.Status != statusActive {
			t.Errorf("status = %q, want active", got.Status)
		}

		e.unchanged(func() {
			assertError(t, e.call("PUT", "/api/v1/partners/acme/users/"+id+"/password", `{"password": "short"}`), http.StatusUnprocessableEntity, "validation_failed", "password")
			assertError(t, e.call("PUT", "/api/v1/partners/acme/users/"+id+"/password", `{}`), http.StatusUnprocessableEntity, "validation_failed", "password")
			assertError(t, e.call("PUT", "/api/v1/partners/acme/users/"+id+"/password", `{"password": "`+newPassword+`", "hash": "x"}`), http.StatusBadRequest, "unknown_field", "hash")
		})
		e.noLeak(newPassword, "argon2id")
	})
}

// TestUserSessions lists a user's sessions with what an admin needs to
// tell them apart, ends one, then all.
func TestUserSessions(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@acme.example"}`)
		other := e.createUser("acme", `{"email": "b@acme.example"}`)
		sessions := "/api/v1/partners/acme/users/" + id + "/sessions"
		assertJSON(t, e.mustCall("GET", sessions, "", http.StatusOK), `{"data": []}`)

		start := e.clock.Now()
		laptop := e.issueSession("acme", id, "198.51.100.7", "Laptop Browser/1.0")
		e.clock.Advance(time.Minute)
		phone := e.issueSession("acme", id, "2001:db8::1", "Phone Browser/2.0")
		otherCookie := e.issueSession("acme", other, "198.51.100.9", "Other")

		var list listJSON[sessionJSON]
		e.mustJSON("GET", sessions, "", http.StatusOK, &list)
		if len(list.Data) != 2 {
			t.Fatalf("listed %d sessions, want 2: %+v", len(list.Data), list.Data)
		}
		want := []struct {
			ip, ua string
			at     time.Time
		}{{"198.51.100.7", "Laptop Browser/1.0", start}, {"2001:db8::1", "Phone Browser/2.0", start.Add(time.Minute)}}
		for i, s := range list.Data {
			w := want[i]
			if s.IP != w.ip || s.UserAgent != w.ua || !s.CreatedAt.Equal(w.at) || !s.LastSeenAt.Equal(w.at) || !s.ExpiresAt.After(w.at) || s.ID == "" {
				t.Errorf("session %d = %+v, want ip %s, agent %q, created and last seen %v", i, s, w.ip, w.ua, w.at)
			}
		}
		// The listing names sessions, never the cookies that open them.
		listed := string(e.mustCall("GET", sessions, "", http.StatusOK))
		if strings.Contains(listed, laptop) || strings.Contains(listed, phone) {
			t.Errorf("the session list shows a cookie: %s", listed)
		}

		// Ending one session leaves the other.
		e.mustCall("DELETE", sessions+"/"+list.Data[0].ID, "", http.StatusNoContent)
		if e.signedIn(laptop) || !e.signedIn(phone) {
			t.Errorf("after ending the laptop's session: laptop %v, phone %v", e.signedIn(laptop), e.signedIn(phone))
		}
		if got := e.liveSessions("acme", id); !slices.Equal(got, []string{list.Data[1].ID}) {
			t.Errorf("sessions left %v, want only the phone's", got)
		}
		e.unchanged(func() {
			assertError(t, e.call("DELETE", sessions+"/"+list.Data[0].ID, ""), http.StatusNotFound, "not_found", "")
			// Another user's session cannot be ended through this user.
			otherID := e.liveSessions("acme", other)[0]
			assertError(t, e.call("DELETE", sessions+"/"+otherID, ""), http.StatusNotFound, "not_found", "")
		})

		// Ending all of them signs the user out everywhere, and only them.
		e.issueSession("acme", id, "198.51.100.8", "Tablet")
		e.mustCall("DELETE", sessions, "", http.StatusNoContent)
		if got := e.liveSessions("acme", id); len(got) != 0 {
			t.Errorf("sessions left after signing out everywhere: %v", got)
		}
		if e.signedIn(phone) || !e.signedIn(otherCookie) {
			t.Errorf("after signing out everywhere: phone %v, other user %v", e.signedIn(phone), e.signedIn(otherCookie))
		}
		// Doing it again, with nothing left, is fine.
		e.mustCall("DELETE", sessions, "", http.StatusNoContent)
		e.noLeak(laptop, phone, otherCookie)
	})
}

// TestUserETags checks conditional updates: a stale If-Match changes
// nothing, the current one or "*" goes through, and a malformed one is
// refused.
func TestUserETags(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@acme.example", "name": "First"}`)
		path := "/api/v1/partners/acme/users/" + id
		etag := func() string {
			t.Helper()
			rec := e.call("GET", path, "")
			tag := rec.Header().Get("ETag")
			if rec.Code != http.StatusOK || !strings.HasPrefix(tag, `"`) {
				t.Fatalf("GET = %d with ETag %q", rec.Code, tag)
			}
			return tag
		}
		patch := func(ifMatch []string, body string) *httpResult {
			rec := e.do(request{method: "PATCH", path: path, body: body, header: http.Header{"If-Match": ifMatch}})
			return &httpResult{status: rec.Code, code: errorCode(rec.Body.Bytes())}
		}

		stale := etag()
		if again := etag(); again != stale {
			t.Errorf("ETag changed without a change: %s, %s", stale, again)
		}
		e.clock.Advance(time.Second)
		e.mustCall("PATCH", path, `{"name": "Second"}`, http.StatusOK)
		current := etag()
		if current == stale {
			t.Fatalf("ETag did not change with the name")
		}

		for _, ifMatch := range [][]string{{stale}, {`W/` + current}, {`"nope"`, stale}} {
			e.unchanged(func() {
				if got := patch(ifMatch, `{"name": "Lost update"}`); got.status != http.StatusPreconditionFailed || got.code != "precondition_failed" {
					t.Errorf("If-Match %v: %d %s, want 412 precondition_failed", ifMatch, got.status, got.code)
				}
			})
		}
		for _, ifMatch := range [][]string{{"nope"}, {`"a`}, {`"a"b"`}, {`"a", b`}} {
			e.unchanged(func() {
				if got := patch(ifMatch, `{"name": "X"}`); got.status != http.StatusBadRequest || got.code != "invalid_if_match" {
					t.Errorf("If-Match %v: %d %s, want 400 invalid_if_match", ifMatch, got.status, got.code)
				}
			})
		}
		// A suspension is conditional too.
		e.unchanged(func() {
			rec := e.do(request{method: "POST", path: path + "/suspend", header: http.Header{"If-Match": {stale}}})
			assertError(t, rec, http.StatusPreconditionFailed, "precondition_failed", "")
		})

		rec := e.do(request{method: "PATCH", path: path, body: `{"name": "Third"}`, header: http.Header{"If-Match": {`"other", ` + current}}})
		if rec.Code != http.StatusOK {
			t.Fatalf("PATCH with the current ETag = %d %s", rec.Code, rec.Body)
		}
		// The answer's ETag is the one a GET now shows.
		if got := rec.Header().Get("ETag"); got != etag() || got == current {
			t.Errorf("PATCH answered ETag %s, GET shows %s (was %s)", got, etag(), current)
		}
		if got := patch([]string{"*"}, `{"name": "Fourth"}`); got.status != http.StatusOK {
			t.Errorf(`If-Match "*" = %d %s`, got.status, got.code)
		}
		var u userJSON
		e.mustJSON("GET", path, "", http.StatusOK, &u)
		if u.Name != "Fourth" {
			t.Errorf("name = %q, want Fourth", u.Name)
		}
	})
}

// TestUserValidationListsEveryField checks one response names every bad
// field, so a client fixes them all in one round trip.
func TestUserValidationListsEveryField(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		id := e.createUser("acme", `{"email": "a@acme.example"}`)
		tests := []struct {
			method, path, body string
			fields             []string
		}{
			{"POST", "/api/v1/partners/acme/users", `{"email": "not an email", "name": "bad\u0000name"}`, []string{"email", "name"}},
			{"POST", "/api/v1/partners/acme/users", `{"email": "x@", "name": "` + strings.Repeat("n", 201) + `", "password": "short"}`, []string{"email", "name", "password"}},
			{"PATCH", "/api/v1/partners/acme/users/" + id, `{"email": "", "name": "\u202eevil", "active": null}`, []string{"email", "name", "active"}},
		}
		for _, tt := range tests {
			e.unchanged(func() {
				rec := e.call(tt.method, tt.path, tt.body)
				assertError(t, rec, http.StatusUnprocessableEntity, "validation_failed", tt.fields[0])
				if got := detailFields(t, rec.Body.Bytes()); !slices.Equal(got, tt.fields) {
					t.Errorf("%s %s: details name %v, want %v", tt.method, tt.body, got, tt.fields)
				}
			})
		}
	})
}
