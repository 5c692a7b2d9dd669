package e2e

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
)

// scim sends one SCIM request with token to node n and decodes the answer,
// failing unless the status is want.
func (n *node) scim(t *testing.T, token, method, path, payload string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, n.url("admin.localhost", "/scim/v2/acme"+path), strings.NewReader(payload))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if payload != "" {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	resp := send(t, n.client(), req, nil)
	b := body(resp)
	if resp.StatusCode != want {
		t.Fatalf("SCIM %s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	var out map[string]any
	if b != "" {
		if err := json.Unmarshal([]byte(b), &out); err != nil {
			t.Fatalf("SCIM %s %s: %v: %s", method, path, err, b)
		}
	}
	return out
}

// TestSCIMProvisioning: a directory provisions a user into a group that
// maps to a role over SCIM; the user signs in and the app sees the role;
// the directory deactivates the user and the live session is refused on
// the other node within a second, measured over several rounds.
func TestSCIMProvisioning(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	up := startUpstream(t)
	a := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	b := a.twin(t)
	host := partnerHost("acme")
	a.mustAdmin(t, "POST", "/api/v1/partners", map[string]any{"id": "acme", "name": "Acme Corp"}, http.StatusCreated)
	token := a.mustAdmin(t, "POST", "/api/v1/partners/acme/scim-tokens", map[string]any{"name": "okta"}, http.StatusCreated)["token"].(string)
	b.waitHost(t, host)

	const password = "Provisioned passphrase 7"
	user := a.scim(t, token, "POST", "/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName": "sam@acme.example", "externalId": "00u9", "name": {"givenName": "Sam", "familyName": "Ito"},
		"emails": [{"value": "sam@acme.example", "type": "work", "primary": true}], "active": true,
		"password": "`+password+`"}`, http.StatusCreated)
	userID := user["id"].(string)
	group := a.scim(t, token, "POST", "/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		"displayName": "Sales", "members": [{"value": "`+userID+`"}]}`, http.StatusCreated)
	a.mustAdmin(t, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": group["id"], "role": "sales-rep"}, http.StatusCreated)

	c := b.signIn(t, host, "sam@acme.example", password)
	got := up.reached(t, c, b.url(host, "/"), nil)
	if got.Header.Get("X-Auth-Roles") != "sales-rep" || got.Header.Get("X-Auth-Groups") != "Sales" {
		t.Errorf("app saw roles %q, groups %q", got.Header.Get("X-Auth-Roles"), got.Header.Get("X-Auth-Groups"))
	}

	var lags []time.Duration
	for round := range 30 {
		if round > 0 {
			a.scim(t, token, "PATCH", "/Users/"+userID, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
				"Operations": [{"op": "replace", "path": "active", "value": true}]}`, http.StatusOK)
			c = b.signIn(t, host, "sam@acme.example", password)
		}
		cookie := b.sessionHeader(t, c, host)
		if resp := get(t, b.client(), b.url(host, "/"), cookie); resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: live session refused before deactivation: %d", round, resp.StatusCode)
		}
		start := time.Now()
		a.scim(t, token, "PATCH", "/Users/"+userID, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations": [{"op": "Replace", "path": "active", "value": "False"}]}`, http.StatusOK)
		resp := poll(time.Until(start.Add(time.Second)), 0, func() *http.Response { return get(t, b.client(), b.url(host, "/"), cookie) }, http.StatusUnauthorized)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("round %d: node B still serves a deprovisioned user after 1s (status %d)", round, resp.StatusCode)
		}
		lags = append(lags, time.Since(start))
	}
	slices.Sort(lags)
	t.Logf("SCIM deactivation on A refused on B (including the SCIM call) over %d rounds: p50 %v, p99 %v, max %v",
		len(lags), lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1])
	if resp := b.login(t, b.client(), host, "sam@acme.example", password, "/"); resp.StatusCode == http.StatusSeeOther {
		t.Error("a deprovisioned user signed in")
	}
	// A token of acme is nobody on another partner's URL.
	req, _ := http.NewRequest("GET", a.url("admin.localhost", "/scim/v2/globex/Users"), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	if resp := send(t, a.client(), req, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("acme's token on globex's URL: %d", resp.StatusCode)
	}
}
