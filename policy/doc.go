// Package policy holds the platform's governance baseline and each
// partner's auth policy, and computes the effective policy every
// enforcement point reads: on every field, the stricter of the two.
//
// A partner may leave any field unset to inherit the baseline, and may
// only tighten it: Loosens names each field a partner policy would
// loosen, with the value asked for and the baseline's limit, so the
// admin API can refuse the write and say why. Effective never trusts
// that check was made: a baseline tightened after a partner wrote its
// policy wins at once, and Overridden says which fields it overrode.
//
// The package is pure: no I/O, no clock, no Caddy. Its guarantees (the
// effective policy is never looser than either input, and tightening
// either input never loosens the result) are property-tested.
package policy
