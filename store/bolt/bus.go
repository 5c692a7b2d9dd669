package bolt

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/partnergate/partnergate/store"
)

const (
	// watchBuffer is how many events a watcher may fall behind before
	// Publish has to wait for it.
	watchBuffer = 256
	// publishWait bounds how long one Publish waits for slow watchers in
	// total. A watcher still full after that misses the event and is told
	// through onHealth, so a revocation is never lost unnoticed.
	publishWait = 100 * time.Millisecond
)

// subscriber is one Watch call.
type subscriber struct {
	events chan store.Event
	// lost holds a token once an event was dropped for this watcher.
	lost chan struct{}
	// gone is closed when Watch returns, so Publish stops waiting on it.
	gone chan struct{}
}

// Publish implements store.Bus. It delivers e to every watcher of this
// Store in publication order. A watcher whose buffer stays full for
// publishWait misses e and gets onHealth(false) then onHealth(true), which
// tells it to drop every cache built from events.
func (s *Store) Publish(ctx context.Context, e store.Event) error {
	select {
	case <-s.closed:
		return fmt.Errorf("publish %s event: %w", e.Kind, store.ErrUnavailable)
	default:
	}
	s.mu.Lock()
	subs := slices.Collect(maps.Keys(s.subs))
	s.mu.Unlock()

	timeout := time.NewTimer(publishWait)
	defer timeout.Stop()
	waiting := true
	for _, sub := range subs {
		select {
		case sub.events <- e:
			continue
		default:
		}
		if waiting {
			select {
			case sub.events <- e:
				continue
			case <-sub.gone:
				continue
			case <-timeout.C:
				waiting = false
			case <-ctx.Done():
				waiting = false
			}
		}
		select {
		case sub.lost <- struct{}{}:
		default: // already told
		}
	}
	return nil
}

// Watch implements store.Bus. Events reach onEvent in publication order,
// from the calling goroutine. Watch reports healthy at once, since delivery
// within one process cannot fail, and reports down when the Store closes.
func (s *Store) Watch(ctx context.Context, onEvent func(store.Event), onHealth func(up bool)) {
	sub := &subscriber{
		events: make(chan store.Event, watchBuffer),
		lost:   make(chan struct{}, 1),
		gone:   make(chan struct{}),
	}
	defer close(sub.gone)
	select {
	case <-s.closed:
		onHealth(false)
		<-ctx.Done()
		return
	default:
	}
	s.mu.Lock()
	s.subs[sub] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, sub)
		s.mu.Unlock()
	}()

	onHealth(true)
	for {
		select {
		case <-ctx.Done():
			return
		case e := <-sub.events:
			onEvent(e)
		case <-sub.lost:
			// Delivery is assured again as soon as the loss is reported:
			// the buffer is drained by this very loop.
			onHealth(false)
			onHealth(true)
		case <-s.closed:
			onHealth(false)
			<-ctx.Done()
			return
		}
	}
}
