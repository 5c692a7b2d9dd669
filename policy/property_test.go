package policy

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

const pairs = 3000

// looser is the one comparator the property checks use: whether a's value
// of the field at path is looser than b's, by the same per-field order
// Effective and Loosens use. An unset value inherits, so it is neither
// looser nor stricter.
func looser(a, b Policy, path string) bool {
	f := fieldAt(path)
	return f.isSet(a) && f.isSet(b) && f.looser(a, b)
}

func fieldAt(path string) field {
	for _, f := range fields {
		if f.path == path {
			return f
		}
	}
	panic("policy: no field " + path)
}

// gen sets a field to a random valid value. Values come from small ranges
// so that ties, and overlapping IP ranges, are common.
var gen = map[string]func(p *Policy, r *rand.Rand){
	"mfa.required":       func(p *Policy, r *rand.Rand) { p.mfaTo().Required = ptr(r.IntN(2) == 0) },
	"mfa.methods":        func(p *Policy, r *rand.Rand) { p.mfaTo().Methods = randSubset(Methods, r) },
	"mfa.accept_idp_mfa": func(p *Policy, r *rand.Rand) { p.mfaTo().AcceptIdPMFA = ptr(r.IntN(2) == 0) },
	"session.max_lifetime": func(p *Policy, r *rand.Rand) {
		p.sessionTo().MaxLifetime = dur(time.Duration(r.IntN(8)+1) * time.Hour)
	},
	"session.idle_timeout": func(p *Policy, r *rand.Rand) {
		p.sessionTo().IdleTimeout = dur(time.Duration(r.IntN(6)+1) * 15 * time.Minute)
	},
	"session.remember_device": func(p *Policy, r *rand.Rand) {
		p.sessionTo().RememberDevice = dur(time.Duration(r.IntN(4)) * day)
	},
	"password.min_length": func(p *Policy, r *rand.Rand) { p.passwordTo().MinLength = ptr(8 + r.IntN(10)) },
	"password.require":    func(p *Policy, r *rand.Rand) { p.passwordTo().Require = randSubset(CharClasses, r) },
	"password.history":    func(p *Policy, r *rand.Rand) { p.passwordTo().History = ptr(r.IntN(6)) },
	"password.max_age": func(p *Policy, r *rand.Rand) {
		p.passwordTo().MaxAge = dur(time.Duration(r.IntN(4)) * 30 * day)
	},
	"password.passwordless": func(p *Policy, r *rand.Rand) {
		p.passwordTo().Passwordless = ptr(passwordlessOrder[r.IntN(3)])
	},
	"password.block_common": func(p *Policy, r *rand.Rand) { p.passwordTo().BlockCommon = ptr(r.IntN(2) == 0) },
	"lockout.threshold":     func(p *Policy, r *rand.Rand) { p.lockoutTo().Threshold = ptr(r.IntN(6)) },
	"lockout.duration": func(p *Policy, r *rand.Rand) {
		p.lockoutTo().Duration = dur(time.Duration(r.IntN(4)) * 15 * time.Minute)
	},
	"sso_required": func(p *Policy, r *rand.Rand) { p.SSORequired = ptr(r.IntN(2) == 0) },
	"allowed_ip_ranges": func(p *Policy, r *rand.Rand) {
		p.AllowedIPRanges = []netip.Prefix{}
		for range r.IntN(4) {
			p.AllowedIPRanges = append(p.AllowedIPRanges, randPrefix(r))
		}
	},
}

