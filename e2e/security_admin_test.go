package e2e

// Security tests for the admin API and what the gateway logs. Each tries to break one rule of the project's
// security checklist against the real binary; names start with TestSec.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stoppedLogs stops the node and returns everything it logged. Reading the
// buffer while the process runs would race with the copying goroutine.
func (n *node) stoppedLogs() string {
	n.stop()
	return n.logs.String()
}

// Plain expectation (no secret in logs or errors): a store URL's password
// never reaches the log or the error Caddy prints: neither the userinfo
// password nor the sentinel password, which the Redis URL carries as the
// query parameter sentinel_password.
func TestSecStoreURLPasswordsNeverLogged(t *testing.T) {
	t.Parallel()
	// A closed port, so opening the store fails and its error is printed.
	dead := "127.0.0.1:" + freePort(t)
	for name, storeURL := range map[string]string{
		"userinfo password": "redis://:UserinfoSecret0001@" + dead + "/0",
		"sentinel password": "redis+sentinel://" + dead + "/mymaster/0?sentinel_password=SentinelSecret0002",
		"both":              "redis+sentinel://:PrimarySecret0003@" + dead + "/mymaster?sentinel_username=s&sentinel_password=SentinelSecret0004",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			caddyfile := filepath.Join(dir, "Caddyfile")
			writeFile(t, caddyfile, globalOptions([]string{"admin off"}, "redis "+storeURL)+fmt.Sprintf(`http://*.%s:%s {
	partner_auth
	respond "app"
}
`, baseDomain, freePort(t)))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			out, err := gatewayCommand(ctx, dir, caddyfile).CombinedOutput()
			if err == nil {
				t.Fatalf("gateway started on a dead Redis:\n%s", out)
			}
			if !strings.Contains(string(out), "open store") {
				t.Fatalf("no store error printed:\n%s", out)
			}
			for _, secret := range []string{"UserinfoSecret0001", "SentinelSecret0002", "PrimarySecret0003", "SentinelSecret0004"} {
				for line := range strings.Lines(string(out)) {
					if strings.Contains(line, secret) {
						t.Errorf("the store password %q was printed: %s", secret, line)
					}
				}
			}
		})
	}
}

// Rule (MFA, admin, SCIM → another partner's objects answer 404): an
// operator naming partner A in the path never reaches partner B's users.
func TestSecAdminCrossPartnerObjectsAre404(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, _ := startAcme(t, start)
		hank := n.seedGlobex(t)
		for _, call := range []struct {
			method string
			body   any
		}{{"GET", nil}, {"PATCH", map[string]any{"name": "Owned", "active": false}}, {"DELETE", nil}} {
			resp, err := n.admin(call.method, "/api/v1/partners/acme/users/"+hank, call.body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("%s acme/users/<globex user>: status %d, want 404", call.method, resp.StatusCode)
			}
		}
		got := n.mustAdmin(t, "GET", "/api/v1/partners/globex/users/"+hank, nil, http.StatusOK)
		if got["name"] != "Globex Corporation User" || got["active"] != true {
			t.Errorf("globex's user was changed through acme's path: %v", got)
		}
		list := n.mustAdmin(t, "GET", "/api/v1/partners/acme/users", nil, http.StatusOK)
		if b, _ := json.Marshal(list); strings.Contains(string(b), hank) || strings.Contains(string(b), globexEmail) {
			t.Errorf("acme's user list shows globex's user: %s", b)
		}
		if resp := n.login(t, n.client(), partnerHost("globex"), globexEmail, globexPass, "/"); resp.StatusCode != http.StatusSeeOther {
			t.Errorf("globex's user can no longer sign in: status %d", resp.StatusCode)
		}
	})
}

