package policy

import (
	"net/netip"
	"slices"
	"time"
)

// The accessors below are what enforcement points read from an effective
// policy, where every field is set; on an unset field each returns the
// zero value. Lists are copies, so a caller cannot change a shared policy.

// AllowsIP reports whether a user may sign in or use a session from ip:
// always when no range is set, else when a range holds it. IPv4-mapped
// IPv6 addresses are unmapped first, as a dual-stack listener reports
// IPv4 clients that way.
func (p Policy) AllowsIP(ip netip.Addr) bool {
	if len(p.AllowedIPRanges) == 0 {
		return true
	}
	ip = ip.Unmap()
	for _, r := range p.AllowedIPRanges {
		if r.Contains(ip) {
			return true
		}
	}
	return false
}

func (p Policy) MFARequired() bool    { return value(p.mfa().Required) }
func (p Policy) MFAMethods() []Method { return slices.Clone(p.mfa().Methods) }
func (p Policy) AcceptIdPMFA() bool   { return value(p.mfa().AcceptIdPMFA) }
func (p Policy) MaxLifetime() time.Duration {
	return time.Duration(value(p.session().MaxLifetime))
}
func (p Policy) IdleTimeout() time.Duration {
	return time.Duration(value(p.session().IdleTimeout))
}

// RememberDevice is how long a device skips MFA; 0 remembers none.
func (p Policy) RememberDevice() time.Duration {
	return time.Duration(value(p.session().RememberDevice))
}
func (p Policy) MinLength() int        { return value(p.password().MinLength) }
func (p Policy) Requires() []CharClass { return slices.Clone(p.password().Require) }
func (p Policy) History() int          { return value(p.password().History) }

// MaxAge is how long a password lasts; 0 never expires one.
func (p Policy) MaxAge() time.Duration          { return time.Duration(value(p.password().MaxAge)) }
func (p Policy) PasswordlessMode() Passwordless { return value(p.password().Passwordless) }
func (p Policy) BlockCommon() bool              { return value(p.password().BlockCommon) }

// LockoutThreshold is how many failed sign-ins in a row lock an account;
// 0 locks none.
func (p Policy) LockoutThreshold() int { return value(p.lockout().Threshold) }
func (p Policy) LockoutDuration() time.Duration {
	return time.Duration(value(p.lockout().Duration))
}
func (p Policy) SSOIsRequired() bool { return value(p.SSORequired) }

func value[T any](v *T) T {
	if v == nil {
		var zero T
		return zero
	}
	return *v
}
