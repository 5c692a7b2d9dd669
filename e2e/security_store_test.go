package e2e

// Security tests for revocation across nodes and a store that goes away. Each tries to break one rule of the project's
// security checklist against the real binary; names start with TestSec.

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
)

// Rule (logout ends the session server-side; deactivation and deletion):
// deleting a partner ends its sessions, and re-creating the same id does
// not bring old cookies back.
func TestSecDeletedPartnerSessionsEnd(t *testing.T) {
	backends(t, func(t *testing.T, start func(*testing.T, nodeConfig) *node) {
		up := startUpstream(t)
		n := start(t, nodeConfig{upstream: up.addr})
		n.seedPartner(t, "acme", "Acme Corp", acmeEmail, acmePassword)
		host := partnerHost("acme")
		c := n.client()
		n.mustLogin(t, c, host, acmeEmail, acmePassword)
		cookie := http.Header{"Cookie": {"pg_session=" + sessionCookieFor(t, c, n.url(host, "/"))}}
		n.mustAdmin(t, "DELETE", "/api/v1/partners/acme", nil, http.StatusNoContent)
		n.seedPartner(t, "acme", "Acme Again", acmeEmail, acmePassword)
		before := up.requests()
		if resp := get(t, n.rawClient(), n.url(host, "/"), cookie); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("a cookie of the deleted partner on its re-created id: status %d, want 401", resp.StatusCode)
		}
		if up.requests() != before {
			t.Error("an old partner's cookie reached the app")
		}
	})
}

// Rule (When Redis is down): every path a browser or an operator takes
// fails closed, fast, with 503 and Retry-After, keeps the cookie and
// proxies nothing; after Redis is back the same cookie works.
func TestSecRedisDownEveryPathFailsClosed(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	up := startUpstream(t)
	n := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	n.seedPartner(t, "acme", "Acme Corp", acmeEmail, acmePassword)
	host := partnerHost("acme")
	c := n.client()
	n.mustLogin(t, c, host, acmeEmail, acmePassword)
	cookie := sessionCookieFor(t, c, n.url(host, "/"))
	// Tokens fetched while Redis answers: the forms are ready to post.
	other := n.client()
	loginToken := csrf(t, other, n.url(host, "/.partnergate/login"))
	logoutToken := csrf(t, c, n.url(host, "/.partnergate/logout"))

	const budget = 2500 * time.Millisecond
	r.Pause()
	defer r.Resume()
	// Let the node notice, as a request would.
	deadline := time.Now().Add(2 * time.Second)
	for get(t, c, n.url(host, "/"), nil).StatusCode != http.StatusServiceUnavailable && time.Now().Before(deadline) {
	}
	before := up.requests()
	check := func(name string, resp *http.Response, took time.Duration, want int) {
		t.Helper()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, want)
		}
		if want == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", name)
		}
		t.Logf("%s: %d in %v", name, resp.StatusCode, took)
		if took > budget {
			t.Errorf("%s took %v, want under %v (store calls need a per-request deadline)", name, took, budget)
		}
		for _, ck := range resp.Cookies() {
			if ck.Name == "pg_session" {
				t.Errorf("%s touched the session cookie: %v", name, ck)
			}
		}
	}
	timed := func(f func() *http.Response) (*http.Response, time.Duration) {
		start := time.Now()
		resp := f()
		return resp, time.Since(start)
	}

	resp, took := timed(func() *http.Response { return get(t, c, n.url(host, "/app"), nil) })
	check("session request", resp, took, http.StatusServiceUnavailable)
	resp, took = timed(func() *http.Response {
		return get(t, c, n.url(host, "/app"), http.Header{"Accept": {"text/html"}})
	})
	check("browser session request", resp, took, http.StatusServiceUnavailable)
	resp, took = timed(func() *http.Response {
		return postForm(t, other, n.url(host, "/.partnergate/login"), url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {loginToken}}, nil)
	})
	check("sign-in", resp, took, http.StatusServiceUnavailable)
	resp, took = timed(func() *http.Response {
		return postForm(t, c, n.url(host, "/.partnergate/logout"), url.Values{"csrf_token": {logoutToken}}, nil)
	})
	check("sign-out", resp, took, http.StatusServiceUnavailable)
	for _, call := range []struct{ method, path string }{{"GET", "/api/v1/partners"}, {"GET", "/api/v1/partners/acme/users"}, {"POST", "/api/v1/partners"}} {
		var body any
		if call.method == "POST" {
			body = map[string]any{"id": "initech", "name": "Initech", "hostnames": []string{}}
		}
		resp, took = timed(func() *http.Response {
			resp, err := n.admin(call.method, call.path, body)
			if err != nil {
				t.Fatal(err)
			}
			return resp
		})
		check("admin "+call.method+" "+call.path, resp, took, http.StatusServiceUnavailable)
	}
	if resp := get(t, n.client(), n.url(host, "/app"), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no cookie while Redis is down: status %d, want 401", resp.StatusCode)
	}
	if up.requests() != before {
		t.Errorf("%d requests reached the app while Redis was down", up.requests()-before)
	}

	r.Resume()
	deadline = time.Now().Add(3 * time.Second)
	for {
		resp := get(t, n.rawClient(), n.url(host, "/app"), http.Header{"Cookie": {"pg_session=" + cookie}})
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back: status %d, want 200 with the same cookie", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Rule (design: revocation takes effect on all nodes at once): deactivating
// a user, deleting a user and deleting a partner through node A end the
// sessions node B has cached, within the 1s hard limit.
func TestSecRevocationReachesEveryNode(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	up := startUpstream(t)
	a := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	b := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	a.seedPartner(t, "acme", "Acme Corp", acmeEmail, acmePassword)
	a.seedPartner(t, "globex", "Globex Corporation", globexEmail, globexPass)
	b.waitHost(t, partnerHost("acme"))
	b.waitHost(t, partnerHost("globex"))

	cachedOnB := func(host, email, password string) http.Header {
		c := a.client()
		a.mustLogin(t, c, host, email, password)
		h := http.Header{"Cookie": {"pg_session=" + sessionCookieFor(t, c, a.url(host, "/"))}}
		if resp := get(t, b.rawClient(), b.url(host, "/"), h); resp.StatusCode != http.StatusOK {
			t.Fatalf("session on node B: status %d, want 200", resp.StatusCode)
		}
		return h
	}
	refusedOnB := func(name, host string, h http.Header) {
		t.Helper()
		deadline := time.Now().Add(time.Second)
		for {
			resp := get(t, b.rawClient(), b.url(host, "/"), h)
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusNotFound {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: node B still serves the session after 1s (status %d)", name, resp.StatusCode)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	acme := partnerHost("acme")
	for i, action := range []string{"deactivate", "delete"} {
		email := fmt.Sprintf("user%d@acme.example", i)
		u := a.mustAdmin(t, "POST", "/api/v1/partners/acme/users", map[string]any{"email": email, "password": "user password 12345"}, http.StatusCreated)
		h := cachedOnB(acme, email, "user password 12345")
		if action == "deactivate" {
			a.mustAdmin(t, "PATCH", "/api/v1/partners/acme/users/"+u["id"].(string), map[string]any{"active": false}, http.StatusOK)
		} else {
			a.mustAdmin(t, "DELETE", "/api/v1/partners/acme/users/"+u["id"].(string), nil, http.StatusNoContent)
		}
		refusedOnB(action+" user", acme, h)
	}
	globex := partnerHost("globex")
	h := cachedOnB(globex, globexEmail, globexPass)
	a.mustAdmin(t, "DELETE", "/api/v1/partners/globex", nil, http.StatusNoContent)
	refusedOnB("delete partner", globex, h)
}

// gateProxy is a TCP proxy in front of Redis that can hold every byte in
// both directions, as a network partition between one node and Redis
// would, while other nodes keep talking to Redis directly.
type gateProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	closed bool
	open   chan struct{} // closed while traffic flows
}

func startGateProxy(t *testing.T, target string) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &gateProxy{addr: ln.Addr().String(), target: target, open: make(chan struct{})}
	close(p.open)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(conn)
		}
	}()
	return p
}

