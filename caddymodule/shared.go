package caddymodule

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/caddyserver/caddy/v2"

	"github.com/partnergate/partnergate/store"
)

// storePool keeps one open store per backend across config reloads, so a
// reload never drops sessions or reopens a locked bolt file.
var storePool = caddy.NewUsagePool()

// listener is a config following the store's events.
type listener interface {
	handleEvent(store.Event)
	handleHealth(up bool)
}

// sharedStore is one open store and the one event watch on it, shared by
// every config that names the same backend. A reloaded config joins the
// running watch: it knows the channel's health from its first request and
// misses no event, where a watch of its own would start deaf and refuse
// sessions until it had subscribed.
type sharedStore struct {
	store.Store
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	known, up bool
	listeners map[listener]struct{}

	// partners is the last partner list read, for a config that starts
	// while the store cannot be read.
	partners atomic.Pointer[[]store.Partner]
}

// listPartners reads the partners and remembers them.
func (sh *sharedStore) listPartners(ctx context.Context) ([]store.Partner, error) {
	ps, err := sh.Store.ListPartners(ctx)
	if err == nil {
		sh.partners.Store(&ps)
	}
	return ps, err
}

// lastPartners returns the last partner list read, if any.
func (sh *sharedStore) lastPartners() ([]store.Partner, bool) {
	ps := sh.partners.Load()
	if ps == nil {
		return nil, false
	}
	return *ps, true
}

func newSharedStore(s store.Store) *sharedStore {
	ctx, cancel := context.WithCancel(context.Background())
	sh := &sharedStore{Store: s, cancel: cancel, done: make(chan struct{}), listeners: map[listener]struct{}{}}
	go func() {
		defer close(sh.done)
		s.Watch(ctx, sh.event, sh.health)
	}()
	return sh
}

func (sh *sharedStore) event(e store.Event) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for l := range sh.listeners {
		l.handleEvent(e)
	}
}

func (sh *sharedStore) health(up bool) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.known, sh.up = true, up
	for l := range sh.listeners {
		l.handleHealth(up)
	}
}

// listen delivers every later event to l, after the current health if the
// watch has reported it yet.
func (sh *sharedStore) listen(l listener) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	sh.listeners[l] = struct{}{}
	if sh.known {
		l.handleHealth(sh.up)
	}
}

func (sh *sharedStore) unlisten(l listener) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	delete(sh.listeners, l)
}

// Destruct ends the watch and closes the store once no config uses it.
func (sh *sharedStore) Destruct() error {
	sh.cancel()
	<-sh.done
	return sh.Store.Close()
}
