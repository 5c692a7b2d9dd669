package admin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
)

type auditPage struct {
	Events     []audit.Event `json:"events"`
	NextCursor *string       `json:"next_cursor"`
}

// auditEvents asks path (a stream's /audit, with its query) for one page.
func (e *env) auditEvents(path string) auditPage {
	e.t.Helper()
	var page auditPage
	e.mustJSON("GET", path, "", http.StatusOK, &page)
	return page
}

func eventActions(events []audit.Event) []string {
	out := make([]string, len(events))
	for i, ev := range events {
		out[i] = ev.Action
	}
	return out
}

// wrote is one write of the audit walk: what the trail must say of it.
type wrote struct {
	action    string
	actor     audit.Actor
	target    audit.Target
	changes   []audit.Change
	requestID string
	at        time.Time
}

// TestAuditTrail makes a series of writes with two credentials and reads
// them back through the API: newest first, each naming its actor, target,
// outcome, request id and changes, never a secret; filtered, paged,
// exported oldest first and verified.
func TestAuditTrail(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		operator := audit.Actor{Type: audit.ActorOperator, ID: "ops", Name: "ops"}
		var writes []wrote
		// write makes one request a minute after the last and returns
		// the body; the trail must show it as w.
		write := func(req request, status int, w wrote) []byte {
			t.Helper()
			e.clock.Advance(time.Minute)
			rec := e.do(req)
			if rec.Code != status {
				t.Fatalf("%s %s = %d %s, want %d", req.method, req.path, rec.Code, rec.Body, status)
			}
			w.requestID = rec.Header().Get("X-Request-Id")
			w.at = e.clock.Now().UTC().Truncate(time.Millisecond)
			if w.requestID == "" {
				t.Fatalf("%s %s answered no X-Request-Id", req.method, req.path)
			}
			writes = append(writes, w)
			return rec.Body.Bytes()
		}
		op := func(method, path, body string) request {
			return request{method: method, path: path, body: body}
		}
		users := "/api/v1/partners/acme/users"

		var u userJSON
		if err := json.Unmarshal(write(op("POST", users, `{"email": "alice@acme.example", "password": "`+alicePassword+`"}`), http.StatusCreated,
			wrote{action: "user.create", actor: operator}), &u); err != nil {
			t.Fatal(err)
		}
		user := audit.Target{Type: "user", ID: u.ID}
		writes[0].target = user
		writes[0].changes = []audit.Change{{Field: "email", To: "alice@acme.example"}, {Field: "password", Redacted: true}}
		write(op("PATCH", users+"/"+u.ID, `{"name": "Alice Doe"}`), http.StatusOK,
			wrote{action: "user.update", actor: operator, target: user, changes: []audit.Change{{Field: "name", To: "Alice Doe"}}})
		write(op("PUT", users+"/"+u.ID+"/password", `{"password": "`+newPassword+`"}`), http.StatusNoContent,
			wrote{action: "user.password_set", actor: operator, target: user, changes: []audit.Change{{Field: "password", Redacted: true}}})
		write(op("POST", users+"/"+u.ID+"/suspend", ""), http.StatusOK,
			wrote{action: "user.suspend", actor: operator, target: user, changes: []audit.Change{{Field: "active", To: "false"}}})
		var tok struct{ ID, Token string }
		if err := json.Unmarshal(write(op("POST", "/api/v1/partners/acme/admin-tokens", `{"name": "automation"}`), http.StatusCreated,
			wrote{action: "admin_token.create", actor: operator}), &tok); err != nil {
			t.Fatal(err)
		}
		writes[4].target = audit.Target{Type: "admin_token", ID: tok.ID}
		writes[4].changes = []audit.Change{{Field: "name", To: "automation"}, {Field: "read_only", To: "false"}}
		// The next three come from the token, and say so.
		automation := audit.Actor{Type: audit.ActorAdminToken, ID: tok.ID, Name: "automation"}
		byToken := func(method, path, body string) request {
			return request{method: method, path: path, body: body, auth: bearer(tok.Token), remoteAddr: "203.0.113.5:443"}
		}
		var g groupJSON
		if err := json.Unmarshal(write(byToken("POST", "/api/v1/partners/acme/groups", `{"name": "Engineering"}`), http.StatusCreated,
			wrote{action: "group.create", actor: automation}), &g); err != nil {
			t.Fatal(err)
		}
		group := audit.Target{Type: "group", ID: g.ID}
		writes[5].target = group
		writes[5].changes = []audit.Change{{Field: "name", To: "Engineering"}}
		write(byToken("POST", "/api/v1/partners/acme/groups/"+g.ID+"/members", `{"members": ["`+u.ID+`"]}`), http.StatusOK,
			wrote{action: "group.members_add", actor: automation, target: group, changes: []audit.Change{{Field: "members", To: "+" + u.ID}}})
		var m roleMappingJSON
		if err := json.Unmarshal(write(byToken("POST", "/api/v1/partners/acme/role-mappings", `{"group": "`+g.ID+`", "role": "viewer"}`), http.StatusCreated,
			wrote{action: "role_mapping.create", actor: automation}), &m); err != nil {
			t.Fatal(err)
		}
		writes[7].target = audit.Target{Type: "role_mapping", ID: m.ID}
		writes[7].changes = []audit.Change{{Field: "group", To: g.ID}, {Field: "role", To: "viewer"}}
		write(op("DELETE", "/api/v1/partners/acme/admin-tokens/"+tok.ID, ""), http.StatusNoContent,
			wrote{action: "admin_token.revoke", actor: operator, target: audit.Target{Type: "admin_token", ID: tok.ID}})

		// Everything, newest first, after the partner's own creation.
		all := e.auditEvents("/api/v1/partners/acme/audit")
		if all.NextCursor != nil {
			t.Errorf("one page of %d events has a cursor", len(all.Events))
		}
		if len(all.Events) != len(writes)+1 {
			t.Fatalf("trail holds %v, want the partner's creation and %d writes", eventActions(all.Events), len(writes))
		}
		if last := all.Events[len(all.Events)-1]; last.Action != "partner.create" || last.Seq != 1 {
			t.Errorf("oldest event = %s #%d, want partner.create #1", last.Action, last.Seq)
		}
		for i, w := range writes {
			ev := all.Events[len(writes)-1-i]
			if ev.Action != w.action || ev.Actor != w.actor || ev.Target != w.target || ev.Outcome != audit.Success || ev.Reason != "" ||
				ev.PartnerID != "acme" || ev.Seq != int64(i+2) || !ev.Time.Equal(w.at) {
				t.Errorf("event %d = %+v, want %s by %+v on %+v at %v, success", i, ev, w.action, w.actor, w.target, w.at)
			}
			if ev.RequestID != w.requestID {
				t.Errorf("%s: request_id %q, response said %q", w.action, ev.RequestID, w.requestID)
			}
			wantIP := "192.0.2.1"
			if w.actor == automation {
				wantIP = "203.0.113.5"
			}
			if ev.SourceIP != wantIP {
				t.Errorf("%s: source_ip %q, want %q", w.action, ev.SourceIP, wantIP)
			}
			if !reflect.DeepEqual(ev.Changes, w.changes) {
				t.Errorf("%s: changes %+v, want %+v", w.action, ev.Changes, w.changes)
			}
		}

		// Filters select by action, action prefix, actor, target and
		// time; every one keeps the newest-first order.
		at := func(i int) string { return url.QueryEscape(writes[i].at.Format(time.RFC3339Nano)) }
		filters := []struct {
			query string
			want  []string
		}{
			{"action=user.update", []string{"user.update"}},
			{"action=user.*", []string{"user.suspend", "user.password_set", "user.update", "user.create"}},
			{"action=admin_token.*", []string{"admin_token.revoke", "admin_token.create"}},
			{"action=user", nil},
			{"actor=" + tok.ID, []string{"role_mapping.create", "group.members_add", "group.create"}},
			{"actor=" + tok.ID + "&action=group.*", []string{"group.members_add", "group.create"}},
			{"target=" + u.ID, []string{"user.suspend", "user.password_set", "user.update", "user.create"}},
			{"target=" + g.ID, []string{"group.members_add", "group.create"}},
			{"since=" + at(2) + "&until=" + at(5), []string{"admin_token.create", "user.suspend", "user.password_set"}},
			{"since=" + at(8), []string{"admin_token.revoke"}},
			{"until=" + at(0), []string{"partner.create"}},
		}
		for _, f := range filters {
			page := e.auditEvents("/api/v1/partners/acme/audit?" + f.query)
			if got := eventActions(page.Events); !slices.Equal(got, f.want) && !(len(got) == 0 && len(f.want) == 0) {
				t.Errorf("audit?%s = %v, want %v", f.query, got, f.want)
			}
		}

		// Pages of three chain to the end without repeats or gaps.
		var paged []audit.Event
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > len(all.Events) {
				t.Fatal("audit pagination does not end")
			}
			q := "limit=3"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			page := e.auditEvents("/api/v1/partners/acme/audit?" + q)
			if len(page.Events) > 3 {
				t.Errorf("page of limit 3 holds %d events", len(page.Events))
			}
			paged = append(paged, page.Events...)
			if page.NextCursor == nil {
				break
			}
			cursor = *page.NextCursor
		}
		if !reflect.DeepEqual(paged, all.Events) {
			t.Errorf("paged events %v, want %v", eventActions(paged), eventActions(all.Events))
		}

		// The export holds the same events, oldest first, one per line.
		rec := e.call("GET", "/api/v1/partners/acme/audit/export", "")
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/x-ndjson" {
			t.Fatalf("export = %d %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		if got := rec.Header().Get("Content-Disposition"); !strings.Contains(got, `filename="acme-audit.jsonl"`) {
			t.Errorf("Content-Disposition = %q", got)
		}
		exported := ndjsonEvents(t, rec.Body.Bytes())
		chronological := slices.Clone(all.Events)
		slices.Reverse(chronological)
		if !reflect.DeepEqual(exported, chronological) {
			t.Errorf("export holds %v, want %v", eventActions(exported), eventActions(chronological))
		}
		rec = e.call("GET", "/api/v1/partners/acme/audit/export?action=user.*&since="+at(1), "")
		if got := eventActions(ndjsonEvents(t, rec.Body.Bytes())); !slices.Equal(got, []string{"user.update", "user.password_set", "user.suspend"}) {
			t.Errorf("filtered export = %v", got)
		}

		var v audit.Verification
		e.mustJSON("GET", "/api/v1/partners/acme/audit/verify", "", http.StatusOK, &v)
		n := int64(len(all.Events))
		if want := (audit.Verification{OK: true, Checked: n, FirstSeq: 1, LastSeq: n}); !reflect.DeepEqual(v, want) {
			t.Errorf("verify = %+v, want %+v", v, want)
		}

		// Neither a password nor the token's secret, nor anything
		// derived from them, is ever in the trail.
		for _, body := range e.auditBodies() {
			for _, secret := range []string{alicePassword, newPassword, tok.Token, tok.Token[strings.LastIndexByte(tok.Token, '.')+1:], "argon2id"} {
				if strings.Contains(body, secret) {
					t.Errorf("an audit response holds the secret %q", secret)
				}
			}
		}
		e.noLeak(alicePassword, newPassword)
	})
}

