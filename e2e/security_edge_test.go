package e2e

// Security tests for the edge: identity headers, cookies, redirects, forwarded headers and paths. Each tries to break one rule of the project's
// security checklist against the real binary; names start with TestSec.

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawRequest sends one HTTP/1.1 request exactly as written to the node
// (request-target, headers) and returns the answer with its body read.
func (n *node) rawRequest(t *testing.T, method, target, host string, header http.Header) *http.Response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", "127.0.0.1:"+n.port, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", method, target, host)
	for k, vs := range header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	if _, err := io.WriteString(conn, b.String()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	return resp
}

// trailerUpstream is an app that reads the request body, so it sees the
// request's trailer fields, and records them.
type trailerUpstream struct {
	addr string
	mu   sync.Mutex
	hdr  []http.Header
	trl  []http.Header
}

func startTrailerUpstream(t *testing.T) *trailerUpstream {
	t.Helper()
	u := &trailerUpstream{}
	u.addr = serveHTTP(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.hdr = append(u.hdr, r.Header.Clone())
		u.trl = append(u.trl, r.Trailer.Clone())
		u.mu.Unlock()
		fmt.Fprintln(w, "ok")
	})
	return u
}

// Rule (The edge → identity header spoofing): "Any client-sent header with
// one of those names … is removed before the request goes upstream", on
// every route. Caddy's reverse_proxy forwards request trailer fields, which
// arrive after every header check; servers that merge trailers into headers
// (Apache's MergeTrailers, CVE-2013-5704's class) would read a forged
// identity. A request declaring one is refused; ordinary trailers pass.
func TestSecIdentityHeadersNotSmuggledInTrailers(t *testing.T) {
	t.Parallel()
	up := startTrailerUpstream(t)
	n := onFile(t, nodeConfig{upstream: up.addr})
	n.seedAcme(t)
	host := partnerHost("acme")
	c := n.signIn(t, host, acmeEmail, acmePassword)

	upload := func(trailer http.Header) int {
		pr, pw := io.Pipe()
		req, err := http.NewRequest("POST", n.url(host, "/upload"), pr)
		if err != nil {
			t.Fatal(err)
		}
		req.ContentLength = -1
		req.Trailer = trailer
		go func() {
			pw.Write([]byte("payload"))
			pw.Close()
		}()
		return send(t, c, req, nil).StatusCode
	}
	for _, name := range []string{"X-Auth-User", "X_auth_roles", "X-Partner-Id"} {
		if status := upload(http.Header{name: {"admin"}, "X-Checksum": {"abc"}}); status != http.StatusBadRequest {
			t.Errorf("trailer %s: status %d, want 400", name, status)
		}
	}
	up.mu.Lock()
	reached := len(up.trl)
	up.mu.Unlock()
	if reached != 0 {
		t.Fatalf("%d requests with forged trailers reached the app", reached)
	}
	if status := upload(http.Header{"X-Checksum": {"abc"}}); status != http.StatusOK {
		t.Fatalf("ordinary trailer: status %d, want 200", status)
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if got := up.trl[len(up.trl)-1].Get("X-Checksum"); got != "abc" {
		t.Errorf("ordinary trailer X-Checksum reached the app as %q, want abc", got)
	}
}

// Rule (The edge → identity header spoofing, hop-by-hop stripping): every
// reserved name, in every case, with '_' for '-', repeated, and named in
// Connection (several Connection lines, '_' spellings, padding) reaches the
// app only as the gateway set it.
func TestSecIdentityHeaderSpoofingEveryName(t *testing.T) {
	t.Parallel()
	n, up := startApp(t, onFile)
	aliceID := n.seedAcme(t)
	host := partnerHost("acme")
	c := n.signIn(t, host, acmeEmail, acmePassword)

	names := []string{"X-Partner-Id", "X-Auth-User", "X-Auth-Email", "X-Auth-Name", "X-Auth-Groups", "X-Auth-Roles", "X-Auth-Jwt"}
	spoof := http.Header{}
	var connection []string
	for _, name := range names {
		lower := strings.ToLower(name)
		under := strings.ReplaceAll(name, "-", "_")
		for _, variant := range []string{name, lower, strings.ToUpper(name), under, strings.ToLower(under), strings.ToUpper(under), "x-AUTH" + name[6:]} {
			spoof[variant] = append(spoof[variant], "forged", "forged,admin")
		}
		connection = append(connection, " "+strings.ToLower(under)+" ")
	}
	spoof["Connection"] = []string{"keep-alive, " + strings.Join(connection[:4], ","), strings.Join(connection[4:], ", ") + ", X-Unrelated"}
	spoof["X-Unrelated"] = []string{"dropped as hop-by-hop"}
	got := up.reached(t, c, n.url(host, "/whoami"), spoof)
	want := map[string]string{
		"x-partner-id":  "acme",
		"x-auth-user":   aliceID,
		"x-auth-email":  acmeEmail,
		"x-auth-name":   "Acme Corp User",
		"x-auth-groups": "",
		"x-auth-roles":  "",
	}
	seen := map[string]bool{}
	for k, vs := range got.Header {
		norm := strings.ToLower(strings.ReplaceAll(k, "_", "-"))
		w, reserved := want[norm]
		if norm == "x-auth-jwt" {
			t.Errorf("client-sent %s %q reached the app (the gateway sets no JWT)", k, vs)
			continue
		}
		if !reserved {
			continue
		}
		if seen[norm] {
			t.Errorf("%s reached the app under two spellings", norm)
		}
		seen[norm] = true
		if len(vs) != 1 || vs[0] != w {
			t.Errorf("app got %s = %q, want [%q]", k, vs, w)
		}
	}
	for norm := range want {
		if !seen[norm] {
			t.Errorf("the app got no %s: a Connection token removed it", norm)
		}
	}
	if got.Header.Get("X-Unrelated") != "" {
		t.Errorf("a header named in Connection was forwarded; hop-by-hop handling changed")
	}
}

// Rule (The edge → a malformed session cookie must never pass): more
// malformed shapes than the basic test, each unauthenticated and never a
// 500, and nothing proxied.
func TestSecMalformedSessionCookieShapes(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		n, up, c := startSignedIn(t, start)
		host := partnerHost("acme")
		good := sessionCookieFor(t, c, n.url(host, "/"))

		bob := n.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": "bob@acme.example", "name": "Bob", "password": "bob password 12345"}, http.StatusCreated)
		bc := n.signIn(t, host, "bob@acme.example", "bob password 12345")
		deleted := sessionCookieFor(t, bc, n.url(host, "/"))
		n.mustAdmin(t, "DELETE", "/api/v1/partners/acme/users/"+bob["id"].(string), nil, http.StatusNoContent)

		before := up.requests()
		for name, h := range map[string]http.Header{
			"padded":                 {"Cookie": {"pg_session=" + good + "=="}},
			"extended":               {"Cookie": {"pg_session=" + good + "A"}},
			"std base64 alphabet":    {"Cookie": {"pg_session=" + strings.NewReplacer("-", "+", "_", "/").Replace(good) + "+/"}},
			"huge":                   {"Cookie": {"pg_session=" + strings.Repeat(good, 100)}},
			"non-ASCII":              {"Cookie": {"pg_session=" + good[:len(good)-1] + "é"}},
			"deleted user":           {"Cookie": {"pg_session=" + deleted}},
			"__Host- name over HTTP": {"Cookie": {"__Host-pg_session=" + good}},
			"duplicate, one empty":   {"Cookie": {"pg_session=; pg_session=" + good}},
			"duplicate, two lines":   {"Cookie": {"pg_session=" + good, "pg_session=" + good}},
			"name in other case":     {"Cookie": {"PG_SESSION=" + good}},
			"bad then good":          {"Cookie": {"pg_session=AAAA; pg_session=" + good}},
		} {
			resp := get(t, n.rawClient(), n.url(host, "/"), h)
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s cookie: status %d, want 401", name, resp.StatusCode)
			}
		}
		if up.requests() != before {
			t.Errorf("%d requests with a malformed cookie reached the app", up.requests()-before)
		}
	})
}

