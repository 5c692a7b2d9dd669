package storetest

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var policyTests = []subtest{
	{"PutGet", testPolicyPutGet},
	{"Replace", testPolicyReplace},
	{"NoneIsNotFound", testPolicyNone},
	{"NeedsPartner", testPolicyNeedsPartner},
	{"Isolation", testPolicyIsolation},
	{"Delete", testPolicyDelete},
	{"DeletePartnerDrops", testPolicyDeletePartner},
	{"ConcurrentPuts", testPolicyConcurrent},
	{"GovernanceNoneIsNotFound", testGovernanceNone},
	{"GovernancePutReplaceGet", testGovernancePutGet},
	{"GovernanceOutlivesPartners", testGovernanceOutlivesPartners},
}

// newPolicy returns a policy record written by writer i: every field
// names i, so a record mixing two writes shows.
func newPolicy(i int) store.PolicyRecord {
	return store.PolicyRecord{
		Policy: json.RawMessage(fmt.Sprintf(`{
			"writer": %d,
			"mfa": {"required": true, "methods": ["totp", "webauthn"]},
			"session": {"max_age": "%dh", "note": "Zoë's <rule> & \"more\""},
			"allowed_ips": [],
			"nothing": null
		}`, i, i+1)),
		UpdatedAt: now().Add(time.Duration(i) * time.Millisecond),
		UpdatedBy: fmt.Sprintf("admin-%d@example.com", i),
	}
}

// normPolicy makes equal records deeply equal: the contract keeps the
// policy's JSON value, not its spelling, and the time to the millisecond.
func normPolicy(r store.PolicyRecord) store.PolicyRecord {
	r.UpdatedAt = normTime(r.UpdatedAt)
	r.Policy = normProfile(r.Policy)
	return r
}

func putPolicy(t *testing.T, s store.Store, partnerID string, rec store.PolicyRecord) {
	t.Helper()
	if err := s.PutPolicy(t.Context(), partnerID, rec); err != nil {
		t.Fatalf("put policy of partner %q: %v", partnerID, err)
	}
}

func checkPolicy(t *testing.T, s store.Store, partnerID string, want store.PolicyRecord) {
	t.Helper()
	got, err := s.GetPolicy(t.Context(), partnerID)
	if err != nil {
		t.Errorf("get policy of partner %q: %v", partnerID, err)
		return
	}
	checkEqual(t, fmt.Sprintf("policy of partner %q", partnerID), got, want, normPolicy)
}

func checkNoPolicy(t *testing.T, s store.Store, partnerID string) {
	t.Helper()
	_, err := s.GetPolicy(t.Context(), partnerID)
	checkErr(t, fmt.Sprintf("get policy of partner %q", partnerID), err, store.ErrNotFound)
}

func checkGovernance(t *testing.T, s store.Store, want store.PolicyRecord) {
	t.Helper()
	got, err := s.GetGovernance(t.Context())
	if err != nil {
		t.Errorf("get governance: %v", err)
		return
	}
	checkEqual(t, "governance", got, want, normPolicy)
}

func testPolicyPutGet(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	rec := newPolicy(1)
	// Sub-millisecond digits and a zone other than UTC: the store keeps
	// the instant to the millisecond.
	rec.UpdatedAt = rec.UpdatedAt.Add(456 * time.Microsecond).In(time.FixedZone("CEST", 2*60*60))
	putPolicy(t, s, "acme", rec)
	got, err := s.GetPolicy(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get policy: %v", err)
	}
	checkEqual(t, "policy of acme", got, rec, normPolicy)
	if want := rec.UpdatedAt.Truncate(precision); !got.UpdatedAt.Equal(want) {
		t.Errorf("updated at %v, want %v", got.UpdatedAt, want)
	}
	if got.UpdatedBy != rec.UpdatedBy {
		t.Errorf("updated by %q, want %q", got.UpdatedBy, rec.UpdatedBy)
	}
	var v map[string]any
	if err := json.Unmarshal(got.Policy, &v); err != nil {
		t.Errorf("stored policy %s is not a JSON object: %v", got.Policy, err)
	}

	// No author is kept as none.
	rec = newPolicy(2)
	rec.UpdatedBy = ""
	putPolicy(t, s, "acme", rec)
	checkPolicy(t, s, "acme", rec)
}

func testPolicyReplace(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putPolicy(t, s, "acme", newPolicy(1))
	// A smaller document replaces the whole policy: nothing of the old
	// one is merged in.
	rec := store.PolicyRecord{Policy: json.RawMessage(`{"mfa":{"required":false}}`), UpdatedAt: now(), UpdatedBy: "ops"}
	putPolicy(t, s, "acme", rec)
	checkPolicy(t, s, "acme", rec)
}

func testPolicyNone(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	checkNoPolicy(t, s, "acme")
	// Deleting none is not an error, and leaves none.
	if err := s.DeletePolicy(t.Context(), "acme"); err != nil {
		t.Errorf("delete absent policy: %v", err)
	}
	checkNoPolicy(t, s, "acme")
}

func testPolicyNeedsPartner(t *testing.T, s store.Store) {
	for _, id := range []string{"ghost", "a{b}", ""} {
		err := s.PutPolicy(t.Context(), id, newPolicy(1))
		checkErr(t, fmt.Sprintf("put policy of missing partner %q", id), err, store.ErrNotFound)
		checkNoPolicy(t, s, id)
		if err := s.DeletePolicy(t.Context(), id); err != nil {
			t.Errorf("delete policy of missing partner %q: %v", id, err)
		}
	}
	// A failed put left nothing for a partner created later.
	createPartner(t, s, "ghost")
	checkNoPolicy(t, s, "ghost")
}