// auditBodies are the response bodies that came from the audit routes:
// JSON pages and exports both hold events with actors and actions.
func (e *env) auditBodies() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for _, b := range e.bodies {
		if strings.Contains(b, `"outcome"`) {
			out = append(out, b)
		}
	}
	return out
}

// ndjsonEvents parses an export: every line one event, each ending in a
// newline, so a cut-short stream would show.
func ndjsonEvents(t *testing.T, body []byte) []audit.Event {
	t.Helper()
	if len(body) > 0 && body[len(body)-1] != '\n' {
		t.Errorf("export does not end with a newline")
	}
	var out []audit.Event
	sc := bufio.NewScanner(bytes.NewReader(body))
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		var ev audit.Event
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("export line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// TestAuditQueryErrors checks a malformed audit query is refused with
// 400 invalid_query naming the parameter, on the paged query and on the
// export alike.
func TestAuditQueryErrors(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		tests := []struct {
			query, field string
			paged        bool // only the paged query takes it
		}{
			{"action=User.Create", "", false},
			{"action=user.", "", false},
			{"action=*", "", false},
			{"since=yesterday", "since", false},
			{"until=2025-13-01T00:00:00Z", "until", false},
			{"since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", "until", false},
			{"who=ops", "who", false},
			{"actor=a&actor=b", "actor", false},
			{"limit=0", "limit", true},
			{"limit=501", "limit", true},
			{"limit=x", "limit", true},
			{"cursor=bogus", "cursor", true},
		}
		for _, tt := range tests {
			t.Run(tt.query, func(t *testing.T) {
				assertError(t, e.call("GET", "/api/v1/partners/acme/audit?"+tt.query, ""), http.StatusBadRequest, "invalid_query", tt.field)
				if !tt.paged {
					assertError(t, e.call("GET", "/api/v1/partners/acme/audit/export?"+tt.query, ""), http.StatusBadRequest, "invalid_query", tt.field)
				}
			})
		}
		// The message says what is wrong with the filter, not how the
		// handler called the audit log.
		var body struct{ Error struct{ Message string } }
		e.mustJSON("GET", "/api/v1/partners/acme/audit?action=User", "", http.StatusBadRequest, &body)
		if !strings.HasPrefix(body.Error.Message, `action "User"`) {
			t.Errorf("bad action answered %q", body.Error.Message)
		}
		// The export has no pages, so page parameters are unknown there.
		assertError(t, e.call("GET", "/api/v1/partners/acme/audit/export?limit=10", ""), http.StatusBadRequest, "invalid_query", "limit")
	})
}

