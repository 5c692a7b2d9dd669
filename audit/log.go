package audit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/partnergate/partnergate/store"
)

// Retention defaults and limits.
const (
	DefaultMaxEvents = 100_000
	DefaultMaxAge    = 90 * 24 * time.Hour
	// MaxEventsLimit caps MaxEvents, so a typo cannot let one partner's
	// stream take over a shared Redis.
	MaxEventsLimit = 10_000_000
)

// Retention bounds every stream: Record drops the oldest events beyond
// MaxEvents and those older than MaxAge. A zero field takes its default;
// neither bound can be switched off.
type Retention struct {
	MaxEvents int
	MaxAge    time.Duration
}

// Validate reports every field out of range at once.
func (r Retention) Validate() error {
	var errs []error
	if r.MaxEvents < 0 || r.MaxEvents > MaxEventsLimit {
		errs = append(errs, fmt.Errorf("max_events: %d is out of range: 1 to %d, or 0 for the default (%d)", r.MaxEvents, MaxEventsLimit, DefaultMaxEvents))
	}
	if r.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("max_age: %v is negative; 0 means the default (%v)", r.MaxAge, DefaultMaxAge))
	}
	return errors.Join(errs...)
}

func (r Retention) withDefaults() Retention {
	if r.MaxEvents == 0 {
		r.MaxEvents = DefaultMaxEvents
	}
	if r.MaxAge == 0 {
		r.MaxAge = DefaultMaxAge
	}
	return r
}

// Config configures a Log.
type Config struct {
	Store     store.AuditLog
	Retention Retention
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// maxRecordAttempts bounds how often Record rereads the head after another
// node appended first. Within a node appends to a stream take turns, so
// only other nodes race; losing this many races in a row means a storm.
const maxRecordAttempts = 50

// Defaults of Log's read sizes.
const (
	defaultBatch      = 1000   // records one store call reads
	defaultScanBudget = 10_000 // records one Query reads
)

// Log records, queries, exports and verifies audit streams. It is safe for
// concurrent use, and several Logs, in one process or on several nodes,
// may share a store.
type Log struct {
	store store.AuditLog
	keep  store.AuditRetention
	now   func() time.Time
	// batch and scanBudget are fields rather than constants so tests can
	// reach paging and the budget without writing thousands of events.
	batch      int
	scanBudget int

	mu    sync.Mutex // guards turns
	turns map[string]*turn
}

// turn lets one Record at a time append to a stream: concurrent appends
// from one node would only make each other retry. refs counts who holds or
// waits for it, so the entry goes once nobody does.
type turn struct {
	slot chan struct{}
	refs int
}

// New returns a Log on cfg.Store.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit log: no store")
	}
	if err := cfg.Retention.Validate(); err != nil {
		return nil, fmt.Errorf("audit log: retention: %w", err)
	}
	keep := cfg.Retention.withDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Log{
		store:      cfg.Store,
		keep:       store.AuditRetention{MaxEvents: keep.MaxEvents, MaxAge: keep.MaxAge},
		now:        cfg.Now,
		batch:      defaultBatch,
		scanBudget: defaultScanBudget,
		turns:      make(map[string]*turn),
	}, nil
}

// Record appends e to its partner's stream (e.PartnerID, "" for the
// platform) and returns it as stored: with Seq, Time and the chain filled
// in and secrets redacted. The partner must exist; Record fails with
// store.ErrNotFound otherwise.
func (l *Log) Record(ctx context.Context, e Event) (Event, error) {
	stream := e.PartnerID
	stored, err := l.record(ctx, stream, e)
	if err != nil {
		return Event{}, fmt.Errorf("record audit event %q for %s: %w", e.Action, streamName(stream), err)
	}
	return stored, nil
}

func (l *Log) record(ctx context.Context, stream string, e Event) (Event, error) {
	if err := e.check(); err != nil {
		return Event{}, err
	}
	e.Changes = redact(e.Changes)
	release, err := l.take(ctx, stream)
	if err != nil {
		return Event{}, err
	}
	defer release()
	for attempt := range maxRecordAttempts {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return Event{}, err
			}
		}
		head, err := l.store.AuditHead(ctx, stream)
		if err != nil {
			return Event{}, err
		}
		rec, err := seal(head, e, l.now())
		if err != nil {
			return Event{}, err
		}
		err = l.store.AppendAudit(ctx, stream, head, rec, l.keep)
		if errors.Is(err, store.ErrConflict) {
			continue // another node appended first
		}
		if err != nil {
			return Event{}, err
		}
		return eventOf(rec)
	}
	return Event{}, fmt.Errorf("another writer won %d times in a row: %w", maxRecordAttempts, store.ErrConflict)
}

// backoff waits a random time that grows with the attempt, so two nodes
// appending to one stream stop retrying in lockstep: without it the node
// that just appended wins again and again while the other starves.
func backoff(ctx context.Context, attempt int) error {
	ceiling := min(time.Millisecond<<min(attempt, 6), 50*time.Millisecond)
	t := time.NewTimer(rand.N(ceiling) + time.Millisecond/10)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to retry: %w", ctx.Err())
	}
}

// take waits for stream's turn, or for ctx to end, and returns what gives
// the turn back.
func (l *Log) take(ctx context.Context, stream string) (release func(), err error) {
	l.mu.Lock()
	t := l.turns[stream]
	if t == nil {
		t = &turn{slot: make(chan struct{}, 1)}
		l.turns[stream] = t
	}
	t.refs++
	l.mu.Unlock()

	leave := func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if t.refs--; t.refs == 0 {
			delete(l.turns, stream)
		}
	}
	select {
	case t.slot <- struct{}{}:
		return func() {
			<-t.slot
			leave()
		}, nil
	case <-ctx.Done():
		leave()
		return nil, fmt.Errorf("wait for the stream: %w", ctx.Err())
	}
}

// streamName names a stream in messages.
func streamName(stream string) string {
	if stream == store.PlatformStream {
		return "the platform"
	}
	return fmt.Sprintf("partner %q", stream)
}
