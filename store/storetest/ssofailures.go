package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var ssoFailureTests = []subtest{
	{"AppendList", testSSOFailureAppendList},
	{"Trim", testSSOFailureTrim},
	{"Millisecond", testSSOFailureMillisecond},
	{"NeedsPartnerAndConnection", testSSOFailureNeedsConnection},
	{"Isolation", testSSOFailureIsolation},
	{"DeleteConnectionDrops", testSSOFailureDeleteConnection},
	{"DeletePartnerDrops", testSSOFailureDeletePartner},
	{"ConcurrentAppends", testSSOFailureConcurrent},
}

func newSSOFailure(i int) store.SSOFailure {
	return store.SSOFailure{
		Time:    now().Add(time.Duration(i) * time.Millisecond),
		Code:    "idp_error",
		Message: fmt.Sprintf("failure %d", i),
		Facts: []store.FailureFact{
			{Label: "Issuer", Value: "https://idp.example.com/"},
			{Label: "Attempt", Value: strconv.Itoa(i)},
		},
		Email: fmt.Sprintf("user%d@example.com", i),
	}
}

func appendSSOFailure(t *testing.T, s store.Store, partnerID, connectionID string, f store.SSOFailure, keep int) {
	t.Helper()
	if err := s.AppendSSOFailure(t.Context(), partnerID, connectionID, f, keep); err != nil {
		t.Fatalf("append sso failure to connection %q of partner %q: %v", connectionID, partnerID, err)
	}
}

// normSSOFailure treats no facts and an empty list alike.
func normSSOFailure(f store.SSOFailure) store.SSOFailure {
	f.Time = normTime(f.Time)
	if len(f.Facts) == 0 {
		f.Facts = nil
	}
	return f
}

func listSSOFailures(t *testing.T, s store.Store, partnerID, connectionID string, limit int) []store.SSOFailure {
	t.Helper()
	got, err := s.ListSSOFailures(t.Context(), partnerID, connectionID, limit)
	if err != nil {
		t.Fatalf("list sso failures of connection %q of partner %q: %v", connectionID, partnerID, err)
	}
	return got
}

func checkSSOFailures(t *testing.T, s store.Store, partnerID, connectionID string, limit int, want ...store.SSOFailure) {
	t.Helper()
	got, err := s.ListSSOFailures(t.Context(), partnerID, connectionID, limit)
	if err != nil {
		t.Errorf("list sso failures of connection %q of partner %q: %v", connectionID, partnerID, err)
		return
	}
	checkList(t, fmt.Sprintf("sso failures of connection %q of partner %q, limit %d", connectionID, partnerID, limit), got, want, normSSOFailure)
}

func testSSOFailureAppendList(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	checkSSOFailures(t, s, "acme", "okta", 10)
	f1, f2, f3 := newSSOFailure(1), newSSOFailure(2), newSSOFailure(3)
	f2.Facts, f2.Email, f2.Test = nil, "", true // the optional fields empty, and a test sign-in
	f3.Facts = append(f3.Facts, store.FailureFact{Label: "Claim \"sub\"", Value: "ünïcode, <html> & \"quotes\""}, store.FailureFact{Label: "Empty", Value: ""})
	for _, f := range []store.SSOFailure{f1, f2, f3} {
		appendSSOFailure(t, s, "acme", "okta", f, 10)
	}
	checkSSOFailures(t, s, "acme", "okta", 10, f3, f2, f1)
	checkSSOFailures(t, s, "acme", "okta", 2, f3, f2)
	checkSSOFailures(t, s, "acme", "okta", 1, f3)
	for _, limit := range []int{0, -1} {
		if _, err := s.ListSSOFailures(t.Context(), "acme", "okta", limit); err == nil {
			t.Errorf("list sso failures with limit %d: no error", limit)
		}
	}
	for _, keep := range []int{0, -1} {
		if err := s.AppendSSOFailure(t.Context(), "acme", "okta", f1, keep); err == nil {
			t.Errorf("append sso failure with keep %d: no error", keep)
		}
	}
	checkSSOFailures(t, s, "acme", "okta", 10, f3, f2, f1)
}

