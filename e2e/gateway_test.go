package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// backends runs fn once on the embedded store and once on Redis; start
// fills in the store of cfg.
func backends(t *testing.T, fn func(t *testing.T, start func(t *testing.T, cfg nodeConfig) *node)) {
	t.Run("file", func(t *testing.T) {
		t.Parallel()
		fn(t, onFile)
	})
	t.Run("redis", func(t *testing.T) {
		t.Parallel()
		fn(t, onRedis)
	})
}

const (
	acmeEmail    = "alice@acme.example"
	acmePassword = "correct horse battery staple"
	globexEmail  = "hank@globex.example"
	globexPass   = "globex password 12345"
)

func TestProtectedSite(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, up := startApp(t, start)
		aliceID := n.seedAcme(t)
		n.seedGlobex(t)
		acme, globex := partnerHost("acme"), partnerHost("globex")

		t.Run("unknown host is a plain 404", func(t *testing.T) {
			c := n.client()
			for _, host := range []string{partnerHost("initech"), "acme-corp.apps.localhost", "www.apps.localhost"} {
				resp := get(t, c, n.url(host, "/.partnergate/login"), http.Header{"Accept": {"text/html"}})
				if resp.StatusCode != http.StatusNotFound {
					t.Errorf("%s: status %d, want 404", host, resp.StatusCode)
				}
				if b := body(resp); strings.Contains(b, "Acme") || strings.Contains(b, "Globex") || strings.Contains(b, "csrf") {
					t.Errorf("%s: 404 page shows a partner's page: %s", host, b)
				}
			}
			// Hosts outside the site's address never reach partner_auth;
			// Caddy answers them itself, with no partner's page either.
			for _, host := range []string{"acme.apps.localhost.", "acme.apps.localhost.evil", "evil.example"} {
				if b := body(get(t, c, n.url(host, "/.partnergate/login"), nil)); strings.Contains(b, "Acme") || strings.Contains(b, "csrf") {
					t.Errorf("%s: got a partner's page: %s", host, b)
				}
			}
		})

		t.Run("host is case-insensitive", func(t *testing.T) {
			resp := get(t, n.client(), n.url("ACME.Apps.Localhost", "/.partnergate/login"), nil)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body(resp), "Acme Corp") {
				t.Errorf("mixed-case host: status %d, want Acme's login page", resp.StatusCode)
			}
		})

		t.Run("no session: browser redirected, API client refused", func(t *testing.T) {
			c := n.client()
			before := up.requests()
			resp := get(t, c, n.url(acme, "/reports?q=1"), http.Header{"Accept": {"text/html,application/xhtml+xml"}})
			if resp.StatusCode != http.StatusFound {
				t.Fatalf("browser: status %d, want 302", resp.StatusCode)
			}
			if got, want := resp.Header.Get("Location"), "/.partnergate/login?return_to="+url.QueryEscape("/reports?q=1"); got != want {
				t.Errorf("browser: Location %q, want %q", got, want)
			}
			for _, h := range []http.Header{
				{"Accept": {"application/json"}},
				{},
				{"Accept": {"text/html"}, "X-Requested-With": {"XMLHttpRequest"}},
			} {
				if resp := get(t, c, n.url(acme, "/api/data"), h); resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("API client %v: status %d, want 401", h, resp.StatusCode)
				}
			}
			if up.requests() != before {
				t.Error("a request without a session reached the app")
			}
		})

		t.Run("login page is the partner's own", func(t *testing.T) {
			for host, name := range map[string]string{acme: "Acme Corp", globex: "Globex Corporation"} {
				resp := get(t, n.client(), n.url(host, "/.partnergate/login"), nil)
				b := body(resp)
				if resp.StatusCode != http.StatusOK || !strings.Contains(b, name) {
					t.Errorf("%s: status %d, page lacks %q", host, resp.StatusCode, name)
				}
				if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") {
					t.Errorf("%s: login page CSP %q allows framing", host, csp)
				}
			}
		})

		t.Run("wrong password gets one generic message", func(t *testing.T) {
			c := n.client()
			wrong := n.login(t, c, acme, acmeEmail, "not the password at all", "/")
			unknown := n.login(t, c, acme, "nobody@acme.example", "not the password at all", "/")
			for name, resp := range map[string]*http.Response{"wrong password": wrong, "unknown user": unknown} {
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s: status %d, want 401", name, resp.StatusCode)
				}
				if !strings.Contains(body(resp), "Incorrect email or password.") {
					t.Errorf("%s: generic message missing", name)
				}
				if hasSessionCookie(resp) {
					t.Errorf("%s: a session cookie was set", name)
				}
			}
		})

		t.Run("sign-in reaches the app with identity headers", func(t *testing.T) {
			c := n.client()
			resp := n.login(t, c, acme, "ALICE@acme.example", acmePassword, "/reports?q=1")
			if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/reports?q=1" {
				t.Fatalf("sign-in: status %d Location %q, want 303 to /reports?q=1", resp.StatusCode, resp.Header.Get("Location"))
			}
			checkSessionCookie(t, resp)
			got := up.reached(t, c, n.url(acme, "/reports?q=1"), nil)
			want := map[string]string{
				"X-Partner-Id": "acme",
				"X-Auth-User":  aliceID,
				"X-Auth-Email": acmeEmail,
				"X-Auth-Name":  "Acme Corp User",
				"X-Log-User":   aliceID, // from the {http.auth.user.id} placeholder
			}
			for k, v := range want {
				if g := got.Header.Values(k); len(g) != 1 || g[0] != v {
					t.Errorf("app got %s = %q, want [%q]", k, g, v)
				}
			}
			if got.URL.RequestURI() != "/reports?q=1" {
				t.Errorf("app got path %q, want /reports?q=1", got.URL.RequestURI())
			}
		})

		t.Run("client-sent identity headers never reach the app", func(t *testing.T) {
			c := n.signIn(t, acme, acmeEmail, acmePassword)
			spoof := http.Header{
				"X-Auth-User":  {"admin", "root"},
				"x_auth_user":  {"admin"},
				"X_AUTH_USER":  {"admin"},
				"X-Auth-Roles": {"superuser"},
				"x-auth-roles": {"superuser"},
				"X_Auth_Roles": {"superuser"},
				"X-Partner-Id": {"globex"},
				"x_partner_id": {"globex"},
				"X-Auth-Email": {"ceo@acme.example"},
				"X-Auth-Jwt":   {"eyJhbGciOiJub25lIn0.e30."},
				"Connection":   {"X-Auth-User, x_auth_email, X-Partner-Id"},
			}
			got := up.reached(t, c, n.url(acme, "/whoami"), spoof)
			for k, vs := range got.Header {
				norm := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
				if strings.HasPrefix(norm, "x-auth-") || norm == "x-partner-id" {
					for _, v := range vs {
						if v == "admin" || v == "root" || v == "superuser" || v == "globex" || strings.Contains(v, "ceo@") || strings.HasPrefix(v, "eyJ") {
							t.Errorf("spoofed %s: %q reached the app", k, v)
						}
					}
				}
			}
			if g := got.Header.Values("X-Auth-User"); len(g) != 1 || g[0] != aliceID {
				t.Errorf("X-Auth-User = %q, want [%q] even with Connection naming it", g, aliceID)
			}
			if g := got.Header.Get("X-Partner-Id"); g != "acme" {
				t.Errorf("X-Partner-Id = %q, want acme", g)
			}
			if g := got.Header.Get("X-Auth-Email"); g != acmeEmail {
				t.Errorf("X-Auth-Email = %q, want %q", g, acmeEmail)
			}
			before := up.requests()
			anon := get(t, n.client(), n.url(acme, "/whoami"), spoof)
			if anon.StatusCode != http.StatusUnauthorized || up.requests() != before {
				t.Errorf("spoofed headers without a session: status %d, reached app: %v", anon.StatusCode, up.requests() != before)
			}
		})

		t.Run("bad return paths land on /", func(t *testing.T) {
			for _, rt := range []string{"//evil.example", "/\\evil.example", "https://evil.example/", "/%2F%2Fevil.example", "/%5Cevil.example", "javascript:alert(1)", "/ /evil.example", "http://" + globex + "/", "//" + globex} {
				resp := n.login(t, n.client(), acme, acmeEmail, acmePassword, rt)
				if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
					t.Errorf("return_to %q: status %d Location %q, want 303 to /", rt, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		})

		t.Run("another partner's cookie is worthless here", func(t *testing.T) {
			c := n.signIn(t, globex, globexEmail, globexPass)
			cookie := sessionCookieFor(t, c, n.url(globex, "/"))
			before := up.requests()
			resp := get(t, n.client(), n.url(acme, "/"), http.Header{"Cookie": {"pg_session=" + cookie}})
			if resp.StatusCode != http.StatusUnauthorized || up.requests() != before {
				t.Errorf("globex cookie on acme: status %d, want 401 and nothing proxied", resp.StatusCode)
			}
		})

		t.Run("malformed and duplicated cookies are unauthenticated", func(t *testing.T) {
			c := n.signIn(t, acme, acmeEmail, acmePassword)
			good := sessionCookieFor(t, c, n.url(acme, "/"))
			flipped := []byte(good)
			flipped[len(flipped)-1] ^= 1
			before := up.requests()
			for name, cookie := range map[string]string{
				"truncated":  "pg_session=" + good[:len(good)-5],
				"bad MAC":    "pg_session=" + string(flipped),
				"garbage":    "pg_session=%%%%",
				"empty":      "pg_session=",
				"duplicated": "pg_session=" + good + "; pg_session=" + good,
				"unknown id": "pg_session=" + strings.Repeat("A", len(good)),
			} {
				resp := get(t, n.client(), n.url(acme, "/"), http.Header{"Cookie": {cookie}})
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s cookie: status %d, want 401", name, resp.StatusCode)
				}
			}
			if up.requests() != before {
				t.Error("a bad cookie reached the app")
			}
		})

		t.Run("reserved prefix is never proxied", func(t *testing.T) {
			c := n.signIn(t, acme, acmeEmail, acmePassword)
			before := up.requests()
			for path, want := range map[string]int{
				"/.partnergate/nothing":            http.StatusNotFound,
				"/.partnergate/":                   http.StatusNotFound,
				"/.PARTNERGATE/login":              http.StatusBadRequest,
				"/app/..%2F.partnergate/login":     http.StatusBadRequest,
				"/%2epartnergate/login":            http.StatusBadRequest,
				"/app/..;/.partnergate/jwks.json":  http.StatusBadRequest,
				"/app%5C..%5C.partnergate%5Clogin": http.StatusBadRequest,
			} {
				resp := get(t, c, n.url(acme, path), nil)
				if resp.StatusCode != want {
					t.Errorf("%s: status %d, want %d", path, resp.StatusCode, want)
				}
			}
			if up.requests() != before {
				t.Errorf("%d reserved-prefix requests reached the app", up.requests()-before)
			}
		})

		t.Run("logout ends the session server-side", func(t *testing.T) {
			c := n.signIn(t, acme, acmeEmail, acmePassword)
			stolen := sessionCookieFor(t, c, n.url(acme, "/"))
			n.logout(t, c, acme)
			resp := get(t, n.client(), n.url(acme, "/"), http.Header{"Cookie": {"pg_session=" + stolen}})
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("a copy of the signed-out cookie: status %d, want 401", resp.StatusCode)
			}
		})

		t.Run("logout needs POST with CSRF", func(t *testing.T) {
			c := n.signIn(t, acme, acmeEmail, acmePassword)
			resp, err := c.PostForm(n.url(acme, "/.partnergate/logout"), url.Values{"csrf_token": {"forged"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp := get(t, c, n.url(acme, "/"), nil); resp.StatusCode != http.StatusOK {
				t.Errorf("a forged sign-out ended the session: status %d", resp.StatusCode)
			}
		})

		t.Run("login needs CSRF", func(t *testing.T) {
			c := n.client()
			csrf(t, c, n.url(acme, "/.partnergate/login"))
			resp, err := c.PostForm(n.url(acme, "/.partnergate/login"), url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {"forged"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || hasSessionCookie(resp) {
				t.Errorf("forged CSRF token: status %d, want 403 and no session", resp.StatusCode)
			}
		})

		t.Run("deactivated user loses access at once", func(t *testing.T) {
			c := n.client()
			bob := n.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": "bob@acme.example", "name": "Bob", "password": "bob password 12345"}, http.StatusCreated)
			n.mustLogin(t, c, acme, "bob@acme.example", "bob password 12345")
			n.mustAdmin(t, "PATCH", "/api/v1/partners/acme/users/"+bob["id"].(string), map[string]any{"active": false}, http.StatusOK)
			if resp := get(t, c, n.url(acme, "/"), nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("after deactivation: status %d, want 401", resp.StatusCode)
			}
			if resp := n.login(t, n.client(), acme, "bob@acme.example", "bob password 12345", "/"); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("deactivated user signing in: status %d, want 401", resp.StatusCode)
			}
		})

		t.Run("failure limit per account", func(t *testing.T) {
			n.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": "carol@acme.example", "name": "Carol", "password": "carol password 12345"}, http.StatusCreated)
			for i := 0; i < 5; i++ {
				n.login(t, n.client(), acme, "carol@acme.example", "wrong password 12345", "/")
			}
			resp := n.login(t, n.client(), acme, "Carol@ACME.example", "carol password 12345", "/")
			if resp.StatusCode != http.StatusTooManyRequests || hasSessionCookie(resp) {
				t.Errorf("right password after 5 failures: status %d, want 429 and no session", resp.StatusCode)
			}
		})
	})
}

func hasSessionCookie(resp *http.Response) bool {
	for _, c := range resp.Cookies() {
		if strings.HasSuffix(c.Name, "pg_session") && c.Value != "" {
			return true
		}
	}
	return false
}

func checkSessionCookie(t *testing.T, resp *http.Response) {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name != "pg_session" {
			continue
		}
		if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Domain != "" || c.Path != "/" || c.MaxAge <= 0 {
			t.Errorf("session cookie %+v: want HttpOnly, SameSite=Lax, host-only, Path=/, a Max-Age", c)
		}
		return
	}
	t.Error("no session cookie set")
}

func sessionCookieFor(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	return jarCookie(t, c, u, "pg_session")
}

var _ = time.Second
