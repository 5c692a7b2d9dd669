package e2e

import (
	"net/http"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
)

// TestBaselineTightensEveryNode: two nodes share Redis; an operator on
// node A tightens the baseline (sessions of at most 1s, then SSO only)
// and node B holds a live session and a password sign-in to it at once.
func TestBaselineTightensEveryNode(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	up := startUpstream(t)
	a := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	b := a.twin(t)
	a.seedAcme(t)
	host := partnerHost("acme")
	b.waitHost(t, host)

	cookie := b.sessionHeader(t, b.signIn(t, host, acmeEmail, acmePassword), host)
	if resp := get(t, b.client(), b.url(host, "/"), cookie); resp.StatusCode != http.StatusOK {
		t.Fatalf("session on node B: %d", resp.StatusCode)
	}
	a.mustAdmin(t, "PUT", "/api/v1/governance", map[string]any{"session": map[string]any{"max_lifetime": "1s"}}, http.StatusOK)
	time.Sleep(1100 * time.Millisecond)
	if resp := get(t, b.client(), b.url(host, "/"), cookie); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("node B after the baseline cut sessions to 1s: %d, want 401", resp.StatusCode)
	}

	a.mustAdmin(t, "PUT", "/api/v1/governance", map[string]any{"sso_required": true}, http.StatusOK)
	changed := time.Now()
	deadline := changed.Add(time.Second)
	for {
		resp := b.login(t, b.client(), host, acmeEmail, acmePassword, "/")
		if resp.StatusCode == http.StatusForbidden {
			t.Logf("node B refused passwords %v after node A's answer", time.Since(changed).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("node B still signs in with a password 1s after the baseline required SSO: %d", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
	eff := b.mustAdmin(t, "GET", "/api/v1/partners/acme/policy/effective", nil, http.StatusOK)["effective"].(map[string]any)
	if eff["sso_required"] != true {
		t.Errorf("node B's effective policy: %v", eff)
	}
}