func testSSOFailureTrim(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	var all []store.SSOFailure
	for i := range 7 {
		f := newSSOFailure(i)
		all = append(all, f)
		appendSSOFailure(t, s, "acme", "okta", f, 5)
	}
	slices.Reverse(all)
	checkSSOFailures(t, s, "acme", "okta", 10, all[:5]...)
	checkSSOFailures(t, s, "acme", "okta", 3, all[:3]...)
	// A smaller bound trims the older failures beyond it on the next append.
	f := newSSOFailure(7)
	appendSSOFailure(t, s, "acme", "okta", f, 2)
	checkSSOFailures(t, s, "acme", "okta", 10, f, all[0])
	// keep 1 leaves only the newest.
	g := newSSOFailure(8)
	appendSSOFailure(t, s, "acme", "okta", g, 1)
	checkSSOFailures(t, s, "acme", "okta", 10, g)
	// A larger bound keeps what is there and grows from it.
	h := newSSOFailure(9)
	appendSSOFailure(t, s, "acme", "okta", h, 100)
	checkSSOFailures(t, s, "acme", "okta", 10, h, g)
}

// testSSOFailureMillisecond checks times come back as the same instant
// cut to the millisecond, whatever their zone.
func testSSOFailureMillisecond(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	at := time.Date(2026, 3, 14, 15, 9, 26, 535_897_932, zone)
	f := newSSOFailure(1)
	f.Time = at
	appendSSOFailure(t, s, "acme", "okta", f, 10)
	got := listSSOFailures(t, s, "acme", "okta", 10)
	if len(got) != 1 {
		t.Fatalf("got %d failures, want 1", len(got))
	}
	want := at.Truncate(time.Millisecond)
	if !got[0].Time.Equal(want) {
		t.Errorf("time: got %s, want %s", got[0].Time.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	if ns := got[0].Time.Nanosecond(); ns%int(time.Millisecond) != 0 {
		t.Errorf("time %s keeps more than milliseconds", got[0].Time.Format(time.RFC3339Nano))
	}
}

func testSSOFailureNeedsConnection(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	for _, c := range []struct{ what, partnerID, connectionID string }{
		{"a missing partner", "ghost", "okta"},
		{"an invalid partner id", "a{b}", "okta"},
		{"a missing connection", "acme", "entra"},
		{"an empty connection id", "acme", ""},
		{"another partner's connection", "globex", "okta"},
	} {
		err := s.AppendSSOFailure(t.Context(), c.partnerID, c.connectionID, newSSOFailure(1), 10)
		checkErr(t, "append sso failure to "+c.what, err, store.ErrNotFound)
		checkSSOFailures(t, s, c.partnerID, c.connectionID, 10)
	}
	checkSSOFailures(t, s, "acme", "okta", 10)
}

func testSSOFailureIsolation(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	createSSOConnection(t, s, newSSOConnection("acme", "entra"))
	createSSOConnection(t, s, newSSOConnection("globex", "okta"))
	f1, f2, f3 := newSSOFailure(1), newSSOFailure(2), newSSOFailure(3)
	appendSSOFailure(t, s, "acme", "okta", f1, 1)
	appendSSOFailure(t, s, "acme", "entra", f2, 1)
	appendSSOFailure(t, s, "globex", "okta", f3, 1)
	checkSSOFailures(t, s, "acme", "okta", 10, f1)
	checkSSOFailures(t, s, "acme", "entra", 10, f2)
	checkSSOFailures(t, s, "globex", "okta", 10, f3)
	checkSSOFailures(t, s, "globex", "entra", 10)
	// Trimming one log leaves the others alone.
	f4 := newSSOFailure(4)
	appendSSOFailure(t, s, "acme", "okta", f4, 1)
	checkSSOFailures(t, s, "acme", "okta", 10, f4)
	checkSSOFailures(t, s, "acme", "entra", 10, f2)
	checkSSOFailures(t, s, "globex", "okta", 10, f3)
}

func testSSOFailureDeleteConnection(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	createSSOConnection(t, s, newSSOConnection("acme", "entra"))
	createSSOConnection(t, s, newSSOConnection("globex", "okta"))
	f1, f2, f3 := newSSOFailure(1), newSSOFailure(2), newSSOFailure(3)
	appendSSOFailure(t, s, "acme", "okta", f1, 10)
	appendSSOFailure(t, s, "acme", "entra", f2, 10)
	appendSSOFailure(t, s, "globex", "okta", f3, 10)
	if err := s.DeleteSSOConnection(t.Context(), "acme", "okta"); err != nil {
		t.Fatalf("delete sso connection: %v", err)
	}
	checkSSOFailures(t, s, "acme", "okta", 10)
	err := s.AppendSSOFailure(t.Context(), "acme", "okta", newSSOFailure(4), 10)
	checkErr(t, "append sso failure to a deleted connection", err, store.ErrNotFound)
	checkSSOFailures(t, s, "acme", "okta", 10)
	checkSSOFailures(t, s, "acme", "entra", 10, f2)
	checkSSOFailures(t, s, "globex", "okta", 10, f3)
	// A connection recreated with the same id starts with an empty log.
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	checkSSOFailures(t, s, "acme", "okta", 10)
	f5 := newSSOFailure(5)
	appendSSOFailure(t, s, "acme", "okta", f5, 10)
	checkSSOFailures(t, s, "acme", "okta", 10, f5)
}

func testSSOFailureDeletePartner(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "globex")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	createSSOConnection(t, s, newSSOConnection("acme", "entra"))
	createSSOConnection(t, s, newSSOConnection("globex", "okta"))
	appendSSOFailure(t, s, "acme", "okta", newSSOFailure(1), 10)
	appendSSOFailure(t, s, "acme", "entra", newSSOFailure(2), 10)
	f3 := newSSOFailure(3)
	appendSSOFailure(t, s, "globex", "okta", f3, 10)
	if err := s.DeletePartner(t.Context(), "acme"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	checkSSOFailures(t, s, "acme", "okta", 10)
	checkSSOFailures(t, s, "acme", "entra", 10)
	checkSSOFailures(t, s, "globex", "okta", 10, f3)
	err := s.AppendSSOFailure(t.Context(), "acme", "okta", newSSOFailure(4), 10)
	checkErr(t, "append sso failure to a deleted partner", err, store.ErrNotFound)
	createPartner(t, s, "acme")
	createSSOConnection(t, s, newSSOConnection("acme", "okta"))
	checkSSOFailures(t, s, "acme", "okta", 10)
	f5 := newSSOFailure(5)
	appendSSOFailure(t, s, "acme", "okta", f5, 10)
	checkSSOFailures(t, s, "acme", "okta", 10, f5)
}

// testSSOFailureConcurrent races writers on two logs: "all" keeps more
// than is ever appended, so every failure must be there once; "ring"
// keeps fewer, so exactly keep must be, and of each writer the ones it
// appended last, newest first.
func testSSOFailureConcurrent(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createSSOConnection(t, s, newSSOConnection("acme", "all"))
	createSSOConnection(t, s, newSSOConnection("acme", "ring"))
	const writers, each, keep = 8, 20, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				f := newSSOFailure(w*each + i)
				f.Facts = []store.FailureFact{{Label: "writer", Value: strconv.Itoa(w)}, {Label: "seq", Value: strconv.Itoa(i)}}
				for _, c := range []struct {
					id   string
					keep int
				}{{"all", 1000}, {"ring", keep}} {
					if err := s.AppendSSOFailure(t.Context(), "acme", c.id, f, c.keep); err != nil {
						t.Errorf("append sso failure to %q: %v", c.id, err)
					}
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// origin returns the writer and sequence number a failure carries.
	origin := func(f store.SSOFailure) (w, i int) {
		if len(f.Facts) != 2 {
			t.Fatalf("failure %q: facts %+v, want writer and seq", f.Message, f.Facts)
		}
		w, errW := strconv.Atoi(f.Facts[0].Value)
		i, errI := strconv.Atoi(f.Facts[1].Value)
		if errW != nil || errI != nil || w < 0 || w >= writers || i < 0 || i >= each {
			t.Fatalf("failure %q: bad facts %+v", f.Message, f.Facts)
		}
		return w, i
	}

	all := listSSOFailures(t, s, "acme", "all", 1000)
	if len(all) != writers*each {
		t.Errorf("unbounded log: got %d failures, want all %d appended", len(all), writers*each)
	}
	seen := make(map[[2]int]bool)
	for _, f := range all {
		w, i := origin(f)
		if seen[[2]int{w, i}] {
			t.Errorf("unbounded log: writer %d's failure %d is there twice", w, i)
		}
		seen[[2]int{w, i}] = true
	}

	ring := listSSOFailures(t, s, "acme", "ring", 1000)
	if len(ring) != keep {
		t.Fatalf("bounded log: got %d failures after %d appends keeping %d, want %d", len(ring), writers*each, keep, keep)
	}
	// Each writer appends in sequence, waiting for each append, so newest
	// first its kept failures come in descending sequence from its last,
	// with no gap: trimming only ever drops the oldest.
	next := make([]int, writers) // the sequence each writer's next listed failure must have
	for w := range next {
		next[w] = each - 1
	}
	for _, f := range ring {
		w, i := origin(f)
		if i != next[w] {
			t.Errorf("bounded log: writer %d's failure %d listed where %d was due (one lost, repeated or out of order)", w, i, next[w])
		}
		next[w] = i - 1
	}
}
