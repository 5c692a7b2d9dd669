package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	fp "github.com/scim2/filter-parser/v2"
)

// parse parses a filter into the AST of github.com/scim2/filter-parser/v2.
//
// The library's grammar has gaps, and its errors say neither what is wrong
// nor where ("expected op.Or or[func func func func]" at position 1), so
// the filter goes through a checker first, which accepts RFC 7644
// §3.4.2.2's grammar, reports errors with their position, and writes the
// filter out in a form the library parses correctly:
//
//   - The library only takes "a op v", "a op v and|or b op v" and
//     "not (...)" between brackets, where the RFC allows any filter
//     (emails[type eq "work" and (value co "x" or primary eq true)]). Each
//     value filter is parsed on its own as a whole filter and spliced into
//     its value path in place of a placeholder.
//   - The library keeps string escapes undecoded ("a\"b" stays a\"b) and
//     rejects lowercase hex in \u escapes. Strings are written out with
//     only the escapes it accepts, and decoded after parsing.
//   - The library accepts single spaces only, and no leading or trailing
//     ones; the checker writes tokens out separated by single spaces.
func parse(s string) (fp.Expression, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	c := &checker{src: s, toks: toks}
	text, err := c.top()
	if err != nil {
		return nil, err
	}
	inner := make([]fp.Expression, len(c.valueFilters))
	for i, vf := range c.valueFilters {
		if inner[i], err = libParse(vf); err != nil {
			return nil, err
		}
	}
	e, err := libParse(text)
	if err != nil {
		return nil, err
	}
	return e, splice(e, inner)
}

// errLibrary marks a filter the checker accepted but the library rejected:
// a gap in the library that the checker does not yet cover.
var errLibrary = errors.New("filter parser rejected a checked filter")

func libParse(text string) (fp.Expression, error) {
	// ParseFilterNumber keeps numbers as json.Number, so that integers and
	// decimals compare exactly.
	e, err := fp.ParseFilterNumber([]byte(text))
	if err != nil {
		return nil, invalid("%w: %q: %v", errLibrary, text, err)
	}
	return e, nil
}

// valueFilterPrefix names the placeholder attribute the checker writes in
// place of the n-th value filter. Any name would do: every value filter is
// replaced, so no value path keeps one a client wrote.
const valueFilterPrefix = "valueFilter"

// splice puts the value filters back into their value paths and decodes the
// string literals.
func splice(e fp.Expression, inner []fp.Expression) error {
	switch e := e.(type) {
	case *fp.LogicalExpression:
		if err := splice(e.Left, inner); err != nil {
			return err
		}
		return splice(e.Right, inner)
	case *fp.NotExpression:
		return splice(e.Expression, inner)
	case *fp.ValuePath:
		placeholder, ok := e.ValueFilter.(*fp.AttributeExpression)
		if !ok {
			return invalid("%w: lost value filter %v", errLibrary, e.ValueFilter)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(placeholder.AttributePath.AttributeName, valueFilterPrefix))
		if err != nil || n < 0 || n >= len(inner) {
			return invalid("%w: lost value filter %v", errLibrary, placeholder)
		}
		e.ValueFilter = inner[n]
		return splice(e.ValueFilter, nil)
	case *fp.AttributeExpression:
		if s, ok := e.CompareValue.(string); ok {
			// The checker wrote it as valid JSON string content.
			var v string
			if err := json.Unmarshal([]byte(`"`+s+`"`), &v); err != nil {
				return invalid("%w: string %q: %v", errLibrary, s, err)
			}
			e.CompareValue = v
		}
	}
	return nil
}

// checker is a recursive-descent recogniser for RFC 7644's filter grammar
// with errata 4690:
//
//	filter    = and *(SP "or" SP and)
//	and       = unary *(SP "and" SP unary)
//	unary     = "not" "(" filter ")" / "(" filter ")" / attrPath SP "pr" /
//	            attrPath SP compareOp SP compValue / attrPath "[" filter "]"
//
// Keywords compare case-insensitively. It writes the filter out for the
// library as it goes (see parse).
type checker struct {
	src          string
	toks         []token
	i            int
	out          *strings.Builder
	inBrackets   bool
	valueFilters []string
}

func (c *checker) peek() token { return c.toks[c.i] }

func (c *checker) next() token {
	t := c.toks[c.i]
	if t.kind != tEOF {
		c.i++
	}
	return t
}

func (c *checker) emit(s string) {
	if c.out.Len() > 0 {
		c.out.WriteByte(' ')
	}
	c.out.WriteString(s)
}

func (c *checker) errorf(t token, format string, args ...any) error {
	return syntaxError(c.src, t.pos, format, args...)
}

// top checks the whole filter and returns its text for the library.
func (c *checker) top() (string, error) {
	if c.peek().kind == tEOF {
		return "", invalid("the filter is empty")
	}
	c.out = new(strings.Builder)
	if err := c.filter(); err != nil {
		return "", err
	}
	if t := c.peek(); t.kind != tEOF {
		return "", c.errorf(t, "expected \"and\", \"or\" or the end of the filter, found %s", describe(t))
	}
	return c.out.String(), nil
}

