package admin

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// Secrets of the MFA methods the tests enroll: no response may hold them.
var (
	webauthnState = []byte("webauthn-sealed-credential-state")
	totpSeed      = []byte("totp-sealed-seed-JBSWY3DPEHPK3PXP")
	recoveryState = []byte("recovery-sealed-code-hashes")
)

const credentialID = "Y3JlZGVudGlhbC1pZC1vZi1hLXl1YmlrZXk"

// addMFA enrolls a method for the user directly in the store.
func (e *env) addMFA(partnerID, userID string, m store.MFAMethod) {
	e.t.Helper()
	m.PartnerID, m.UserID = partnerID, userID
	if m.CreatedAt.IsZero() {
		m.CreatedAt = e.clock.Now()
	}
	if err := e.store.AddMFAMethod(e.t.Context(), m); err != nil {
		e.t.Fatalf("add MFA method %s: %v", m.ID, err)
	}
}

// enrollAll gives the user one method of each kind the tests use.
func (e *env) enrollAll(partnerID, userID string) {
	e.t.Helper()
	e.addMFA(partnerID, userID, store.MFAMethod{ID: "mfa_1key", Kind: store.MFAWebAuthn, Name: "YubiKey 5",
		Secret: webauthnState, CredentialID: credentialID, LastUsedAt: t0.Add(time.Hour)})
	e.addMFA(partnerID, userID, store.MFAMethod{ID: "mfa_2totp", Kind: store.MFATOTP, Name: "Phone", Secret: totpSeed})
	e.addMFA(partnerID, userID, store.MFAMethod{ID: "mfa_3codes", Kind: store.MFARecovery, Secret: recoveryState})
}

func (e *env) mfaIDs(partnerID, userID string) []string {
	e.t.Helper()
	ms, err := e.store.ListMFAMethods(e.t.Context(), partnerID, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	ids := []string{}
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func TestMFAMethodsList(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		alice := e.createUser("acme", `{"email": "alice@acme.example"}`)
		bob := e.createUser("acme", `{"email": "bob@acme.example"}`)
		e.enrollAll("acme", alice)

		path := "/api/v1/partners/acme/users/" + alice + "/mfa-methods"
		body := e.mustCall("GET", path, "", http.StatusOK)
		assertJSON(t, body, `{"data": [
			{"id": "mfa_1key", "kind": "webauthn", "name": "YubiKey 5", "created_at": "`+testTime+`", "last_used_at": "2025-03-04T06:06:07.89Z"},
			{"id": "mfa_2totp", "kind": "totp", "name": "Phone", "created_at": "`+testTime+`", "last_used_at": null},
			{"id": "mfa_3codes", "kind": "recovery", "name": "Recovery codes", "created_at": "`+testTime+`", "last_used_at": null}
		]}`)
		for _, secret := range [][]byte{webauthnState, totpSeed, recoveryState} {
			for _, form := range []string{string(secret), base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret)} {
				if strings.Contains(string(body), form) {
					t.Errorf("the list holds a secret %q: %s", form, body)
				}
			}
		}
		for _, leak := range []string{credentialID, "secret", "credential_id"} {
			if strings.Contains(string(body), leak) {
				t.Errorf("the list holds %q: %s", leak, body)
			}
		}

		// A user without methods has an empty list; an unknown user is 404.
		assertJSON(t, e.mustCall("GET", "/api/v1/partners/acme/users/"+bob+"/mfa-methods", "", http.StatusOK), `{"data": []}`)
		assertError(t, e.call("GET", "/api/v1/partners/acme/users/u_nobody/mfa-methods", ""), http.StatusNotFound, "not_found", "")

		// Another partner's admin sees nothing of acme's users.
		e.createPartner("globex")
		_, globex := e.newToken("globex", `{"name": "globex"}`)
		rec := e.do(request{method: "GET", path: path, auth: bearer(globex)})
		assertError(t, rec, http.StatusNotFound, "not_found", "")
		if strings.Contains(rec.Body.String(), "mfa_") {
			t.Errorf("404 body names a method: %s", rec.Body)
		}
		e.noLeak(string(webauthnState), string(totpSeed), string(recoveryState), credentialID)
	})
}

