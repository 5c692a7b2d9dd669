package audit_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

const (
	benchEvents = 100_000
	// Every rareEvery-th event targets "rare", the needle the filtered
	// queries look for.
	rareEvery = 10_000
)

// BenchmarkQuery100k measures reads of one partner's stream of 100,000
// events, the default retention, on each backend:
//
//   - first_page: the newest 50 events, unfiltered, what the portal's
//     audit page shows first;
//   - rare_filter_one_call: one Query for a target that 1 in 10,000 events
//     has, which reads up to the scan budget and returns a cursor;
//   - rare_filter_all_pages: that query followed through every cursor,
//     reading the whole stream;
//   - export: the whole stream as JSON lines;
//   - verify: the whole chain.
//
// Run it with
//
//	go test ./audit -run '^$' -bench Query100k
func BenchmarkQuery100k(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			f := be.open(b)
			createPartner(b, f.store, "acme")
			start := time.Now()
			fill(b, f, be.name == "bolt", "acme", benchEvents)
			b.Logf("filled %d events in %v", benchEvents, time.Since(start).Round(time.Millisecond))
			l := newLog(b, f.store, newClock(), audit.Retention{})
			ctx := context.Background()
			rare := audit.Query{Filter: audit.Filter{TargetID: "rare"}}

			b.Run("first_page", func(b *testing.B) {
				for b.Loop() {
					page, err := l.Query(ctx, "acme", audit.Query{})
					if err != nil || len(page.Events) != audit.DefaultLimit {
						b.Fatalf("query: %d events, %v", len(page.Events), err)
					}
				}
			})
			b.Run("rare_filter_one_call", func(b *testing.B) {
				for b.Loop() {
					page, err := l.Query(ctx, "acme", rare)
					if err != nil || len(page.Events) != 1 || page.NextCursor == "" {
						b.Fatalf("query: %d events, cursor %q, %v", len(page.Events), page.NextCursor, err)
					}
				}
			})
			b.Run("rare_filter_all_pages", func(b *testing.B) {
				for b.Loop() {
					found, calls := 0, 0
					for q := rare; ; calls++ {
						page, err := l.Query(ctx, "acme", q)
						if err != nil {
							b.Fatal(err)
						}
						found += len(page.Events)
						if q.Cursor = page.NextCursor; q.Cursor == "" {
							break
						}
					}
					if found != benchEvents/rareEvery {
						b.Fatalf("found %d events in %d calls, want %d", found, calls, benchEvents/rareEvery)
					}
				}
			})
			b.Run("export", func(b *testing.B) {
				for b.Loop() {
					if n, err := l.Export(ctx, "acme", audit.Filter{}, io.Discard); err != nil || n != benchEvents {
						b.Fatalf("export: %d events, %v", n, err)
					}
				}
			})
			b.Run("verify", func(b *testing.B) {
				for b.Loop() {
					if v, err := l.Verify(ctx, "acme"); err != nil || !v.OK || v.Checked != benchEvents {
						b.Fatalf("verify: %+v, %v", v, err)
					}
				}
			})
		})
	}
}

// fill appends n chained events to a partner's empty stream. Redis takes
// them through AppendAudit; bolt, where each append is a transaction
// synced to disk (a millisecond or so), gets the same records
// in one bbolt transaction, laid out as the store lays them out.
func fill(b *testing.B, f *fixture, viaBbolt bool, partnerID string, n int) {
	b.Helper()
	ctx := context.Background()
	clock := newClock()
	var head store.AuditHead
	var recs []store.AuditRecord
	for i := 1; i <= n; i++ {
		e := event(partnerID, i)
		if i%rareEvery == 0 {
			e.Target.ID = "rare"
		}
		clock.Advance(time.Second)
		rec, err := audit.Seal(head, e, clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		if viaBbolt {
			recs = append(recs, rec)
		} else if err := f.store.AppendAudit(ctx, partnerID, head, rec, store.AuditRetention{}); err != nil {
			b.Fatalf("append %d: %v", i, err)
		}
		head = store.AuditHead{Seq: rec.Seq, Hash: rec.Hash, Time: rec.Time, First: 1}
	}
	if viaBbolt {
		f.tamper(func(r raw) { r.(boltRaw).load(partnerID, recs, head) })
	}
}

// load writes a stream's records and head in the bolt store's layout.
func (r boltRaw) load(stream string, recs []store.AuditRecord, head store.AuditHead) {
	b, err := r.tx.Bucket([]byte("audit")).CreateBucketIfNotExists([]byte(stream))
	if err != nil {
		r.t.Fatal(err)
	}
	records, err := b.CreateBucketIfNotExists([]byte("records"))
	if err != nil {
		r.t.Fatal(err)
	}
	// Keys come in order: fill pages completely instead of splitting them.
	records.FillPercent = 1
	for _, rec := range recs {
		if err := records.Put(posKey(rec.Seq), mustJSON(r.t, rec)); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := b.Put([]byte("head"), mustJSON(r.t, head)); err != nil {
		r.t.Fatal(err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}
