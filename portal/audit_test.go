package portal

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/audit"
)

func TestAuditLogFiltersAndVerifies(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		bob := e.user("acme", "bob@acme.test")
		e.apiJSON("POST", "/api/v1/partners/acme/users/"+bob+"/suspend", nil, nil)

		res := b.get("/audit")
		if res.status != http.StatusOK {
			t.Fatalf("audit: %d\n%s", res.status, res.body)
		}
		for _, want := range []string{"Chain verified", "group.create", "user.suspend", "role_mapping.create", `aria-current="page">Audit log`} {
			if !strings.Contains(res.body, want) {
				t.Errorf("audit page lacks %q", want)
			}
		}
		res = b.get("/audit?action=user.*")
		if !strings.Contains(res.body, "user.suspend") || !strings.Contains(res.body, "user.create") || strings.Contains(res.body, "group.create") || strings.Contains(res.body, "role_mapping.create") {
			t.Errorf("filter by user.*:\n%s", res.body)
		}
		res = b.get("/audit?action=user.suspend&target=" + bob)
		if got := strings.Count(res.body, `<td class="mono">user.suspend</td>`); got != 1 || strings.Contains(res.body, "user.create") {
			t.Errorf("filter by action and target shows %d suspensions:\n%s", got, res.body)
		}
		// Times come from datetime-local inputs, read as UTC.
		if res := b.get("/audit?since=2000-01-01T00:00"); !strings.Contains(res.body, "user.suspend") {
			t.Errorf("since 2000 hides events:\n%s", res.body)
		}
		if res := b.get("/audit?until=2000-01-01T00:00"); !strings.Contains(res.body, "No events match this filter") {
			t.Errorf("until 2000 shows events:\n%s", res.body)
		}
		res = b.get("/audit?since=yesterday")
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, "Enter a date and time") || !strings.Contains(res.body, `value="yesterday"`) {
			t.Errorf("unreadable time: %d\n%s", res.status, res.body)
		}
		res = b.get("/audit?action=User")
		if res.status != http.StatusBadRequest || !strings.Contains(res.body, "neither an action nor a prefix") {
			t.Errorf("bad action: %d\n%s", res.status, res.body)
		}
	})
}

func TestAuditExportIsJSONLines(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		e.user("acme", "bob@acme.test")
		page := b.get("/audit?action=user.*")
		if !strings.Contains(page.body, `href="`+partnerPath+`/audit/export?action=user.%2A"`) {
			t.Errorf("export link does not carry the filter:\n%s", page.body)
		}
		res := b.get("/audit/export?action=user.*")
		if res.status != http.StatusOK || res.header.Get("Content-Type") != "application/x-ndjson" || !strings.Contains(res.header.Get("Content-Disposition"), `acme-audit.jsonl`) {
			t.Fatalf("export: %d %v\n%s", res.status, res.header, res.body)
		}
		lines := strings.Split(strings.TrimSuffix(res.body, "\n"), "\n")
		if len(lines) < 2 {
			t.Fatalf("export holds %d lines:\n%s", len(lines), res.body)
		}
		for _, line := range lines {
			var ev audit.Event
			if err := json.Unmarshal([]byte(line), &ev); err != nil || !strings.HasPrefix(ev.Action, "user.") {
				t.Errorf("line %q: %v", line, err)
			}
		}
		if res := b.get("/audit/export?action=User"); res.status != http.StatusBadRequest || !strings.Contains(res.body, "neither an action nor a prefix") {
			t.Errorf("bad export filter: %d\n%s", res.status, res.body)
		}
	})
}

func TestMyPagesAreForPartnerAdminsOnly(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	// A setup link is for a partner without users: redeem it first.
	var link struct {
		Token string `json:"token"`
	}
	e.apiJSON("POST", "/api/v1/partners/acme/setup-links", map[string]any{"name": "IT admin"}, &link)
	setup := e.browser(adminHost)
	if res := setup.post("/setup", url.Values{"token": {link.Token}}); res.status != http.StatusSeeOther {
		t.Fatalf("redeem setup link: %d\n%s", res.status, res.body)
	}
	bob := e.user("acme", "bob@acme.test")
	for who, b := range map[string]*browser{"operator": e.operator(), "setup viewer": setup} {
		for _, path := range []string{"/audit", "/audit/export", "/users", "/users/" + bob, "/groups"} {
			if res := b.get(path); res.status != http.StatusNotFound {
				t.Errorf("%s GET %s: %d", who, path, res.status)
			}
		}
		csrf := csrfOf(t, b.get("/").body)
		if res := b.post("/users/"+bob+"/suspend", url.Values{"csrf": {csrf}}); res.status != http.StatusNotFound {
			t.Errorf("%s suspends: %d", who, res.status)
		}
	}
	if u := apiUser(e, "acme", bob); u.Status != "active" {
		t.Errorf("user changed: %q", u.Status)
	}
}
