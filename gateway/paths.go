package gateway

import (
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// safeReturnPath accepts only a same-host relative path ("/x?y") and
// answers "/" for anything else: absolute URLs, scheme-relative "//host",
// "/\host" (browsers read '\' as '/'), whitespace or control characters
// anywhere, and any of those hidden behind percent-encoding. prefix paths
// are refused too, so a sign-in never lands on the logout page, except
// the two a user signs in to reach (see returnableReserved).
func safeReturnPath(raw, prefix string) string {
	const fallback = "/"
	if raw == "" || len(raw) > 2048 || raw[0] != '/' {
		return fallback
	}
	decoded, ok := unescapeFully(raw)
	if !ok {
		return fallback
	}
	for _, s := range []string{raw, decoded} {
		if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
			return fallback
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; c <= ' ' || c == 0x7f || c == '\\' {
				return fallback
			}
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	if underPrefixFold(path.Clean(decoded), prefix) && !returnableReserved(raw, prefix) {
		return fallback
	}
	return raw
}

// returnableReserved reports whether raw, a path under prefix that passed
// safeReturnPath's other checks, is one a sign-in may return to: the
// user's own account page, spelt exactly, or the partner admin portal
// mounted under prefix+"admin/". Case matters, and no dot, empty or
// encoded separator segment may bend the portal's path into another
// reserved route.
func returnableReserved(raw, prefix string) bool {
	if raw == prefix+accountRoute {
		return true
	}
	portal := prefix + "admin/"
	rawPath := raw
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		rawPath = raw[:i]
	}
	if !strings.HasPrefix(rawPath, portal) || ambiguous(rawPath) {
		return false
	}
	p, ok := unescapeFully(rawPath)
	return ok && strings.HasPrefix(p, portal) && (p == path.Clean(p) || p == path.Clean(p)+"/")
}

// unescapeFully percent-decodes until nothing changes, so "%252F" cannot
// survive as "/" one decoding later in a browser or the app.
func unescapeFully(s string) (string, bool) {
	for range 4 {
		next, err := url.PathUnescape(s)
		if err != nil {
			return "", false
		}
		if next == s {
			return s, true
		}
		s = next
	}
	return s, !strings.Contains(s, "%")
}

// underPrefixFold reports whether p is under prefix, ignoring case.
func underPrefixFold(p, prefix string) bool {
	return len(p) >= len(prefix) && strings.EqualFold(p[:len(prefix)], prefix)
}

// reachesPrefix reports whether a request path that is not literally under
// prefix could still be read as under it by someone downstream: after
// percent-decoding, ';' path parameters ("..;/"), '\\' as '/', dot
// segments, case folding, and the trailing dots, spaces and ":stream"
// suffixes Windows servers ignore. A path no reader can agree on (a bad
// escape, a control byte, invalid UTF-8) counts as reaching it. Such a
// request is refused rather than proxied.
func reachesPrefix(escapedPath, prefix string) bool {
	if !strings.ContainsAny(escapedPath, "%;:\\") && !strings.Contains(escapedPath, "/.") && !strings.Contains(escapedPath, "//") {
		// Nothing to decode and no dot segment: only case and a trailing
		// dot on the first segment can still disguise the prefix.
		first, _, _ := strings.Cut(escapedPath[min(1, len(escapedPath)):], "/")
		if !strings.HasSuffix(first, ".") {
			return underPrefixFold(escapedPath, strings.TrimSuffix(prefix, "/")) &&
				(len(escapedPath) == len(prefix)-1 || escapedPath[len(prefix)-1] == '/')
		}
	}
	p, ok := unescapeFully(escapedPath)
	if !ok {
		return true
	}
	if !utf8.ValidString(p) {
		return true
	}
	for i := 0; i < len(p); i++ {
		if p[i] < 0x20 || p[i] == 0x7f {
			return true
		}
	}
	segs := strings.Split(strings.ReplaceAll(p, "\\", "/"), "/")
	for i, s := range segs {
		s, _, _ = strings.Cut(s, ";")
		s, _, _ = strings.Cut(s, ":")
		if s != "." && s != ".." {
			s = strings.TrimRight(s, ". ")
		}
		segs[i] = s
	}
	return underPrefixFold(path.Clean("/"+strings.Join(segs, "/"))+"/", prefix)
}

// ambiguous reports whether a path could mean two things to two readers:
// dot segments, empty segments, backslashes, or encoded '/', '\' or '.'.
// The gateway's own routes need none of them.
func ambiguous(escapedPath string) bool {
	if strings.Contains(escapedPath, "//") || strings.ContainsRune(escapedPath, '\\') {
		return true
	}
	lower := strings.ToLower(escapedPath)
	for _, enc := range []string{"%2f", "%5c", "%2e"} {
		if strings.Contains(lower, enc) {
			return true
		}
	}
	for seg := range strings.SplitSeq(escapedPath, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