func TestMFAMethodRemove(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		alice := e.createUser("acme", `{"email": "alice@acme.example", "password": "`+alicePassword+`"}`)
		bob := e.createUser("acme", `{"email": "bob@acme.example"}`)
		e.enrollAll("acme", alice)
		e.addMFA("acme", bob, store.MFAMethod{ID: "mfa_bob", Kind: store.MFATOTP, Name: "Bob's phone", Secret: totpSeed})
		e.issueSession("acme", alice, "192.0.2.7", "mfa-test")
		all := []string{"mfa_1key", "mfa_2totp", "mfa_3codes"}
		base := "/api/v1/partners/acme/users/" + alice + "/mfa-methods/"

		// Read-only tokens cannot remove one.
		_, readOnly := e.newToken("acme", `{"name": "reporting", "read_only": true}`)
		e.unchanged(func() {
			rec := e.do(request{method: "DELETE", path: base + "mfa_2totp", auth: bearer(readOnly)})
			assertError(t, rec, http.StatusForbidden, "read_only_token", "")
		})
		// Another partner's admin token gets 404, as if acme had no such user.
		_, globex := e.newToken("globex", `{"name": "globex"}`)
		e.unchanged(func() {
			rec := e.do(request{method: "DELETE", path: base + "mfa_2totp", auth: bearer(globex)})
			assertError(t, rec, http.StatusNotFound, "not_found", "")
		})
		if got := e.mfaIDs("acme", alice); !slices.Equal(got, all) {
			t.Fatalf("after refused removals: %v, want %v", got, all)
		}

		// An unknown method, and bob's method through alice's path, are 404.
		e.unchanged(func() {
			assertError(t, e.call("DELETE", base+"mfa_nope", ""), http.StatusNotFound, "not_found", "")
			assertError(t, e.call("DELETE", base+"mfa_bob", ""), http.StatusNotFound, "not_found", "")
			assertError(t, e.call("DELETE", "/api/v1/partners/globex/users/"+alice+"/mfa-methods/mfa_2totp", ""), http.StatusNotFound, "not_found", "")
		})
		if got := e.mfaIDs("acme", bob); !slices.Equal(got, []string{"mfa_bob"}) {
			t.Errorf("bob's methods: %v", got)
		}

		// acme's own writable token removes exactly the one method.
		_, acme := e.newToken("acme", `{"name": "automation"}`)
		revokes := len(e.revoker.revoked())
		if rec := e.do(request{method: "DELETE", path: base + "mfa_2totp", auth: bearer(acme)}); rec.Code != http.StatusNoContent {
			t.Fatalf("remove = %d %s", rec.Code, rec.Body)
		}
		if got := e.mfaIDs("acme", alice); !slices.Equal(got, []string{"mfa_1key", "mfa_3codes"}) {
			t.Errorf("after removal: %v", got)
		}
		if _, err := e.store.GetMFAMethod(t.Context(), "acme", alice, "mfa_2totp"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("removed method: %v", err)
		}
		// Removing a method ends no session.
		if got := e.revoker.revoked(); len(got) != revokes {
			t.Errorf("revocations: %v", got[revokes:])
		}
		if ss, err := e.store.ListUserSessions(t.Context(), "acme", alice); err != nil || len(ss) != 1 {
			t.Errorf("alice's sessions after removal: %v, %v", ss, err)
		}
		assertError(t, e.call("DELETE", base+"mfa_2totp", ""), http.StatusNotFound, "not_found", "")
		// Recovery codes are removed the same way and audited by their name.
		e.mustCall("DELETE", base+"mfa_3codes", "", http.StatusNoContent)

		page := e.auditEvents("/api/v1/partners/acme/audit?action=user.mfa_remove")
		type seen struct {
			outcome audit.Outcome
			reason  string
			target  audit.Target
			changes []audit.Change
		}
		var got []seen
		for _, ev := range page.Events {
			got = append(got, seen{ev.Outcome, ev.Reason, ev.Target, ev.Changes})
		}
		// Newest first. The globex token's attempt went to globex's trail.
		want := []seen{
			{audit.Success, "", audit.Target{Type: "mfa_method", ID: "mfa_3codes"},
				[]audit.Change{{Field: "kind", From: "recovery"}, {Field: "name", From: "Recovery codes"}}},
			{audit.Failure, "not_found", audit.Target{Type: "mfa_method", ID: "mfa_2totp"}, nil},
			{audit.Success, "", audit.Target{Type: "mfa_method", ID: "mfa_2totp"},
				[]audit.Change{{Field: "kind", From: "totp"}, {Field: "name", From: "Phone"}}},
			{audit.Failure, "not_found", audit.Target{Type: "mfa_method", ID: "mfa_bob"}, nil},
			{audit.Failure, "not_found", audit.Target{Type: "mfa_method", ID: "mfa_nope"}, nil},
			{audit.Failure, "read_only_token", audit.Target{Type: "partner", ID: "acme"}, nil},
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("audit events:\n got %+v\nwant %+v", got, want)
		}
		globexTrail := e.auditEvents("/api/v1/partners/globex/audit?action=user.mfa_remove")
		if len(globexTrail.Events) != 2 {
			t.Errorf("globex's trail: %+v", globexTrail.Events)
		}
		e.noLeak(string(totpSeed), string(recoveryState), credentialID)
	})
}

