package gateway_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/gateway"
)

// The authenticated request path: Serve on a request carrying a live session
// cookie, the partner resolved from the Host, the session found in the
// manager's cache, identity headers set. Run with
//
//	go test ./gateway -run '^$' -bench Serve -benchmem
//
// These run only with -bench; a plain `go test` skips them.

// benchGateway is the test fixture's Gateway with one session issued
// through the session manager; it returns the gateway and the cookie.
func benchGateway(b *testing.B) (*gateway.Gateway, string) {
	b.Helper()
	f := newFixture(b, gateway.Limits{})
	cookie, _, err := f.sessions.Issue(context.Background(), f.alice, "127.0.0.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	return f.gw, cookie
}

// clientHeader is what a browser-ish API client sends: the session cookie
// among others and a few ordinary headers, keyed as net/http's server
// would key them.
func clientHeader(cookie string) http.Header {
	h := http.Header{}
	h.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36")
	h.Set("Accept", "application/json")
	h.Set("Accept-Encoding", "gzip, deflate, br")
	h.Set("Accept-Language", "en-GB,en;q=0.9")
	h.Set("Cookie", "_ga=GA1.1.123456789.1700000000; pg_session="+cookie+"; theme=dark")
	h.Set("X-Request-Id", "4f1c2a7e-9b3d-4d5e-8f60-1a2b3c4d5e6f")
	return h
}

// spoofedHeader adds client-sent copies of the identity headers under the
// spellings upstreams fold together, and a Connection header naming some,
// all of which Serve must strip.
func spoofedHeader(cookie string) http.Header {
	h := clientHeader(cookie)
	for _, name := range []string{
		"X-Auth-User", "x_auth_user", "X-Auth_User",
		"X-Partner-Id", "x_partner_id",
		"X-AUTH-EMAIL", "X-Auth-Name", "X-Auth-Groups",
		"x_auth_roles", "X-Auth-Jwt",
	} {
		h.Add(name, "admin")
	}
	h.Set("Connection", "keep-alive, X-Auth-User, x_auth_roles, X-Partner-Id")
	return h
}

// nopWriter is a ResponseWriter that keeps nothing; the authenticated path
// writes nothing anyway.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) WriteHeader(int)             {}

// requestState is one client's reusable request. reset restores the
// client's headers before each Serve (Serve strips and sets headers in
// place) without allocating, so the loop measures Serve alone.
type requestState struct {
	r    *http.Request
	w    *nopWriter
	base http.Header
}

func newRequestState(base http.Header) *requestState {
	r := httptest.NewRequest(http.MethodGet, "http://"+testHost+"/app/orders?page=2", nil)
	r.RemoteAddr = "127.0.0.1:54321"
	return &requestState{r: r, w: &nopWriter{h: http.Header{}}, base: base}
}

func (s *requestState) reset() {
	clear(s.r.Header)
	for k, v := range s.base {
		s.r.Header[k] = v
	}
}

func (s *requestState) serve(gw *gateway.Gateway) bool {
	s.reset()
	id, ok := gw.Serve(s.w, s.r)
	return ok && id != nil
}

// checkServed fails the benchmark unless the request is authenticated and
// left with exactly the gateway's identity, so it cannot measure a 401 or
// a login redirect.
func checkServed(b *testing.B, gw *gateway.Gateway, s *requestState) {
	b.Helper()
	if !s.serve(gw) {
		b.Fatal("Serve did not authenticate the request")
	}
	h := s.r.Header
	if got := h.Values("X-Auth-User"); len(got) != 1 || got[0] != "u-alice" {
		b.Fatalf("X-Auth-User = %q, want [u-alice]", got)
	}
	if got := h.Get("X-Partner-Id"); got != "acme" {
		b.Fatalf("X-Partner-Id = %q, want acme", got)
	}
	for k := range h {
		if k != "X-Auth-User" && strings.EqualFold(strings.ReplaceAll(k, "_", "-"), "x-auth-user") {
			b.Fatalf("spoofed header %q survived", k)
		}
	}
	if c := h.Get("Connection"); strings.Contains(strings.ToLower(c), "auth") || strings.Contains(strings.ToLower(c), "partner") {
		b.Fatalf("Connection still names identity headers: %q", c)
	}
	if c := h.Get("Cookie"); strings.Contains(c, "pg_session") || !strings.Contains(c, "theme=dark") {
		b.Fatalf("Cookie for the app = %q, want the app's cookies without the session's", c)
	}
}

func benchServe(b *testing.B, header func(cookie string) http.Header) {
	gw, cookie := benchGateway(b)
	b.Run("serial", func(b *testing.B) {
		s := newRequestState(header(cookie))
		checkServed(b, gw, s)
		b.ReportAllocs()
		for b.Loop() {
			if !s.serve(gw) {
				b.Fatal("Serve did not authenticate the request")
			}
		}
	})
	// Every goroutine presents the same session, as one busy user (or wrk
	// with one cookie) would: they share the cache entry and its activity
	// timestamps.
	b.Run("parallel", func(b *testing.B) {
		checkServed(b, gw, newRequestState(header(cookie)))
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			s := newRequestState(header(cookie))
			for pb.Next() {
				if !s.serve(gw) {
					b.Error("Serve did not authenticate the request")
					return
				}
			}
		})
	})
}

func BenchmarkServeAuthenticated(b *testing.B) {
	benchServe(b, clientHeader)
}

func BenchmarkServeSpoofedHeaders(b *testing.B) {
	benchServe(b, spoofedHeader)
}
