package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var requestLogTests = []subtest{
	{"AppendList", testRequestAppendList},
	{"Trim", testRequestTrim},
	{"ConcurrentAppendsStayBounded", testRequestConcurrent},
	{"NeedsPartner", testRequestNeedsPartner},
	{"Isolation", testRequestIsolation},
	{"DeletePartnerDrops", testRequestDeletePartner},
}

func newRequest(i int) store.RequestRecord {
	return store.RequestRecord{
		Time:       now().Add(time.Duration(i) * time.Millisecond),
		Method:     "GET",
		Path:       fmt.Sprintf("/scim/v2/acme/Users/u%d", i),
		Status:     404,
		ScimType:   "noTarget",
		Detail:     fmt.Sprintf("no user u%d", i),
		DurationMs: int64(i),
	}
}

func appendRequest(t *testing.T, s store.Store, partnerID string, rec store.RequestRecord, keep int) {
	t.Helper()
	if err := s.AppendRequest(t.Context(), partnerID, rec, keep); err != nil {
		t.Fatalf("append request to partner %q: %v", partnerID, err)
	}
}

func normRequest(r store.RequestRecord) store.RequestRecord {
	r.Time = normTime(r.Time)
	return r
}

func checkRequests(t *testing.T, s store.Store, partnerID string, limit int, want ...store.RequestRecord) {
	t.Helper()
	got, err := s.ListRequests(t.Context(), partnerID, limit)
	if err != nil {
		t.Errorf("list requests of partner %q: %v", partnerID, err)
		return
	}
	checkList(t, fmt.Sprintf("requests of partner %q, limit %d", partnerID, limit), got, want, normRequest)
}

func testRequestAppendList(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	checkRequests(t, s, "acme", 10)
	r1, r2, r3 := newRequest(1), newRequest(2), newRequest(3)
	r2.Status, r2.ScimType, r2.Detail = 200, "", ""
	for _, r := range []store.RequestRecord{r1, r2, r3} {
		appendRequest(t, s, "acme", r, 10)
	}
	checkRequests(t, s, "acme", 10, r3, r2, r1)
	checkRequests(t, s, "acme", 2, r3, r2)
	if _, err := s.ListRequests(t.Context(), "acme", 0); err == nil {
		t.Error("list requests with limit 0: no error")
	}
	if err := s.AppendRequest(t.Context(), "acme", r1, 0); err == nil {
		t.Error("append request with keep 0: no error")
	}
	checkRequests(t, s, "acme", 10, r3, r2, r1)
}

func testRequestTrim(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	var all []store.RequestRecord
	for i := range 7 {
		r := newRequest(i)
		all = append(all, r)
		appendRequest(t, s, "acme", r, 5)
	}
	slices.Reverse(all)
	checkRequests(t, s, "acme", 10, all[:5]...)
	// A smaller bound trims the older records beyond it on the next append.
	r := newRequest(7)
	appendRequest(t, s, "acme", r, 2)
	checkRequests(t, s, "acme", 10, r, all[0])
}

func testRequestConcurrent(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	const writers, each, keep = 4, 10, 15
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				if err := s.AppendRequest(t.Context(), "acme", newRequest(w*each+i), keep); err != nil {
					t.Errorf("append request: %v", err)
				}
			}
		})
	}
	wg.Wait()
	got, err := s.ListRequests(t.Context(), "acme", 100)
	if err != nil {
		t.Fatalf("list requests: %v", err)
	}
	if len(got) != keep {
		t.Errorf("got %d records after %d appends keeping %d, want %d", len(got), writers*each, keep, keep)
	}
}

func testRequestNeedsPartner(t *testing.T, s store.Store) {
	err := s.AppendRequest(t.Context(), "ghost", newRequest(1), 10)
	checkErr(t, "append request to a missing partner", err, store.ErrNotFound)
	checkRequests(t, s, "ghost", 10)
	checkRequests(t, s, "a{b}", 10)
}

func testRequestIsolation(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	r1, r2 := newRequest(1), newRequest(2)
	appendRequest(t, s, "acme", r1, 1)
	appendRequest(t, s, "globex", r2, 1)
	checkRequests(t, s, "acme", 10, r1)
	checkRequests(t, s, "globex", 10, r2)
}

func testRequestDeletePartner(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	appendRequest(t, s, "acme", newRequest(1), 10)
	if err := s.DeletePartner(t.Context(), "acme"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkRequests(t, s, "acme", 10)
	createPartner(t, s, "acme")
	checkRequests(t, s, "acme", 10)
	r := newRequest(2)
	appendRequest(t, s, "acme", r, 10)
	checkRequests(t, s, "acme", 10, r)
}
