package scim

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// requests returns partner's logged requests, newest first.
func (e *env) requests(partner string) []store.RequestRecord {
	e.t.Helper()
	recs, err := e.store.ListRequests(e.t.Context(), partner, 1000)
	if err != nil {
		e.t.Fatal(err)
	}
	return recs
}

// requestAudit returns partner's scim.request events, newest first.
func (e *env) requestAudit(partner string) []audit.Event {
	e.t.Helper()
	page, err := e.trail.Query(e.t.Context(), partner, audit.Query{Filter: audit.Filter{Action: "scim.request"}, Limit: audit.MaxLimit})
	if err != nil {
		e.t.Fatal(err)
	}
	return page.Events
}

func TestRequestLog(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		if rec, _ := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON); rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		if rec, _ := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON); rec.Code != http.StatusConflict {
			t.Fatalf("duplicate create: %d %s", rec.Code, rec.Body)
		}
		e.call(acme, "GET", `/scim/v2/acme/Users?filter=userName+eq+%22dana@acme.example%22&attributes=userName&startIndex=1`, "")
		e.call(acme, "GET", "/scim/v2/acme/Users?filter=nonsense", "")
		e.call(acme, "GET", "/scim/v2/acme/Users/nobody", "")

		type row struct {
			method, path string
			status       int
			scimType     string
		}
		var got []row
		for _, r := range e.requests("acme") {
			got = append(got, row{r.Method, r.Path, r.Status, r.ScimType})
			if r.Time.IsZero() || r.DurationMs < 0 {
				t.Errorf("%s %s: time %v, duration %d", r.Method, r.Path, r.Time, r.DurationMs)
			}
			if r.Status >= 400 && r.Detail == "" {
				t.Errorf("%s %s: a failure without detail", r.Method, r.Path)
			}
		}
		want := []row{
			{"GET", "/scim/v2/acme/Users/nobody", 404, ""},
			{"GET", "/scim/v2/acme/Users?filter=nonsense", 400, "invalidFilter"},
			{"GET", "/scim/v2/acme/Users?filter=userName+eq+%22dana%40acme.example%22", 200, ""},
			{"POST", "/scim/v2/acme/Users", 409, "uniqueness"},
			{"POST", "/scim/v2/acme/Users", 201, ""},
		}
		if !slices.Equal(got, want) {
			t.Errorf("request log:\n got  %v\n want %v", got, want)
		}

		// The successful create has its own scim.user.create event; every
		// other request has a scim.request event.
		type event struct {
			outcome audit.Outcome
			reason  string
		}
		var events []event
		for _, ev := range e.requestAudit("acme") {
			events = append(events, event{ev.Outcome, ev.Reason})
			if ev.Actor != (audit.Actor{Type: audit.ActorSCIMToken, ID: "t_acme"}) {
				t.Errorf("actor %v", ev.Actor)
			}
		}
		wantEvents := []event{
			{audit.Failure, "not_found"},
			{audit.Failure, "invalidFilter"},
			{audit.Success, ""},
			{audit.Failure, "uniqueness"},
		}
		if !slices.Equal(events, wantEvents) {
			t.Errorf("scim.request events:\n got  %v\n want %v", events, wantEvents)
		}
		if got := e.requests("globex"); len(got) != 0 {
			t.Errorf("globex's log holds acme's requests: %v", got)
		}
	})
}

func TestRequestLogHoldsNoSecret(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		e.call(acme, "GET", "/scim/v2/acme/Users?filter=userName+eq+%22x%22&access_token="+acme, "")
		e.call(acme, "POST", "/scim/v2/acme/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "x", "password": "hunter2-secret"}`)
		e.call(acme, "GET", "/scim/v2/acme/Users/nobody", "")
		page, err := e.trail.Query(t.Context(), "acme", audit.Query{Limit: audit.MaxLimit})
		if err != nil {
			t.Fatal(err)
		}
		logged, err := json.Marshal([]any{e.requests("acme"), page.Events})
		if err != nil {
			t.Fatal(err)
		}
		_, secret, _ := strings.Cut(acme, "_")
		for _, s := range []string{acme, secret, "Bearer", "hunter2-secret", "access_token"} {
			if strings.Contains(string(logged), s) {
				t.Errorf("the logs hold %q: %s", s, logged)
			}
		}
	})
}

func TestRequestLogKeepsTheLatest(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		const sent = RequestsKept + 5
		for i := range sent {
			e.call(e.tokens["acme"], "GET", fmt.Sprintf("/scim/v2/acme/Users/u%d", i), "")
		}
		got := e.requests("acme")
		if len(got) != RequestsKept {
			t.Fatalf("the log holds %d requests, want %d", len(got), RequestsKept)
		}
		if newest, oldest := got[0].Path, got[len(got)-1].Path; newest != fmt.Sprintf("/scim/v2/acme/Users/u%d", sent-1) || oldest != fmt.Sprintf("/scim/v2/acme/Users/u%d", sent-RequestsKept) {
			t.Errorf("the log runs from %s to %s", oldest, newest)
		}
	})
}

func TestRequestLogSkipsUnauthenticated(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		for _, tok := range []string{"", "nonsense", e.tokens["globex"], e.tokens["acme"] + "x"} {
			if rec, _ := e.call(tok, "GET", "/scim/v2/acme/Users", ""); rec.Code != http.StatusUnauthorized {
				t.Errorf("token %q: %d", tok, rec.Code)
			}
		}
		for _, p := range []string{"acme", "globex"} {
			if got := e.requests(p); len(got) != 0 {
				t.Errorf("%s's log holds unauthenticated requests: %v", p, got)
			}
			if got := e.requestAudit(p); len(got) != 0 {
				t.Errorf("%s's audit holds unauthenticated requests: %v", p, got)
			}
		}
	})
}

// A write that changes nothing records no event of its own, so it gets
// the per-request one: every request is in the trail exactly once.
func TestNoOpWriteIsAudited(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, e *env) {
		acme := e.tokens["acme"]
		_, created := e.call(acme, "POST", "/scim/v2/acme/Users", danaJSON)
		id := created["id"].(string)
		rec, _ := e.call(acme, "PATCH", "/scim/v2/acme/Users/"+id, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "replace", "path": "active", "value": true}]}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("no-op PATCH: %d %s", rec.Code, rec.Body)
		}
		events := e.requestAudit("acme")
		if len(events) != 1 || events[0].Outcome != audit.Success {
			t.Errorf("scim.request events after a create and a no-op PATCH: %+v", events)
		}
	})
}
