package governance_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/partnergate/partnergate/governance"
	"github.com/partnergate/partnergate/internal/teststore"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
)

func put(t *testing.T, st store.Store, partnerID, doc string) {
	t.Helper()
	rec := store.PolicyRecord{Policy: json.RawMessage(doc), UpdatedAt: time.Now()}
	var err error
	if partnerID == "" {
		err = st.PutGovernance(t.Context(), rec)
	} else {
		err = st.PutPolicy(t.Context(), partnerID, rec)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// TestBaselineAndPartners: the configuration's baseline until an operator
// stores one; each partner's effective policy is the stricter of both;
// changes take hold when their event arrives, and never from a cache
// while events cannot arrive.
func TestBaselineAndPartners(t *testing.T) {
	t.Parallel()
	teststore.Each(t, func(t *testing.T, st store.Store) {
		for _, id := range []string{"acme", "globex"} {
			if err := st.CreatePartner(t.Context(), store.Partner{ID: id, Name: id}); err != nil {
				t.Fatal(err)
			}
		}
		configured := policy.Policy{Session: &policy.Session{MaxLifetime: ptr(policy.Duration(8 * time.Hour))}}
		src := governance.New(st, configured)
		src.SetHealthy(true)
		ctx := t.Context()

		b, err := src.Baseline(ctx)
		if err != nil || b.MaxLifetime() != 8*time.Hour || b.IdleTimeout() != time.Hour || len(b.Unset()) != 0 {
			t.Fatalf("configured baseline: %+v, %v", b, err)
		}
		put(t, st, "acme", `{"sso_required": true, "session": {"max_lifetime": "24h"}}`)
		eff, err := src.Effective(ctx, "acme")
		if err != nil || !eff.SSOIsRequired() || eff.MaxLifetime() != 8*time.Hour {
			t.Fatalf("acme's effective policy: sso %v, lifetime %v, %v", eff.SSOIsRequired(), eff.MaxLifetime(), err)
		}
		if other, _ := src.Effective(ctx, "globex"); other.SSOIsRequired() {
			t.Error("acme's policy reached globex")
		}

		// Cached until an event says otherwise.
		put(t, st, "acme", `{}`)
		if eff, _ := src.Effective(ctx, "acme"); !eff.SSOIsRequired() {
			t.Error("a cached policy was dropped without an event")
		}
		src.HandleEvent(store.Event{Kind: store.PolicyChanged, PartnerID: "acme"})
		if eff, _ := src.Effective(ctx, "acme"); eff.SSOIsRequired() {
			t.Error("a policy change did not take hold at its event")
		}

		// An operator's baseline wins over the configuration, and
		// tightens every partner at its event.
		put(t, st, "", `{"sso_required": true, "session": {"max_lifetime": "2h"}}`)
		src.HandleEvent(store.Event{Kind: store.GovernanceChanged})
		for _, id := range []string{"acme", "globex"} {
			if eff, _ := src.Effective(ctx, id); !eff.SSOIsRequired() || eff.MaxLifetime() != 2*time.Hour || eff.IdleTimeout() != time.Hour {
				t.Errorf("%s after the baseline tightened: sso %v, lifetime %v, idle %v", id, eff.SSOIsRequired(), eff.MaxLifetime(), eff.IdleTimeout())
			}
		}

		// While events cannot arrive, nothing cached is trusted.
		src.SetHealthy(false)
		put(t, st, "", `{"session": {"max_lifetime": "1h"}}`)
		if eff, _ := src.Effective(ctx, "globex"); eff.MaxLifetime() != time.Hour {
			t.Errorf("unhealthy source served a cached lifetime %v", eff.MaxLifetime())
		}
	})
}

func ptr[T any](v T) *T { return &v }
