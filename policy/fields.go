package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// field is one policy field and the one definition of which of two values
// is stricter: Effective, Loosens and Overridden all read it from here,
// and so do the property tests.
type field struct {
	path  string
	isSet func(Policy) bool
	// looser reports whether a's value lets users do something b's does
	// not; both are set. It is a partial order for the set-valued fields
	// (neither of two disjoint method lists is looser than the other).
	looser func(a, b Policy) bool
	// stricter sets dst's field to the stricter of the baseline b's and
	// the partner p's values (both set), b's when they are as strict.
	stricter func(dst *Policy, b, p Policy)
	// copy sets dst's field to a copy of src's, which is set.
	copy func(dst *Policy, src Policy)
	// value is the field's set value as JSON text, for Violation.
	value func(Policy) string
	// rule says why a partner's value is refused against the baseline b.
	rule func(b, p Policy) string
}

// fields are every policy field, in the order Unset, Loosens and
// Overridden report them. The strictness of each is documented here.
var fields = []field{
	// MFA required is stricter than optional.
	scalar("mfa.required", "the platform requires MFA; a partner may not make it optional",
		func(p Policy) *bool { return p.mfa().Required },
		func(p *Policy, v bool) { p.mfaTo().Required = &v }, trueStricter),
	// Fewer methods is stricter: the effective methods are those both
	// allow, in the order of Methods. Asking for a method the baseline
	// lacks loosens it.
	list("mfa.methods", "a partner may only remove methods the platform allows",
		func(p Policy) []Method { return p.mfa().Methods },
		func(p *Policy, v []Method) { p.mfaTo().Methods = v },
		func(a, b []Method) bool { return !subset(a, b, Methods) },
		func(b, p []Method) []Method {
			return ordered(Methods, func(m Method) bool { return in(b, m) && in(p, m) })
		}),
	// Refusing an IdP's own MFA (and asking for ours) is stricter.
	scalar("mfa.accept_idp_mfa", "the platform does not accept an IdP's MFA; a partner may not accept it",
		func(p Policy) *bool { return p.mfa().AcceptIdPMFA },
		func(p *Policy, v bool) { p.mfaTo().AcceptIdPMFA = &v }, falseStricter),
	// Shorter sessions, idle timeouts and device memories are stricter;
	// a zero RememberDevice remembers none, the strictest.
	scalar("session.max_lifetime", "a partner may only shorten the session lifetime",
		func(p Policy) *Duration { return p.session().MaxLifetime },
		func(p *Policy, v Duration) { p.sessionTo().MaxLifetime = &v }, shorterStricter),
	scalar("session.idle_timeout", "a partner may only shorten the idle timeout",
		func(p Policy) *Duration { return p.session().IdleTimeout },
		func(p *Policy, v Duration) { p.sessionTo().IdleTimeout = &v }, shorterStricter),
	scalar("session.remember_device", "a partner may only shorten how long a device is remembered, or turn it off with 0",
		func(p Policy) *Duration { return p.session().RememberDevice },
		func(p *Policy, v Duration) { p.sessionTo().RememberDevice = &v }, shorterStricter),
	// Longer passwords are stricter.
	scalar("password.min_length", "a partner may only raise the minimum length",
		func(p Policy) *int { return p.password().MinLength },
		func(p *Policy, v int) { p.passwordTo().MinLength = &v }, largerStricter),
	// Requiring more character classes is stricter: the effective
	// classes are those either requires, in the order of CharClasses.
	list("password.require", "a partner may only add character classes to those the platform requires",
		func(p Policy) []CharClass { return p.password().Require },
		func(p *Policy, v []CharClass) { p.passwordTo().Require = v },
		func(a, b []CharClass) bool { return !subset(b, a, CharClasses) },
		func(b, p []CharClass) []CharClass {
			return ordered(CharClasses, func(c CharClass) bool { return in(b, c) || in(p, c) })
		}),
	// Remembering more old passwords is stricter.
	scalar("password.history", "a partner may only keep more old passwords",
		func(p Policy) *int { return p.password().History },
		func(p *Policy, v int) { p.passwordTo().History = &v }, largerStricter),
	// A shorter positive age is stricter; 0 never expires, the loosest.
	scalar("password.max_age", "a partner may only shorten the password age, and may not turn expiry off with 0",
		func(p Policy) *Duration { return p.password().MaxAge },
		func(p *Policy, v Duration) { p.passwordTo().MaxAge = &v },
		func(d Duration) int64 { return positiveSmallerStricter(int64(d)) }),
	// allowed < off < required: "off" takes away the passkey way in,
	// "required" the password one, which phishing can steal.
	scalar("password.passwordless", "a partner may only move passwordless from allowed to off to required",
		func(p Policy) *Passwordless { return p.password().Passwordless },
		func(p *Policy, v Passwordless) { p.passwordTo().Passwordless = &v },
		func(v Passwordless) int64 { return int64(slices.Index(passwordlessOrder, v)) }),
	// Checking passwords against common ones is stricter.
	scalar("password.block_common", "the platform blocks common passwords; a partner may not allow them",
		func(p Policy) *bool { return p.password().BlockCommon },
		func(p *Policy, v bool) { p.passwordTo().BlockCommon = &v }, trueStricter),
	// A smaller positive threshold is stricter; 0 locks nothing, the
	// loosest.
	scalar("lockout.threshold", "a partner may only lower the lockout threshold, and may not turn lockout off with 0",
		func(p Policy) *int { return p.lockout().Threshold },
		func(p *Policy, v int) { p.lockoutTo().Threshold = &v },
		func(n int) int64 { return positiveSmallerStricter(int64(n)) }),
	// Locking out for longer is stricter.
	scalar("lockout.duration", "a partner may only lengthen the lockout",
		func(p Policy) *Duration { return p.lockout().Duration },
		func(p *Policy, v Duration) { p.lockoutTo().Duration = &v },
		func(d Duration) int64 { return int64(d) }),
	// Requiring SSO is stricter.
	scalar("sso_required", "the platform requires SSO; a partner may not make it optional",
		func(p Policy) *bool { return p.SSORequired },
		func(p *Policy, v bool) { p.SSORequired = &v }, trueStricter),
	// Fewer addresses are stricter, and an empty list, every address, is
	// the loosest: the effective list is the addresses both allow. When
	// both restrict and share no address, the result would be "no
	// address", which a list cannot say (empty means every address); so
	// Loosens refuses such a partner list, and Effective, should one reach
	// it anyway because the baseline moved, keeps the baseline's list:
	// fail closed to the platform's ranges, never open to every address.
	{
		path:   "allowed_ip_ranges",
		isSet:  func(p Policy) bool { return p.AllowedIPRanges != nil },
		looser: func(a, b Policy) bool { return !rangesWithin(a.AllowedIPRanges, b.AllowedIPRanges) },
		stricter: func(dst *Policy, b, p Policy) {
			switch {
			case len(b.AllowedIPRanges) == 0:
				dst.AllowedIPRanges = normalRanges(p.AllowedIPRanges)
			case len(p.AllowedIPRanges) == 0 || rangesDisjoint(b.AllowedIPRanges, p.AllowedIPRanges):
				dst.AllowedIPRanges = normalRanges(b.AllowedIPRanges)
			default:
				dst.AllowedIPRanges = intersectRanges(b.AllowedIPRanges, p.AllowedIPRanges)
			}
		},
		copy:  func(dst *Policy, src Policy) { dst.AllowedIPRanges = slices.Clone(src.AllowedIPRanges) },
		value: func(p Policy) string { return jsonText(p.AllowedIPRanges) },
		rule: func(b, p Policy) string {
			if rangesDisjoint(b.AllowedIPRanges, p.AllowedIPRanges) {
				return "these ranges share no address with the platform's, so no one could sign in"
			}
			return "a partner may only narrow the platform's ranges"
		},
	},
}

