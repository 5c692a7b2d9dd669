package audit_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

func TestRetentionValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		keep audit.Retention
		ok   bool
	}{
		{audit.Retention{}, true},
		{audit.Retention{MaxEvents: 1, MaxAge: time.Hour}, true},
		{audit.Retention{MaxEvents: audit.MaxEventsLimit}, true},
		{audit.Retention{MaxEvents: audit.MaxEventsLimit + 1}, false},
		{audit.Retention{MaxEvents: -1}, false},
		{audit.Retention{MaxAge: -time.Second}, false},
	} {
		if err := tc.keep.Validate(); (err == nil) != tc.ok {
			t.Errorf("Validate(%+v) = %v, want ok = %v", tc.keep, err, tc.ok)
		}
	}
	if _, err := audit.New(audit.Config{Store: nil}); err == nil {
		t.Error("New without a store succeeded")
	}
}

func TestRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		l := newLog(t, f.store, clock, audit.Retention{})

		clock.Advance(1234567 * time.Microsecond) // not a whole millisecond
		changes := []audit.Change{
			{Field: "name", From: "Alice", To: "Alice B"},
			{Field: "active", From: true, To: false},
			{Field: "login_count", From: 9007199254740993, To: nil},
			{Field: "groups", To: []string{"eng", "ops"}},
			{Field: "password", From: "old-secret", To: "new-secret"},
			{Field: "sso.client_secret", To: "s3cret"},
			{Field: "api_key", To: "k3y", Redacted: true},
		}
		in := audit.Event{
			PartnerID: "acme",
			Seq:       99, // Record assigns these
			Hash:      "forged",
			Actor:     audit.Actor{Type: audit.ActorAdminToken, ID: "tok_1", Name: "CI token"},
			Action:    "user.update",
			Target:    audit.Target{Type: "user", ID: "u1"},
			Outcome:   audit.Success,
			SourceIP:  "2001:db8::1",
			RequestID: "req-1",
			Changes:   changes,
		}
		got, err := l.Record(t.Context(), in)
		if err != nil {
			t.Fatalf("record: %v", err)
		}
		if changes[4].From != "old-secret" {
			t.Error("Record changed the caller's changes")
		}

		want := in
		want.Seq, want.Time, want.PrevHash = 1, clock.Now().Truncate(time.Millisecond), ""
		want.Changes = []audit.Change{
			{Field: "name", From: "Alice", To: "Alice B"},
			{Field: "active", From: true, To: false},
			{Field: "login_count", From: json.Number("9007199254740993")},
			{Field: "groups", To: []any{"eng", "ops"}},
			{Field: "password", Redacted: true},
			{Field: "sso.client_secret", Redacted: true},
			{Field: "api_key", Redacted: true},
		}
		want.Hash = got.Hash
		if !reflect.DeepEqual(got, want) {
			t.Errorf("recorded\n got  %+v\n want %+v", got, want)
		}

		// The hash follows the documented formula over the stored bytes.
		var data []byte
		f.tamper(func(r raw) { data = decodeStored(t, r.get("acme", 1)).Data })
		l = newLog(t, f.store, clock, audit.Retention{})
		sum := sha256.Sum256(data)
		if h := hex.EncodeToString(sum[:]); got.Hash != h {
			t.Errorf("hash %s, want SHA-256 of the stored event %s", got.Hash, h)
		}
		for _, secret := range []string{"old-secret", "new-secret", "s3cret", "k3y"} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("stored event holds the secret %q: %s", secret, data)
			}
		}

		page, err := l.Query(t.Context(), "acme", audit.Query{})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		if len(page.Events) != 1 || !reflect.DeepEqual(page.Events[0], got) {
			t.Errorf("query = %+v, want the recorded event %+v", page.Events, got)
		}

		second, err := l.Record(t.Context(), event("acme", 2))
		if err != nil {
			t.Fatalf("record: %v", err)
		}
		if second.Seq != 2 || second.PrevHash != got.Hash {
			t.Errorf("second event has seq %d and prev hash %s, want 2 and %s", second.Seq, second.PrevHash, got.Hash)
		}
		checkIntact(t, l, "acme", 1, 2)
	})
}