// Rule (The edge → open redirects): the return path after sign-in, the one
// the login page carries in its form, and the one the challenge builds are
// same-host relative paths only.
func TestSecOpenRedirectVariants(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	n.seedGlobex(t)
	host := partnerHost("acme")
	base, _ := url.Parse(n.url(host, "/"))

	bad := []string{
		"//evil.example", "///evil.example", "////evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
		"/\t/evil.example", "/%09/evil.example", "/\n/evil.example", "/%0a/evil.example", "/%0d%0aLocation:%20http://evil.example",
		"/%2f/evil.example", "/%2F%2Fevil.example", "/%252f%252fevil.example", "/%25252f%25252fevil.example", "/%5c%5cevil.example", "/%5Cevil.example",
		"http://evil.example", "https:evil.example", "https:/evil.example", "HTTPS://evil.example", "//user@evil.example",
		"//" + host + "@evil.example", "//a@b@evil.example", "/ /evil.example", " /evil.example",
		"javascript:alert(1)", "JaVaScRiPt:alert(1)", "/javascript:alert(1)//%0a", "data:text/html,<script>alert(1)</script>",
		"http://" + partnerHost("globex") + ":" + n.port + "/", "//" + partnerHost("globex") + ":" + n.port + "/",
		"/.partnergate/logout", "/%2Epartnergate/logout", "/x/../.partnergate/logout", "/.PARTNERGATE/logout",
		"/" + strings.Repeat("a", 3000),
	}
	sameHost := func(loc string) bool {
		if loc == "" || loc[0] != '/' || (len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\')) || strings.ContainsAny(loc, "\\\t\r\n ") {
			return false
		}
		u, err := base.Parse(loc)
		return err == nil && u.Host == base.Host && u.Scheme == base.Scheme
	}
	for _, rt := range bad {
		resp := n.login(t, n.client(), host, acmeEmail, acmePassword, rt)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/" {
			t.Errorf("return_to %q: status %d Location %q, want 303 to /", rt, resp.StatusCode, loc)
		}
		page := body(get(t, n.client(), n.url(host, "/.partnergate/login?return_to="+url.QueryEscape(rt)), nil))
		if !strings.Contains(page, `name="return_to" value="/"`) {
			t.Errorf("return_to %q: the login form carries another return path", rt)
		}
	}
	// Paths that are odd but same-host may stay; they must never leave.
	for _, rt := range []string{"/.//evil.example", "/..//evil.example", "/%2e%2e//evil.example", "/@evil.example", "/a?next=//evil.example", "/#//evil.example", "/\u3000/evil.example"} {
		resp := n.login(t, n.client(), host, acmeEmail, acmePassword, rt)
		if loc := resp.Header.Get("Location"); !sameHost(loc) {
			t.Errorf("return_to %q: Location %q leaves the host", rt, loc)
		}
	}
	// The challenge's own return path, from request-targets sent as written.
	for _, p := range []string{"//evil.example/x", "///evil.example", "/%2F%2Fevil.example", "/\\evil.example", "/%5cevil.example", "/%09/evil.example", "/x/..//evil.example"} {
		resp := n.rawRequest(t, "GET", p, host, http.Header{"Accept": {"text/html"}})
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound {
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("challenge for %q: status %d, want 302 or 400", p, resp.StatusCode)
			}
			continue
		}
		u, err := url.Parse(loc)
		if err != nil || !sameHost(loc) {
			t.Errorf("challenge for %q: Location %q leaves the host", p, loc)
			continue
		}
		if rt := u.Query().Get("return_to"); rt != "" && (!sameHost(rt) || strings.HasPrefix(rt, "//")) {
			t.Errorf("challenge for %q carries return_to %q", p, rt)
		}
	}
}

