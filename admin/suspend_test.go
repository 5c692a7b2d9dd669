package admin

import (
	"errors"
	"net/http"
	"slices"
	"testing"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
)

// TestPartnerSuspension follows a partner through suspension and back:
// suspending ends every session of its users, shuts out every credential
// of the partner on every route while operators keep full access, and is
// audited; resuming lets its credentials back in, but no session returns,
// not even one a node signed in after the suspension's revocation.
func TestPartnerSuspension(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		s := e.setupPartnerAdmin()
		const acme = "/api/v1/partners/acme"
		_, token := e.newToken("acme", `{"name": "automation"}`)
		link := e.setupLinkDespiteUsers("acme")
		outsider := e.createUser("globex", `{"email": "someone@globex.example"}`)
		globexCookie := e.issueSession("globex", outsider, "192.0.2.12", "globex-browser")

		rec := e.call("PATCH", acme, `{"suspended": true}`)
		if rec.Code != http.StatusOK || !decodeAs[partnerJSON](t, rec.Body.Bytes()).Suspended {
			t.Fatalf("suspend = %d %s", rec.Code, rec.Body)
		}
		if !decodeAs[partnerJSON](t, e.mustCall("GET", acme, "", http.StatusOK)).Suspended {
			t.Error("the partner does not read as suspended")
		}
		if got, want := e.revoker.revoked(), []revocation{{"acme", s.admin}, {"acme", s.plain}}; !sameRevocations(got, want) {
			t.Errorf("revoked %v, want %v", got, want)
		}
		for _, cookie := range []string{s.cookie, s.plainCookie} {
			if _, err := e.sessions.Lookup(t.Context(), "acme", cookie); !errors.Is(err, session.ErrNoSession) {
				t.Errorf("a session of the suspended partner still works: %v", err)
			}
		}
		if _, err := e.sessions.Lookup(t.Context(), "globex", globexCookie); err != nil {
			t.Errorf("another partner's session ended: %v", err)
		}

		events, err := e.audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "partner.update"}})
		if err != nil || len(events.Events) != 1 {
			t.Fatalf("audit of the suspension: %+v, %v", events.Events, err)
		}
		ev := events.Events[0]
		if ev.Outcome != audit.Success || ev.Actor.Type != audit.ActorOperator ||
			!slices.Equal(ev.Changes, []audit.Change{{Field: "suspended", From: "false", To: "true"}}) {
			t.Errorf("audit event %+v, want the operator's change of suspended to true", ev)
		}

		// A session that slipped in before every node heard of the
		// suspension is refused all the same.
		late := e.issueSession("acme", s.admin, "192.0.2.10", "admin-browser")
		refused := []request{
			{method: "GET", path: acme + "/users", auth: bearer(token)},
			{method: "GET", path: "/api/v1/me", auth: bearer(token)},
			{method: "POST", path: acme + "/users", body: `{"email": "new@acme.example"}`, auth: bearer(token)},
			// Even another partner's path: the caller learns nothing more.
			{method: "GET", path: "/api/v1/partners/globex/users", auth: bearer(token)},
			{method: "POST", path: redeemPath, auth: bearer(link)},
			cookieRequest("GET", s.host, "/api/v1/me", "", late, ""),
			cookieRequest("PATCH", s.host, acme+"/users/"+s.plain, `{"name": "x"}`, late, s.csrf),
		}
		e.unchanged(func() {
			for _, r := range refused {
				assertError(t, e.do(r), http.StatusForbidden, "partner_suspended", "")
			}
		})
		writes, err := e.audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "user.*"}})
		if err != nil {
			t.Fatal(err)
		}
		// Newest first: the two refused writes, each in the trail.
		if ev := writes.Events; len(ev) < 2 || ev[0].Reason != "partner_suspended" || ev[1].Reason != "partner_suspended" {
			t.Errorf("refused writes are not audited as partner_suspended: %+v", writes.Events)
		}

		// Operators keep full access.
		e.mustCall("GET", acme+"/users", "", http.StatusOK)
		e.createUser("acme", `{"email": "by-operator@acme.example"}`)

		// Only an operator suspends or resumes.
		_, globexToken := e.newToken("globex", `{"name": "globex automation"}`)
		e.unchanged(func() {
			assertError(t, e.as(globexToken, "PATCH", "/api/v1/partners/globex", `{"suspended": true}`), http.StatusForbidden, "forbidden", "")
			assertError(t, e.as(token, "PATCH", acme, `{"suspended": false}`), http.StatusForbidden, "partner_suspended", "")
		})

		rec = e.call("PATCH", acme, `{"suspended": false}`)
		if rec.Code != http.StatusOK || decodeAs[partnerJSON](t, rec.Body.Bytes()).Suspended {
			t.Fatalf("resume = %d %s", rec.Code, rec.Body)
		}
		if rec := e.as(token, "GET", acme+"/users", ""); rec.Code != http.StatusOK {
			t.Errorf("the admin token after resuming = %d %s", rec.Code, rec.Body)
		}
		for _, cookie := range []string{s.cookie, late} {
			if rec := e.do(cookieRequest("GET", s.host, "/api/v1/me", "", cookie, "")); rec.Code != http.StatusUnauthorized {
				t.Errorf("a session of the suspended partner came back: %d %s", rec.Code, rec.Body)
			}
		}
		resumed, err := e.audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "partner.update"}})
		if err != nil || len(resumed.Events) == 0 || resumed.Events[0].Outcome != audit.Success ||
			!slices.Equal(resumed.Events[0].Changes, []audit.Change{{Field: "suspended", From: "true", To: "false"}}) {
			t.Errorf("audit of the resumption: %+v, %v", resumed.Events, err)
		}
	})
}

