package audit_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/internal/clocktest"
	"github.com/partnergate/partnergate/store"
)

// spyLog counts the records a Log reads and can act once before the
// first forward scan.
type spyLog struct {
	store.AuditLog
	read      atomic.Int64
	once      sync.Once
	onForward func()
}

func (s *spyLog) ScanAudit(ctx context.Context, stream string, before int64, limit int) ([]store.AuditRecord, error) {
	recs, err := s.AuditLog.ScanAudit(ctx, stream, before, limit)
	s.read.Add(int64(len(recs)))
	return recs, err
}

func (s *spyLog) ScanAuditForward(ctx context.Context, stream string, after int64, limit int) ([]store.AuditRecord, error) {
	if s.onForward != nil {
		s.once.Do(s.onForward)
	}
	recs, err := s.AuditLog.ScanAuditForward(ctx, stream, after, limit)
	s.read.Add(int64(len(recs)))
	return recs, err
}

// The stream the query tests read: event(acme, n) for n = 1 to 12, seq n
// recorded at base + n minutes. By seq:
//
//	1 u1 user.update  t1     7 u1 group.update t2
//	2 u2 signin       t2     8 u2 user.create  t3
//	3 u0 group.update t3     9 u0 user.update  t4
//	4 u1 user.create  t4    10 u1 signin       t0
//	5 u2 user.update  t0    11 u2 group.update t1
//	6 u0 signin       t1    12 u0 user.create  t2
const streamLen = 12

func queryFixture(t *testing.T, f *fixture) (l *audit.Log, at func(seq int) time.Time) {
	createPartner(t, f.store, "acme", "other")
	clock := newClock()
	base := clock.Now()
	l = newLog(t, f.store, clock, audit.Retention{})
	record(t, l, clock, "acme", streamLen)
	record(t, l, clock, "other", 3)
	return l, func(seq int) time.Time { return base.Add(time.Duration(seq) * time.Minute) }
}

func TestQueryFilters(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		l, at := queryFixture(t, f)
		for _, tc := range []struct {
			name   string
			filter audit.Filter
			want   []int64
		}{
			{"everything", audit.Filter{}, []int64{12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1}},
			{"actor", audit.Filter{ActorID: "u1"}, []int64{10, 7, 4, 1}},
			{"action", audit.Filter{Action: "signin"}, []int64{10, 6, 2}},
			{"action prefix", audit.Filter{Action: "user.*"}, []int64{12, 9, 8, 5, 4, 1}},
			{"prefix alone is no action", audit.Filter{Action: "user"}, nil},
			{"target", audit.Filter{TargetID: "t1"}, []int64{11, 6, 1}},
			{"actor and action", audit.Filter{ActorID: "u2", Action: "user.*"}, []int64{8, 5}},
			{"since is inclusive", audit.Filter{Since: at(9)}, []int64{12, 11, 10, 9}},
			{"until is exclusive", audit.Filter{Until: at(4)}, []int64{3, 2, 1}},
			{"time range", audit.Filter{Since: at(5), Until: at(8)}, []int64{7, 6, 5}},
			{"time range and target", audit.Filter{Since: at(2), Until: at(12), TargetID: "t2"}, []int64{7, 2}},
			{"empty time range", audit.Filter{Since: at(5), Until: at(5)}, nil},
			{"since the future", audit.Filter{Since: at(13)}, nil},
			{"unknown actor", audit.Filter{ActorID: "nobody"}, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				checkSeqs(t, l, "acme", audit.Query{Filter: tc.filter}, tc.want...)
				// Paged, the same events come back.
				checkSeqs(t, l, "acme", audit.Query{Filter: tc.filter, Limit: 2}, tc.want...)
			})
		}
		checkSeqs(t, l, "other", audit.Query{}, 3, 2, 1)
		checkSeqs(t, l, "nobody", audit.Query{})
	})
}

func TestQueryPages(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		l, _ := queryFixture(t, f)
		var all []audit.Event
		q := audit.Query{Limit: 5}
		for _, want := range [][]int64{{12, 11, 10, 9, 8}, {7, 6, 5, 4, 3}, {2, 1}} {
			page, err := l.Query(t.Context(), "acme", q)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			checkPage(t, page, want, len(want) == q.Limit)
			all = append(all, page.Events...)
			q.Cursor = page.NextCursor
		}
		// A page is a slice of the whole, event for event.
		whole, err := l.Query(t.Context(), "acme", audit.Query{})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		if !reflect.DeepEqual(all, whole.Events) {
			t.Errorf("pages differ from the whole:\n got  %+v\n want %+v", all, whole.Events)
		}

		// A filled last page has a cursor to an empty one.
		page, err := l.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "signin"}, Limit: 3})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		checkPage(t, page, []int64{10, 6, 2}, true)
		page, err = l.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "signin"}, Cursor: page.NextCursor})
		if err != nil {
			t.Fatalf("query: %v", err)
		}
		checkPage(t, page, nil, false)
		if page.Events == nil {
			t.Error("an empty page has nil events, which encode as null")
		}
	})
}

