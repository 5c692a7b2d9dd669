package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var auditTests = []subtest{
	{"AppendScan", testAuditAppendScan},
	{"ScanPaging", testAuditScanPaging},
	{"ConcurrentAppend", testAuditConcurrentAppend},
	{"StaleHead", testAuditStaleHead},
	{"OutOfSequence", testAuditOutOfSequence},
	{"RetentionByCount", testAuditRetentionByCount},
	{"RetentionByAge", testAuditRetentionByAge},
	{"StreamsIsolated", testAuditStreamsIsolated},
	{"PlatformStream", testAuditPlatformStream},
	{"MissingPartner", testAuditMissingPartner},
	{"DeletePartner", testAuditDeletePartner},
}

// unbounded keeps every record.
var unbounded = store.AuditRetention{}

// auditHash stands in for the caller's chain hash: it names the stream,
// the seq and a variant, so no two test records share one.
func auditHash(stream string, seq int64, variant string) string {
	if seq == 0 {
		return ""
	}
	return fmt.Sprintf("%s/%d/%s", stream, seq, variant)
}

// auditRecord is record seq of stream, chained to the previous record of
// the same variant. Its data ends in bytes no text encoding would keep, to
// prove the store treats it as opaque.
func auditRecord(stream string, seq int64, at time.Time, variant string) store.AuditRecord {
	return store.AuditRecord{
		Seq:      seq,
		Time:     at,
		PrevHash: auditHash(stream, seq-1, variant),
		Hash:     auditHash(stream, seq, variant),
		Data:     append(fmt.Appendf(nil, `{"stream":%q,"seq":%d,"variant":%q}`, stream, seq, variant), 0x00, 0xff, '\n'),
	}
}

// headOf is the head a stream has once rec is its newest record.
func headOf(rec store.AuditRecord, first int64) store.AuditHead {
	return store.AuditHead{Seq: rec.Seq, Hash: rec.Hash, Time: rec.Time, First: first}
}

func auditHead(t *testing.T, s store.Store, stream string) store.AuditHead {
	t.Helper()
	h, err := s.AuditHead(t.Context(), stream)
	if err != nil {
		t.Fatalf("audit head of %q: %v", stream, err)
	}
	return h
}

// appendAudit appends one record per time to stream, each on the head the
// previous one left, and returns them.
func appendAudit(t *testing.T, s store.Store, stream string, keep store.AuditRetention, times ...time.Time) []store.AuditRecord {
	t.Helper()
	var out []store.AuditRecord
	for _, at := range times {
		head := auditHead(t, s, stream)
		rec := auditRecord(stream, head.Seq+1, at, "")
		if err := s.AppendAudit(t.Context(), stream, head, rec, keep); err != nil {
			t.Fatalf("append record %d to audit stream %q: %v", rec.Seq, stream, err)
		}
		out = append(out, rec)
	}
	return out
}

// timesFrom returns n times a second apart, starting at start.
func timesFrom(start time.Time, n int) []time.Time {
	out := make([]time.Time, n)
	for i := range out {
		out[i] = start.Add(time.Duration(i) * time.Second)
	}
	return out
}

func normAuditRecord(r store.AuditRecord) store.AuditRecord {
	r.Time = normTime(r.Time)
	return r
}

func normAuditHead(h store.AuditHead) store.AuditHead {
	h.Time = normTime(h.Time)
	return h
}

func checkAuditHead(t *testing.T, s store.Store, stream string, want store.AuditHead) {
	t.Helper()
	checkEqual(t, fmt.Sprintf("head of audit stream %q", stream), auditHead(t, s, stream), want, normAuditHead)
}

// checkScan reads the stream both ways: newest first below before, and
// oldest first above after.
func checkScan(t *testing.T, s store.Store, stream string, before int64, limit int, want ...store.AuditRecord) {
	t.Helper()
	got, err := s.ScanAudit(t.Context(), stream, before, limit)
	if err != nil {
		t.Errorf("scan audit stream %q before %d: %v", stream, before, err)
		return
	}
	checkList(t, fmt.Sprintf("audit stream %q before %d, limit %d", stream, before, limit), got, want, normAuditRecord)
}

