package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/partnergate/partnergate/store"
)

// Problem says how a chain is broken.
type Problem string

const (
	// Edited: a record's content no longer matches its hash, does not
	// match the record it is stored as, or was rewritten with a new hash
	// that the next record does not chain to.
	Edited Problem = "edited"
	// Missing: a record inside the retained range is gone.
	Missing Problem = "missing"
	// Reordered: a record sits out of sequence, or earlier in time than
	// the one before it.
	Reordered Problem = "reordered"
	// HeadMismatch: the newest record is not the one the stream's head
	// names, or a record lies beyond the head.
	HeadMismatch Problem = "head_mismatch"
	// NotFirst: the oldest record is not the one retention kept last
	// (the head's First): records were removed from the start.
	NotFirst Problem = "oldest_not_first"
)

// Verification is what Verify found.
type Verification struct {
	OK bool `json:"ok"`
	// Checked counts the records verified, up to the break if any.
	Checked int64 `json:"checked"`
	// FirstSeq and LastSeq are the retained range the head claims; both
	// are 0 for a stream that never had an event.
	FirstSeq int64 `json:"first_seq"`
	LastSeq  int64 `json:"last_seq"`
	// Break is where the chain first breaks, nil when OK.
	Break *Break `json:"break,omitempty"`
}

// Break locates the first break of a chain.
type Break struct {
	Seq     int64   `json:"seq"`
	Problem Problem `json:"problem"`
	Detail  string  `json:"detail"`
}

// maxVerifyAttempts bounds how often Verify starts over because retention
// trimmed the stream under it.
const maxVerifyAttempts = 3

// Verify walks the retained events of a partner's stream ("" for the
// platform) oldest first and checks each against its hash, the one before
// it and the stream's head. Events recorded after it starts are left for
// the next Verify. An error means the stream could not be read, not that
// it is broken: that is a Verification with OK false.
func (l *Log) Verify(ctx context.Context, partnerID string) (Verification, error) {
	v, err := l.verify(ctx, partnerID)
	if err != nil {
		return Verification{}, fmt.Errorf("verify audit chain of %s: %w", streamName(partnerID), err)
	}
	return v, nil
}

func (l *Log) verify(ctx context.Context, stream string) (Verification, error) {
	head, err := l.store.AuditHead(ctx, stream)
	if err != nil {
		return Verification{}, err
	}
	for attempt := 1; ; attempt++ {
		v, err := l.walk(ctx, stream, head)
		if err != nil || v.OK || attempt == maxVerifyAttempts {
			return v, err
		}
		// Appends since the head was read may have trimmed records the walk
		// had yet to reach, which then look removed. If First moved, that
		// may be all it was: walk again from the new head.
		cur, err := l.store.AuditHead(ctx, stream)
		if err != nil || cur.First == head.First {
			return v, err
		}
		head = cur
	}
}

// walker checks records one by one, oldest first, against what came
// before them.
type walker struct {
	stream string
	head   store.AuditHead
	v      Verification
	prev   store.AuditRecord // the last record checked; Seq 0 before the first
	// gap is the seq expected where a later one came instead, 0 if none.
	// The record after that one tells whether the expected one is missing
	// or was merely moved.
	gap int64
	// gapAfter is the seq of the record found at the gap.
	gapAfter int64
}

func (l *Log) walk(ctx context.Context, stream string, head store.AuditHead) (Verification, error) {
	w := walker{stream: stream, head: head, v: Verification{FirstSeq: head.First, LastSeq: head.Seq}}
	after := max(head.First-1, 0)
	for done := false; !done; {
		recs, err := l.store.ScanAuditForward(ctx, stream, after, l.batch)
		if err != nil {
			return Verification{}, err
		}
		done = len(recs) < l.batch
		for _, rec := range recs {
			if rec.Seq > head.Seq && w.gap == 0 {
				done = true // recorded after the head was read
				break
			}
			if w.check(rec); w.v.Break != nil {
				done = true
				break
			}
			after = rec.Seq
		}
	}
	if w.v.Break == nil {
		w.finish()
	}
	if w.v.Break == nil {
		if err := l.checkBeyondHead(ctx, &w); err != nil {
			return Verification{}, err
		}
	}
	w.v.OK = w.v.Break == nil
	return w.v, nil
}