// same reports whether a and b are as strict as each other on f: the same
// value, or the same set in another order.
func (f field) same(a, b Policy) bool {
	return !f.looser(a, b) && !f.looser(b, a)
}

// scalar is a field of one value, ranked by how strict it is.
func scalar[T any](path, rule string, get func(Policy) *T, put func(*Policy, T), rank func(T) int64) field {
	return field{
		path:   path,
		isSet:  func(p Policy) bool { return get(p) != nil },
		looser: func(a, b Policy) bool { return rank(*get(a)) < rank(*get(b)) },
		stricter: func(dst *Policy, b, p Policy) {
			v := *get(b)
			if rank(*get(p)) > rank(v) {
				v = *get(p)
			}
			put(dst, v)
		},
		copy:  func(dst *Policy, src Policy) { put(dst, *get(src)) },
		value: func(p Policy) string { return jsonText(*get(p)) },
		rule:  func(Policy, Policy) string { return rule },
	}
}

// list is a set-valued field; a nil list is unset, an empty one is set.
func list[T comparable](path, rule string, get func(Policy) []T, put func(*Policy, []T), looser func(a, b []T) bool, stricter func(b, p []T) []T) field {
	return field{
		path:     path,
		isSet:    func(p Policy) bool { return get(p) != nil },
		looser:   func(a, b Policy) bool { return looser(get(a), get(b)) },
		stricter: func(dst *Policy, b, p Policy) { put(dst, stricter(get(b), get(p))) },
		copy:     func(dst *Policy, src Policy) { put(dst, slices.Clone(get(src))) },
		value:    func(p Policy) string { return jsonText(get(p)) },
		rule:     func(Policy, Policy) string { return rule },
	}
}