// Rule (writable fields allowlisted; mass assignment): no request body
// sets an id, a partner, a hash or a timestamp, in any case or twice.
func TestSecAdminMassAssignment(t *testing.T) {
	t.Parallel()
	n, _ := startApp(t, onFile)
	aliceID := n.seedAcme(t)
	n.seedGlobex(t)
	user := func(extra string) string {
		return `{"email":"mallory@acme.example","password":"mallory password 123",` + extra + `}`
	}
	rawAdmin := func(method, path, body string) int {
		return n.mustAdminRaw(t, method, path, "application/json", body).StatusCode
	}
	for _, extra := range []string{
		`"partner_id":"globex"`, `"PartnerID":"globex"`, `"password_hash":"$argon2id$v=19$m=19456,t=2,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"`,
		`"PasswordHash":"x"`, `"id":"u_chosen"`, `"ID":"u_chosen"`, `"Email":"other@acme.example"`, `"roles":["admin"]`,
		`"groups":["admins"]`, `"created_at":"2000-01-01T00:00:00Z"`, `"name":"a","name":"b"`,
	} {
		if s := rawAdmin("POST", "/api/v1/partners/acme/users", user(extra)); s < 400 || s >= 500 {
			t.Errorf("create user with %s: status %d, want a 4xx", extra, s)
		}
		if s := rawAdmin("PATCH", "/api/v1/partners/acme/users/"+aliceID, `{"active":true,`+extra+`}`); s < 400 || s >= 500 {
			t.Errorf("patch user with %s: status %d, want a 4xx", extra, s)
		}
	}
	for _, extra := range []string{`"id":"globex"`, `"ID":"other"`, `"default_hostname":"globex.apps.localhost"`, `"name":"a","name":"b"`} {
		if s := rawAdmin("PATCH", "/api/v1/partners/acme", `{"name":"Acme",`+extra+`}`); s < 400 || s >= 500 {
			t.Errorf("patch partner with %s: status %d, want a 4xx", extra, s)
		}
	}
	list := n.mustAdmin(t, "GET", "/api/v1/partners/acme/users", nil, http.StatusOK)
	if users := list["data"].([]any); len(users) != 1 {
		t.Errorf("acme has %d users after refused writes, want 1", len(users))
	}
	if p := n.mustAdmin(t, "GET", "/api/v1/partners/acme", nil, http.StatusOK); p["name"] != "Acme Corp" {
		t.Errorf("a refused patch changed the partner: %v", p)
	}
	if u := n.mustAdmin(t, "GET", "/api/v1/partners/acme/users/"+aliceID, nil, http.StatusOK); u["email"] != acmeEmail || u["name"] != "Acme Corp User" {
		t.Errorf("a refused patch changed the user: %v", u)
	}
}

// Rule (admin authentication; no secret in errors): only the exact operator
// key as one Bearer token opens the API, unknown routes included, and no
// answer echoes what the caller sent.
func TestSecAdminAuthentication(t *testing.T) {
	t.Parallel()
	n, _ := startApp(t, onFile)
	for name, tc := range map[string]struct {
		path   string
		header http.Header
	}{
		"none":               {"/api/v1/partners", nil},
		"unknown route":      {"/api/v1/nothing-here", nil},
		"wrong key":          {"/api/v1/partners", http.Header{"Authorization": {"Bearer wrong-key-0123456789abcdef"}}},
		"prefix of the key":  {"/api/v1/partners", http.Header{"Authorization": {"Bearer " + operatorKey[:len(operatorKey)-1]}}},
		"key plus a char":    {"/api/v1/partners", http.Header{"Authorization": {"Bearer " + operatorKey + "x"}}},
		"Basic scheme":       {"/api/v1/partners", http.Header{"Authorization": {"Basic " + operatorKey}}},
		"no scheme":          {"/api/v1/partners", http.Header{"Authorization": {operatorKey}}},
		"two headers":        {"/api/v1/partners", http.Header{"Authorization": {"Bearer " + operatorKey, "Bearer " + operatorKey}}},
		"key in query":       {"/api/v1/partners?access_token=" + operatorKey, nil},
		"key in X-Api-Key":   {"/api/v1/partners", http.Header{"X-Api-Key": {operatorKey}}},
		"key in a cookie":    {"/api/v1/partners", http.Header{"Cookie": {"token=" + operatorKey}}},
		"secret key instead": {"/api/v1/partners", http.Header{"Authorization": {"Bearer " + secretKey}}},
	} {
		resp := get(t, n.client(), n.url("admin.localhost", tc.path), tc.header)
		b := body(resp)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
		if strings.Contains(string(b), "wrong-key") || strings.Contains(string(b), operatorKey[:10]) {
			t.Errorf("%s: the answer echoes the key: %s", name, b)
		}
	}
}