func checkScanForward(t *testing.T, s store.Store, stream string, after int64, limit int, want ...store.AuditRecord) {
	t.Helper()
	got, err := s.ScanAuditForward(t.Context(), stream, after, limit)
	if err != nil {
		t.Errorf("scan audit stream %q after %d: %v", stream, after, err)
		return
	}
	checkList(t, fmt.Sprintf("audit stream %q after %d, limit %d", stream, after, limit), got, want, normAuditRecord)
}

// reversed returns recs newest first.
func reversed(recs []store.AuditRecord) []store.AuditRecord {
	out := make([]store.AuditRecord, len(recs))
	for i, r := range recs {
		out[len(recs)-1-i] = r
	}
	return out
}

func testAuditAppendScan(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	checkAuditHead(t, s, "acme", store.AuditHead{})
	checkScan(t, s, "acme", 0, 10)
	checkScanForward(t, s, "acme", 0, 10)

	recs := appendAudit(t, s, "acme", unbounded, timesFrom(now(), 3)...)
	checkAuditHead(t, s, "acme", headOf(recs[2], 1))
	checkScan(t, s, "acme", 0, 10, reversed(recs)...)
	checkScanForward(t, s, "acme", 0, 10, recs...)

	// Equal times are allowed: several events may land in one millisecond.
	more := appendAudit(t, s, "acme", unbounded, recs[2].Time, recs[2].Time)
	checkAuditHead(t, s, "acme", headOf(more[1], 1))
	checkScan(t, s, "acme", 0, 10, reversed(append(recs, more...))...)
}

func testAuditScanPaging(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	r := appendAudit(t, s, "acme", unbounded, timesFrom(now(), 7)...)

	for _, tc := range []struct {
		before int64
		limit  int
		want   []store.AuditRecord
	}{
		{0, 3, []store.AuditRecord{r[6], r[5], r[4]}},
		{-1, 2, []store.AuditRecord{r[6], r[5]}},
		{5, 3, []store.AuditRecord{r[3], r[2], r[1]}},
		{2, 3, []store.AuditRecord{r[0]}},
		{1, 3, nil},
		{100, 2, []store.AuditRecord{r[6], r[5]}},
		{0, 100, reversed(r)},
	} {
		checkScan(t, s, "acme", tc.before, tc.limit, tc.want...)
	}
	for _, tc := range []struct {
		after int64
		limit int
		want  []store.AuditRecord
	}{
		{0, 3, []store.AuditRecord{r[0], r[1], r[2]}},
		{-5, 2, []store.AuditRecord{r[0], r[1]}},
		{3, 3, []store.AuditRecord{r[3], r[4], r[5]}},
		{6, 3, []store.AuditRecord{r[6]}},
		{7, 3, nil},
		{0, 100, r},
	} {
		checkScanForward(t, s, "acme", tc.after, tc.limit, tc.want...)
	}
}

