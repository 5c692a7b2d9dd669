package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/store"
)

// Helpers shared by the functional tests of tokens, sessions, groups,
// invitations, audit and rate limits.

// newLiveEnv is newEnvOn with the fake clock set to the wall clock. The
// stores expire session rows and links by the wall clock, so a session
// issued at t0 would already be gone from them.
func newLiveEnv(t testing.TB, backend string, opts ...func(*Config)) *env {
	t.Helper()
	e := newEnvOn(t, backend, opts...)
	e.clock.Set(time.Now().UTC().Truncate(time.Millisecond))
	return e
}

// withMailer gives the handler a mail sender, which invitations and
// password resets need.
func withMailer(m mail.Sender) func(*Config) {
	return func(c *Config) { c.Mailer = m }
}

// bearer is the Authorization header of a token or key.
func bearer(token string) []string { return []string{"Bearer " + token} }

// decodeAs unmarshals a response body, failing the test when it is not
// the JSON expected.
func decodeAs[T any](t testing.TB, body []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("decode %T: %v: %s", v, err, body)
	}
	return v
}

// reloadDirectory makes partners created so far resolvable by hostname,
// which cookie authentication needs.
func (e *env) reloadDirectory() {
	e.t.Helper()
	if err := e.dir.Reload(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
}

// issueSession signs a user in as the portal would, from ip with
// userAgent, and returns the cookie value.
func (e *env) issueSession(partnerID, userID, ip, userAgent string) string {
	e.t.Helper()
	u, err := e.store.GetUser(e.t.Context(), partnerID, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	cookie, _, err := e.sessions.Issue(e.t.Context(), u, ip, userAgent)
	if err != nil {
		e.t.Fatalf("issue session: %v", err)
	}
	return cookie
}

// cookieRequest is a request a browser signed in on host sends: the
// session cookie, no Authorization, and csrf as X-CSRF-Token unless empty.
func cookieRequest(method, host, path, body, cookie, csrf string) request {
	h := http.Header{"Cookie": {"pg_session=" + cookie}}
	if csrf != "" {
		h.Set("X-CSRF-Token", csrf)
	}
	return request{method: method, path: "http://" + host + path, body: body, auth: []string{}, header: h}
}

// busWatch feeds the store's event bus to the env's session manager, as
// a gateway node does, and records what it delivered.
type busWatch struct {
	e *env
	// from is how many events the handler had published when the watch
	// became healthy: later ones are certain to be delivered.
	from int

	mu        sync.Mutex
	delivered map[store.Event]int
	arrived   chan struct{} // closed and replaced on every delivery
}

// watchBus starts the watch and returns once it is healthy, so no event
// published afterwards can be missed.
func (e *env) watchBus() *busWatch {
	e.t.Helper()
	w := &busWatch{e: e, delivered: map[store.Event]int{}, arrived: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	up := make(chan struct{})
	var once sync.Once
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.store.Watch(ctx, func(ev store.Event) {
			e.sessions.HandleEvent(ev)
			w.mu.Lock()
			w.delivered[ev]++
			close(w.arrived)
			w.arrived = make(chan struct{})
			w.mu.Unlock()
		}, func(healthy bool) {
			e.sessions.SetHealthy(healthy)
			if healthy {
				once.Do(func() { close(up) })
			}
		})
	}()
	// Registered after the store's own cleanup, so it runs before it.
	e.t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-up:
	case <-time.After(settleTimeout):
		e.t.Fatal("the event bus watch did not become healthy")
	}
	w.from = len(e.store.published())
	return w
}

// settleTimeout bounds waiting for the bus; delivery normally takes
// microseconds (bbolt) or a millisecond (Redis).
const settleTimeout = 10 * time.Second

// settle waits until every event the handler has published since the
// watch started was handled by the session manager, so the next request
// sees the cache as another node would once the change reached it.
func (w *busWatch) settle() {
	w.e.t.Helper()
	want := map[store.Event]int{}
	for _, ev := range w.e.store.published()[w.from:] {
		want[ev]++
	}
	deadline := time.After(settleTimeout)
	for {
		w.mu.Lock()
		missing := false
		for ev, n := range want {
			if w.delivered[ev] < n {
				missing = true
				break
			}
		}
		arrived := w.arrived
		w.mu.Unlock()
		if !missing {
			return
		}
		select {
		case <-arrived:
		case <-deadline:
			w.e.t.Fatalf("published events %v were not all delivered by the bus", want)
		}
	}
}
