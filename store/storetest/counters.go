package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var counterTests = []subtest{
	{"IncrCountReset", testCounterIncrCountReset},
	{"Window", testCounterWindow},
	{"ConcurrentIncr", testCounterConcurrentIncr},
}

func incr(t *testing.T, s store.Store, partnerID, key string, window time.Duration, want int64) {
	t.Helper()
	got, err := s.Incr(t.Context(), partnerID, key, window)
	if err != nil {
		t.Fatalf("incr %q in partner %q: %v", key, partnerID, err)
	}
	if got != want {
		t.Errorf("incr %q in partner %q = %d, want %d", key, partnerID, got, want)
	}
}

func checkCount(t *testing.T, s store.Store, partnerID, key string, want int64) {
	t.Helper()
	got, err := s.Count(t.Context(), partnerID, key)
	if err != nil {
		t.Fatalf("count %q in partner %q: %v", key, partnerID, err)
	}
	if got != want {
		t.Errorf("count %q in partner %q = %d, want %d", key, partnerID, got, want)
	}
}

func testCounterIncrCountReset(t *testing.T, s store.Store) {
	const window = time.Hour
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	key := "signin:alice@example.com"
	checkCount(t, s, "acme", key, 0)
	for want := int64(1); want <= 3; want++ {
		incr(t, s, "acme", key, window, want)
	}
	checkCount(t, s, "acme", key, 3)
	checkCount(t, s, "acme", "signin:bob@example.com", 0)
	checkCount(t, s, "other", key, 0)
	incr(t, s, "other", key, window, 1)
	checkCount(t, s, "acme", key, 3)

	if err := s.ResetCounter(t.Context(), "acme", key); err != nil {
		t.Fatalf("reset counter: %v", err)
	}
	checkCount(t, s, "acme", key, 0)
	checkCount(t, s, "other", key, 1)
	incr(t, s, "acme", key, window, 1)
}

func testCounterWindow(t *testing.T, s store.Store) {
	const window = time.Second
	createPartner(t, s, "acme")
	start := time.Now() // The window opens no earlier than this,
	incr(t, s, "acme", "k", window, 1)
	opened := time.Now() // and no later than this.

	time.Sleep(window / 2)
	n, err := s.Incr(t.Context(), "acme", "k", window)
	if err != nil {
		t.Fatalf("incr: %v", err)
	}
	// On a loaded machine the call may land past the window; only an answer
	// given inside it proves anything.
	if time.Now().Before(start.Add(window)) && n != 2 {
		t.Errorf("incr inside the window = %d, want 2", n)
	}

	// Had the second increment pushed the end of the window, it would stay
	// open for another window/2.
	time.Sleep(time.Until(opened.Add(window + 200*time.Millisecond)))
	checkCount(t, s, "acme", "k", 0)
	incr(t, s, "acme", "k", window, 1)
}

func testCounterConcurrentIncr(t *testing.T, s store.Store) {
	const workers = 16
	createPartner(t, s, "acme")
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		got []int64
	)
	for range workers {
		wg.Go(func() {
			n, err := s.Incr(t.Context(), "acme", "k", time.Hour)
			if err != nil {
				t.Errorf("incr: %v", err)
				return
			}
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
		})
	}
	wg.Wait()

	// Each increment must see a count of its own.
	slices.Sort(got)
	want := make([]int64, workers)
	for i := range want {
		want[i] = int64(i + 1)
	}
	if !slices.Equal(got, want) {
		t.Errorf("concurrent incr returned %v, want %v", got, want)
	}
	checkCount(t, s, "acme", "k", workers)
}