// TestAuditDeniedWrites checks refused writes are recorded as failures,
// in the trail of the caller's own partner, with the code the caller saw.
func TestAuditDeniedWrites(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		globexID, globexToken := e.newToken("globex", `{"name": "globex automation"}`)
		readOnlyID, readOnly := e.newToken("acme", `{"name": "reporting", "read_only": true}`)

		rec := e.do(request{method: "POST", path: "/api/v1/partners/acme/users", body: `{"email": "mole@acme.example"}`, auth: bearer(globexToken)})
		assertError(t, rec, http.StatusNotFound, "not_found", "")
		page := e.auditEvents("/api/v1/partners/globex/audit?action=user.create")
		if len(page.Events) != 1 {
			t.Fatalf("globex's trail holds %v, want the refused user.create", eventActions(page.Events))
		}
		ev := page.Events[0]
		if ev.Outcome != audit.Failure || ev.Reason != "not_found" || ev.PartnerID != "globex" ||
			ev.Actor != (audit.Actor{Type: audit.ActorAdminToken, ID: globexID, Name: "globex automation"}) ||
			ev.Target != (audit.Target{Type: "partner", ID: "acme"}) || ev.RequestID != rec.Header().Get("X-Request-Id") {
			t.Errorf("refused cross-partner write recorded as %+v", ev)
		}
		// The target partner's trail is not the intruder's to write.
		if got := e.auditEvents("/api/v1/partners/acme/audit?action=user.create"); len(got.Events) != 0 {
			t.Errorf("acme's trail holds the other partner's attempt: %+v", got.Events)
		}

		assertError(t, e.do(request{method: "POST", path: "/api/v1/partners/acme/users", body: `{"email": "x@acme.example"}`, auth: bearer(readOnly)}),
			http.StatusForbidden, "read_only_token", "")
		assertError(t, e.call("POST", "/api/v1/partners/acme/users", `{"email": "not an email"}`), http.StatusUnprocessableEntity, "validation_failed", "email")
		page = e.auditEvents("/api/v1/partners/acme/audit?action=user.create")
		if len(page.Events) != 2 {
			t.Fatalf("acme's trail holds %+v, want two refused creations", page.Events)
		}
		if ev := page.Events[0]; ev.Outcome != audit.Failure || ev.Reason != "validation_failed" || ev.Actor.Type != audit.ActorOperator {
			t.Errorf("invalid write recorded as %+v", ev)
		}
		if ev := page.Events[1]; ev.Outcome != audit.Failure || ev.Reason != "read_only_token" || ev.Actor.ID != readOnlyID {
			t.Errorf("read-only write recorded as %+v", ev)
		}
		// Reads are not audited.
		if got := e.auditEvents("/api/v1/partners/acme/audit?actor=" + readOnlyID); len(got.Events) != 1 {
			t.Errorf("the read-only token's trail is %v, want only its refused write", eventActions(got.Events))
		}
	})
}