func (c *checker) filter() error {
	if err := c.and(); err != nil {
		return err
	}
	for c.keyword("or") {
		c.emit("or")
		if err := c.and(); err != nil {
			return err
		}
	}
	return nil
}

func (c *checker) and() error {
	if err := c.unary(); err != nil {
		return err
	}
	for c.keyword("and") {
		c.emit("and")
		if err := c.unary(); err != nil {
			return err
		}
	}
	return nil
}

// keyword consumes the next token if it is the word kw.
func (c *checker) keyword(kw string) bool {
	if t := c.peek(); t.kind == tWord && strings.EqualFold(t.text, kw) {
		c.next()
		return true
	}
	return false
}

func (c *checker) unary() error {
	t := c.peek()
	switch {
	case t.kind == tLParen:
		return c.parenthesised()
	case t.kind == tWord && strings.EqualFold(t.text, "not") && c.toks[c.i+1].kind == tLParen:
		c.next()
		c.emit("not")
		return c.parenthesised()
	case t.kind == tWord && strings.EqualFold(t.text, "not") && c.toks[c.i+1].kind == tWord &&
		!isOperator(c.toks[c.i+1].text) && !strings.EqualFold(c.toks[c.i+1].text, "pr"):
		// "not" followed by an attribute: not an attribute called "not".
		return c.errorf(t, "\"not\" must be followed by a filter in parentheses: not (...)")
	case t.kind != tWord:
		return c.errorf(t, "expected an attribute, \"not\" or \"(\", found %s", describe(t))
	}
	c.next()
	if !attrPathRE.MatchString(t.text) {
		return c.errorf(t, "%q is not an attribute path such as userName, name.givenName or urn:...:User:manager.value", t.text)
	}
	c.emit(t.text)
	if c.peek().kind == tLBracket {
		return c.valueFilter(t)
	}
	op := c.next()
	if op.kind == tWord && strings.EqualFold(op.text, "pr") {
		c.emit("pr")
		return nil
	}
	if op.kind != tWord || !isOperator(op.text) {
		return c.errorf(op, "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after %q, found %s", t.text, describe(op))
	}
	c.emit(strings.ToLower(op.text))
	return c.value(op)
}

func (c *checker) parenthesised() error {
	open := c.next()
	c.emit("(")
	if err := c.filter(); err != nil {
		return err
	}
	if t := c.next(); t.kind != tRParen {
		return c.errorf(t, "expected \")\" to close the \"(\" at position %d, found %s", column(c.src, open.pos), describe(t))
	}
	c.emit(")")
	return nil
}

// valueFilter checks attr[filter], writing a placeholder for the filter.
func (c *checker) valueFilter(attr token) error {
	open := c.next()
	if c.inBrackets {
		return c.errorf(open, "value filters cannot be nested")
	}
	outer := c.out
	c.out, c.inBrackets = new(strings.Builder), true
	if c.peek().kind == tRBracket {
		return c.errorf(c.peek(), "empty value filter after %q", attr.text)
	}
	err := c.filter()
	text := c.out.String()
	c.out, c.inBrackets = outer, false
	if err != nil {
		return err
	}
	if t := c.next(); t.kind != tRBracket {
		return c.errorf(t, "expected \"]\" to close the \"[\" at position %d, found %s", column(c.src, open.pos), describe(t))
	}
	if t := c.peek(); t.kind == tWord && strings.HasPrefix(t.text, ".") {
		return c.errorf(t, "a sub-attribute cannot follow a value filter in a filter, only in a PATCH path; write %s[...] and name the sub-attribute inside", attr.text)
	}
	c.out.WriteString(fmt.Sprintf("[%s%d pr]", valueFilterPrefix, len(c.valueFilters)))
	c.valueFilters = append(c.valueFilters, text)
	return nil
}

func (c *checker) value(op token) error {
	t := c.next()
	switch {
	case t.kind == tString:
		c.emit(libString(t.text))
	case t.kind == tWord && numberRE.MatchString(t.text):
		c.emit(t.text)
	case t.kind == tWord && (strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false") || strings.EqualFold(t.text, "null")):
		c.emit(strings.ToLower(t.text))
	default:
		return c.errorf(t, "expected a value (a string in double quotes, a number, true, false or null) after %q, found %s", strings.ToLower(op.text), describe(t))
	}
	return nil
}

var (
	// attrPathRE is RFC 7644's attrPath as the library reads it: URN
	// segments of letters, digits, "-" and "."; names that may start with
	// "$" ($ref).
	attrPathRE = regexp.MustCompile(`^(?:[A-Za-z0-9.-]+:)*\$?[A-Za-z][A-Za-z0-9_-]*(?:\.\$?[A-Za-z][A-Za-z0-9_-]*)?$`)
	// numberRE is a JSON number (RFC 8259 §6).
	numberRE = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)
)

var operators = []string{"eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"}

func isOperator(w string) bool {
	for _, op := range operators {
		if strings.EqualFold(w, op) {
			return true
		}
	}
	return false
}

// libString writes s as a string literal the library accepts: only '"',
// '\' and control characters escaped, with uppercase hex.
func libString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "the end of the filter"
	case tString:
		return "string " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}