// TestRecordTimeNeverDecreases records from a node whose clock lags: the
// event takes the stream's newest time instead of going back.
func TestRecordTimeNeverDecreases(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		l := newLog(t, f.store, clock, audit.Retention{})
		first := record(t, l, clock, "acme", 1)[0]

		clock.Advance(-time.Hour)
		lagging, err := l.Record(t.Context(), event("acme", 2))
		if err != nil {
			t.Fatalf("record: %v", err)
		}
		if !lagging.Time.Equal(first.Time) {
			t.Errorf("event recorded by a lagging clock at %v, want the newest time %v", lagging.Time, first.Time)
		}
		checkIntact(t, l, "acme", 1, 2)
	})
}

func TestRecordRefuses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		l := newLog(t, f.store, clock, audit.Retention{})

		for name, edit := range map[string]func(*audit.Event){
			"no action":         func(e *audit.Event) { e.Action = "" },
			"uppercase action":  func(e *audit.Event) { e.Action = "User.Create" },
			"empty word":        func(e *audit.Event) { e.Action = "user..create" },
			"unknown actor":     func(e *audit.Event) { e.Actor.Type = "robot" },
			"anonymous actor":   func(e *audit.Event) { e.Actor.ID, e.Actor.Name = "", "" },
			"no outcome":        func(e *audit.Event) { e.Outcome = "" },
			"target without id": func(e *audit.Event) { e.Target.ID = "" },
			"unnamed change":    func(e *audit.Event) { e.Changes = []audit.Change{{To: "x"}} },
		} {
			e := event("acme", 1)
			edit(&e)
			_, err := l.Record(t.Context(), e)
			if !errors.Is(err, audit.ErrInvalidEvent) {
				t.Errorf("record with %s: got %v, want %v", name, err, audit.ErrInvalidEvent)
			}
		}
		_, err := l.Record(t.Context(), event("nobody", 1))
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("record for a missing partner: got %v, want %v", err, store.ErrNotFound)
		}
		checkIntact(t, l, "acme", 0, 0)
		checkIntact(t, l, "nobody", 0, 0)
	})
}

func TestRecordPlatform(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		clock := newClock()
		l := newLog(t, f.store, clock, audit.Retention{})
		e := event(store.PlatformStream, 1)
		e.Actor = audit.Actor{Type: audit.ActorOperator, ID: "ops-key"}
		e.Action, e.Target = "partner.delete", audit.Target{Type: "partner", ID: "acme"}
		got, err := l.Record(t.Context(), e)
		if err != nil {
			t.Fatalf("record: %v", err)
		}
		if got.Seq != 1 || got.PartnerID != "" {
			t.Errorf("platform event %+v, want seq 1 and no partner", got)
		}
		checkIntact(t, l, store.PlatformStream, 1, 1)
	})
}

// TestConcurrentRecord records from several goroutines on two nodes at
// once: every event lands exactly once and the chain holds.
func TestConcurrentRecord(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		second := f.store
		if f.another != nil {
			second = f.another()
		}
		nodes := []*audit.Log{
			newLog(t, f.store, clock, audit.Retention{}),
			newLog(t, second, clock, audit.Retention{}),
		}
		const writers, each = 4, 15
		var wg sync.WaitGroup
		for n, l := range nodes {
			for w := range writers {
				wg.Go(func() {
					for i := range each {
						e := event("acme", i)
						e.RequestID = fmt.Sprintf("node%d/writer%d/%d", n, w, i)
						if _, err := l.Record(t.Context(), e); err != nil {
							t.Errorf("record %s: %v", e.RequestID, err)
							return
						}
					}
				})
			}
		}
		wg.Wait()

		const total = 2 * writers * each
		checkIntact(t, nodes[0], "acme", 1, total)
		page, err := nodes[1].Query(t.Context(), "acme", audit.Query{Limit: audit.MaxLimit})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		seen := make(map[string]bool)
		for i, e := range page.Events {
			if want := int64(total - i); e.Seq != want {
				t.Errorf("event %d has seq %d, want %d", i, e.Seq, want)
			}
			if seen[e.RequestID] {
				t.Errorf("event %s recorded twice", e.RequestID)
			}
			seen[e.RequestID] = true
		}
		if len(seen) != total {
			t.Errorf("%d distinct events recorded, want %d", len(seen), total)
		}
	})
}