func (w *walker) fail(seq int64, p Problem, format string, args ...any) {
	w.v.Break = &Break{Seq: seq, Problem: p, Detail: fmt.Sprintf(format, args...)}
}

// expected is the seq the next record should have.
func (w *walker) expected() int64 {
	if w.prev.Seq == 0 {
		return w.head.First
	}
	return w.prev.Seq + 1
}

func (w *walker) check(rec store.AuditRecord) {
	want := w.expected()
	if w.gap != 0 {
		// The record after the one found at the gap: if it goes back, the
		// expected record was only moved.
		if rec.Seq < w.gapAfter {
			w.fail(w.gap, Reordered, "record %d is stored after record %d", rec.Seq, w.gapAfter)
		} else {
			w.missing(w.gap)
		}
		return
	}
	switch {
	case rec.Seq < want:
		w.fail(rec.Seq, Reordered, "record %d is stored after record %d", rec.Seq, w.prev.Seq)
		return
	case rec.Seq > want:
		w.gap, w.gapAfter = want, rec.Seq
		return
	}

	if got := chainHash(rec.PrevHash, rec.Data); got != rec.Hash {
		w.fail(rec.Seq, Edited, "content hashes to %s, the record says %s", got, rec.Hash)
		return
	}
	// Only where the event says it belongs matters here, and decoding
	// just that keeps a walk of a long stream cheap.
	var e struct {
		Seq       int64     `json:"seq"`
		Time      time.Time `json:"time"`
		PartnerID string    `json:"partner_id"`
	}
	if err := json.Unmarshal(rec.Data, &e); err != nil {
		w.fail(rec.Seq, Edited, "the event does not decode: %v", err)
		return
	}
	switch {
	case e.Seq != rec.Seq || !e.Time.Equal(rec.Time) || e.PartnerID != w.stream:
		w.fail(rec.Seq, Edited, "the event says seq %d at %v in stream %q, the record seq %d at %v in stream %q",
			e.Seq, e.Time, e.PartnerID, rec.Seq, rec.Time, w.stream)
		return
	case rec.Seq == 1 && rec.PrevHash != "":
		w.fail(rec.Seq, Edited, "the first record chains to %s", rec.PrevHash)
		return
	case w.prev.Seq != 0 && rec.PrevHash != w.prev.Hash:
		w.fail(w.prev.Seq, Edited, "record %d chains to %s, not to this record's hash %s", rec.Seq, rec.PrevHash, w.prev.Hash)
		return
	case w.prev.Seq != 0 && rec.Time.Before(w.prev.Time):
		w.fail(rec.Seq, Reordered, "recorded at %v, before record %d at %v", rec.Time, w.prev.Seq, w.prev.Time)
		return
	}
	w.prev = rec
	w.v.Checked++
}

// missing reports seq as gone: from the start of the stream, or from
// within.
func (w *walker) missing(seq int64) {
	if w.prev.Seq == 0 {
		w.fail(w.head.First, NotFirst, "the oldest record should be %d", w.head.First)
		return
	}
	w.fail(seq, Missing, "record %d is gone", seq)
}

// finish checks the end of the walk against the head.
func (w *walker) finish() {
	switch {
	case w.gap != 0:
		w.missing(w.gap)
	case w.head.Seq == 0:
	case w.prev.Seq < w.head.Seq:
		w.missing(w.expected())
	case w.prev.Hash != w.head.Hash || !w.prev.Time.Equal(w.head.Time):
		w.fail(w.prev.Seq, HeadMismatch, "the head names hash %s at %v, the newest record is %s at %v",
			w.head.Hash, w.head.Time, w.prev.Hash, w.prev.Time)
	}
}

// checkBeyondHead looks for records past the head, such as a forged event
// appended without moving the head, or records left behind by a head
// deleted or rolled back. A record the head has moved on to since the
// walk started is no problem.
func (l *Log) checkBeyondHead(ctx context.Context, w *walker) error {
	newest, err := l.store.ScanAudit(ctx, w.stream, 0, 1)
	if err != nil || len(newest) == 0 || newest[0].Seq <= w.head.Seq {
		return err
	}
	cur, err := l.store.AuditHead(ctx, w.stream)
	if err != nil || cur.Seq >= newest[0].Seq {
		return err
	}
	w.fail(newest[0].Seq, HeadMismatch, "record %d lies beyond the head's %d", newest[0].Seq, cur.Seq)
	return nil
}
