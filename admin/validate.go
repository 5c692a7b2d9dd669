package admin

import (
	"fmt"
	"net/http"
	"net/mail"
	"net/netip"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of the wire contract.
const (
	maxNameRunes   = 200
	maxHostnames   = 100
	maxHostnameLen = 253
	maxEmailLen    = 254
	maxLabelLen    = 63
)

// reservedIDs are labels a partner id may not take: they would make
// <id>.<base_domain> look like the platform's own service names.
var reservedIDs = []string{
	"admin", "api", "app", "apps", "assets", "auth", "cdn", "docs", "help",
	"id", "login", "mail", "partnergate", "portal", "scim", "sso", "static",
	"status", "support", "www",
}

// problems collects every invalid field of a request, so a client fixes
// them all in one round trip.
type problems []problem

func (ps *problems) add(field, message string) {
	if message != "" {
		*ps = append(*ps, problem{Field: field, Message: message})
	}
}

// err returns the 422 naming the first problem and listing all of them.
func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &apiError{
		status:  http.StatusUnprocessableEntity,
		code:    "validation_failed",
		message: ps[0].Message,
		field:   ps[0].Field,
		details: ps,
	}
}

// Each check returns "" when the value is valid, else a message that
// names the field and is safe to show.

func checkPartnerID(id string) string {
	const rule = "id must be a lowercase DNS label: 1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
	switch {
	case id == "":
		return "id is required"
	case !isLabel(id):
		return rule
	case len(id) >= 4 && id[2:4] == "--":
		// RFC 5891 reserves "ab--" labels for encodings such as xn--.
		return "id must not have '--' as its third and fourth characters"
	case slices.Contains(reservedIDs, id):
		return fmt.Sprintf("id %q is reserved for the platform", id)
	}
	return ""
}

// isLabel reports whether s is a lowercase LDH DNS label.
func isLabel(s string) bool {
	if len(s) == 0 || len(s) > maxLabelLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkName(field, name string, required bool) string {
	switch {
	case required && strings.TrimSpace(name) == "":
		return field + " is required"
	case utf8.RuneCountInString(name) > maxNameRunes:
		return fmt.Sprintf("%s must be at most %d characters", field, maxNameRunes)
	case strings.IndexFunc(name, isUnsafeRune) >= 0:
		return field + " must not contain control characters"
	}
	return ""
}

// isUnsafeRune covers control characters plus the invisible formatting
// runes that reorder or break displayed text, which would let a name
// impersonate another in the portal.
func isUnsafeRune(r rune) bool {
	switch {
	case unicode.IsControl(r):
		return true
	case r == '\u2028' || r == '\u2029': // line and paragraph separators
		return true
	case '\u202a' <= r && r <= '\u202e', '\u2066' <= r && r <= '\u2069': // bidi overrides and isolates
		return true
	}
	return false
}

// checkEmail accepts one bare address. Requiring the parsed address to
// equal the input refuses display names, angle brackets, comments and
// surrounding space, which the parser would otherwise strip silently.
func checkEmail(email string) string {
	if email == "" {
		return "email is required"
	}
	if len(email) > maxEmailLen {
		return fmt.Sprintf("email must be at most %d bytes", maxEmailLen)
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != email {
		return "email must be a single address such as name@example.com, without a display name"
	}
	return ""
}

// normalizeHostnames lowercases, drops a trailing dot and removes
// duplicates, keeping the first occurrence's position, and reports each
// invalid entry by index.
func normalizeHostnames(hostnames []string, base string, ps *problems) []string {
	if len(hostnames) > maxHostnames {
		ps.add("hostnames", fmt.Sprintf("hostnames must hold at most %d entries", maxHostnames))
		return nil
	}
	out := make([]string, 0, len(hostnames))
	for i, raw := range hostnames {
		h, msg := normalizeHostname(raw)
		if msg == "" && (h == base || strings.HasSuffix(h, "."+base)) {
			msg = fmt.Sprintf("must not be %s or a name under it: those are partners' implied hostnames", base)
		}
		if msg != "" {
			ps.add(fmt.Sprintf("hostnames[%d]", i), "hostname "+msg)
			continue
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// normalizeHostname returns h in canonical form, or a reason it is not a
// hostname we can route by: the gateway matches the Host header exactly,
// so ports, addresses and wildcards could never match or would match too
// much.
func normalizeHostname(raw string) (string, string) {
	h := strings.TrimSuffix(strings.ToLower(raw), ".")
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return "", "must not be an IP address"
	}
	switch {
	case h == "":
		return "", "must not be empty"
	case strings.IndexFunc(h, func(r rune) bool { return r >= utf8.RuneSelf }) >= 0:
		return "", "must be ASCII: write an internationalized name in its xn-- form"
	case strings.Contains(h, ":"):
		return "", "must not include a port"
	case strings.Contains(h, "*"):
		return "", "must not be a wildcard"
	case len(h) > maxHostnameLen:
		return "", fmt.Sprintf("must be at most %d characters", maxHostnameLen)
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return "", "must be a fully qualified domain name such as portal.example.com"
	}
	for _, l := range labels {
		if !isLabel(l) {
			return "", "must consist of dot-separated labels of 1-63 letters, digits and '-', not starting or ending with '-'"
		}
	}
	if strings.Trim(labels[len(labels)-1], "0123456789") == "" {
		// An all-numeric top label is an IPv4 address in disguise (127.1).
		return "", "must not be an IP address"
	}
	return h, ""
}

// normalizeBaseDomain applies the hostname rules to the configured base
// domain; a single label such as "localhost" is allowed there.
func normalizeBaseDomain(base string) (string, string) {
	if b := strings.TrimSuffix(strings.ToLower(base), "."); isLabel(b) {
		return b, ""
	}
	return normalizeHostname(base)
}

// validate checks the members a partner request sent (and, on create, the
// required ones it did not) and returns the normalized hostnames.
func (in partnerInput) validate(create bool, base string) ([]string, error) {
	var ps problems
	if create {
		ps.add("id", checkPartnerID(in.id.val))
	}
	if create || in.name.set {
		ps.add("name", checkName("name", in.name.val, true))
	}
	if in.suspended.null {
		ps.add("suspended", "suspended must be true or false")
	}
	hostnames := normalizeHostnames(in.hostnames.val, base, &ps)
	return hostnames, ps.err()
}

// validate checks the members a user request sent; on create, email is
// required. Null counts as the zero value, so a null email or active is
// refused and a null name or password clears it. A password is checked
// against the partner's policy by the caller, as that needs the store.
func (in userInput) validate(create bool) error {
	return in.problems(create).err()
}

// problems are what validate refuses, for a caller to add its own to.
func (in userInput) problems(create bool) problems {
	var ps problems
	if create || in.email.set {
		ps.add("email", checkEmail(in.email.val))
	}
	ps.add("name", checkName("name", in.name.val, false))
	if !create && in.active.null {
		ps.add("active", "active must be true or false")
	}
	return ps
}
