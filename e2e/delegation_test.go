package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/internal/smtptest"
)

// adminAs calls the admin API with a Bearer token and decodes the answer,
// failing unless the status is want.
func (n *node) adminAs(t *testing.T, token, method, path string, payload any, want int) map[string]any {
	t.Helper()
	var rd io.Reader
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, n.url("admin.localhost", path), rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp := send(t, n.client(), req, nil)
	n.checkContract(req, resp)
	b := body(resp)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, b)
	}
	var out map[string]any
	if b != "" {
		if err := json.Unmarshal([]byte(b), &out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, b, err)
		}
	}
	return out
}

var linkPattern = regexp.MustCompile(`http://acme\.apps\.localhost/\.partnergate/password\?token=[A-Za-z0-9_-]+`)

// TestPartnerAdminJourney is the delegated-administration story end to
// end on two nodes sharing Redis: a partner admin, holding only an admin
// token, invites a user who sets a password from the mailed link and
// signs in; a group mapped to a role puts the role in the app's headers
// on the user's next request; suspending the user ends their live session
// on the other node within a second; and the partner's audit trail holds
// all of it, with an intact chain.
func TestPartnerAdminJourney(t *testing.T) {
	t.Parallel()
	mailbox := smtptest.Start(t, smtptest.WithoutSTARTTLS())
	r := redistest.Start(t)
	up := startUpstream(t)
	options := []string{
		"link_scheme http",
		fmt.Sprintf("mail {\n\t\t\thost %s\n\t\t\tport %d\n\t\t\tfrom \"Acme Portal <no-reply@acme.example>\"\n\t\t\ttls none\n\t\t}", mailbox.Host(), mailbox.Port()),
	}
	a := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr, options: options})
	b := a.twin(t)
	host := partnerHost("acme")

	// The operator creates the partner and hands its admin a token.
	a.mustAdmin(t, "POST", "/api/v1/partners", map[string]any{"id": "acme", "name": "Acme Corp"}, http.StatusCreated)
	tok := a.mustAdmin(t, "POST", "/api/v1/partners/acme/admin-tokens", map[string]any{"name": "acme it"}, http.StatusCreated)
	token := tok["token"].(string)
	b.waitHost(t, host)

	// Invite: a mail with a single-use link reaches the user.
	inv := a.adminAs(t, token, "POST", "/api/v1/partners/acme/invitations", map[string]any{"email": "dana@acme.example", "name": "Dana"}, http.StatusCreated)
	userID := inv["user"].(map[string]any)["id"].(string)
	if status := inv["user"].(map[string]any)["status"]; status != "invited" {
		t.Errorf("invited user status = %v", status)
	}
	msgs := mailbox.Wait(t, 1, 5*time.Second)
	mail := msgs[0].Parse(t)
	if !slices.Equal(msgs[0].To, []string{"dana@acme.example"}) || !strings.Contains(mail.Subject, "Acme Corp") {
		t.Errorf("mail to %v, subject %q", msgs[0].To, mail.Subject)
	}
	link := linkPattern.FindString(mail.Text)
	if link == "" {
		t.Fatalf("no set-password link in the mail:\n%s", mail.Text)
	}
	u, _ := url.Parse(link)
	pageURL := b.url(host, u.RequestURI())

	// The user sets a password on the other node and signs in with it.
	const password = "Dana's own passphrase 42"
	c := b.client()
	formPage := get(t, c, pageURL, http.Header{"Accept": {"text/html"}})
	form := url.Values{
		"csrf_token": {formToken(t, formPage)}, "token": {u.Query().Get("token")},
		"password": {password}, "password_confirm": {password},
	}
	if resp := postForm(t, c, b.url(host, "/.partnergate/password"), form, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("set password: status %d: %s", resp.StatusCode, body(resp))
	}
	if resp := get(t, b.client(), pageURL, http.Header{"Accept": {"text/html"}}); resp.StatusCode != http.StatusGone {
		t.Errorf("used link answers %d, want 410", resp.StatusCode)
	}
	user := b.signIn(t, host, "dana@acme.example", password)
	cookie := b.sessionHeader(t, user, host)

	// A group mapped to a role: the role reaches the app on the user's next
	// request, without signing in again.
	grp := a.adminAs(t, token, "POST", "/api/v1/partners/acme/groups", map[string]any{"name": "Editors"}, http.StatusCreated)
	groupID := grp["id"].(string)
	a.adminAs(t, token, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": groupID, "role": "editor"}, http.StatusCreated)
	a.adminAs(t, token, "POST", "/api/v1/partners/acme/groups/"+groupID+"/members", map[string]any{"members": []string{userID}}, http.StatusOK)
	deadline := time.Now().Add(time.Second)
	for {
		got := up.reached(t, b.client(), b.url(host, "/"), cookie)
		if got.Header.Get("X-Auth-Roles") == "editor" && got.Header.Get("X-Auth-Groups") == "Editors" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roles after joining the group: X-Auth-Roles %q, X-Auth-Groups %q", got.Header.Get("X-Auth-Roles"), got.Header.Get("X-Auth-Groups"))
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Suspension on node A ends the live session on node B within 1s;
	// resumed, the user signs in again, for several rounds to measure it.
	var lags []time.Duration
	for round := range 50 {
		if round > 0 {
			a.adminAs(t, token, "POST", "/api/v1/partners/acme/users/"+userID+"/resume", nil, http.StatusOK)
			cookie = b.sessionHeader(t, b.signIn(t, host, "dana@acme.example", password), host)
		}
		if resp := get(t, b.client(), b.url(host, "/"), cookie); resp.StatusCode != http.StatusOK {
			t.Fatalf("round %d: live session refused before suspension: %d", round, resp.StatusCode)
		}
		start := time.Now()
		a.adminAs(t, token, "POST", "/api/v1/partners/acme/users/"+userID+"/suspend", nil, http.StatusOK)
		resp := poll(time.Until(start.Add(time.Second)), 0, func() *http.Response { return get(t, b.client(), b.url(host, "/"), cookie) }, http.StatusUnauthorized)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("round %d: node B still serves a suspended user's session after 1s (status %d)", round, resp.StatusCode)
		}
		lags = append(lags, time.Since(start))
	}
	slices.Sort(lags)
	t.Logf("suspension on A refused on B (including the API call) over %d rounds: p50 %v, p99 %v, max %v",
		len(lags), lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1])
	if resp := b.login(t, b.client(), host, "dana@acme.example", password, "/"); resp.StatusCode == http.StatusSeeOther {
		t.Error("a suspended user signed in")
	}

	// Forced sign-out, then deletion, end the live session on the other
	// node within a second too.
	a.adminAs(t, token, "POST", "/api/v1/partners/acme/users/"+userID+"/resume", nil, http.StatusOK)
	for _, step := range []struct{ name, method, path string }{
		{"forced sign-out", "DELETE", "/api/v1/partners/acme/users/" + userID + "/sessions"},
		{"deletion", "DELETE", "/api/v1/partners/acme/users/" + userID},
	} {
		cookie = b.sessionHeader(t, b.signIn(t, host, "dana@acme.example", password), host)
		if resp := get(t, b.client(), b.url(host, "/"), cookie); resp.StatusCode != http.StatusOK {
			t.Fatalf("before %s: live session refused: %d", step.name, resp.StatusCode)
		}
		start := time.Now()
		a.adminAs(t, token, step.method, step.path, nil, http.StatusNoContent)
		resp := poll(time.Until(start.Add(time.Second)), 0, func() *http.Response { return get(t, b.client(), b.url(host, "/"), cookie) }, http.StatusUnauthorized)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("after %s node B still serves the session after 1s (status %d)", step.name, resp.StatusCode)
		}
		t.Logf("%s on A refused on B after %v", step.name, time.Since(start))
	}

	// The trail holds every step, and its chain verifies.
	want := []string{"admin_token.create", "user.invite", "user.password_set", "signin", "group.create",
		"role_mapping.create", "group.members_add", "user.suspend", "user.resume", "user.sign_out", "user.delete"}
	seen := map[string]bool{}
	cursor := ""
	for {
		path := "/api/v1/partners/acme/audit?limit=500"
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		page := a.adminAs(t, token, "GET", path, nil, http.StatusOK)
		for _, e := range page["events"].([]any) {
			ev := e.(map[string]any)
			seen[ev["action"].(string)] = true
			if raw, _ := json.Marshal(ev); strings.Contains(string(raw), password) || strings.Contains(string(raw), token) {
				t.Errorf("audit event holds a secret: %s", raw)
			}
		}
		next, _ := page["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	for _, action := range want {
		if !seen[action] {
			t.Errorf("no %q event in the trail (saw %v)", action, seen)
		}
	}
	verify := b.adminAs(t, token, "GET", "/api/v1/partners/acme/audit/verify", nil, http.StatusOK)
	if verify["ok"] != true {
		t.Errorf("audit chain: %v", verify)
	}
}

