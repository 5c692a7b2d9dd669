package e2e

// Security tests for sign-in and sign-out: attempt limits, CSRF, timing, tenant isolation. Each tries to break one rule of the project's
// security checklist against the real binary; names start with TestSec.

import (
	"bufio"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// peakRSS is the process's high-water resident set size in KiB.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read peak memory: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

// Rule (MFA, admin, SCIM → attempt counters; and a plain expectation of any
// sign-in limit): the per-account failure limit (5) must hold when the
// guesses arrive at once. A gateway that counted failures only after the
// slow password check would let every request of a burst pass; attempts
// must be counted before it.
func TestSecLoginFailureLimitHoldsUnderConcurrency(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, _ := startAcme(t, start)
		c, loginURL, token := n.loginPage(t, partnerHost("acme"))

		const burst = 20
		var wg sync.WaitGroup
		statuses := make([]int, burst)
		for i := range burst {
			wg.Go(func() {
				s, err := postLogin(c, loginURL, token, acmeEmail, fmt.Sprintf("wrong guess number %02d", i), nil)
				if err != nil {
					t.Error(err)
				}
				statuses[i] = s
			})
		}
		wg.Wait()
		checked := 0
		for _, s := range statuses {
			if s == http.StatusUnauthorized {
				checked++ // the password was actually verified
			}
		}
		if checked > 5 {
			t.Errorf("%d of %d concurrent guesses were verified against the password, want at most 5 (the account limit); statuses %v", checked, burst, statuses)
		}
	})
}

// Plain expectation (DoS via unbounded input): an unauthenticated client
// must not make the gateway hold an unbounded number of argon2id
// computations (19 MiB each) at once. 48 concurrent wrong passwords stay
// below every failure limit, so only a bound on concurrent hashing keeps
// memory in check.
func TestSecLoginHashingMemoryIsBounded(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	c, loginURL, token := n.loginPage(t, partnerHost("acme"))
	// One sign-in first, so the steady state (one hash) is in the baseline.
	if s, _ := postLogin(c, loginURL, token, "warmup@acme.example", "warm up password 123", nil); s != http.StatusUnauthorized {
		t.Fatalf("warm-up: status %d, want 401", s)
	}
	before := peakRSS(t, n.cmd.Process.Pid)

	const burst = 48
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			// Distinct unknown emails: no account reaches its limit.
			if _, err := postLogin(c, loginURL, token, fmt.Sprintf("nobody%02d@acme.example", i), "wrong password 12345", nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	after := peakRSS(t, n.cmd.Process.Pid)
	growth := (after - before) / 1024
	t.Logf("peak RSS %d MiB before, %d MiB after %d concurrent sign-ins (+%d MiB)", before/1024, after/1024, burst, growth)
	if growth > 300 {
		t.Errorf("peak RSS grew by %d MiB under %d concurrent sign-in attempts: password hashing has no concurrency bound", growth, burst)
	}
}

// Rule (The edge → logout must end the session server-side; duplicated
// cookie names): a sign-out must end the session the browser is signed in
// with even when the request carries more than one session cookie (a
// tossed cookie with a more specific Path is sent first). Ending only the
// first would clear the browser's cookie and leave the real session alive
// server-side.
func TestSecLogoutWithDuplicatedCookiesEndsEverySession(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	host := partnerHost("acme")

	victimCookie := sessionCookieFor(t, n.signIn(t, host, acmeEmail, acmePassword), n.url(host, "/"))
	tossed := sessionCookieFor(t, n.signIn(t, host, acmeEmail, acmePassword), n.url(host, "/"))

	// The victim signs out; their browser sends the tossed cookie first.
	c := n.rawClient()
	resp := get(t, c, n.url(host, "/.partnergate/logout"), nil)
	token := formToken(t, resp)
	var csrfCookie string
	for _, ck := range resp.Cookies() {
		if ck.Name == "pg_csrf" {
			csrfCookie = ck.Value
		}
	}
	if csrfCookie == "" {
		t.Fatal("no CSRF cookie with the sign-out form")
	}
	out := postForm(t, c, n.url(host, "/.partnergate/logout"), url.Values{"csrf_token": {token}},
		http.Header{"Cookie": {"pg_session=" + tossed + "; pg_session=" + victimCookie + "; pg_csrf=" + csrfCookie}})
	if out.StatusCode != http.StatusOK {
		t.Fatalf("sign-out: status %d, want 200: %s", out.StatusCode, body(out))
	}
	if resp := get(t, n.rawClient(), n.url(host, "/"), http.Header{"Cookie": {"pg_session=" + victimCookie}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the victim's session after signing out with a duplicated cookie: status %d, want 401 (still live server-side)", resp.StatusCode)
	}
}

// Plain expectation (admin): when an operator resets a user's password
// (the usual answer to a compromised account), sessions signed in with
// the old password end rather than live on until they expire.
func TestSecPasswordResetEndsSessions(t *testing.T) {
	t.Parallel()
	n, _ := startApp(t, onFile)
	aliceID := n.seedAcme(t)
	host := partnerHost("acme")
	c := n.signIn(t, host, acmeEmail, acmePassword)
	n.mustAdmin(t, "PATCH", "/api/v1/partners/acme/users/"+aliceID, map[string]any{"password": "a brand new password 987"}, http.StatusOK)
	if resp := get(t, c, n.url(host, "/"), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("session signed in with the old password after a reset: status %d, want 401", resp.StatusCode)
	}
}

// Rule (The edge → tenant from the Host; a session is valid only for its
// partner): one email in two partners is two accounts; the credentials of
// one never open the other, and the Host's port and case do not matter.
func TestSecTenantIsolationAtSignIn(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, up := startApp(t, start)
		aliceAcme := n.seedPartner(t, "acme", "Acme Corp", "shared@example.com", acmePassword)
		n.seedPartner(t, "globex", "Globex Corporation", "shared@example.com", globexPass)
		acme, globex := partnerHost("acme"), partnerHost("globex")

		if resp := n.login(t, n.client(), acme, "shared@example.com", globexPass, "/"); resp.StatusCode != http.StatusUnauthorized || hasSessionCookie(resp) {
			t.Errorf("globex's password on acme: status %d, want 401", resp.StatusCode)
		}
		if resp := n.login(t, n.client(), globex, "shared@example.com", acmePassword, "/"); resp.StatusCode != http.StatusUnauthorized || hasSessionCookie(resp) {
			t.Errorf("acme's password on globex: status %d, want 401", resp.StatusCode)
		}
		cookie := n.sessionHeader(t, n.signIn(t, acme, "shared@example.com", acmePassword), acme)
		for _, hostHeader := range []string{"ACME.APPS.LOCALHOST", "acme.apps.localhost:1", "Acme.Apps.Localhost:" + n.port} {
			req, _ := http.NewRequest("GET", n.url(acme, "/"), nil)
			req.Host = hostHeader
			if resp := send(t, n.rawClient(), req, cookie); resp.StatusCode != http.StatusOK {
				t.Errorf("Host %q: status %d, want 200", hostHeader, resp.StatusCode)
			} else if got := up.last(t); got.Header.Get("X-Partner-Id") != "acme" || got.Header.Get("X-Auth-User") != aliceAcme {
				t.Errorf("Host %q: app got partner %q user %q", hostHeader, got.Header.Get("X-Partner-Id"), got.Header.Get("X-Auth-User"))
			}
		}
		before := up.requests()
		req, _ := http.NewRequest("GET", n.url(globex, "/"), nil)
		req.Host = "GLOBEX.apps.localhost:" + n.port
		if resp := send(t, n.rawClient(), req, cookie); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("acme's cookie on a spelling of globex's host: status %d, want 401", resp.StatusCode)
		}
		if up.requests() != before {
			t.Error("acme's cookie opened globex")
		}
	})
}