// TestSuspensionRevokesEveryPage checks suspension pages through a
// partner with more users than one read returns, and that a failed
// revocation leaves the partner suspended and can be finished by
// repeating the request.
func TestSuspensionRevokesEveryPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	want := make([]revocation, 0, revokeBatch+1)
	for range revokeBatch + 1 {
		u := store.User{ID: store.NewID("u_"), PartnerID: "acme", Email: store.NewID("") + "@acme.example", Active: true}
		if err := e.store.CreateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		want = append(want, revocation{"acme", u.ID})
	}

	e.revoker.failWith(errBroken)
	assertError(t, e.call("PATCH", "/api/v1/partners/acme", `{"suspended": true}`), http.StatusInternalServerError, "revocation_failed", "")
	if p, err := e.store.GetPartner(t.Context(), "acme"); err != nil || !p.Suspended {
		t.Fatalf("after a failed revocation: %+v, %v; want the partner suspended", p, err)
	}

	e.revoker.failWith(nil)
	e.mustCall("PATCH", "/api/v1/partners/acme", `{"suspended": true}`, http.StatusOK)
	if got := e.revoker.revoked(); !sameRevocations(got, want) {
		t.Errorf("revoked %d users, want all %d", len(got), len(want))
	}
}

// TestResumeRevocationFails: a resumption whose revocation fails leaves
// the partner suspended, and repeating it finishes the job; resuming a
// partner that is not suspended revokes nothing.
func TestResumeRevocationFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	user := e.createUser("acme", `{"email": "someone@acme.example"}`)
	e.mustCall("PATCH", "/api/v1/partners/acme", `{"suspended": true}`, http.StatusOK)
	before := len(e.revoker.revoked())

	e.revoker.failWith(errBroken)
	assertError(t, e.call("PATCH", "/api/v1/partners/acme", `{"suspended": false}`), http.StatusInternalServerError, "revocation_failed", "")
	if p, err := e.store.GetPartner(t.Context(), "acme"); err != nil || !p.Suspended {
		t.Fatalf("after a failed revocation: %+v, %v; want the partner suspended", p, err)
	}
	e.revoker.failWith(nil)
	e.mustCall("PATCH", "/api/v1/partners/acme", `{"suspended": false}`, http.StatusOK)
	if got := e.revoker.revoked()[before:]; !slices.Equal(got, []revocation{{"acme", user}}) {
		t.Errorf("revoked on resuming: %v", got)
	}
	e.mustCall("PATCH", "/api/v1/partners/acme", `{"suspended": false}`, http.StatusOK)
	if got := e.revoker.revoked()[before:]; len(got) != 1 {
		t.Errorf("resuming a partner not suspended revoked %v", got[1:])
	}
}

// TestSuspendedIsOnlyPatched checks the member's type and that a new
// partner cannot be created suspended.
func TestSuspendedIsOnlyPatched(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	e.unchanged(func() {
		assertError(t, e.call("PATCH", "/api/v1/partners/acme", `{"suspended": "yes"}`), http.StatusBadRequest, "invalid_type", "suspended")
		assertError(t, e.call("PATCH", "/api/v1/partners/acme", `{"suspended": null}`), http.StatusUnprocessableEntity, "validation_failed", "suspended")
		assertError(t, e.call("POST", "/api/v1/partners", `{"id": "beta", "name": "Beta", "suspended": true}`), http.StatusBadRequest, "read_only_field", "suspended")
	})
}