// tighten changes a set field to a value at least as strict.
var tighten = map[string]func(p *Policy, r *rand.Rand){
	"mfa.required":       func(p *Policy, r *rand.Rand) { p.MFA.Required = ptr(true) },
	"mfa.methods":        func(p *Policy, r *rand.Rand) { p.MFA.Methods = dropOne(p.MFA.Methods, r) },
	"mfa.accept_idp_mfa": func(p *Policy, r *rand.Rand) { p.MFA.AcceptIdPMFA = ptr(false) },
	"session.max_lifetime": func(p *Policy, r *rand.Rand) {
		p.Session.MaxLifetime = ptr(shrink(*p.Session.MaxLifetime, r))
	},
	"session.idle_timeout": func(p *Policy, r *rand.Rand) {
		p.Session.IdleTimeout = ptr(shrink(*p.Session.IdleTimeout, r))
	},
	"session.remember_device": func(p *Policy, r *rand.Rand) {
		p.Session.RememberDevice = ptr(shrink(*p.Session.RememberDevice, r))
	},
	"password.min_length": func(p *Policy, r *rand.Rand) { p.Password.MinLength = ptr(*p.Password.MinLength + r.IntN(4)) },
	"password.require": func(p *Policy, r *rand.Rand) {
		if c := CharClasses[r.IntN(len(CharClasses))]; !slices.Contains(p.Password.Require, c) {
			p.Password.Require = append(slices.Clone(p.Password.Require), c)
		}
	},
	"password.history": func(p *Policy, r *rand.Rand) { p.Password.History = ptr(*p.Password.History + r.IntN(4)) },
	"password.max_age": func(p *Policy, r *rand.Rand) {
		if *p.Password.MaxAge == 0 {
			p.Password.MaxAge = dur(time.Duration(r.IntN(3)+1) * 30 * day)
		} else {
			p.Password.MaxAge = ptr(shrink(*p.Password.MaxAge, r))
		}
	},
	"password.passwordless": func(p *Policy, r *rand.Rand) {
		i := slices.Index(passwordlessOrder, *p.Password.Passwordless)
		p.Password.Passwordless = ptr(passwordlessOrder[i+r.IntN(len(passwordlessOrder)-i)])
	},
	"password.block_common": func(p *Policy, r *rand.Rand) { p.Password.BlockCommon = ptr(true) },
	"lockout.threshold": func(p *Policy, r *rand.Rand) {
		if t := *p.Lockout.Threshold; t == 0 {
			p.Lockout.Threshold = ptr(r.IntN(5) + 1)
		} else {
			p.Lockout.Threshold = ptr(1 + r.IntN(t))
		}
	},
	"lockout.duration": func(p *Policy, r *rand.Rand) {
		p.Lockout.Duration = ptr(*p.Lockout.Duration + Duration(r.IntN(3))*Duration(15*time.Minute))
	},
	"sso_required": func(p *Policy, r *rand.Rand) { p.SSORequired = ptr(true) },
	"allowed_ip_ranges": func(p *Policy, r *rand.Rand) {
		list := slices.Clone(p.AllowedIPRanges)
		switch {
		case len(list) == 0:
			list = []netip.Prefix{randPrefix(r)}
		case len(list) > 1 && r.IntN(2) == 0:
			list = dropOne(list, r)
		default:
			i := r.IntN(len(list))
			list[i] = within(list[i], r.IntN(4), r)
		}
		p.AllowedIPRanges = list
	},
}

func randSubset[T any](all []T, r *rand.Rand) []T {
	out := []T{}
	for _, i := range r.Perm(len(all)) {
		if r.IntN(2) == 0 {
			out = append(out, all[i])
		}
	}
	return out
}

func dropOne[T any](list []T, r *rand.Rand) []T {
	if len(list) == 0 {
		return list
	}
	i := r.IntN(len(list))
	return append(slices.Clone(list[:i]), list[i+1:]...)
}

// shrink is d scaled by 1/4, 2/4, 3/4 or 1: shorter, and positive if d is.
func shrink(d Duration, r *rand.Rand) Duration { return d * Duration(r.IntN(4)+1) / 4 }

// randPrefix is a prefix inside one of three roots, at most 8 bits longer,
// so prefixes often contain one another.
func randPrefix(r *rand.Rand) netip.Prefix {
	roots := prefixes("10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32")
	return within(roots[r.IntN(len(roots))], r.IntN(9), r)
}

