package redis

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// Liveness of the subscription. go-redis reconnects and resubscribes
// behind our back, and whatever was published meanwhile is lost, so Watch
// checks for itself: it pings every pingEvery and declares the subscription
// dead when nothing, not even a pong, arrived for silentLimit. Then it
// starts a fresh subscription every retryEvery and reports up only when
// Redis confirms it.
const (
	pingEvery   = 100 * time.Millisecond
	silentLimit = 400 * time.Millisecond
	retryEvery  = 250 * time.Millisecond
)

// Publish implements store.Bus.
func (s *Store) Publish(ctx context.Context, e store.Event) error {
	raw, err := encode(e)
	if err != nil {
		return fmt.Errorf("publish %s: %w", e.Kind, err)
	}
	if err := s.client.Publish(ctx, eventsChannel, raw).Err(); err != nil {
		return fmt.Errorf("publish %s: %w", e.Kind, classify(err))
	}
	return nil
}

// Watch implements store.Bus. onEvent and onHealth run on the calling
// goroutine, one at a time.
func (s *Store) Watch(ctx context.Context, onEvent func(store.Event), onHealth func(up bool)) {
	h := health{report: onHealth}
	setHealth := func(up bool) {
		// A subscription torn down because ctx ended says nothing of Redis.
		if ctx.Err() == nil {
			h.set(up)
		}
	}
	for {
		s.subscribeOnce(ctx, onEvent, setHealth)
		select {
		case <-ctx.Done():
			return
		case <-time.After(retryEvery):
		}
	}
}

// health reports the first state and then only changes.
type health struct {
	report func(up bool)
	known  bool
	up     bool
}

func (h *health) set(up bool) {
	if h.known && h.up == up {
		return
	}
	h.known, h.up = true, up
	h.report(up)
}

type received struct {
	msg any
	err error
}

// subscribeOnce runs one subscription until it fails, reporting down, or
// ctx ends. A fresh PubSub each time, never go-redis's silent
// resubscription, makes its subscribe confirmation proof that nothing
// published since was missed.
func (s *Store) subscribeOnce(ctx context.Context, onEvent func(store.Event), setHealth func(bool)) {
	ps := s.client.Subscribe(ctx)
	if err := ps.Subscribe(ctx, eventsChannel); err != nil {
		_ = ps.Close()
		setHealth(false)
		return
	}

	// Receive waits without a deadline, since a deadline could cut a reply
	// in half, so it runs on its own goroutine until ps is closed.
	msgs := make(chan received)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			msg, err := ps.Receive(context.WithoutCancel(ctx))
			select {
			case msgs <- received{msg, err}:
			case <-done:
				return
			}
			if err != nil {
				return
			}
		}
	})
	defer func() {
		close(done)
		_ = ps.Close()
		wg.Wait()
	}()

	ticker := time.NewTicker(pingEvery)
	defer ticker.Stop()
	lastHeard := time.Now()
	subscribed := false
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-msgs:
			if r.err != nil {
				setHealth(false)
				return
			}
			switch m := r.msg.(type) {
			case *goredis.Subscription:
				if m.Kind == "subscribe" && m.Channel == eventsChannel {
					if subscribed {
						// go-redis resubscribed on a new connection
						// unasked; what was published in between is lost.
						setHealth(false)
						return
					}
					subscribed = true
					setHealth(true)
				}
			case *goredis.Message:
				var e store.Event
				// Nothing this version publishes fails to decode; a
				// malformed event from elsewhere names nothing to act on.
				if json.Unmarshal([]byte(m.Payload), &e) == nil {
					onEvent(e)
				}
			}
			// Stamped after the callbacks: time spent in them, while
			// replies queue up unread, is not silence.
			lastHeard = time.Now()
		case <-ticker.C:
			if time.Since(lastHeard) > silentLimit {
				setHealth(false)
				return
			}
			pingCtx, cancel := context.WithTimeout(ctx, silentLimit)
			err := ps.Ping(pingCtx)
			cancel()
			if err != nil {
				setHealth(false)
				return
			}
		}
	}
}
