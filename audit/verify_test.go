package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

func TestVerifyIntact(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		l := newLog(t, f.store, clock, audit.Retention{})
		audit.SetBatch(l, 4) // several pages

		checkIntact(t, l, "acme", 0, 0)
		checkIntact(t, l, "nobody", 0, 0)
		record(t, l, clock, "acme", 10)
		checkIntact(t, l, "acme", 1, 10)
		record(t, l, clock, store.PlatformStream, 3)
		checkIntact(t, l, store.PlatformStream, 1, 3)
	})
}

// rehash recomputes the hash of a stored record, as someone who knows the
// formula would after editing it.
func rehash(t *testing.T, value []byte) []byte {
	t.Helper()
	r := decodeStored(t, value)
	sum := sha256.Sum256(append([]byte(r.PrevHash), r.Data...))
	r.Hash = hex.EncodeToString(sum[:])
	return r.encode(t)
}

// forge makes the record that would follow value, with its own seq, time
// and chain, as someone who knows the formula would.
func forge(t *testing.T, value []byte, seq int64) []byte {
	t.Helper()
	prev := decodeStored(t, value)
	r := decodeStored(t, editEvent(t, value, map[string]any{"seq": seq, "action": "user.delete"}))
	r.PrevHash = prev.Hash
	seqRaw, _ := json.Marshal(seq)
	r.fields["seq"] = seqRaw
	return rehash(t, r.encode(t))
}

// TestVerifyDetectsTampering tampers with the backend beneath the store and
// checks that Verify names where and how. The stream is acme's events 1 to
// 10 with retention of 8, so 3 is the oldest retained record.
func TestVerifyDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tamper  func(t *testing.T, r raw)
		seq     int64
		problem audit.Problem
	}{
		{"event edited", func(t *testing.T, r raw) {
			r.put("acme", 5, editEvent(t, r.get("acme", 5), map[string]any{"action": "user.create"}))
		}, 5, audit.Edited},
		{"event edited and rehashed", func(t *testing.T, r raw) {
			r.put("acme", 5, rehash(t, editEvent(t, r.get("acme", 5), map[string]any{"source_ip": "203.0.113.9"})))
		}, 5, audit.Edited},
		{"seq of event edited and rehashed", func(t *testing.T, r raw) {
			r.put("acme", 5, rehash(t, editEvent(t, r.get("acme", 5), map[string]any{"seq": 6})))
		}, 5, audit.Edited},
		{"newest edited and rehashed", func(t *testing.T, r raw) {
			r.put("acme", 10, rehash(t, editEvent(t, r.get("acme", 10), map[string]any{"outcome": "failure"})))
		}, 10, audit.HeadMismatch},
		{"event from another partner", func(t *testing.T, r raw) {
			r.put("acme", 5, r.get("globex", 5))
		}, 5, audit.Edited},
		{"middle deleted", func(t *testing.T, r raw) { r.del("acme", 6) }, 6, audit.Missing},
		{"two deleted", func(t *testing.T, r raw) { r.del("acme", 6); r.del("acme", 7) }, 6, audit.Missing},
		{"second newest deleted", func(t *testing.T, r raw) { r.del("acme", 9) }, 9, audit.Missing},
		{"newest deleted", func(t *testing.T, r raw) { r.del("acme", 10) }, 10, audit.Missing},
		{"oldest retained deleted", func(t *testing.T, r raw) { r.del("acme", 3) }, 3, audit.NotFirst},
		{"all deleted", func(t *testing.T, r raw) {
			for seq := int64(3); seq <= 10; seq++ {
				r.del("acme", seq)
			}
		}, 3, audit.NotFirst},
		{"swapped", func(t *testing.T, r raw) {
			a, b := r.get("acme", 6), r.get("acme", 7)
			r.put("acme", 6, b)
			r.put("acme", 7, a)
		}, 6, audit.Reordered},
		{"duplicated", func(t *testing.T, r raw) {
			// Encoded again, so that Redis takes it for another member.
			r.put("acme", 7, decodeStored(t, r.get("acme", 6)).encode(t))
		}, 6, audit.Reordered},
		{"forged beyond the head", func(t *testing.T, r raw) { r.put("acme", 11, forge(t, r.get("acme", 10), 11)) }, 11, audit.HeadMismatch},
		{"head deleted", func(t *testing.T, r raw) { r.delHead("acme") }, 10, audit.HeadMismatch},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			forEachBackend(t, func(t *testing.T, f *fixture) {
				createPartner(t, f.store, "acme", "globex")
				clock := newClock()
				l := newLog(t, f.store, clock, audit.Retention{MaxEvents: 8})
				record(t, l, clock, "acme", 10)
				record(t, l, clock, "globex", 5)
				checkIntact(t, l, "acme", 3, 10)

				f.tamper(func(r raw) { tc.tamper(t, r) })
				l = newLog(t, f.store, clock, audit.Retention{MaxEvents: 8})
				audit.SetBatch(l, 3) // breaks fall on and across page edges
				v := verify(t, l, "acme")
				if v.OK || v.Break == nil || v.Break.Seq != tc.seq || v.Break.Problem != tc.problem {
					t.Fatalf("verify = %+v, break %+v; want a break at %d: %s", v, v.Break, tc.seq, tc.problem)
				}
				t.Logf("break: %+v", *v.Break)
				if oldest := int64(3); v.Checked > tc.seq-oldest+1 {
					t.Errorf("verify checked %d records, more than lie up to the break", v.Checked)
				}
				checkIntact(t, l, "globex", 1, 5)
			})
		})
	}
}

// TestVerifyRetriesAfterTrim trims the stream between Verify's read of
// the head and its walk: the oldest record it expects is gone for a good
// reason, and it must start over rather than cry tampering.
func TestVerifyRetriesAfterTrim(t *testing.T) {
	forEachBackend(t, func(t *testing.T, f *fixture) {
		createPartner(t, f.store, "acme")
		clock := newClock()
		keep := audit.Retention{MaxEvents: 5}
		writer := newLog(t, f.store, clock, keep)
		record(t, writer, clock, "acme", 7)

		spy := &spyLog{AuditLog: f.store, onForward: func() {
			if _, err := writer.Record(context.Background(), event("acme", 8)); err != nil {
				t.Errorf("record during verify: %v", err)
			}
		}}
		l := newLog(t, spy, clock, keep)
		v := verify(t, l, "acme")
		// Either walk is fine: the head read before or after the trim.
		if !v.OK || v.LastSeq < 7 || v.Checked != 5 {
			t.Errorf("verify across a trim = %+v, break %+v; want OK over 5 records", v, v.Break)
		}
		checkIntact(t, l, "acme", 4, 8)
	})
}
