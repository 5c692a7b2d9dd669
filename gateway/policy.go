package gateway

import (
	"context"
	"net/http"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/policy"
)

// Policies gives each partner's effective policy (package governance).
// An error means it could not be read: what needs it is refused.
type Policies interface {
	Effective(ctx context.Context, partnerID string) (policy.Policy, error)
}

const msgSSORequired = "Your organization signs you in with single sign-on. Use your organization's sign-in below."

// policyOf is the partner's effective policy, or the default baseline
// when the gateway was given no source (tests of other parts).
func (g *Gateway) policyOf(ctx context.Context, p *Partner) (policy.Policy, error) {
	if g.cfg.Policies == nil {
		return policy.Default(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StoreTimeout)
	defer cancel()
	return g.cfg.Policies.Effective(ctx, p.ID)
}

// allowedAddress enforces the policy's IP ranges on the partner's sign-in
// pages and on every request a session would let through; a request with
// neither only learns it must sign in. It answers the request itself when
// it refuses.
func (g *Gateway) allowedAddress(w http.ResponseWriter, r *http.Request, p *Partner) bool {
	pol, err := g.policyOf(r.Context(), p)
	if err != nil {
		g.cfg.Logger.Error("policy unavailable, refusing request", zap.String("partner", p.ID), zap.Error(err))
		w.Header().Set("Retry-After", "5")
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Service Unavailable: sign-in service unreachable, try again shortly", http.StatusServiceUnavailable)
		return false
	}
	ip, err := netip.ParseAddr(g.clientIP(r))
	if err == nil && pol.AllowsIP(ip) {
		return true
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "Forbidden: your organization does not allow access from this network", http.StatusForbidden)
	return false
}

// limits are the sign-in limits of the partner's policy: its lockout
// threshold and duration stand in for the account limit and window; the
// per-address limit stays the gateway's.
func (g *Gateway) limits(pol policy.Policy) Limits {
	l := g.cfg.Limits
	if g.cfg.Policies == nil {
		return l
	}
	if t := pol.LockoutThreshold(); t > 0 {
		l.AccountFailures = t
	} else {
		// No lockout: an account is limited like the address is.
		l.AccountFailures = l.IPAttempts
	}
	if d := pol.LockoutDuration(); d > 0 {
		l.Window = max(d, time.Second)
	}
	return l
}