// TestPartnerAdminSession: a user whose group maps to partner_admin uses
// the API on their partner's host with their session cookie; writes need
// the CSRF token, a plain user is refused, and another partner's host
// knows nothing of the cookie.
func TestPartnerAdminSession(t *testing.T) {
	t.Parallel()
	backends(t, func(t *testing.T, start func(t *testing.T, cfg nodeConfig) *node) {
		n, _ := startApp(t, start)
		aliceID := n.seedAcme(t)
		n.seedGlobex(t)
		grp := n.mustAdmin(t, "POST", "/api/v1/partners/acme/groups", map[string]any{"name": "IT", "members": []string{aliceID}}, http.StatusCreated)
		n.mustAdmin(t, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": grp["id"], "role": "partner_admin"}, http.StatusCreated)
		host := partnerHost("acme")
		c := n.signIn(t, host, acmeEmail, acmePassword)
		api := func(c *http.Client, h, method, path, csrf, payload string, header http.Header) *http.Response {
			req, err := http.NewRequest(method, n.url(h, portalPrefix+path), strings.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			if payload != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if csrf != "" {
				req.Header.Set("X-CSRF-Token", csrf)
			}
			resp := send(t, c, req, header)
			n.checkContract(req, resp)
			return resp
		}
		me := api(c, host, "GET", "/api/v1/me", "", "", nil)
		var who struct {
			CSRF string `json:"csrf_token"`
		}
		if err := json.Unmarshal([]byte(body(me)), &who); err != nil || me.StatusCode != http.StatusOK || who.CSRF == "" {
			t.Fatalf("GET /me: %d %s", me.StatusCode, body(me))
		}
		if resp := api(c, host, "POST", "/api/v1/partners/acme/users", "", `{"email": "new@acme.example"}`, nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("write without CSRF token: %d, want 403", resp.StatusCode)
		}
		if resp := api(c, host, "POST", "/api/v1/partners/acme/users", who.CSRF, `{"email": "new@acme.example", "password": "a plain user's password"}`, nil); resp.StatusCode != http.StatusCreated {
			t.Errorf("write with CSRF token: %d %s, want 201", resp.StatusCode, body(resp))
		}
		if resp := api(c, host, "GET", "/api/v1/partners/globex/users", "", "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("another partner's users: %d, want 404", resp.StatusCode)
		}
		stolen := n.sessionHeader(t, c, host)
		if resp := api(n.rawClient(), partnerHost("globex"), "GET", "/api/v1/me", "", "", stolen); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("acme's cookie on globex's host: %d, want 401", resp.StatusCode)
		}
		plain := n.signIn(t, host, "new@acme.example", "a plain user's password")
		if resp := api(plain, host, "GET", "/api/v1/partners/acme/users", "", "", nil); resp.StatusCode != http.StatusForbidden {
			t.Errorf("a plain user's session: %d, want 403", resp.StatusCode)
		}
	})
}