// Rule (The edge → forwarded headers are attacker input): X-Forwarded-Host,
// X-Forwarded-Proto and Forwarded change neither the partner, nor a
// redirect, nor the origin check, nor the address failures are counted
// against.
func TestSecForwardedHeadersAreNotTrusted(t *testing.T) {
	t.Parallel()
	n, _ := startAcme(t, onFile)
	n.seedGlobex(t)
	host := partnerHost("acme")
	fwd := http.Header{
		"X-Forwarded-Host":  {"evil.example"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Port":  {"8443"},
		"X-Original-Url":    {"https://evil.example/x"},
		"X-Rewrite-Url":     {"//evil.example/x"},
		"Forwarded":         {"host=evil.example;proto=https"},
	}

	t.Run("challenge", func(t *testing.T) {
		h := fwd.Clone()
		h.Set("Accept", "text/html")
		resp := get(t, n.client(), n.url(host, "/x"), h)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, "/.partnergate/login") {
			t.Errorf("challenge: status %d Location %q, want 302 to a relative login path", resp.StatusCode, loc)
		}
	})
	t.Run("partner", func(t *testing.T) {
		h := fwd.Clone()
		h.Set("X-Forwarded-Host", partnerHost("globex"))
		b := body(get(t, n.client(), n.url(host, "/.partnergate/login"), h))
		if !strings.Contains(b, "Acme Corp") || strings.Contains(b, "Globex") {
			t.Errorf("X-Forwarded-Host picked the partner")
		}
	})
	t.Run("sign-in redirect", func(t *testing.T) {
		c := n.client()
		token := csrf(t, c, n.url(host, "/.partnergate/login"))
		resp := postForm(t, c, n.url(host, "/.partnergate/login"), url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {token}, "return_to": {"/here"}}, fwd)
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || loc != "/here" {
			t.Errorf("sign-in: status %d Location %q, want 303 to /here", resp.StatusCode, loc)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "pg_session" && (ck.Domain != "" || ck.Secure) {
				t.Errorf("forwarded headers shaped the session cookie: %+v", ck)
			}
		}
	})
	t.Run("origin check", func(t *testing.T) {
		c := n.client()
		token := csrf(t, c, n.url(host, "/.partnergate/login"))
		h := fwd.Clone()
		h.Set("Origin", "http://evil.example")
		resp := postForm(t, c, n.url(host, "/.partnergate/login"), url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {token}}, h)
		if resp.StatusCode != http.StatusForbidden || hasSessionCookie(resp) {
			t.Errorf("cross-origin post with X-Forwarded-Host naming the origin: status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("failure limit per address", func(t *testing.T) {
		// 100 attempts per address; each from a different claimed address.
		c, loginURL, token := n.loginPage(t, partnerHost("globex"))
		for i := range 100 {
			h := http.Header{"X-Forwarded-For": {fmt.Sprintf("203.0.113.%d", i+1)}, "X-Real-Ip": {fmt.Sprintf("198.51.100.%d", i+1)}}
			if s, err := postLogin(c, loginURL, token, fmt.Sprintf("probe%02d@globex.example", i), "wrong password 12345", h); err != nil || s != http.StatusUnauthorized {
				t.Fatalf("failure %d: status %d (%v), want 401", i+1, s, err)
			}
		}
		h := http.Header{"X-Forwarded-For": {"192.0.2.200"}, "X-Real-Ip": {"192.0.2.201"}}
		if s, _ := postLogin(c, loginURL, token, globexEmail, globexPass, h); s != http.StatusTooManyRequests {
			t.Errorf("101st attempt from the same peer claiming a new address: status %d, want 429", s)
		}
	})
}

