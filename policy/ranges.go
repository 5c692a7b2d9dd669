package policy

import (
	"net/netip"
	"slices"
)

// An IP range list is a set of addresses: the union of its prefixes, and
// an empty list is every address. A non-empty list whose prefixes are all
// invalid (Validate refuses them) matches no address, since an invalid
// prefix contains nothing; the helpers below keep it that way rather than
// let it collapse into the empty list, which would allow everything.

// normalRanges masks, deduplicates and sorts a list's valid prefixes and
// drops each one another contains, so equal address sets compare equal.
// A non-empty list with no valid prefix is returned as given (see above).
func normalRanges(list []netip.Prefix) []netip.Prefix {
	out := []netip.Prefix{}
	for _, p := range list {
		if p.IsValid() {
			out = append(out, p.Masked())
		}
	}
	if len(out) == 0 && len(list) > 0 {
		return slices.Clone(list)
	}
	// Compare sorts by family, then length, so any prefix that contains
	// another comes before it and is already kept when that one is seen.
	slices.SortFunc(out, netip.Prefix.Compare)
	kept := out[:0]
	for _, p := range out {
		if !slices.ContainsFunc(kept, p.Overlaps) {
			kept = append(kept, p)
		}
	}
	return kept
}

// intersectRanges is the addresses both lists allow, as prefixes: two
// prefixes overlap only when one contains the other, and then the longer
// one is their intersection. Empty means the lists share no address, not
// every address; callers decide what that means.
func intersectRanges(a, b []netip.Prefix) []netip.Prefix {
	out := []netip.Prefix{}
	for _, p := range a {
		for _, q := range b {
			if !p.IsValid() || !q.IsValid() || !p.Overlaps(q) {
				continue
			}
			if p.Bits() >= q.Bits() {
				out = append(out, p.Masked())
			} else {
				out = append(out, q.Masked())
			}
		}
	}
	return normalRanges(out)
}

// rangesDisjoint reports whether two restricting (non-empty) lists share
// no address, which no list can express: see allowed_ip_ranges in fields.
func rangesDisjoint(a, b []netip.Prefix) bool {
	return len(a) > 0 && len(b) > 0 && len(intersectRanges(a, b)) == 0
}

// rangesWithin reports whether every address list a allows, list b
// allows too.
func rangesWithin(a, b []netip.Prefix) bool {
	if len(b) == 0 {
		return true
	}
	if len(a) == 0 {
		return false
	}
	for _, p := range a {
		if p.IsValid() && !covered(p.Masked(), b) {
			return false
		}
	}
	return true
}

// covered reports whether the prefixes in by hold every address of p:
// one of them contains p, or several strictly inside p cover both its
// halves. It only descends where some prefix lies strictly inside, so the
// work is bounded by len(by) times the address length.
func covered(p netip.Prefix, by []netip.Prefix) bool {
	inside := false
	for _, q := range by {
		if !q.IsValid() || !q.Overlaps(p) {
			continue
		}
		if q.Bits() <= p.Bits() {
			return true
		}
		inside = true
	}
	if !inside {
		return false
	}
	lo, hi := halves(p)
	return covered(lo, by) && covered(hi, by)
}

// halves splits a masked prefix into its two prefixes one bit longer.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	bits := p.Bits()
	var hi netip.Addr
	if p.Addr().Is4() {
		b := p.Addr().As4()
		b[bits/8] |= 0x80 >> (bits % 8)
		hi = netip.AddrFrom4(b)
	} else {
		b := p.Addr().As16()
		b[bits/8] |= 0x80 >> (bits % 8)
		hi = netip.AddrFrom16(b)
	}
	return netip.PrefixFrom(p.Addr(), bits+1), netip.PrefixFrom(hi, bits+1)
}
