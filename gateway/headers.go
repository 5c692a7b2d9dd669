package gateway

import (
	"io"
	"iter"
	"net/http"
	"net/textproto"
	"strings"
)

// HeaderNames are the identity headers set for the upstream app.
type HeaderNames struct {
	PartnerID string
	User      string
	Email     string
	Name      string
	Groups    string
	Roles     string
	JWT       string
}

// DefaultHeaderNames are the contract's names. JWT is reserved: it is
// stripped from clients already, so no client can pre-seed it before the
// gateway signs one.
var DefaultHeaderNames = HeaderNames{
	PartnerID: "X-Partner-Id",
	User:      "X-Auth-User",
	Email:     "X-Auth-Email",
	Name:      "X-Auth-Name",
	Groups:    "X-Auth-Groups",
	Roles:     "X-Auth-Roles",
	JWT:       "X-Auth-Jwt",
}

func (h HeaderNames) all() []string {
	return []string{h.PartnerID, h.User, h.Email, h.Name, h.Groups, h.Roles, h.JWT}
}

// headerSet matches header names the way upstreams read them: case-folded,
// with '_' taken as '-' (WSGI, PHP and CGI fold both).
type headerSet struct {
	canonical []string // as set on the request
	folded    []string // lowercase, '-' only
}

func newHeaderSet(names HeaderNames) headerSet {
	var s headerSet
	for _, n := range names.all() {
		s.canonical = append(s.canonical, textproto.CanonicalMIMEHeaderKey(n))
		s.folded = append(s.folded, strings.ToLower(strings.ReplaceAll(n, "_", "-")))
	}
	return s
}

func (s headerSet) reserved(name string) bool {
	for _, f := range s.folded {
		if len(f) == len(name) && foldedEqual(f, name) {
			return true
		}
	}
	return false
}

// foldedEqual compares a folded name with a raw one without allocating.
func foldedEqual(folded, raw string) bool {
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		case c == '_':
			c = '-'
		}
		if c != folded[i] {
			return false
		}
	}
	return true
}

// strip removes every client-sent copy of a reserved header, under any
// spelling, and drops reserved names from Connection: a reverse proxy
// deletes the headers Connection names after we set them, which would let
// a client strip the identity the app relies on.
func (s headerSet) strip(h http.Header) {
	for k := range h {
		if s.reserved(k) {
			delete(h, k)
		}
	}
	conn, ok := h["Connection"]
	if !ok {
		return
	}
	var kept []string
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			tok = textproto.TrimString(tok)
			if tok != "" && !s.reserved(tok) {
				kept = append(kept, tok)
			}
		}
	}
	if len(kept) == 0 {
		delete(h, "Connection")
		return
	}
	h["Connection"] = []string{strings.Join(kept, ", ")}
}

// encodeValue percent-encodes the bytes that would make a header value
// ambiguous or unsafe: ',' (list separator), '%' (so decoding is exact) and
// control characters.
func encodeValue(v string) string {
	i := 0
	for i < len(v) && !needsEscape(v[i]) {
		i++
	}
	if i == len(v) {
		return v
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(v) + 8)
	b.WriteString(v[:i])
	for ; i < len(v); i++ {
		c := v[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func needsEscape(c byte) bool {
	return c < 0x20 || c == 0x7f || c == ',' || c == '%'
}

func encodeList(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return encodeValue(vs[0])
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = encodeValue(v)
	}
	return strings.Join(parts, ",")
}

// guardTrailers refuses a request that declares a reserved header as a
// trailer, and drops any that arrives undeclared: trailers come after the
// body, long after strip ran, and a proxy forwards them.
func (g *Gateway) guardTrailers(r *http.Request) bool {
	for k := range r.Trailer {
		if g.headers.reserved(k) {
			return false
		}
	}
	if r.Body != nil && r.Body != http.NoBody && (r.Trailer != nil || r.ContentLength < 0) {
		r.Body = &trailerFilter{ReadCloser: r.Body, r: r, headers: g.headers}
	}
	return true
}

type trailerFilter struct {
	io.ReadCloser
	r       *http.Request
	headers headerSet
}

func (f *trailerFilter) Read(p []byte) (int, error) {
	n, err := f.ReadCloser.Read(p)
	if err == io.EOF {
		for k := range f.r.Trailer {
			if f.headers.reserved(k) {
				delete(f.r.Trailer, k)
			}
		}
	}
	return n, err
}

// cookieValues yields the value of every cookie called name, without
// parsing the others; every reader of the gateway's cookies goes through
// it, so they all agree on what a request carries.
func cookieValues(h http.Header, name string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, line := range h["Cookie"] {
			for line != "" {
				var part string
				part, line, _ = strings.Cut(line, ";")
				k, v, ok := strings.Cut(textproto.TrimString(part), "=")
				if ok && k == name && !yield(v) {
					return
				}
			}
		}
	}
}

// findCookie returns the value of the cookie called name and how many
// times the request carries it.
func findCookie(h http.Header, name string) (value string, n int) {
	for v := range cookieValues(h, name) {
		value = v
		n++
	}
	return value, n
}

// hideOwnCookies keeps the gateway's cookies from the app: the session
// cookie is a bearer credential the app never needs and should never log.
func hideOwnCookies(h http.Header) {
	values := h["Cookie"]
	own := false
	for _, v := range values {
		if strings.Contains(v, sessionCookieBase) || strings.Contains(v, csrfCookieBase) || strings.Contains(v, ssoCookieBase) ||
			strings.Contains(v, mfaCookieBase) || strings.Contains(v, deviceBase) || strings.Contains(v, passkeyCookieBase) {
			own = true
			break
		}
	}
	if !own {
		return
	}
	var b strings.Builder
	for _, line := range values {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			name, _, _ := strings.Cut(part, "=")
			switch strings.TrimPrefix(name, hostPrefix) {
			case "", sessionCookieBase, csrfCookieBase, ssoCookieBase, mfaCookieBase, deviceBase, passkeyCookieBase:
				continue
			}
			if b.Len() > 0 {
				b.WriteString("; ")
			}
			b.WriteString(part)
		}
	}
	if b.Len() == 0 {
		delete(h, "Cookie")
		return
	}
	h["Cookie"] = []string{b.String()}
}