func checkPage(t *testing.T, page audit.Page, want []int64, more bool) {
	t.Helper()
	got := make([]int64, 0, len(page.Events))
	for _, e := range page.Events {
		got = append(got, e.Seq)
	}
	if !slices.Equal(got, want) || (page.NextCursor != "") != more {
		t.Errorf("page has seqs %v and cursor %q, want %v and a cursor: %v", got, page.NextCursor, want, more)
	}
}

func TestQueryLimit(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		l := newLog(t, f.store, clock, audit.Retention{})
		appendDirect(t, f.store, clock, "acme", audit.MaxLimit+1)
		for _, tc := range []struct {
			limit, want int
		}{
			{0, audit.DefaultLimit},
			{-1, audit.DefaultLimit},
			{7, 7},
			{audit.MaxLimit + 100, audit.MaxLimit},
		} {
			page, err := l.Query(t.Context(), "acme", audit.Query{Limit: tc.limit})
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			if len(page.Events) != tc.want || page.NextCursor == "" {
				t.Errorf("query with limit %d: %d events, cursor %q; want %d and a cursor", tc.limit, len(page.Events), page.NextCursor, tc.want)
			}
		}
	})
}

// appendDirect fills a stream with n events through the store, without
// Record's read of the head before each, to save time.
func appendDirect(t testing.TB, s store.AuditLog, clock *clocktest.Clock, partnerID string, n int) {
	t.Helper()
	ctx := context.Background()
	head, err := s.AuditHead(ctx, partnerID)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= n; i++ {
		clock.Advance(time.Second)
		rec, err := audit.Seal(head, event(partnerID, i), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := s.AppendAudit(ctx, partnerID, head, rec, store.AuditRetention{}); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		head = store.AuditHead{Seq: rec.Seq, Hash: rec.Hash, Time: rec.Time, First: max(head.First, 1)}
	}
}

func TestQueryBadInput(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		l, at := queryFixture(t, f)
		b64 := base64.RawURLEncoding.EncodeToString
		for name, cursor := range map[string]string{
			"not base64":   "!!",
			"no prefix":    b64([]byte("12")),
			"not a number": b64([]byte("before:x")),
			"zero":         b64([]byte("before:0")),
			"negative":     b64([]byte("before:-3")),
		} {
			_, err := l.Query(t.Context(), "acme", audit.Query{Cursor: cursor})
			if !errors.Is(err, audit.ErrBadCursor) {
				t.Errorf("query with a cursor %s: got %v, want %v", name, err, audit.ErrBadCursor)
			}
		}
		for name, filter := range map[string]audit.Filter{
			"uppercase action":   {Action: "User.create"},
			"trailing dot":       {Action: "user."},
			"bare wildcard":      {Action: "*"},
			"wildcard only":      {Action: ".*"},
			"inner wildcard":     {Action: "user.*.x"},
			"until before since": {Since: at(5), Until: at(4)},
		} {
			_, err := l.Query(t.Context(), "acme", audit.Query{Filter: filter})
			if !errors.Is(err, audit.ErrBadFilter) {
				t.Errorf("query with %s: got %v, want %v", name, err, audit.ErrBadFilter)
			}
			var out bytes.Buffer
			n, err := l.Export(t.Context(), "acme", filter, &out)
			if !errors.Is(err, audit.ErrBadFilter) || n != 0 || out.Len() != 0 {
				t.Errorf("export with %s: wrote %d events (%d bytes) and got %v, want nothing and %v", name, n, out.Len(), err, audit.ErrBadFilter)
			}
		}
	})
}

// TestQueryScanBudget pages through a rare filter: no call reads more than
// the budget, and the cursors still reach every match.
func TestQueryScanBudget(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		queryFixture(t, f)
		spy := &spyLog{AuditLog: f.store}
		l := newLog(t, spy, newClock(), audit.Retention{})
		audit.SetScanBudget(l, 4)
		audit.SetBatch(l, 3)

		q := audit.Query{Filter: audit.Filter{TargetID: "t2"}}
		for _, want := range [][]int64{{12}, {7}, {2}, nil} {
			spy.read.Store(0)
			page, err := l.Query(t.Context(), "acme", q)
			if err != nil {
				t.Fatalf("query: %v", err)
			}
			checkPage(t, page, want, want != nil)
			if n := spy.read.Load(); n > 4 {
				t.Errorf("one query read %d records, want at most the budget of 4", n)
			}
			q.Cursor = page.NextCursor
		}
	})
}