// Rule (admin: CSRF on every state change): a cross-site HTML form can send
// only form or text bodies; the admin API refuses every one of them.
func TestSecAdminRefusesFormBodies(t *testing.T) {
	t.Parallel()
	n, _ := startApp(t, onFile)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/json-patch+json", "text/plain; charset=application/json"} {
		if resp := n.mustAdminRaw(t, "POST", "/api/v1/partners", ct, `{"id":"evil","name":"Evil","hostnames":[]}`); resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("Content-Type %q: status %d, want 415", ct, resp.StatusCode)
		}
	}
	if resp, _ := n.admin("GET", "/api/v1/partners/evil", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("a form body created a partner: status %d", resp.StatusCode)
	}
}

// Rule (no secret in logs or errors): after sign-ins, failures and admin
// writes, the log holds no password, session cookie, operator or secret key.
func TestSecLogsHoldNoSecrets(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, _, c := startSignedIn(t, start)
		host := partnerHost("acme")
		cookie := sessionCookieFor(t, c, n.url(host, "/"))
		n.login(t, n.client(), host, acmeEmail, "Wrong-Secret-Guess-42", "/")
		n.logout(t, c, host)
		for _, bad := range []map[string]any{
			{"email": "x@acme.example", "password": "Short-9"},
			{"email": "not an email Pw-Secret-0001", "password": "Long-Enough-Secret-0002"},
		} {
			resp, _ := n.admin("POST", "/api/v1/partners/acme/users", bad)
			if b := body(resp); strings.Contains(b, "Short-9") || strings.Contains(b, "Secret-0002") {
				t.Errorf("admin error echoes a password: %s", b)
			}
		}
		if resp, err := n.adminRaw("POST", "/api/v1/partners/acme/users", "application/json", `{"email":"y@acme.example","password":"Truncated-Secret-0003`); err == nil {
			if b := body(resp); strings.Contains(b, "Truncated-Secret") {
				t.Errorf("malformed JSON error echoes the body: %s", b)
			}
		}
		logs := n.stoppedLogs()
		for name, secret := range map[string]string{
			"password": acmePassword, "wrong password": "Wrong-Secret-Guess-42", "admin password": "Short-9",
			"admin password 2": "Secret-0002", "truncated password": "Truncated-Secret-0003",
			"session cookie": cookie, "operator key": operatorKey, "secret key": secretKey,
		} {
			if strings.Contains(logs, secret) {
				t.Errorf("the log holds the %s", name)
			}
		}
	})
}

// Rule (DoS via unbounded input): oversized bodies are refused early, and
// oversized fields are a plain failure, never a 500.
func TestSecOversizedInputs(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	host := partnerHost("acme")
	c, loginURL, token := n.loginPage(t, host)

	big := url.Values{"email": {acmeEmail}, "password": {strings.Repeat("p", 1<<20)}, "csrf_token": {token}}
	if resp := postForm(t, c, loginURL, big, nil); resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB sign-in form: status %d, want 400 or 413", resp.StatusCode)
	}
	for name, form := range map[string]url.Values{
		"long email":    {"email": {strings.Repeat("a", 12000) + "@acme.example"}, "password": {"x"}, "csrf_token": {token}},
		"long password": {"email": {acmeEmail}, "password": {strings.Repeat("p", 15000)}, "csrf_token": {token}},
		"binary email":  {"email": {"\x00\xff\xfe{acme}*?[]@acme.example"}, "password": {"x"}, "csrf_token": {token}},
	} {
		if resp := postForm(t, c, loginURL, form, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
		}
	}
	if resp := n.mustAdminRaw(t, "POST", "/api/v1/partners", "application/json", `{"id":"big","name":"`+strings.Repeat("n", 1<<20)+`"}`); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB admin body: status %d, want 413", resp.StatusCode)
	}
	// The gateway still serves.
	n.mustLogin(t, n.client(), host, acmeEmail, acmePassword)
}