// testAuditConcurrentAppend races two appends on one head, round after
// round: exactly one may win, and the loser must leave no trace.
func testAuditConcurrentAppend(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	const rounds = 10
	var won []store.AuditRecord
	for round := range rounds {
		head := auditHead(t, s, "acme")
		var (
			wg   sync.WaitGroup
			errs [2]error
			recs [2]store.AuditRecord
		)
		for i := range recs {
			rec := auditRecord("acme", head.Seq+1, now(), fmt.Sprint(i))
			// Both chain to the head, whichever variant it came from.
			rec.PrevHash = head.Hash
			recs[i] = rec
			wg.Go(func() { errs[i] = s.AppendAudit(t.Context(), "acme", head, rec, unbounded) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner < 0:
				winner = i
			case err == nil:
				t.Fatalf("round %d: both appends on one head succeeded", round)
			case !errors.Is(err, store.ErrConflict):
				t.Fatalf("round %d: append %d: %v, want nil or %v", round, i, err, store.ErrConflict)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: both appends failed: %v", round, errs)
		}
		won = append(won, recs[winner])
		checkAuditHead(t, s, "acme", headOf(recs[winner], 1))
	}
	checkScanForward(t, s, "acme", 0, 2*rounds, won...)
}

func testAuditStaleHead(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	recs := appendAudit(t, s, "acme", unbounded, timesFrom(now(), 2)...)
	cur := headOf(recs[1], 1)

	forged := cur
	forged.Hash = "forged"
	for _, tc := range []struct {
		name string
		head store.AuditHead
	}{
		{"zero head", store.AuditHead{}},
		{"older head", headOf(recs[0], 1)},
		{"head with another hash", forged},
	} {
		rec := auditRecord("acme", tc.head.Seq+1, recs[1].Time, "stale")
		err := s.AppendAudit(t.Context(), "acme", tc.head, rec, unbounded)
		checkErr(t, "append on "+tc.name, err, store.ErrConflict)
	}
	checkAuditHead(t, s, "acme", cur)
	checkScanForward(t, s, "acme", 0, 10, recs...)
}

func testAuditOutOfSequence(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	recs := appendAudit(t, s, "acme", unbounded, timesFrom(now(), 2)...)
	head := headOf(recs[1], 1)

	for _, tc := range []struct {
		name string
		rec  store.AuditRecord
	}{
		{"skipping a seq", auditRecord("acme", 4, head.Time, "")},
		{"repeating the head's seq", auditRecord("acme", 2, head.Time, "")},
		{"going back in time", auditRecord("acme", 3, head.Time.Add(-time.Second), "")},
	} {
		err := s.AppendAudit(t.Context(), "acme", head, tc.rec, unbounded)
		if err == nil || errors.Is(err, store.ErrConflict) {
			t.Errorf("append %s: got %v, want an error other than %v", tc.name, err, store.ErrConflict)
		}
	}
	checkAuditHead(t, s, "acme", head)
	checkScanForward(t, s, "acme", 0, 10, recs...)
}

func testAuditRetentionByCount(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	keep := store.AuditRetention{MaxEvents: 3}
	var recs []store.AuditRecord
	for i, at := range timesFrom(now(), 6) {
		recs = append(recs, appendAudit(t, s, "acme", keep, at)...)
		first := max(1, int64(i+1)-2)
		checkAuditHead(t, s, "acme", headOf(recs[i], first))
		checkScanForward(t, s, "acme", 0, 10, recs[first-1:]...)
	}
	checkScan(t, s, "acme", 0, 10, recs[5], recs[4], recs[3])

	// A tighter bound applies at the next append.
	recs = append(recs, appendAudit(t, s, "acme", store.AuditRetention{MaxEvents: 1}, recs[5].Time)...)
	checkAuditHead(t, s, "acme", headOf(recs[6], 7))
	checkScanForward(t, s, "acme", 0, 10, recs[6])
}

func testAuditRetentionByAge(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	keep := store.AuditRetention{MaxAge: 90 * time.Second}
	t0 := now().Add(-time.Hour)
	var recs []store.AuditRecord
	for _, step := range []struct {
		at    time.Time
		first int64 // the oldest record kept
	}{
		{t0, 1},
		{t0.Add(time.Minute), 1},
		{t0.Add(2 * time.Minute), 2},                 // record 1 is 120s old
		{t0.Add(2 * time.Minute), 2},                 // record 2 is 60s old
		{t0.Add(10 * time.Minute), 5},                // all others are older than 90s
		{t0.Add(10*time.Minute + 90*time.Second), 5}, // record 5 is exactly 90s old
		{t0.Add(10*time.Minute + 91*time.Second), 6},
	} {
		recs = append(recs, appendAudit(t, s, "acme", keep, step.at)...)
		checkAuditHead(t, s, "acme", headOf(recs[len(recs)-1], step.first))
		checkScanForward(t, s, "acme", 0, 10, recs[step.first-1:]...)
	}

	// Both bounds at once: the tighter one wins.
	both := store.AuditRetention{MaxEvents: 1, MaxAge: time.Hour}
	recs = append(recs, appendAudit(t, s, "acme", both, recs[6].Time)...)
	checkAuditHead(t, s, "acme", headOf(recs[7], 8))
	checkScan(t, s, "acme", 0, 10, recs[7])

	// Many records at once, as when retention is shortened: 1 to 37 are
	// older than 12s before the newest, 38 is exactly that old.
	createPartner(t, s, "bulk")
	bulk := appendAudit(t, s, "bulk", unbounded, timesFrom(t0, 50)...)
	bulk = append(bulk, appendAudit(t, s, "bulk", store.AuditRetention{MaxAge: 12 * time.Second}, bulk[49].Time)...)
	checkAuditHead(t, s, "bulk", headOf(bulk[50], 38))
	checkScanForward(t, s, "bulk", 0, 100, bulk[37:]...)
}

func testAuditStreamsIsolated(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	a := appendAudit(t, s, "acme", unbounded, timesFrom(now(), 3)...)
	g := appendAudit(t, s, "globex", unbounded, timesFrom(now().Add(time.Minute), 2)...)

	checkAuditHead(t, s, "acme", headOf(a[2], 1))
	checkAuditHead(t, s, "globex", headOf(g[1], 1))
	checkScanForward(t, s, "acme", 0, 10, a...)
	checkScanForward(t, s, "globex", 0, 10, g...)
	checkAuditHead(t, s, store.PlatformStream, store.AuditHead{})

	// Retention in one stream leaves the other alone.
	more := appendAudit(t, s, "globex", store.AuditRetention{MaxEvents: 1}, g[1].Time)
	checkScanForward(t, s, "globex", 0, 10, more...)
	checkScanForward(t, s, "acme", 0, 10, a...)

	// Another stream's head is no head here.
	rec := auditRecord("globex", 4, a[2].Time, "")
	err := s.AppendAudit(t.Context(), "globex", headOf(a[2], 1), rec, unbounded)
	checkErr(t, "append to globex on acme's head", err, store.ErrConflict)
}

func testAuditPlatformStream(t *testing.T, s store.Store) {
	stream := store.PlatformStream
	checkAuditHead(t, s, stream, store.AuditHead{})
	// The platform stream needs no partner.
	recs := appendAudit(t, s, stream, unbounded, timesFrom(now(), 3)...)
	checkAuditHead(t, s, stream, headOf(recs[2], 1))
	checkScan(t, s, stream, 3, 10, recs[1], recs[0])
	checkScanForward(t, s, stream, 1, 10, recs[1], recs[2])

	createPartner(t, s, "acme")
	checkAuditHead(t, s, "acme", store.AuditHead{})
	a := appendAudit(t, s, "acme", unbounded, now())
	checkScanForward(t, s, "acme", 0, 10, a...)
	checkScanForward(t, s, stream, 0, 10, recs...)

	kept := appendAudit(t, s, stream, store.AuditRetention{MaxEvents: 2}, recs[2].Time)
	checkAuditHead(t, s, stream, headOf(kept[0], 3))
	checkScanForward(t, s, stream, 0, 10, recs[2], kept[0])
}

func testAuditMissingPartner(t *testing.T, s store.Store) {
	rec := auditRecord("nobody", 1, now(), "")
	err := s.AppendAudit(t.Context(), "nobody", store.AuditHead{}, rec, unbounded)
	checkErr(t, "append to the stream of a missing partner", err, store.ErrNotFound)
	checkAuditHead(t, s, "nobody", store.AuditHead{})
	checkScan(t, s, "nobody", 0, 10)

	createPartner(t, s, "nobody")
	recs := appendAudit(t, s, "nobody", unbounded, now())
	checkScanForward(t, s, "nobody", 0, 10, recs...)
}

func testAuditDeletePartner(t *testing.T, s store.Store) {
	createPartner(t, s, "victim")
	createPartner(t, s, "keep")
	appendAudit(t, s, "victim", unbounded, timesFrom(now(), 3)...)
	kept := appendAudit(t, s, "keep", unbounded, timesFrom(now(), 2)...)
	platform := appendAudit(t, s, store.PlatformStream, unbounded, now())

	if err := s.DeletePartner(t.Context(), "victim"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkAuditHead(t, s, "victim", store.AuditHead{})
	checkScan(t, s, "victim", 0, 10)
	checkScanForward(t, s, "victim", 0, 10)
	checkAuditHead(t, s, "keep", headOf(kept[1], 1))
	checkScanForward(t, s, "keep", 0, 10, kept...)
	checkAuditHead(t, s, store.PlatformStream, headOf(platform[0], 1))
	checkScanForward(t, s, store.PlatformStream, 0, 10, platform...)

	// A partner created again under the same id starts a new stream.
	createPartner(t, s, "victim")
	checkAuditHead(t, s, "victim", store.AuditHead{})
	recs := appendAudit(t, s, "victim", unbounded, now())
	checkAuditHead(t, s, "victim", headOf(recs[0], 1))
	checkScanForward(t, s, "victim", 0, 10, recs...)
}
