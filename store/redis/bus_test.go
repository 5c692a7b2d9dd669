package redis

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// Budgets for the health reports, with slack for -race over the ~1s
// promised by the package documentation.
const (
	downWithin = 1500 * time.Millisecond
	upWithin   = 3 * time.Second
)

// watcher runs Watch and records what it reports, with times.
type watcher struct {
	mu       sync.Mutex
	health   []bool
	changed  time.Time
	events   []store.Event
	finished chan struct{}
}

func startWatch(t *testing.T, s *Store) (*watcher, context.CancelFunc) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &watcher{finished: make(chan struct{})}
	go func() {
		defer close(w.finished)
		s.Watch(ctx, w.onEvent, w.onHealth)
	}()
	stop := func() {
		cancel()
		select {
		case <-w.finished:
		case <-time.After(time.Second):
			t.Fatal("Watch still running a second after its context ended")
		}
	}
	t.Cleanup(stop)
	return w, stop
}

func (w *watcher) onEvent(e store.Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events = append(w.events, e)
}

func (w *watcher) onHealth(up bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.health = append(w.health, up)
	w.changed = time.Now()
}

// waitHealth waits for the report up and returns when it was made.
func (w *watcher) waitHealth(t *testing.T, up bool, within time.Duration) time.Time {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		n, at := len(w.health), w.changed
		last := n > 0 && w.health[n-1]
		w.mu.Unlock()
		if n > 0 && last == up {
			return at
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no health report %v within %v; reports so far %v", up, within, w.reports())
	return time.Time{}
}

func (w *watcher) reports() []bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]bool(nil), w.health...)
}

func (w *watcher) waitEvent(t *testing.T, want store.Event) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		w.mu.Lock()
		for _, e := range w.events {
			if e == want {
				w.mu.Unlock()
				return
			}
		}
		w.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("event %+v not delivered", want)
}

// checkNoWatchGoroutines fails if any goroutine of Watch outlived it.
func checkNoWatchGoroutines(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "store/redis.(*Store).Watch") || strings.Contains(g, "store/redis.(*Store).subscribeOnce") {
			t.Errorf("goroutine outlived Watch:\n%s", g)
		}
	}
}

// testOutage takes Redis away and back, checking Watch reports down, then
// up once resubscribed, and then delivers again.
func testOutage(t *testing.T, fail, recover func(*redistest.Server)) {
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	w, stop := startWatch(t, s)
	w.waitHealth(t, true, upWithin)

	failed := time.Now()
	fail(srv)
	down := w.waitHealth(t, false, downWithin).Sub(failed)
	t.Logf("down reported %v after the outage began", down.Round(time.Millisecond))

	recovered := time.Now()
	recover(srv)
	up := w.waitHealth(t, true, upWithin).Sub(recovered)
	t.Logf("up reported %v after Redis returned", up.Round(time.Millisecond))

	if got := w.reports(); len(got) != 3 {
		t.Errorf("health reports %v, want [true false true]", got)
	}
	e := store.Event{Kind: store.SessionRevoked, PartnerID: "acme", ID: "s1"}
	if err := s.Publish(t.Context(), e); err != nil {
		t.Fatalf("publish after recovery: %v", err)
	}
	w.waitEvent(t, e)
	stop()
	checkNoWatchGoroutines(t)
}

func TestWatchReportsCrash(t *testing.T) {
	testOutage(t, (*redistest.Server).Stop, (*redistest.Server).Restart)
}

// A hung server resets no connection: only the pings reveal it.
func TestWatchReportsHang(t *testing.T) {
	testOutage(t, (*redistest.Server).Pause, (*redistest.Server).Resume)
}

func TestWatchStartsDown(t *testing.T) {
	srv := redistest.Start(t)
	s := openStore(t, srv.URL())
	srv.Stop()
	w, stop := startWatch(t, s)
	w.waitHealth(t, false, downWithin)
	srv.Restart()
	w.waitHealth(t, true, upWithin)
	if got := w.reports(); len(got) != 2 {
		t.Errorf("health reports %v, want [false true]", got)
	}
	stop()
	checkNoWatchGoroutines(t)
}

func TestWatchStaysUpWhenIdle(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	w, stop := startWatch(t, s)
	w.waitHealth(t, true, upWithin)
	// Well past every timeout: pongs alone must keep it healthy.
	time.Sleep(2 * time.Second)
	if got := w.reports(); len(got) != 1 {
		t.Errorf("health reports %v while idle, want [true]", got)
	}
	stop()
	checkNoWatchGoroutines(t)
}