// sendPathsAsAlice starts a node with alice signed in on acme and sends a
// GET for each request-target exactly as written with her session; check
// gets each answer and the request the app got for it, nil if none.
func sendPathsAsAlice(t *testing.T, paths []string, check func(p string, resp *http.Response, reached *http.Request)) {
	t.Helper()
	n, up, c := startSignedIn(t, onFile)
	host := partnerHost("acme")
	cookie := n.sessionHeader(t, c, host)
	for _, p := range paths {
		before := up.requests()
		resp := n.rawRequest(t, "GET", p, host, cookie)
		var reached *http.Request
		if up.requests() != before {
			reached = up.last(t)
		}
		check(p, resp, reached)
	}
}

// Rule (The edge → path tricks around the reserved prefix): more spellings
// of the prefix than the basic test, sent byte for byte; none reaches the
// app, and none is a 500.
func TestSecReservedPrefixPathTricks(t *testing.T) {
	t.Parallel()
	sendPathsAsAlice(t, []string{
		"/.partnergate", "/.partnergate/", "//.partnergate/login", "///.partnergate/jwks.json", "/./.partnergate/login",
		"/.partnergate;x/login", "/.partnergate;/jwks.json", "/app/..;/.partnergate/jwks.json", "/app;x/..;y/.partnergate/login",
		"/app/../.partnergate/login", "/app/%2e%2e/.partnergate/login", "/app/%2E%2E%2F.partnergate/login", "/app/.%2e/.partnergate/login",
		"/app/%252e%252e/.partnergate/jwks.json", "/app/%25252e%25252e/.partnergate/jwks.json", "/app%252f..%252f.partnergate/login",
		"/.partnergate%2fjwks.json", "/.partnergate%2Fjwks.json", "/%2epartnergate%2fjwks.json", "/%2E%50ARTNERGATE/login",
		"/.Partnergate/jwks.json", "/.PARTNERGATE", "/app\\..\\.partnergate\\login", "/app/..%5c.partnergate/login",
		"/app/..%255c.partnergate/login", "/.partnergate/../app", "/.partnergate/%2e%2e/app", "/%2e%2e/.partnergate/login",
		"/.partnergate/assets/../../app", "/app/./../.partnergate/login", "/app/%2e/%2e%2e/.partnergate/login",
	}, func(p string, resp *http.Response, reached *http.Request) {
		if resp.StatusCode >= 500 {
			t.Errorf("%s: status %d", p, resp.StatusCode)
		}
		if reached != nil {
			t.Errorf("%s reached the app as %q (status %d)", p, reached.RequestURI, resp.StatusCode)
		}
	})
}