// Rule (CSRF on every state change): a sign-in/sign-out token is bound to
// the browser's cookie, the partner and the purpose; a cross-site Origin
// is refused even with a good token.
func TestSecCSRFTokensAreBound(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	n.seedGlobex(t)
	acme, globex := partnerHost("acme"), partnerHost("globex")

	c, _, loginToken := n.loginPage(t, acme)
	nonce := jarCookie(t, c, n.url(acme, "/"), "pg_csrf")
	creds := url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {loginToken}}

	for name, tc := range map[string]struct {
		host   string
		header http.Header
		form   url.Values
	}{
		"no CSRF cookie":           {acme, http.Header{"Cookie": {"x=y"}}, creds},
		"another browser's cookie": {acme, http.Header{"Cookie": {"pg_csrf=" + strings.Repeat("A", 43)}}, creds},
		"another partner":          {globex, http.Header{"Cookie": {"pg_csrf=" + nonce}}, url.Values{"email": {globexEmail}, "password": {globexPass}, "csrf_token": {loginToken}}},
		"cross-site Origin":        {acme, http.Header{"Cookie": {"pg_csrf=" + nonce}, "Origin": {"http://evil.example"}}, creds},
		"Origin null":              {acme, http.Header{"Cookie": {"pg_csrf=" + nonce}, "Origin": {"null"}}, creds},
		"sibling partner Origin":   {acme, http.Header{"Cookie": {"pg_csrf=" + nonce}, "Origin": {"http://" + globex + ":" + n.port}}, creds},
		"token only in query":      {acme, http.Header{"Cookie": {"pg_csrf=" + nonce}}, url.Values{"email": {acmeEmail}, "password": {acmePassword}}},
	} {
		u := n.url(tc.host, "/.partnergate/login")
		if name == "token only in query" {
			u += "?csrf_token=" + url.QueryEscape(loginToken)
		}
		resp := postForm(t, n.rawClient(), u, tc.form, tc.header)
		if resp.StatusCode != http.StatusForbidden || hasSessionCookie(resp) {
			t.Errorf("%s: status %d, want 403 and no session", name, resp.StatusCode)
		}
	}

	// A login token does not sign anybody out.
	n.mustLogin(t, c, acme, acmeEmail, acmePassword)
	resp := postForm(t, c, n.url(acme, "/.partnergate/logout"), url.Values{"csrf_token": {loginToken}}, nil)
	resp.Body.Close()
	if resp := get(t, c, n.url(acme, "/"), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a sign-in token ended the session: status %d", resp.StatusCode)
	}
	// Nor does a good sign-out token from a cross-site page.
	logoutToken := csrf(t, c, n.url(acme, "/.partnergate/logout"))
	resp = postForm(t, c, n.url(acme, "/.partnergate/logout"), url.Values{"csrf_token": {logoutToken}}, http.Header{"Origin": {"http://evil.example"}})
	if resp := get(t, c, n.url(acme, "/"), nil); resp.StatusCode != http.StatusOK {
		t.Errorf("a cross-site sign-out ended the session: status %d", resp.StatusCode)
	}
}