func testPolicyIsolation(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createPartner(t, s, "initech")
	p1, p2 := newPolicy(1), newPolicy(2)
	putPolicy(t, s, "acme", p1)
	putPolicy(t, s, "globex", p2)
	checkPolicy(t, s, "acme", p1)
	checkPolicy(t, s, "globex", p2)
	checkNoPolicy(t, s, "initech")
	if err := s.DeletePolicy(t.Context(), "acme"); err != nil {
		t.Fatalf("delete policy: %v", err)
	}
	checkNoPolicy(t, s, "acme")
	checkPolicy(t, s, "globex", p2)
	if err := s.DeletePartner(t.Context(), "globex"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	putPolicy(t, s, "acme", p1)
	checkPolicy(t, s, "acme", p1)
}

func testPolicyDelete(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putPolicy(t, s, "acme", newPolicy(1))
	if err := s.DeletePolicy(t.Context(), "acme"); err != nil {
		t.Fatalf("delete policy: %v", err)
	}
	checkNoPolicy(t, s, "acme")
	if err := s.DeletePolicy(t.Context(), "acme"); err != nil {
		t.Errorf("delete policy twice: %v", err)
	}
	// The partner can set one again.
	rec := newPolicy(2)
	putPolicy(t, s, "acme", rec)
	checkPolicy(t, s, "acme", rec)
}

func testPolicyDeletePartner(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	putPolicy(t, s, "acme", newPolicy(1))
	if err := s.DeletePartner(t.Context(), "acme"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkNoPolicy(t, s, "acme")
	err := s.PutPolicy(t.Context(), "acme", newPolicy(2))
	checkErr(t, "put policy of a deleted partner", err, store.ErrNotFound)
	// A partner recreated with the id starts without a policy.
	createPartner(t, s, "acme")
	checkNoPolicy(t, s, "acme")
	rec := newPolicy(3)
	putPolicy(t, s, "acme", rec)
	checkPolicy(t, s, "acme", rec)
}

func testPolicyConcurrent(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	const writers = 8
	written := make([]store.PolicyRecord, writers)
	for i := range written {
		written[i] = newPolicy(i)
	}
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if err := s.PutPolicy(t.Context(), "acme", written[i]); err != nil {
				t.Errorf("put policy %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	got, err := s.GetPolicy(t.Context(), "acme")
	if err != nil {
		t.Fatalf("get policy: %v", err)
	}
	g := normPolicy(got)
	for _, w := range written {
		if w := normPolicy(w); string(g.Policy) == string(w.Policy) && g.UpdatedAt.Equal(w.UpdatedAt) && g.UpdatedBy == w.UpdatedBy {
			return
		}
	}
	t.Errorf("policy after %d concurrent puts is none of them: %s by %q at %v", writers, got.Policy, got.UpdatedBy, got.UpdatedAt)
}

func testGovernanceNone(t *testing.T, s store.Store) {
	_, err := s.GetGovernance(t.Context())
	checkErr(t, "get governance before any was set", err, store.ErrNotFound)
}

func testGovernancePutGet(t *testing.T, s store.Store) {
	rec := newPolicy(1)
	rec.UpdatedAt = rec.UpdatedAt.Add(789 * time.Microsecond).In(time.FixedZone("PDT", -7*60*60))
	if err := s.PutGovernance(t.Context(), rec); err != nil {
		t.Fatalf("put governance: %v", err)
	}
	checkGovernance(t, s, rec)
	got, err := s.GetGovernance(t.Context())
	if err != nil {
		t.Fatalf("get governance: %v", err)
	}
	if want := rec.UpdatedAt.Truncate(precision); !got.UpdatedAt.Equal(want) {
		t.Errorf("updated at %v, want %v", got.UpdatedAt, want)
	}
	rec = store.PolicyRecord{Policy: json.RawMessage(`{"mfa":{"required":true}}`), UpdatedAt: now(), UpdatedBy: "operator"}
	if err := s.PutGovernance(t.Context(), rec); err != nil {
		t.Fatalf("replace governance: %v", err)
	}
	checkGovernance(t, s, rec)
	// The baseline is not any partner's policy.
	createPartner(t, s, "acme")
	checkNoPolicy(t, s, "acme")
}

func testGovernanceOutlivesPartners(t *testing.T, s store.Store) {
	rec := newPolicy(7)
	if err := s.PutGovernance(t.Context(), rec); err != nil {
		t.Fatalf("put governance: %v", err)
	}
	// "platform", "governance" and "" are the ids a backend is most likely to confuse
	// with the platform's own records.
	for _, id := range []string{"acme", "platform", "governance"} {
		createPartner(t, s, id)
		putPolicy(t, s, id, newPolicy(1))
		if err := s.DeletePolicy(t.Context(), id); err != nil {
			t.Fatalf("delete policy of %q: %v", id, err)
		}
		putPolicy(t, s, id, newPolicy(2))
		if err := s.DeletePartner(t.Context(), id); err != nil {
			t.Fatalf("delete partner %q: %v", id, err)
		}
		checkGovernance(t, s, rec)
	}
	if err := s.DeletePolicy(t.Context(), ""); err != nil {
		t.Errorf("delete policy of partner \"\": %v", err)
	}
	checkGovernance(t, s, rec)
}