// TestQuerySinceStopsEarly: older records cannot match once one is older
// than Since, so the query reads no further.
func TestQuerySinceStopsEarly(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		_, at := queryFixture(t, f)
		spy := &spyLog{AuditLog: f.store}
		l := newLog(t, spy, newClock(), audit.Retention{})
		audit.SetBatch(l, 3)
		checkSeqs(t, l, "acme", audit.Query{Filter: audit.Filter{Since: at(10)}}, 12, 11, 10)
		if n := spy.read.Load(); n > 6 {
			t.Errorf("query since seq 10 read %d records, want at most two batches of 3", n)
		}
	})
}

// writes records each write an Export makes.
type writes struct{ chunks [][]byte }

func (w *writes) Write(p []byte) (int, error) {
	w.chunks = append(w.chunks, bytes.Clone(p))
	return len(p), nil
}

func TestExport(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		l, at := queryFixture(t, f)
		for _, tc := range []struct {
			name   string
			filter audit.Filter
		}{
			{"everything", audit.Filter{}},
			{"action prefix", audit.Filter{Action: "user.*"}},
			{"time range", audit.Filter{Since: at(3), Until: at(9)}},
			{"actor since", audit.Filter{ActorID: "u0", Since: at(4)}},
			{"nothing", audit.Filter{ActorID: "nobody"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				page, err := l.Query(t.Context(), "acme", audit.Query{Filter: tc.filter, Limit: audit.MaxLimit})
				if err != nil {
					t.Fatalf("query: %v", err)
				}
				want := slices.Clone(page.Events)
				slices.Reverse(want)

				var out bytes.Buffer
				n, err := l.Export(t.Context(), "acme", tc.filter, &out)
				if err != nil {
					t.Fatalf("export: %v", err)
				}
				got := decodeLines(t, out.Bytes())
				if n != len(got) || len(got) != len(want) || len(want) > 0 && !reflect.DeepEqual(got, want) {
					t.Errorf("export wrote %d events:\n got  %+v\n want %+v", n, got, want)
				}
			})
		}
	})
}

// decodeLines decodes JSON lines strictly: one event per line, nothing
// else.
func decodeLines(t *testing.T, data []byte) []audit.Event {
	t.Helper()
	var out []audit.Event
	for line := range bytes.Lines(data) {
		if !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
			t.Fatalf("line %q does not end in one newline", line)
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		dec.DisallowUnknownFields()
		var e audit.Event
		if err := dec.Decode(&e); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		out = append(out, e)
	}
	return out
}

// TestExportStreams checks that Export writes as it reads instead of all
// at the end, and that events recorded meanwhile are left out.
func TestExportStreams(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		queryFixture(t, f)
		clock := newClock()
		clock.Advance(time.Hour)
		late := newLog(t, f.store, clock, audit.Retention{})
		spy := &spyLog{AuditLog: f.store, onForward: func() {
			if _, err := late.Record(context.Background(), event("acme", 99)); err != nil {
				t.Errorf("record during export: %v", err)
			}
		}}
		l := newLog(t, spy, clock, audit.Retention{})
		audit.SetBatch(l, 3)

		var w writes
		n, err := l.Export(t.Context(), "acme", audit.Filter{}, &w)
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		if n != streamLen {
			t.Errorf("export wrote %d events, want the %d there when it started", n, streamLen)
		}
		if len(w.chunks) < streamLen/3 {
			t.Errorf("export wrote %d chunks, want one per batch of 3 events", len(w.chunks))
		}
		for i, chunk := range w.chunks {
			if len(decodeLines(t, chunk)) > 3 {
				t.Errorf("chunk %d holds more than a batch", i)
			}
		}
	})
}

type failingWriter struct{}

var errWrite = errors.New("disk full")

func (failingWriter) Write([]byte) (int, error) { return 0, errWrite }

func TestExportWriteFails(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		l, _ := queryFixture(t, f)
		if _, err := l.Export(t.Context(), "acme", audit.Filter{}, failingWriter{}); !errors.Is(err, errWrite) {
			t.Errorf("export to a failing writer: got %v, want %v", err, errWrite)
		}
		n, err := l.Export(t.Context(), "nobody", audit.Filter{}, io.Discard)
		if n != 0 || err != nil {
			t.Errorf("export of an empty stream: %d, %v", n, err)
		}
	})
}