// Ranks: the larger, the stricter.

func trueStricter(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func falseStricter(b bool) int64 { return 1 - trueStricter(b) }

func shorterStricter(d Duration) int64 { return -int64(d) }

func largerStricter(n int) int64 { return int64(n) }

// positiveSmallerStricter ranks a limit where 0 (and, though Validate
// refuses it, a negative number) means none: the loosest.
func positiveSmallerStricter(n int64) int64 {
	if n <= 0 {
		return math.MinInt64
	}
	return -n
}

var passwordlessOrder = []Passwordless{PasswordlessAllowed, PasswordlessOff, PasswordlessRequired}

// subset reports whether every known value in a is in b. Unknown values
// (Validate refuses them) enable nothing, so they neither loosen nor
// tighten.
func subset[T comparable](a, b, known []T) bool {
	for _, v := range a {
		if in(known, v) && !in(b, v) {
			return false
		}
	}
	return true
}

// ordered is the known values keep accepts, in their canonical order;
// never nil, since a nil list would read as unset.
func ordered[T comparable](known []T, keep func(T) bool) []T {
	out := []T{}
	for _, v := range known {
		if keep(v) {
			out = append(out, v)
		}
	}
	return out
}

func in[T comparable](list []T, v T) bool { return slices.Contains(list, v) }

// jsonText is v as JSON; these value types always marshal.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// Nil-safe readers of the sections, and writers that create them.

func (p Policy) mfa() MFA {
	if p.MFA == nil {
		return MFA{}
	}
	return *p.MFA
}

func (p Policy) session() Session {
	if p.Session == nil {
		return Session{}
	}
	return *p.Session
}

func (p Policy) password() Password {
	if p.Password == nil {
		return Password{}
	}
	return *p.Password
}

func (p Policy) lockout() Lockout {
	if p.Lockout == nil {
		return Lockout{}
	}
	return *p.Lockout
}

func (p *Policy) mfaTo() *MFA {
	if p.MFA == nil {
		p.MFA = &MFA{}
	}
	return p.MFA
}

func (p *Policy) sessionTo() *Session {
	if p.Session == nil {
		p.Session = &Session{}
	}
	return p.Session
}

func (p *Policy) passwordTo() *Password {
	if p.Password == nil {
		p.Password = &Password{}
	}
	return p.Password
}

func (p *Policy) lockoutTo() *Lockout {
	if p.Lockout == nil {
		p.Lockout = &Lockout{}
	}
	return p.Lockout
}