// Rule (The edge → path tricks: "refuse ambiguous encodings"): a path whose
// segment an upstream can read as the reserved prefix must not reach the
// app: NUL and other control bytes (stripped by some decoders), a trailing
// dot or space (Windows/IIS trims both), an NTFS stream suffix, an overlong
// UTF-8 dot. Each is refused, never proxied with identity headers.
func TestSecReservedPrefixLookalikeSegmentsRefused(t *testing.T) {
	t.Parallel()
	sendPathsAsAlice(t, []string{
		"/.partnergate%00/jwks.json", "/%00/.partnergate/jwks.json", "/.%00partnergate/jwks.json", "/.partnergate%09/jwks.json",
		"/.partnergate%0a/jwks.json", "/.partnergate%7f/jwks.json",
		"/.partnergate./jwks.json", "/.partnergate%2e/jwks.json", "/.partnergate%20/jwks.json", "/.PARTNERGATE.%20./jwks.json",
		"/.partnergate::$DATA/jwks.json", "/%c0%aepartnergate/jwks.json",
	}, func(p string, resp *http.Response, reached *http.Request) {
		if reached != nil {
			t.Errorf("%s reached the app as %q (status %d), want it refused", p, reached.RequestURI, resp.StatusCode)
		}
	})
}

// startTLSNode runs a gateway whose protected site is HTTPS (Caddy's
// internal CA) on the returned port; the admin API stays on plain HTTP at
// n.port.
func startTLSNode(t *testing.T, upstream string) (*node, string) {
	t.Helper()
	tlsPort := freePort(t)
	n := newNode(t, nodeConfig{})
	caddy := []string{"admin off", "local_certs", "skip_install_trust", "auto_https disable_redirects"}
	writeFile(t, n.caddyfile, globalOptions(caddy, "file "+filepath.Join(n.dir, "data"))+fmt.Sprintf(`https://*.%s:%s {
	tls internal
	partner_auth
	reverse_proxy %s
}
`, baseDomain, tlsPort, upstream)+adminSite(n.port))
	n.launch(t, "HOME="+n.dir)
	return n, tlsPort
}

