package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
)

// srKeyStore records the counter keys the login flow writes.
type srKeyStore struct {
	gateway.Store
	mu   sync.Mutex
	keys []string
}

func (s *srKeyStore) Incr(ctx context.Context, partnerID, key string, window time.Duration) (int64, error) {
	s.mu.Lock()
	s.keys = append(s.keys, key)
	s.mu.Unlock()
	return s.Store.Incr(ctx, partnerID, key, window)
}

// TestReviewSignInBoundsTypedEmail: the email of a failed sign-in is
// whatever an unauthenticated client typed, up to the form's 16 KiB. It
// must not be stored at that size, in the partner's audit trail (each
// partner keeps 100,000 events) or as a counter key, or anyone could fill
// the shared store with a few thousand requests.
func TestReviewSignInBoundsTypedEmail(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	keys := &srKeyStore{Store: f.store}
	cfg := f.cfg
	cfg.Store = keys
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.gw = gw

	// A multi-byte rune where a cut at 254 bytes would land inside it.
	typed := strings.Repeat("a", 253) + "éé" + strings.Repeat("b", 12000) + "@acme.example"
	if w := f.postLogin(t, "192.0.2.7", typed, "wrong password here", false); w.Code != http.StatusUnauthorized {
		t.Fatalf("sign-in with a long email: status %d, want 401", w.Code)
	}
	page, err := f.cfg.Audit.Query(t.Context(), "acme", audit.Query{Filter: audit.Filter{Action: "signin"}})
	if err != nil || len(page.Events) != 1 {
		t.Fatalf("events = %+v, %v; want the one failed sign-in", page.Events, err)
	}
	e := page.Events[0]
	if n := len(e.Actor.Name); n > 254 || !utf8.ValidString(e.Actor.Name) || !strings.HasPrefix(typed, e.Actor.Name) || n == 0 {
		t.Errorf("actor name of %d bytes (valid UTF-8: %v), want a prefix of the typed email of at most 254 bytes", n, utf8.ValidString(e.Actor.Name))
	}
	if b, _ := json.Marshal(e); len(b) > 2048 {
		t.Errorf("the event takes %d bytes", len(b))
	}
	keys.mu.Lock()
	defer keys.mu.Unlock()
	for _, k := range keys.keys {
		if len(k) > 128 {
			t.Errorf("counter key of %d bytes: %.60s…", len(k), k)
		}
	}
}