// TestPlatformAudit checks the platform stream, readable by operators
// only, keeps the record of a partner that was deleted along with its
// own trail.
func TestPlatformAudit(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("initech")
		e.createUser("initech", `{"email": "a@initech.example"}`)
		_, token := e.newToken("acme", `{"name": "automation"}`)
		assertJSON(t, e.mustCall("GET", "/api/v1/audit", "", http.StatusOK), `{"events": [], "next_cursor": null}`)

		e.clock.Advance(time.Minute)
		rec := e.call("DELETE", "/api/v1/partners/initech", "")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("delete = %d %s", rec.Code, rec.Body)
		}
		page := e.auditEvents("/api/v1/audit")
		if len(page.Events) != 1 {
			t.Fatalf("platform trail = %v, want the deletion", eventActions(page.Events))
		}
		ev := page.Events[0]
		want := audit.Event{
			Seq: 1, Time: t0.Add(time.Minute), Action: "partner.delete", Outcome: audit.Success,
			Actor:     audit.Actor{Type: audit.ActorOperator, ID: "ops", Name: "ops"},
			Target:    audit.Target{Type: "partner", ID: "initech"},
			Changes:   []audit.Change{{Field: "name", From: "INITECH"}},
			SourceIP:  "192.0.2.1",
			RequestID: rec.Header().Get("X-Request-Id"),
			PrevHash:  ev.PrevHash, Hash: ev.Hash,
		}
		if !reflect.DeepEqual(ev, want) {
			t.Errorf("deletion recorded as\n%+v\nwant\n%+v", ev, want)
		}
		if got := e.auditEvents("/api/v1/audit?action=partner.delete&target=initech"); len(got.Events) != 1 {
			t.Errorf("filtered platform trail = %v", eventActions(got.Events))
		}
		// The deleted partner's own trail went with it.
		assertError(t, e.call("GET", "/api/v1/partners/initech/audit", ""), http.StatusNotFound, "not_found", "")
		// Only operators read the platform stream.
		assertError(t, e.do(request{method: "GET", path: "/api/v1/audit", auth: bearer(token)}), http.StatusForbidden, "forbidden", "")
	})
}
