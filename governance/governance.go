// Package governance serves each partner's effective auth policy: the
// platform's baseline (as operators last set it through the admin API,
// else as the configuration gives it) and the partner's own policy,
// combined by policy.Effective. Effective policies are cached on each node
// and dropped when a store event says a policy or the baseline changed, so
// a tightened baseline takes hold on every node at once; while those
// events cannot reach the node nothing cached is trusted.
package governance

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
)

// Store is what the source reads.
type Store interface {
	GetPolicy(ctx context.Context, partnerID string) (store.PolicyRecord, error)
	GetGovernance(ctx context.Context) (store.PolicyRecord, error)
}

// Source is safe for concurrent use.
type Source struct {
	st Store
	// configured is the baseline of the configuration, completed with
	// the defaults.
	configured policy.Policy

	healthy atomic.Bool
	// epoch advances on every invalidation, so a read racing one never
	// caches what it read before.
	epoch     atomic.Uint64
	mu        sync.RWMutex
	baseline  *policy.Policy
	effective map[string]policy.Policy
}

// New returns a source over st whose baseline, until an operator stores
// one, is configured with its unset fields taken from policy.Default. It
// starts unhealthy, like the session manager: it caches nothing until
// SetHealthy(true).
func New(st Store, configured policy.Policy) *Source {
	return &Source{st: st, configured: policy.Fill(configured, policy.Default()), effective: map[string]policy.Policy{}}
}

// Configured is the configuration's baseline, complete.
func (s *Source) Configured() policy.Policy { return s.configured }

// Baseline is the platform's baseline in force, complete.
func (s *Source) Baseline(ctx context.Context) (policy.Policy, error) {
	epoch := s.epoch.Load()
	if s.healthy.Load() {
		s.mu.RLock()
		b := s.baseline
		s.mu.RUnlock()
		if b != nil {
			return *b, nil
		}
	}
	b, err := s.readBaseline(ctx)
	if err != nil {
		return policy.Policy{}, err
	}
	s.mu.Lock()
	if s.healthy.Load() && s.epoch.Load() == epoch {
		s.baseline = &b
	}
	s.mu.Unlock()
	return b, nil
}

func (s *Source) readBaseline(ctx context.Context) (policy.Policy, error) {
	rec, err := s.st.GetGovernance(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return s.configured, nil
	}
	if err != nil {
		return policy.Policy{}, fmt.Errorf("read governance baseline: %w", err)
	}
	var stored policy.Policy
	if err := json.Unmarshal(rec.Policy, &stored); err != nil {
		return policy.Policy{}, fmt.Errorf("stored governance baseline: %w", err)
	}
	return policy.Fill(stored, s.configured), nil
}

// Partner is the partner's own policy as stored: only the fields it
// sets.
func (s *Source) Partner(ctx context.Context, partnerID string) (policy.Policy, store.PolicyRecord, error) {
	rec, err := s.st.GetPolicy(ctx, partnerID)
	if errors.Is(err, store.ErrNotFound) {
		return policy.Policy{}, store.PolicyRecord{}, nil
	}
	if err != nil {
		return policy.Policy{}, store.PolicyRecord{}, fmt.Errorf("read policy of partner %q: %w", partnerID, err)
	}
	var p policy.Policy
	if err := json.Unmarshal(rec.Policy, &p); err != nil {
		return policy.Policy{}, store.PolicyRecord{}, fmt.Errorf("stored policy of partner %q: %w", partnerID, err)
	}
	return p, rec, nil
}

// Effective is the partner's effective policy. An error means it could
// not be read: callers refuse what needs it rather than guess.
func (s *Source) Effective(ctx context.Context, partnerID string) (policy.Policy, error) {
	epoch := s.epoch.Load()
	if s.healthy.Load() {
		s.mu.RLock()
		p, ok := s.effective[partnerID]
		s.mu.RUnlock()
		if ok {
			return p, nil
		}
	}
	b, err := s.Baseline(ctx)
	if err != nil {
		return policy.Policy{}, err
	}
	own, _, err := s.Partner(ctx, partnerID)
	if err != nil {
		return policy.Policy{}, err
	}
	eff := policy.Effective(b, own)
	s.mu.Lock()
	if s.healthy.Load() && s.epoch.Load() == epoch {
		s.effective[partnerID] = eff
	}
	s.mu.Unlock()
	return eff, nil
}

// HandleEvent drops what a store event made stale.
func (s *Source) HandleEvent(e store.Event) {
	switch e.Kind {
	case store.PolicyChanged, store.PartnersChanged:
		s.mu.Lock()
		s.epoch.Add(1)
		delete(s.effective, e.PartnerID)
		s.mu.Unlock()
	case store.GovernanceChanged:
		s.flush()
	}
}

// SetHealthy records whether store events reach this node; coming back
// drops everything cached, since events sent meanwhile were lost.
func (s *Source) SetHealthy(up bool) {
	if up {
		s.flush()
	}
	s.healthy.Store(up)
}

func (s *Source) flush() {
	s.mu.Lock()
	s.epoch.Add(1)
	s.baseline = nil
	clear(s.effective)
	s.mu.Unlock()
}
