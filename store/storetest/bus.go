package storetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var busTests = []subtest{
	{"WatchReportsHealthy", testBusWatchReportsHealthy},
	{"PublishReachesEveryWatcher", testBusPublishReachesEveryWatcher},
	{"PublishWithoutWatchers", testBusPublishWithoutWatchers},
	{"WatchStopsWithContext", testBusWatchStopsWithContext},
}

const (
	// healthWait bounds how long a watcher may take to report its state.
	healthWait = 2 * time.Second
	// deliveryWait bounds how long a published event may take to arrive.
	deliveryWait = time.Second
)

// watcher records what one Watch call reports.
type watcher struct {
	mu     sync.Mutex
	events []store.Event
	health []bool
	stop   context.CancelFunc
	done   chan struct{}
}

// watch runs s.Watch until the test ends or w.stop is called.
func watch(t *testing.T, s store.Store) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &watcher{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(w.done)
		s.Watch(ctx, w.onEvent, w.onHealth)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-w.done:
		case <-time.After(deliveryWait):
			t.Errorf("watch still running %v after its context ended", deliveryWait)
		}
	})
	return w
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
}

func (w *watcher) up() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.health) > 0 && w.health[len(w.health)-1]
}

// received reports whether every event in want arrived, as many times as it
// appears there. Other events are ignored: a backend may share its channel.
func (w *watcher) received(want []store.Event) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	got := slices.Clone(w.events)
	for _, e := range want {
		i := slices.Index(got, e)
		if i < 0 {
			return false
		}
		got = slices.Delete(got, i, i+1)
	}
	return true
}

func (w *watcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return "health " + listString(w.health) + "; events " + listString(w.events)
}

// eventually polls cond until it holds or wait passes.
func eventually(wait time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

func waitUp(t *testing.T, w *watcher) {
	t.Helper()
	if !eventually(healthWait, w.up) {
		t.Fatalf("watcher not healthy after %v: %v", healthWait, w)
	}
}

func testBusWatchReportsHealthy(t *testing.T, s store.Store) {
	waitUp(t, watch(t, s))
}

func testBusPublishReachesEveryWatcher(t *testing.T, s store.Store) {
	// Two watchers on one store stand for two nodes.
	nodes := []*watcher{watch(t, s), watch(t, s)}
	for _, w := range nodes {
		waitUp(t, w)
	}
	events := []store.Event{
		{Kind: store.SessionRevoked, PartnerID: "acme", ID: "c2Vzc2lvbi1oYXNo"},
		{Kind: store.UserChanged, PartnerID: "acme", ID: "u1"},
		{Kind: store.PartnersChanged},
		// Survives any encoding the backend puts on the wire.
		{Kind: store.UserChanged, PartnerID: "ünï \"cødé\"\n\t{}", ID: `a\b/c<d>&e` + "\u2028"},
	}
	for _, e := range events {
		if err := s.Publish(t.Context(), e); err != nil {
			t.Fatalf("publish %+v: %v", e, err)
		}
	}
	for i, w := range nodes {
		if !eventually(deliveryWait, func() bool { return w.received(events) }) {
			t.Errorf("watcher %d did not receive every event within %v: %v", i, deliveryWait, w)
		}
	}
}

func testBusPublishWithoutWatchers(t *testing.T, s store.Store) {
	if err := s.Publish(t.Context(), store.Event{Kind: store.PartnersChanged}); err != nil {
		t.Errorf("publish without watchers: %v", err)
	}
}

func testBusWatchStopsWithContext(t *testing.T, s store.Store) {
	w := watch(t, s)
	waitUp(t, w)
	w.stop()
	select {
	case <-w.done:
	case <-time.After(deliveryWait):
		t.Fatalf("watch still running %v after its context ended", deliveryWait)
	}
}
