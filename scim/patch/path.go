package patch

import (
	"strings"

	"github.com/partnergate/partnergate/scim/schema"
)

// Path is a PATCH operation's target, the PATH rule of RFC 7644 §3.5.2:
//
//	PATH = attrPath / valuePath [subAttr]
//
// that is an attribute, optionally qualified by its schema URN, then
// either a sub-attribute or a value filter in brackets, and after the
// filter optionally a sub-attribute:
//
//	name.givenName
//	urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value
//	emails[type eq "work"].value
//
// ParsePath checks only the syntax; which attribute a path names is
// settled against a schema when the operation is applied.
type Path struct {
	// URN is the schema URN the attribute is qualified with, as written;
	// "" when the path has none.
	URN string
	// Attr is the attribute's name, as written.
	Attr string
	// Filter is the value filter between the brackets, as written; ""
	// when the path has none.
	Filter string
	// Sub is the sub-attribute's name, as written; "" when the path has
	// none.
	Sub string
}

// String returns the path in the syntax ParsePath reads.
func (p Path) String() string {
	var b strings.Builder
	if p.URN != "" {
		b.WriteString(p.URN)
		b.WriteByte(':')
	}
	b.WriteString(p.Attr)
	if p.Filter != "" {
		b.WriteByte('[')
		b.WriteString(p.Filter)
		b.WriteByte(']')
	}
	if p.Sub != "" {
		b.WriteByte('.')
		b.WriteString(p.Sub)
	}
	return b.String()
}

// ParsePath parses a PATCH path. A malformed path is an invalidPath
// error.
func ParsePath(s string) (Path, error) {
	head, rest := s, ""
	if i := strings.IndexByte(s, '['); i >= 0 {
		head, rest = s[:i], s[i:]
	}
	var p Path
	// Only a URN may contain a colon, and the attribute follows its
	// last one; its version ("2.0") holds a dot, so the URN must come
	// off before the dot that introduces a sub-attribute.
	if len(head) >= 4 && strings.EqualFold(head[:4], "urn:") {
		i := strings.LastIndexByte(head, ':')
		p.URN, head = head[:i], head[i+1:]
		if !validURN(p.URN) {
			return Path{}, schema.ErrInvalidPath.Errorf("path %q has a malformed schema URN", s)
		}
	}
	name, sub, dotted := strings.Cut(head, ".")
	if !validName(name) {
		return Path{}, schema.ErrInvalidPath.Errorf("path %q does not start with an attribute name", s)
	}
	p.Attr = name
	if dotted {
		if !validName(sub) {
			return Path{}, schema.ErrInvalidPath.Errorf("path %q has a malformed sub-attribute name", s)
		}
		p.Sub = sub
	}
	if rest == "" {
		return p, nil
	}
	if dotted {
		return Path{}, schema.ErrInvalidPath.Errorf("path %q filters a sub-attribute; a value filter must follow the multi-valued attribute", s)
	}
	end := closingBracket(rest)
	if end < 0 {
		return Path{}, schema.ErrInvalidPath.Errorf("path %q has an unterminated or nested value filter", s)
	}
	p.Filter = rest[1:end]
	if strings.TrimSpace(p.Filter) == "" {
		return Path{}, schema.ErrInvalidPath.Errorf("path %q has an empty value filter", s)
	}
	if after := rest[end+1:]; after != "" {
		if after[0] != '.' || !validName(after[1:]) {
			return Path{}, schema.ErrInvalidPath.Errorf("path %q has text after its value filter that is not a sub-attribute", s)
		}
		p.Sub = after[1:]
	}
	return p, nil
}

// closingBracket returns the index in s, which starts with '[', of the
// ']' that closes it, skipping brackets inside quoted strings, or -1 if
// there is none or another '[' comes first: RFC 7644's valFilter cannot
// nest value paths.
func closingBracket(s string) int {
	inString := false
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case inString && c == '\\':
			i++ // the escaped character cannot end the string
		case c == '"':
			inString = !inString
		case inString:
		case c == '[':
			return -1
		case c == ']':
			return i
		}
	}
	return -1
}

// validName reports whether s is an ATTRNAME of RFC 7643 §2.1 (ALPHA
// *(nameChar)), or "$ref", the one name RFC 7643 itself defines outside
// that grammar.
func validName(s string) bool {
	if strings.EqualFold(s, "$ref") {
		return true
	}
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !isAlpha(c) && !isDigit(c) && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// validURN reports whether s looks like urn:NID:NSS with no empty part
// and nothing that could not appear in one (RFC 8141). Whether it names
// a known schema is for the schema to say.
func validURN(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) < 3 {
		return false
	}
	for _, part := range parts {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if !isAlpha(c) && !isDigit(c) && !strings.ContainsRune("-._~%!$&'()*+,;=@/", rune(c)) {
				return false
			}
		}
	}
	return true
}

func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