// TestRetention keeps streams bounded by count and by age; what is left
// still verifies, starting where retention cut.
func TestRetention(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "count", "age")
		clock := newClock()

		byCount := newLog(t, f.store, clock, audit.Retention{MaxEvents: 5})
		record(t, byCount, clock, "count", 12)
		checkIntact(t, byCount, "count", 8, 12)
		checkSeqs(t, byCount, "count", audit.Query{}, 12, 11, 10, 9, 8)

		// One event a minute, kept for 3m30s: the newest and the three
		// before it survive each append.
		byAge := newLog(t, f.store, clock, audit.Retention{MaxAge: 3*time.Minute + 30*time.Second})
		record(t, byAge, clock, "age", 10)
		checkIntact(t, byAge, "age", 7, 10)
		checkSeqs(t, byAge, "age", audit.Query{}, 10, 9, 8, 7)

		// Appending after a long pause drops everything before it.
		clock.Advance(time.Hour)
		record(t, byAge, clock, "age", 1)
		checkIntact(t, byAge, "age", 11, 11)
	})
}

// checkSeqs asserts the seqs a query returns, following every cursor.
func checkSeqs(t *testing.T, l *audit.Log, partnerID string, q audit.Query, want ...int64) {
	t.Helper()
	var got []int64
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatalf("query %+v: no end after %d pages", q, pages)
		}
		page, err := l.Query(t.Context(), partnerID, q)
		if err != nil {
			t.Fatalf("query %+v: %v", q, err)
		}
		for _, e := range page.Events {
			got = append(got, e.Seq)
		}
		if page.NextCursor == "" {
			break
		}
		q.Cursor = page.NextCursor
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("query %+v: seqs %v, want %v", q.Filter, got, want)
	}
}

// stalledLog holds every AppendAudit until released.
type stalledLog struct {
	store.AuditLog
	entered chan struct{}
	release chan struct{}
}

func (s *stalledLog) AppendAudit(ctx context.Context, stream string, head store.AuditHead, rec store.AuditRecord, keep store.AuditRetention) error {
	s.entered <- struct{}{}
	<-s.release
	return s.AuditLog.AppendAudit(ctx, stream, head, rec, keep)
}

// TestRecordWaitsItsTurn: one node appends to a stream one event at a
// time, and an event whose caller gives up while waiting is not written.
func TestRecordWaitsItsTurn(t *testing.T) {
	f := openBolt(t)
	createPartner(t, f.store, "acme")
	stalled := &stalledLog{AuditLog: f.store, entered: make(chan struct{}, 2), release: make(chan struct{})}
	clock := newClock()
	l := newLog(t, stalled, clock, audit.Retention{})

	first := make(chan error)
	go func() {
		_, err := l.Record(context.Background(), event("acme", 1))
		first <- err
	}()
	<-stalled.entered

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := l.Record(ctx, event("acme", 2)); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("record while another holds the turn: got %v, want %v", err, context.DeadlineExceeded)
	}
	if len(stalled.entered) != 0 {
		t.Error("a second Record appended while the first held the turn")
	}
	stalled.release <- struct{}{}
	if err := <-first; err != nil {
		t.Fatalf("first record: %v", err)
	}

	close(stalled.release)
	if _, err := l.Record(t.Context(), event("acme", 3)); err != nil {
		t.Fatalf("record after the turn came back: %v", err)
	}
	checkIntact(t, l, "acme", 1, 2)
}