// Rule (The edge → cookies): under HTTPS the session and CSRF cookies are
// __Host- cookies (Secure, Path=/, no Domain), and a plain-named or
// Domain-scoped cookie tossed in from a sibling subdomain is ignored.
func TestSecHTTPSCookiesUseHostPrefix(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	n, tlsPort := startTLSNode(t, up.addr)
	n.mustAdmin(t, "POST", "/api/v1/partners", map[string]any{"id": "acme", "name": "Acme Corp", "hostnames": []string{}}, http.StatusCreated)
	n.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": acmeEmail, "name": "Alice", "password": acmePassword}, http.StatusCreated)
	host := partnerHost("acme")
	c := dialClient("127.0.0.1:"+tlsPort, &tls.Config{InsecureSkipVerify: true})
	base := "https://" + host + ":" + tlsPort
	var page *http.Response
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		page, err = c.Get(base + "/.partnergate/login")
		if err == nil && page.StatusCode == http.StatusOK {
			break
		}
		if err == nil {
			page.Body.Close()
		}
		if time.Now().After(deadline) {
			t.Fatalf("HTTPS login page never answered: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	token := formToken(t, page)
	checkHost := func(ck *http.Cookie) {
		if !strings.HasPrefix(ck.Name, "__Host-") || !ck.Secure || ck.Path != "/" || ck.Domain != "" || !ck.HttpOnly {
			t.Errorf("cookie %+v: want a __Host- name, Secure, HttpOnly, Path=/ and no Domain", ck)
		}
	}
	for _, ck := range page.Cookies() {
		checkHost(ck)
	}
	resp := postForm(t, c, base+"/.partnergate/login", url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {token}, "return_to": {"/"}}, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("HTTPS sign-in: status %d, want 303", resp.StatusCode)
	}
	var session string
	for _, ck := range resp.Cookies() {
		checkHost(ck)
		if ck.Name == "__Host-pg_session" {
			session = ck.Value
		}
	}
	if session == "" {
		t.Fatal("no __Host-pg_session cookie")
	}
	// A plain-named copy, as a sibling subdomain could set with Domain=, is
	// not a session under HTTPS.
	before := up.requests()
	raw := withoutJar(c)
	if resp := get(t, raw, base+"/", http.Header{"Cookie": {"pg_session=" + session}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("plain pg_session under HTTPS: status %d, want 401", resp.StatusCode)
	}
	if up.requests() != before {
		t.Error("a plain-named cookie opened the app under HTTPS")
	}
	if resp := get(t, raw, base+"/", http.Header{"Cookie": {"__Host-pg_session=" + session}}); resp.StatusCode != http.StatusOK {
		t.Errorf("__Host-pg_session under HTTPS: status %d, want 200", resp.StatusCode)
	}
}

// Plain expectation (no secret where it is not needed): the gateway's own
// session and CSRF cookies are bearer secrets for the gateway alone. The
// app gets identity headers; it must not also get a cookie that replays
// the user's session (apps log request headers, and one compromised app
// would hold every user's gateway session).
func TestSecGatewayCookiesNotForwardedToApp(t *testing.T) {
	t.Parallel()
	n, up, c := startSignedIn(t, onFile)
	host := partnerHost("acme")
	session := sessionCookieFor(t, c, n.url(host, "/"))
	got := up.reached(t, n.rawClient(), n.url(host, "/app"), http.Header{"Cookie": {"app_pref=dark; pg_session=" + session + "; pg_csrf=" + strings.Repeat("A", 43)}})
	for _, ck := range got.Cookies() {
		if ck.Name == "pg_session" || ck.Name == "pg_csrf" || strings.HasPrefix(ck.Name, "__Host-pg_") {
			t.Errorf("the app received the gateway's %s cookie", ck.Name)
		}
	}
	if ck, err := got.Cookie("app_pref"); err != nil || ck.Value != "dark" {
		t.Errorf("the app's own cookie was not forwarded: %v", err)
	}
}

// Rule (design → identity headers): a value holding a comma or '%' is
// percent-encoded, so a name like "Doe, admin" never reads as a list and
// no value decodes into something else.
func TestSecIdentityHeaderValuesAreEncoded(t *testing.T) {
	t.Parallel()
	n, up := startAcme(t, onFile)
	n.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": "doe@acme.example", "name": "Doe, admin 100%2C", "password": "doe password 12345"}, http.StatusCreated)
	for _, name := range []string{"a\r\nX-Auth-Roles: admin", "a\x00b", "a\u202eb"} {
		if resp, _ := n.admin("POST", "/api/v1/partners/acme/users", map[string]any{"email": "x@acme.example", "name": name, "password": "x password 123456"}); resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("name %q: status %d, want 422", name, resp.StatusCode)
		}
	}
	host := partnerHost("acme")
	c := n.signIn(t, host, "doe@acme.example", "doe password 12345")
	if got := up.reached(t, c, n.url(host, "/"), nil).Header.Values("X-Auth-Name"); len(got) != 1 || got[0] != "Doe%2C admin 100%252C" {
		t.Errorf("X-Auth-Name = %q, want [%q]", got, "Doe%2C admin 100%252C")
	}
}
