package filter

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

type tokenKind int

const (
	tWord   tokenKind = iota // attribute path, keyword, operator, number or literal name
	tString                  // JSON string literal
	tLParen
	tRParen
	tLBracket
	tRBracket
	tEOF
)

// token is a lexeme of a filter. pos is its byte offset in the filter.
type token struct {
	kind tokenKind
	text string // the lexeme as written; for tString, the decoded value
	pos  int
}

// lex splits a filter into tokens. Words run over the characters of
// attribute paths (URNs included), operators and numbers, and are classified
// by the parser, because RFC 7644 keywords are only keywords in position
// ("not" can be an attribute name).
func lex(s string) ([]token, error) {
	if !utf8.ValidString(s) {
		return nil, syntaxError(s, 0, "the filter is not valid UTF-8")
	}
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			// RFC 7644 separates with single spaces; tabs and runs of
			// spaces cost nothing to accept.
			i++
		case c == '(' || c == ')' || c == '[' || c == ']':
			toks = append(toks, token{kind: punct[c], text: string(c), pos: i})
			i++
		case c == '"':
			end, err := stringEnd(s, i)
			if err != nil {
				return nil, err
			}
			var v string
			if err := json.Unmarshal([]byte(s[i:end]), &v); err != nil {
				return nil, syntaxError(s, i, "invalid string %s: %v", s[i:end], err)
			}
			toks = append(toks, token{kind: tString, text: v, pos: i})
			i = end
		case isWordByte(c):
			j := i
			for j < len(s) && isWordByte(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tWord, text: s[i:j], pos: i})
			i = j
		default:
			r, _ := utf8.DecodeRuneInString(s[i:])
			return nil, syntaxError(s, i, "unexpected character %q", r)
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

var punct = map[byte]tokenKind{'(': tLParen, ')': tRParen, '[': tLBracket, ']': tRBracket}

// isWordByte reports whether c can be part of an attribute path ("$ref",
// "urn:...:2.0:User:name.givenName"), an operator or a JSON number.
func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("$_-.:+", c) >= 0
}

// stringEnd returns the offset just past the string literal starting at
// s[start], which is a double quote.
func stringEnd(s string, start int) (int, error) {
	for i := start + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++ // skip the escaped character; json.Unmarshal validates it
		case '"':
			return i + 1, nil
		}
	}
	return 0, syntaxError(s, start, "unterminated string")
}

// syntaxError returns an invalidFilter error locating a problem at byte
// offset pos of filter, reported as a 1-based character position.
func syntaxError(filter string, pos int, format string, args ...any) error {
	return invalid("syntax error at position %d: %s", column(filter, pos), fmt.Sprintf(format, args...))
}

// column converts byte offset pos of s to a 1-based character position.
func column(s string, pos int) int { return utf8.RuneCountInString(s[:pos]) + 1 }
