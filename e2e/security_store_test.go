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
		n, up, c := startSignedIn(t, start)
		host := partnerHost("acme")
		cookie := n.sessionHeader(t, c, host)
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
	n, up, c := startSignedIn(t, onStore("redis "+r.URL()))
	host := partnerHost("acme")
	cookie := sessionCookieFor(t, c, n.url(host, "/"))
	// Tokens fetched while Redis answers: the forms are ready to post.
	other := n.client()
	loginToken := csrf(t, other, n.url(host, "/.partnergate/login"))
	logoutToken := csrf(t, c, n.url(host, "/.partnergate/logout"))

	const budget = 2500 * time.Millisecond
	r.Pause()
	defer r.Resume()
	// Let the node notice, as a request would.
	poll(2*time.Second, 0, func() *http.Response { return get(t, c, n.url(host, "/"), nil) }, http.StatusServiceUnavailable)
	before := up.requests()
	check := func(name string, resp *http.Response, took time.Duration) {
		t.Helper()
		checkFailedClosed(t, name, resp)
		t.Logf("%s: %d in %v", name, resp.StatusCode, took)
		if took > budget {
			t.Errorf("%s took %v, want under %v (store calls need a per-request deadline)", name, took, budget)
		}
	}
	timed := func(f func() *http.Response) (*http.Response, time.Duration) {
		start := time.Now()
		resp := f()
		return resp, time.Since(start)
	}

	resp, took := timed(func() *http.Response { return get(t, c, n.url(host, "/app"), nil) })
	check("session request", resp, took)
	resp, took = timed(func() *http.Response {
		return get(t, c, n.url(host, "/app"), http.Header{"Accept": {"text/html"}})
	})
	check("browser session request", resp, took)
	resp, took = timed(func() *http.Response {
		return postForm(t, other, n.url(host, "/.partnergate/login"), url.Values{"email": {acmeEmail}, "password": {acmePassword}, "csrf_token": {loginToken}}, nil)
	})
	check("sign-in", resp, took)
	resp, took = timed(func() *http.Response {
		return postForm(t, c, n.url(host, "/.partnergate/logout"), url.Values{"csrf_token": {logoutToken}}, nil)
	})
	check("sign-out", resp, took)
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
		check("admin "+call.method+" "+call.path, resp, took)
	}
	if resp := get(t, n.client(), n.url(host, "/app"), nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no cookie while Redis is down: status %d, want 401", resp.StatusCode)
	}
	if up.requests() != before {
		t.Errorf("%d requests reached the app while Redis was down", up.requests()-before)
	}

	r.Resume()
	resp = poll(3*time.Second, 20*time.Millisecond, func() *http.Response {
		return get(t, n.rawClient(), n.url(host, "/app"), http.Header{"Cookie": {"pg_session=" + cookie}})
	}, http.StatusOK)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("Redis back: status %d, want 200 with the same cookie", resp.StatusCode)
	}
}

// Rule (design: revocation takes effect on all nodes at once): deactivating
// a user, deleting a user and deleting a partner through node A end the
// sessions node B has cached, within the 1s hard limit.
func TestSecRevocationReachesEveryNode(t *testing.T) {
	t.Parallel()
	a, b := startPair(t)
	a.seedGlobex(t)
	b.waitHost(t, partnerHost("globex"))

	cachedOnB := func(host, email, password string) http.Header {
		h := a.sessionHeader(t, a.signIn(t, host, email, password), host)
		if resp := get(t, b.rawClient(), b.url(host, "/"), h); resp.StatusCode != http.StatusOK {
			t.Fatalf("session on node B: status %d, want 200", resp.StatusCode)
		}
		return h
	}
	refusedOnB := func(name, host string, h http.Header) {
		t.Helper()
		resp := poll(time.Second, 10*time.Millisecond, func() *http.Response { return get(t, b.rawClient(), b.url(host, "/"), h) },
			http.StatusUnauthorized, http.StatusNotFound)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: node B still serves the session after 1s (status %d)", name, resp.StatusCode)
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
	a.seedAcme(t)
	b.waitHost(t, partnerHost("acme"))
	host := partnerHost("acme")
	c := a.signIn(t, host, acmeEmail, acmePassword)
	h := a.sessionHeader(t, c, host)
	if resp := get(t, b.rawClient(), b.url(host, "/"), h); resp.StatusCode != http.StatusOK {
		t.Fatalf("session on node B: status %d, want 200", resp.StatusCode)
	}

	px.Hold()
	defer px.Release()
	a.logout(t, c, host)
	// B may serve its cache until it notices (the 1s hard limit, with
	// slack for a loaded machine), not after.
	onB := func() *http.Response { return get(t, b.rawClient(), b.url(host, "/"), h) }
	if poll(1500*time.Millisecond, 20*time.Millisecond, onB, http.StatusServiceUnavailable).StatusCode != http.StatusServiceUnavailable {
		t.Fatal("partitioned node B never answered 503")
	}
	before := up.requests()
	for range 5 {
		if resp := onB(); resp.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("partitioned node B: status %d, want 503", resp.StatusCode)
		}
	}
	if up.requests() != before {
		t.Errorf("partitioned node B proxied %d requests of a signed-out session", up.requests()-before)
	}
	px.Release()
	switch resp := poll(5*time.Second, 20*time.Millisecond, onB, http.StatusUnauthorized, http.StatusOK); resp.StatusCode {
	case http.StatusUnauthorized:
	case http.StatusOK:
		t.Fatalf("healed node B serves a session signed out during the partition")
	default:
		t.Fatalf("healed node B: status %d after 5s, want 401", resp.StatusCode)
	}
}
