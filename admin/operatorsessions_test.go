package admin

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/audit"
)

// TestOperatorSession follows an operator session from the key that
// opens it to its end: it acts as the key's operator, opens no other
// session, and stops working the moment it is ended.
func TestOperatorSession(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		rec := e.call("POST", "/api/v1/operator-sessions", "")
		if rec.Code != http.StatusCreated {
			t.Fatalf("open: %d %s", rec.Code, rec.Body)
		}
		opened := decodeAs[operatorSessionJSON](t, rec.Body.Bytes())
		if !strings.HasPrefix(opened.Token, operatorSessionPrefix+operatorSessionIDPrefix) || !opened.ExpiresAt.Equal(t0.Add(operatorSessionTTL)) {
			t.Errorf("opened = %+v", opened)
		}
		session := opened.Token
		e.mu.Lock()
		e.bodies = nil
		e.mu.Unlock()

		assertJSON(t, e.as(session, "GET", "/api/v1/me", "").Body.Bytes(), `{"kind": "operator", "name": "ops", "read_only": false}`)
		if rec := e.as(session, "POST", "/api/v1/partners", `{"id": "acme", "name": "Acme"}`); rec.Code != http.StatusCreated {
			t.Fatalf("create a partner with the session: %d %s", rec.Code, rec.Body)
		}
		_, admin := e.newToken("acme", `{"name": "automation"}`)
		e.unchanged(func() {
			// A session cannot stretch itself by opening another.
			assertError(t, e.as(session, "POST", "/api/v1/operator-sessions", ""), http.StatusForbidden, "forbidden", "")
			assertError(t, e.call("DELETE", "/api/v1/operator-sessions/current", ""), http.StatusForbidden, "forbidden", "")
			assertError(t, e.as(admin, "POST", "/api/v1/operator-sessions", ""), http.StatusForbidden, "forbidden", "")
			assertError(t, e.as(admin, "DELETE", "/api/v1/operator-sessions/current", ""), http.StatusForbidden, "forbidden", "")
			assertError(t, e.as(session, "POST", redeemPath, ""), http.StatusForbidden, "forbidden", "")
		})

		if rec := e.as(session, "DELETE", "/api/v1/operator-sessions/current", ""); rec.Code != http.StatusNoContent {
			t.Fatalf("end: %d %s", rec.Code, rec.Body)
		}
		assertError(t, e.as(session, "GET", "/api/v1/partners", ""), http.StatusUnauthorized, "unauthorized", "")

		// The platform's trail names the key's operator, and the session
		// that ended: the key opened it, the session ended itself.
		events := e.auditEvents("/api/v1/audit?action=operator_session.*").Events
		if !slices.Equal(eventActions(events), []string{"operator_session.delete", "operator_session.create"}) {
			t.Fatalf("events = %v", eventActions(events))
		}
		id := strings.Split(session, ".")[1]
		for i, actor := range []audit.Actor{
			{Type: audit.ActorOperator, ID: "ops", Name: "ops (session " + id + ")"},
			{Type: audit.ActorOperator, ID: "ops", Name: "ops"},
		} {
			if ev := events[i]; ev.Actor != actor || ev.Target != (audit.Target{Type: "operator_session", ID: id}) || ev.Outcome != audit.Success {
				t.Errorf("event %+v", ev)
			}
		}
		e.noLeak(session, strings.Split(session, ".")[2])
	})
}

// TestOperatorSessionNamed: what an operator session makes, and its
// audit events, name the session, so a stolen session's work can be
// found; the trail still finds it by the key's name.
func TestOperatorSessionNamed(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		session := e.newOperatorSession()
		id := strings.Split(session, ".")[1]
		rec := e.as(session, "POST", "/api/v1/partners/acme/admin-tokens", `{"name": "automation"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("admin token through the session: %d %s", rec.Code, rec.Body)
		}
		tok := decodeAs[tokenJSON](t, rec.Body.Bytes())
		if want := "operator:ops/" + id; tok.CreatedBy != want {
			t.Errorf("created_by = %q, want %q", tok.CreatedBy, want)
		}
		if stored, err := e.store.GetToken(t.Context(), "acme", tok.ID); err != nil || stored.CreatedBy != "operator:ops/"+id {
			t.Errorf("stored token = %+v, %v", stored, err)
		}
		events := e.auditEvents("/api/v1/partners/acme/audit?actor=ops&action=admin_token.create").Events
		if len(events) != 1 || events[0].Actor != (audit.Actor{Type: audit.ActorOperator, ID: "ops", Name: "ops (session " + id + ")"}) ||
			events[0].Target != (audit.Target{Type: "admin_token", ID: tok.ID}) {
			t.Errorf("events = %+v", events)
		}
		// The key itself is still plain "ops".
		if by := decodeAs[tokenJSON](t, e.mustCall("POST", "/api/v1/partners/acme/admin-tokens", `{"name": "by key"}`, http.StatusCreated)).CreatedBy; by != "operator:ops" {
			t.Errorf("created_by with the key = %q", by)
		}
	})
}

// TestOperatorSessionEnds: a session expires, ends with its key's removal
// from the configuration, and its wrong secrets count against the
// address like every failed Bearer token.
func TestOperatorSessionEnds(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		session := e.newOperatorSession()
		other := decodeAs[operatorSessionJSON](t, e.do(request{method: "POST", path: "/api/v1/operator-sessions", auth: bearer(testKey2)}).Body.Bytes()).Token

		// The key ops2 leaves the configuration: its sessions end with it.
		e.h.keys = slices.DeleteFunc(slices.Clone(e.h.keys), func(k operatorDigest) bool { return k.name == "ops2" })
		assertError(t, e.as(other, "GET", "/api/v1/partners", ""), http.StatusUnauthorized, "unauthorized", "")
		if rec := e.as(session, "GET", "/api/v1/partners", ""); rec.Code != http.StatusOK {
			t.Errorf("the other key's session: %d %s", rec.Code, rec.Body)
		}

		guess := session[:strings.LastIndexByte(session, '.')+1] + strings.Repeat("G", 43)
		for i := range authFailuresPerIP {
			rec := e.do(request{method: "GET", path: "/api/v1/partners", auth: bearer(guess), remoteAddr: "198.51.100.7:5000"})
			if rec.Code != http.StatusUnauthorized {
				t.Fatalf("wrong secret #%d: %d %s", i+1, rec.Code, rec.Body)
			}
		}
		assertError(t, e.do(request{method: "GET", path: "/api/v1/partners", auth: bearer(session), remoteAddr: "198.51.100.7:5000"}),
			http.StatusTooManyRequests, "rate_limited", "")
		for _, bad := range []string{"pgos.", "pgos.os_x.y", "pgos.os_" + strings.Repeat("A", 20) + ".s", session + ".x"} {
			assertError(t, e.do(request{method: "GET", path: "/api/v1/partners", auth: bearer(bad), remoteAddr: "198.51.100.8:5000"}),
				http.StatusUnauthorized, "unauthorized", "")
		}

		e.clock.Advance(operatorSessionTTL)
		assertError(t, e.as(session, "GET", "/api/v1/partners", ""), http.StatusUnauthorized, "token_expired", "")
	})
}

// TestOperatorKeyNotLikeSession: a key that reads like a session would
// be mistaken for one.
func TestOperatorKeyNotLikeSession(t *testing.T) {
	t.Parallel()
	err := CheckOperatorKeys([]OperatorKey{{Key: operatorSessionPrefix + "looks-like-a-session"}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", operatorSessionPrefix)) {
		t.Errorf("an operator key with the session prefix: %v", err)
	}
}