// within is a random prefix extra bits longer inside p (p if it cannot be).
func within(p netip.Prefix, extra int, r *rand.Rand) netip.Prefix {
	b := p.Addr().AsSlice()
	bits := min(p.Bits()+extra, len(b)*8)
	for i := p.Bits(); i < bits; i++ {
		if r.IntN(2) == 0 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	a, _ := netip.AddrFromSlice(b)
	return netip.PrefixFrom(a, bits).Masked()
}

func randBaseline(r *rand.Rand) Policy {
	var p Policy
	for _, f := range fields {
		gen[f.path](&p, r)
	}
	return p
}

// randPartner is sparse: each field of src with probability 1/2, where
// src is random, or the baseline tightened on a few fields so that
// partners within the baseline are common too.
func randPartner(b Policy, r *rand.Rand) Policy {
	src := randBaseline(r)
	if r.IntN(2) == 0 {
		src = Fill(b, Policy{})
		for range r.IntN(4) {
			tighten[fields[r.IntN(len(fields))].path](&src, r)
		}
	}
	var p Policy
	for _, f := range fields {
		if r.IntN(2) == 0 {
			f.copy(&p, src)
		}
	}
	return p
}

// tightenOne is p with one random field tightened (set at random if p
// leaves it unset, which can only tighten the effective policy), and
// that field's path; p is unchanged.
func tightenOne(t *testing.T, p Policy, r *rand.Rand) (Policy, string) {
	f := fields[r.IntN(len(fields))]
	out := Fill(p, Policy{})
	if f.isSet(out) {
		tighten[f.path](&out, r)
		if looser(out, p, f.path) {
			t.Fatalf("test bug: tightening %s loosened %s to %s", f.path, f.value(p), f.value(out))
		}
	} else {
		gen[f.path](&out, r)
	}
	return out, f.path
}

func TestGeneratorsCoverEveryField(t *testing.T) {
	for _, f := range fields {
		if gen[f.path] == nil || tighten[f.path] == nil {
			t.Errorf("no generator for %s", f.path)
		}
	}
	if len(gen) != len(fields) || len(tighten) != len(fields) {
		t.Error("a generator for a field that does not exist")
	}
}

// TestPropertyNeverLooser: the effective policy is never looser than the
// baseline, nor than the partner on any field the partner set, except
// where the two IP lists share no address: then it is the baseline's.
func TestPropertyNeverLooser(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	disjoint := 0
	for range pairs {
		b := randBaseline(r)
		p := randPartner(b, r)
		e := Effective(b, p)
		if u := e.Unset(); u != nil {
			t.Fatalf("Effective leaves %v unset", u)
		}
		for _, f := range fields {
			if looser(e, b, f.path) {
				t.Fatalf("%s: effective %s looser than baseline %s", f.path, f.value(e), f.value(b))
			}
			if f.path == "allowed_ip_ranges" && rangesDisjoint(b.AllowedIPRanges, p.AllowedIPRanges) {
				disjoint++
				if !slices.Equal(e.AllowedIPRanges, normalRanges(b.AllowedIPRanges)) {
					t.Fatalf("disjoint ranges %v and %v gave %v, not the baseline's", b.AllowedIPRanges, p.AllowedIPRanges, e.AllowedIPRanges)
				}
				continue
			}
			if looser(e, p, f.path) {
				t.Fatalf("%s: effective %s looser than partner %s", f.path, f.value(e), f.value(p))
			}
		}
	}
	if disjoint == 0 {
		t.Error("no disjoint IP lists generated")
	}
}

// TestPropertyMonotone: tightening one field of either input never
// loosens any field of the effective policy. The one exception is the
// unrepresentable "no address": when tightening makes the IP lists
// disjoint, the result falls back to the baseline's list, which Loosens
// refuses on write; it can be wider than the overlap it replaces.
func TestPropertyMonotone(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range pairs {
		b := randBaseline(r)
		p := randPartner(b, r)
		b2, p2 := b, p
		var changed string
		if r.IntN(2) == 0 {
			b2, changed = tightenOne(t, b, r)
		} else {
			p2, changed = tightenOne(t, p, r)
		}
		e, e2 := Effective(b, p), Effective(b2, p2)
		for _, f := range fields {
			if f.path == "allowed_ip_ranges" && rangesDisjoint(b2.AllowedIPRanges, p2.AllowedIPRanges) &&
				!rangesDisjoint(b.AllowedIPRanges, p.AllowedIPRanges) {
				if !slices.Equal(e2.AllowedIPRanges, normalRanges(b2.AllowedIPRanges)) {
					t.Fatalf("disjoint ranges gave %v, not the baseline's", e2.AllowedIPRanges)
				}
				continue
			}
			if looser(e2, e, f.path) {
				t.Fatalf("tightening %s loosened %s from %s to %s", changed, f.path, f.value(e), f.value(e2))
			}
		}
	}
}

// TestPropertyLoosensIffOverridden: a partner is refused exactly when the
// effective policy would not keep its own value on some field it set.
func TestPropertyLoosensIffOverridden(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	kept, refused := 0, 0
	for range pairs {
		b := randBaseline(r)
		p := randPartner(b, r)
		e, own := Effective(b, p), Fill(p, b)
		same := true
		for _, f := range fields {
			if f.isSet(p) && !f.same(e, own) {
				same = false
			}
		}
		v := Loosens(b, p)
		if (len(v) == 0) != same {
			t.Fatalf("Loosens = %+v but effective keeps the partner's values: %v\nbaseline %+v\npartner %+v", v, same, b, p)
		}
		if (len(v) == 0) != (Overridden(b, p) == nil) {
			t.Fatalf("Loosens = %+v but Overridden = %v", v, Overridden(b, p))
		}
		if same {
			kept++
		} else {
			refused++
		}
	}
	if kept < pairs/10 || refused < pairs/10 {
		t.Errorf("lopsided sample: %d within the baseline, %d loosening", kept, refused)
	}
}

// TestPropertyIdempotent: applying the baseline to an effective policy
// changes nothing, so a stored effective policy is stable.
func TestPropertyIdempotent(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for range pairs {
		b := randBaseline(r)
		e := Effective(b, randPartner(b, r))
		if e2 := Effective(b, e); !reflect.DeepEqual(e2, e) {
			t.Fatalf("Effective(b, Effective(b, p)) = %+v, want %+v", e2, e)
		}
	}
}
