package policy

// Unset reports the fields p leaves unset, as JSON paths such as
// "mfa.required" or "session.max_lifetime"; nil when every field is set,
// as a baseline's must be.
func (p Policy) Unset() []string {
	var out []string
	for _, f := range fields {
		if !f.isSet(p) {
			out = append(out, f.path)
		}
	}
	return out
}

// Fill is p with each field it leaves unset taken from defaults; it
// completes a baseline from Default. The result shares no memory with
// either, so a caller may change it freely.
func Fill(p, defaults Policy) Policy {
	var out Policy
	for _, f := range fields {
		switch {
		case f.isSet(p):
			f.copy(&out, p)
		case f.isSet(defaults):
			f.copy(&out, defaults)
		}
	}
	return out
}

// Effective is the policy enforcement points apply for a partner: on
// every field the stricter of the baseline and the partner's value, or the
// baseline's where the partner's is unset (see fields for what stricter
// means on each). It never trusts that Loosens was checked on write, so a
// baseline tightened later wins at once. A baseline's unset fields are
// taken from Default, so every field of the result is set. Its lists are
// in canonical order (IP ranges also masked, deduplicated and without a
// range inside another), and it shares no memory with either input.
func Effective(baseline, partner Policy) Policy {
	baseline = Fill(baseline, Default())
	var out Policy
	for _, f := range fields {
		// Where the partner inherits, the baseline is merged with itself,
		// which puts its lists in canonical form, so equal policies
		// compare equal however their lists were written.
		from := partner
		if !f.isSet(partner) {
			from = baseline
		}
		f.stricter(&out, baseline, from)
	}
	return out
}

// Violation is one field a partner policy would loosen, for the admin
// API's 422. Asked and Limit are JSON text: `false`, `"4h0m0s"`,
// `["totp"]`.
type Violation struct {
	Field   string `json:"field"`
	Asked   string `json:"asked"`
	Limit   string `json:"limit"`
	Message string `json:"message"`
}

// Loosens reports every field the partner sets looser than the baseline
// (whose unset fields are taken from Default), in the order of fields; nil
// when the partner only tightens. A partner IP list sharing no address
// with a restricting baseline is refused too, since no list can say "no
// address" (see allowed_ip_ranges in fields).
func Loosens(baseline, partner Policy) []Violation {
	baseline = Fill(baseline, Default())
	var out []Violation
	for _, f := range fields {
		if !f.isSet(partner) {
			continue
		}
		disjoint := f.path == "allowed_ip_ranges" && rangesDisjoint(baseline.AllowedIPRanges, partner.AllowedIPRanges)
		if !f.looser(partner, baseline) && !disjoint {
			continue
		}
		asked, limit := f.value(partner), f.value(baseline)
		out = append(out, Violation{
			Field: f.path, Asked: asked, Limit: limit,
			Message: f.path + " " + asked + " is looser than the platform's " + limit + ": " + f.rule(baseline, partner),
		})
	}
	return out
}

// Overridden reports the fields the partner sets whose effective value is
// not the partner's own: the platform's baseline overrode them, typically
// because it was tightened after the partner wrote its policy. A value
// that differs only in order or form (["totp","webauthn"] against
// ["webauthn","totp"]) is the partner's own.
func Overridden(baseline, partner Policy) []string {
	eff := Effective(baseline, partner)
	var out []string
	for _, f := range fields {
		if f.isSet(partner) && !f.same(eff, partner) {
			out = append(out, f.path)
		}
	}
	return out
}
