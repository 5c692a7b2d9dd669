package diagnostics_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/teststore"
	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/sso/diagnostics"
	"github.com/partnergate/partnergate/store"
)

func TestTestSignInLifecycle(t *testing.T) {
	t.Parallel()
	teststore.Each(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		now := time.Now()
		secret, res, err := diagnostics.Begin(ctx, st, "acme", "sso_1", now)
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != diagnostics.Pending || res.ConnectionID != "sso_1" || !res.ExpiresAt.After(now.Add(29*time.Minute)) {
			t.Fatalf("begun %+v", res)
		}
		// The link works once, even when two tabs open it together.
		var wg sync.WaitGroup
		var mu sync.Mutex
		opened := 0
		for range 4 {
			wg.Go(func() {
				if got, err := diagnostics.Redeem(ctx, st, "acme", secret); err == nil && got.ID == res.ID {
					mu.Lock()
					opened++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if opened != 1 {
			t.Fatalf("the link opened %d times, want once", opened)
		}
		if _, err := diagnostics.Redeem(ctx, st, "acme", secret); !errors.Is(err, diagnostics.ErrNotFound) {
			t.Errorf("a used link: %v", err)
		}
		res.Status = diagnostics.Failed
		res.Failure = sso.Fail(sso.WrongAudience, "meant for another app", sso.Fact{Label: "Expected audience", Value: "0oa1"})
		if err := diagnostics.Save(ctx, st, "acme", res, now); err != nil {
			t.Fatal(err)
		}
		got, err := diagnostics.Load(ctx, st, "acme", res.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != diagnostics.Failed || got.Failure == nil || got.Failure.Code != sso.WrongAudience || got.Failure.Facts[0].Value != "0oa1" {
			t.Errorf("loaded %+v", got)
		}
		// Another partner cannot read or redeem it.
		if _, err := diagnostics.Load(ctx, st, "globex", res.ID); !errors.Is(err, diagnostics.ErrNotFound) {
			t.Errorf("another partner loaded the result: %v", err)
		}
		secret2, _, err := diagnostics.Begin(ctx, st, "acme", "sso_1", now)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := diagnostics.Redeem(ctx, st, "globex", secret2); !errors.Is(err, diagnostics.ErrNotFound) {
			t.Errorf("another partner redeemed the link: %v", err)
		}
		if _, err := diagnostics.Redeem(ctx, st, "acme", "guessed"); !errors.Is(err, diagnostics.ErrNotFound) {
			t.Errorf("a guessed link: %v", err)
		}
	})
}