// Rule (attempt counters shared by all nodes, surviving a restart): the
// account's budget is spent across nodes and outlives a node.
func TestSecFailureCountersSharedAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	host := partnerHost("acme")
	for i, n := range []*node{a, b, a, b, a} {
		email := acmeEmail
		if i%2 == 1 {
			email = strings.ToUpper(acmeEmail)
		}
		if resp := n.login(t, n.client(), host, email, "wrong password 12345", "/"); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d, want 401", i+1, resp.StatusCode)
		}
	}
	for name, n := range map[string]*node{"A": a, "B": b} {
		if resp := n.login(t, n.client(), host, acmeEmail, acmePassword, "/"); resp.StatusCode != http.StatusTooManyRequests || hasSessionCookie(resp) {
			t.Errorf("node %s after 5 failures spread over two nodes: status %d, want 429", name, resp.StatusCode)
		}
	}
	b.stop()
	c := a.twin(t)
	c.waitHost(t, host)
	if resp := c.login(t, c.client(), host, acmeEmail, acmePassword, "/"); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("a fresh node: status %d, want 429", resp.StatusCode)
	}
}

// Plain expectation (timing leaks): a wrong password for an existing
// account costs what one for an unknown address costs.
func TestSecSignInTimingHidesAccounts(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	const rounds = 10
	var known []string
	for i := range rounds / 2 {
		email := fmt.Sprintf("user%d@acme.example", i)
		n.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": email, "password": "a real password 12345"}, http.StatusCreated)
		known = append(known, email, email) // two failures each, below the limit
	}
	c, loginURL, token := n.loginPage(t, partnerHost("acme"))
	timeOne := func(email string) time.Duration {
		start := time.Now()
		s, err := postLogin(c, loginURL, token, email, "wrong password 12345", nil)
		if err != nil || s != http.StatusUnauthorized {
			t.Fatalf("%s: status %d (%v), want 401", email, s, err)
		}
		return time.Since(start)
	}
	var k, u []time.Duration
	for i := range rounds {
		k = append(k, timeOne(known[i]))
		u = append(u, timeOne(fmt.Sprintf("ghost%d@acme.example", i)))
	}
	median := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return (d[len(d)/2-1] + d[len(d)/2]) / 2
	}
	mk, mu := median(k), median(u)
	t.Logf("median wrong-password time: known account %v, unknown address %v", mk, mu)
	if ratio := float64(mk) / float64(mu); ratio < 0.5 || ratio > 2 {
		t.Errorf("known %v vs unknown %v: the timing tells accounts apart", mk, mu)
	}
}

// Rule (no stored XSS from any field): a partner name full of markup is
// text on every page the gateway renders, and so is a reflected email.
func TestSecNoStoredXSSFromPartnerName(t *testing.T) {
	t.Parallel()
	n, _ := startApp(t, onFile)
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"'` + "`"
	n.seedPartner(t, "acme", evil, acmeEmail, acmePassword)
	host := partnerHost("acme")
	c := n.client()
	pages := map[string]string{
		"login":  body(get(t, c, n.url(host, "/.partnergate/login"), nil)),
		"logout": body(get(t, c, n.url(host, "/.partnergate/logout"), nil)),
		"failed": body(n.login(t, c, host, `"><script>alert(3)</script>@x.example`, "wrong password 12345", "/")),
	}
	n.mustLogin(t, c, host, acmeEmail, acmePassword)
	token := csrf(t, c, n.url(host, "/.partnergate/logout"))
	pages["signed out"] = body(postForm(t, c, n.url(host, "/.partnergate/logout"), url.Values{"csrf_token": {token}}, nil))
	for name, page := range pages {
		for _, raw := range []string{"<script>alert", "<img src=x", `"><script>`} {
			if strings.Contains(page, raw) {
				t.Errorf("%s page holds unescaped %q", name, raw)
			}
		}
		if !strings.Contains(page, "&lt;script&gt;alert(1)") {
			t.Errorf("%s page does not show the partner name as text", name)
		}
	}
}