func (p *gateProxy) gate() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.open
}

// Hold stops forwarding; Release lets it flow again.
func (p *gateProxy) Hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		p.open = make(chan struct{})
	}
}

func (p *gateProxy) Release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.closed = false
		close(p.open)
	}
}

func (p *gateProxy) serve(client net.Conn) {
	defer client.Close()
	<-p.gate()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				<-p.gate()
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}
	go pipe(server, client)
	go pipe(client, server)
	<-done
}

// Rule (design + When Redis is down: "if a node loses that channel it stops
// trusting its cache until it is back"): node B is cut off from Redis
// while node A is not; a sign-out on A must not leave B serving the
// session from its cache, neither during the partition (503) nor after it
// heals (401).
func TestSecPartitionedNodeStopsTrustingCache(t *testing.T) {
	t.Parallel()
	r := redistest.Start(t)
	px := startGateProxy(t, r.Addr())
	up := startUpstream(t)
	a := startNode(t, nodeConfig{store: "redis " + r.URL(), upstream: up.addr})
	b := startNode(t, nodeConfig{store: "redis redis://" + px.addr + "/0", upstream: up.addr})
	a.seedPartner(t, "acme", "Acme Corp", acmeEmail, acmePassword)
	b.waitHost(t, partnerHost("acme"))
	host := partnerHost("acme")
	c := a.client()
	a.mustLogin(t, c, host, acmeEmail, acmePassword)
	h := http.Header{"Cookie": {"pg_session=" + sessionCookieFor(t, c, a.url(host, "/"))}}
	if resp := get(t, b.rawClient(), b.url(host, "/"), h); resp.StatusCode != http.StatusOK {
		t.Fatalf("session on node B: status %d, want 200", resp.StatusCode)
	}

	px.Hold()
	defer px.Release()
	a.logout(t, c, host)
	// B may serve its cache until it notices (the 1s hard limit, with
	// slack for a loaded machine), not after.
	deadline := time.Now().Add(1500 * time.Millisecond)
	for get(t, b.rawClient(), b.url(host, "/"), h).StatusCode != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatal("partitioned node B never answered 503")
		}
		time.Sleep(20 * time.Millisecond)
	}
	before := up.requests()
	for range 5 {
		if resp := get(t, b.rawClient(), b.url(host, "/"), h); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("partitioned node B: status %d, want 503", resp.StatusCode)
		}
	}
	if up.requests() != before {
		t.Errorf("partitioned node B proxied %d requests of a signed-out session", up.requests()-before)
	}
	px.Release()
	deadline = time.Now().Add(5 * time.Second)
	for {
		resp := get(t, b.rawClient(), b.url(host, "/"), h)
		if resp.StatusCode == http.StatusUnauthorized {
			break
		}
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("healed node B serves a session signed out during the partition")
		}
		if time.Now().After(deadline) {
			t.Fatalf("healed node B: status %d after 5s, want 401", resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
