package policy

import (
	"fmt"
	"slices"
	"time"
)

// Problem is one value Validate refuses, for the admin API's 422.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Limits beyond which a value is a typo or an attack on the stores that
// hold password history and lockout counters, not a policy.
const (
	maxMinLength = 1024
	maxThreshold = 1000
	maxRanges    = 100
)

// Validate checks the values of any policy, baseline or partner, on their
// own: it knows nothing of the other policy (Loosens compares them). Each
// problem is reported once; nil when there is none.
func (p Policy) Validate() []Problem {
	var out []Problem
	add := func(field, format string, args ...any) {
		out = append(out, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	mfa := p.mfa()
	checkList(add, "mfa.methods", "method", mfa.Methods, Methods)
	if mfa.Required != nil && *mfa.Required && mfa.Methods != nil && len(mfa.Methods) == 0 {
		add("mfa.methods", "MFA is required but no method is allowed, so no one could sign in")
	}

	s := p.session()
	// A zero lifetime or idle timeout would end every session at once.
	if s.MaxLifetime != nil && *s.MaxLifetime <= 0 {
		add("session.max_lifetime", "must be longer than 0, such as \"8h\"")
	}
	if s.IdleTimeout != nil {
		switch {
		case *s.IdleTimeout <= 0:
			add("session.idle_timeout", "must be longer than 0, such as \"30m\"")
		case s.MaxLifetime != nil && *s.MaxLifetime > 0 && *s.IdleTimeout > *s.MaxLifetime:
			add("session.idle_timeout", "%s is longer than session.max_lifetime %s", time.Duration(*s.IdleTimeout), time.Duration(*s.MaxLifetime))
		}
	}
	nonNegative(add, "session.remember_device", s.RememberDevice, "0 remembers no device")

	pw := p.password()
	if pw.MinLength != nil {
		switch {
		case *pw.MinLength < 0:
			add("password.min_length", "must not be negative")
		case *pw.MinLength > maxMinLength:
			add("password.min_length", "must be at most %d", maxMinLength)
		}
	}
	checkList(add, "password.require", "character class", pw.Require, CharClasses)
	if pw.History != nil && *pw.History < 0 {
		add("password.history", "must not be negative; 0 keeps no old passwords")
	}
	nonNegative(add, "password.max_age", pw.MaxAge, "0 never expires a password")
	if pw.Passwordless != nil && !slices.Contains(passwordlessOrder, *pw.Passwordless) {
		add("password.passwordless", "%q is not one of allowed, off, required", *pw.Passwordless)
	}

	l := p.lockout()
	if l.Threshold != nil {
		switch {
		case *l.Threshold < 0:
			add("lockout.threshold", "must not be negative; 0 locks no account")
		case *l.Threshold > maxThreshold:
			add("lockout.threshold", "must be at most %d", maxThreshold)
		}
	}
	nonNegative(add, "lockout.duration", l.Duration, "")

	if len(p.AllowedIPRanges) > maxRanges {
		add("allowed_ip_ranges", "at most %d ranges; %d given", maxRanges, len(p.AllowedIPRanges))
	}
	for i, r := range p.AllowedIPRanges {
		switch {
		case !r.IsValid():
			add("allowed_ip_ranges", "entry %d is not a range such as \"10.0.0.0/8\"", i)
		case r.Addr().Is4In6():
			// AllowsIP unmaps addresses, so this range would match none.
			add("allowed_ip_ranges", "%s: write an IPv4 range as IPv4, such as \"10.0.0.0/8\"", r)
		case r != r.Masked():
			// 10.0.0.1/8 allows all of 10.0.0.0/8, not what it seems to say.
			add("allowed_ip_ranges", "%s has bits set past its length: use %s", r, r.Masked())
		case slices.Contains(p.AllowedIPRanges[:i], r):
			add("allowed_ip_ranges", "%s is listed twice", r)
		}
	}
	return out
}

// checkList reports unknown and repeated entries of a set-valued field.
func checkList[T ~string](add func(string, string, ...any), field, what string, list, known []T) {
	for i, v := range list {
		switch {
		case !slices.Contains(known, v):
			add(field, "%q is not a known %s; use one of %s", v, what, join(known))
		case slices.Contains(list[:i], v):
			add(field, "%q is listed twice", v)
		}
	}
}

func nonNegative(add func(string, string, ...any), field string, d *Duration, zero string) {
	if d == nil || *d >= 0 {
		return
	}
	if zero != "" {
		add(field, "must not be negative; %s", zero)
	} else {
		add(field, "must not be negative")
	}
}

func join[T ~string](list []T) string {
	s := ""
	for i, v := range list {
		if i > 0 {
			s += ", "
		}
		s += string(v)
	}
	return s
}