// TestMFAMethodRemoveOwnNeedsFreshSignIn: a partner admin's cookie
// session removes the admin's own second factor only within 15 minutes
// of signing in, so a browser left open, or a session taken, cannot strip
// them. Other users' methods, and tokens, are not bound to a sign-in.
func TestMFAMethodRemoveOwnNeedsFreshSignIn(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newLiveEnv(t, backend)
		s := e.setupPartnerAdmin()
		e.enrollAll("acme", s.admin)
		e.addMFA("acme", s.plain, store.MFAMethod{ID: "mfa_plain", Kind: store.MFATOTP, Name: "Phone", Secret: totpSeed})
		own := "/api/v1/partners/acme/users/" + s.admin + "/mfa-methods/"
		remove := func(cookie, csrf, path string) *httptest.ResponseRecorder {
			return e.do(cookieRequest("DELETE", s.host, path, "", cookie, csrf))
		}

		if rec := remove(s.cookie, s.csrf, own+"mfa_1key"); rec.Code != http.StatusNoContent {
			t.Fatalf("own method within 15 minutes of signing in: %d %s", rec.Code, rec.Body)
		}
		e.clock.Advance(freshSignIn + time.Minute)
		// Not e.unchanged: the request touches the session's last use.
		rec := remove(s.cookie, s.csrf, own+"mfa_2totp")
		assertError(t, rec, http.StatusForbidden, "reauthentication_required", "")
		if !strings.Contains(rec.Body.String(), "sign out and sign in again") {
			t.Errorf("message: %s", rec.Body)
		}
		if got := e.mfaIDs("acme", s.admin); !slices.Equal(got, []string{"mfa_2totp", "mfa_3codes"}) {
			t.Errorf("the admin's methods after the refusal: %v", got)
		}
		if rec := remove(s.cookie, s.csrf, "/api/v1/partners/acme/users/"+s.plain+"/mfa-methods/mfa_plain"); rec.Code != http.StatusNoContent {
			t.Errorf("another user's method with an old sign-in: %d %s", rec.Code, rec.Body)
		}

		// A new sign-in may again.
		fresh := e.issueSession("acme", s.admin, "192.0.2.10", "admin-browser")
		csrf := decodeAs[meJSON](t, e.do(cookieRequest("GET", s.host, "/api/v1/me", "", fresh, "")).Body.Bytes()).CSRFToken
		if rec := remove(fresh, csrf, own+"mfa_2totp"); rec.Code != http.StatusNoContent {
			t.Errorf("own method after signing in again: %d %s", rec.Code, rec.Body)
		}
		if got := e.mfaIDs("acme", s.admin); !slices.Equal(got, []string{"mfa_3codes"}) {
			t.Errorf("the admin's methods: %v", got)
		}
		events := e.auditEvents("/api/v1/partners/acme/audit?action=user.mfa_remove").Events
		if len(events) != 4 || events[2].Outcome != audit.Failure || events[2].Reason != "reauthentication_required" {
			t.Errorf("events = %+v", events)
		}
	})
}
