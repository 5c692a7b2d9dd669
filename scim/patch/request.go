package patch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/partnergate/partnergate/scim/schema"
)

// URN is the schema of a PATCH request body (RFC 7644 §3.5.2).
const URN = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

// Op is a PATCH operation.
type Op string

// The operations of RFC 7644 §3.5.2.
const (
	Add     Op = "add"
	Remove  Op = "remove"
	Replace Op = "replace"
)

// Operation is one decoded member of a request's Operations.
type Operation struct {
	Op Op
	// Path is the target, nil when the operation names none: then the
	// target is the resource itself (add and replace only).
	Path *Path
	// Value is the JSON value as decoded with UseNumber: nil, bool,
	// json.Number, string, []any or map[string]any. Parse guarantees
	// that add and replace carried a value member, so nil there means
	// JSON null, which RFC 7643 §2.5 equates with unassigned. Remove
	// normally has none; Entra sends one to name the members to remove.
	Value any
}

// Request is a decoded, syntactically valid PATCH request. Whether its
// operations fit the resource is decided by Apply.
type Request struct {
	Operations []Operation
}

// Parse decodes a PATCH request body. Member names match
// case-insensitively, as RFC 7643 §2.1 says of attribute names and as
// Entra's guidance asks of "structural elements"; op values are
// case-insensitive because Entra sends "Add", "Replace" and "Remove".
// Anything else is strict: unknown members, a missing or foreign schema,
// an empty Operations array and trailing data are refused with
// invalidSyntax, a malformed path with invalidPath, remove without a
// path with noTarget, and add or replace without a value with
// invalidValue. What a path names, its value filter included, is checked
// by Apply against the resource type. The caller bounds the size of r.
func Parse(r io.Reader) (Request, error) {
	dec := json.NewDecoder(r)
	// Numbers stay json.Number so that a large integer survives intact
	// and the schema, not float64, decides what a number may be.
	dec.UseNumber()
	body, err := decodeValue(dec, 0)
	if err != nil {
		return Request{}, syntaxError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return Request{}, syntaxError(err)
		}
		return Request{}, schema.ErrInvalidSyntax.Errorf("the request body holds more than one JSON value")
	}
	top, err := members(body, "request body", "schemas", "Operations")
	if err != nil {
		return Request{}, err
	}
	if err := checkSchemas(top["schemas"]); err != nil {
		return Request{}, err
	}
	raw, ok := top["Operations"]
	if !ok {
		return Request{}, schema.ErrInvalidSyntax.Errorf("the request has no Operations")
	}
	list, ok := raw.([]any)
	if !ok || len(list) == 0 {
		// RFC 7644 §3.5.2: "an array of one or more PATCH operations".
		return Request{}, schema.ErrInvalidSyntax.Errorf("Operations must be an array of one or more operations")
	}
	req := Request{Operations: make([]Operation, 0, len(list))}
	for i, v := range list {
		op, err := parseOperation(v)
		if err != nil {
			return Request{}, atOperation(i, err)
		}
		req.Operations = append(req.Operations, op)
	}
	return req, nil
}

// maxDepth bounds how deeply a request's JSON may nest. The deepest
// legitimate value, an extension's complex attribute in a path-less
// operation, sits at depth 6; the bound keeps a hostile body from
// recursing without end.
const maxDepth = 32

// decodeValue decodes the next JSON value as encoding/json would into an
// any, but refuses an object that has a member twice, which
// encoding/json would silently resolve to the last: parsers disagree on
// which copy wins, so none is guessed.
func decodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxDepth {
		return nil, schema.ErrInvalidSyntax.Errorf("the request body nests more than %d levels deep", maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		if depth > 0 && errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		for dec.More() {
			key, err := dec.Token()
			if err != nil {
				return nil, err
			}
			name, _ := key.(string) // inside an object the decoder yields only string keys
			if _, dup := obj[name]; dup {
				return nil, schema.ErrInvalidSyntax.Errorf("member %q appears more than once in an object", name)
			}
			if obj[name], err = decodeValue(dec, depth+1); err != nil {
				return nil, err
			}
		}
		return obj, closing(dec)
	case json.Delim('['):
		arr := []any{}
		for dec.More() {
			v, err := decodeValue(dec, depth+1)
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		return arr, closing(dec)
	}
	return tok, nil // a string, json.Number, bool or nil
}

// closing consumes the brace or bracket that ends an object or array.
func closing(dec *json.Decoder) error {
	if _, err := dec.Token(); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// syntaxError reports a decoding failure. It gives an offset at most,
// never input bytes, which may be part of a password.
func syntaxError(err error) error {
	var syntax *json.SyntaxError
	var se *schema.Error
	switch {
	case errors.As(err, &se):
		return err
	case errors.Is(err, io.EOF):
		return schema.ErrInvalidSyntax.Errorf("the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return schema.ErrInvalidSyntax.Errorf("the request body ends before the JSON is complete")
	case errors.As(err, &syntax):
		return schema.ErrInvalidSyntax.Errorf("the request body is not valid JSON (at byte %d)", syntax.Offset)
	default:
		return fmt.Errorf("read PATCH request body: %w", err)
	}
}

// members returns obj's members keyed by the canonical name among names
// that each matches case-insensitively. A member matching none of them,
// or two members matching the same name ("op" and "Op"), is
// invalidSyntax.
func members(v any, what string, names ...string) (map[string]any, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, schema.ErrInvalidSyntax.Errorf("the %s must be a JSON object", what)
	}
	out := make(map[string]any, len(obj))
	for k, val := range obj {
		name := ""
		for _, n := range names {
			if strings.EqualFold(k, n) {
				name = n
				break
			}
		}
		if name == "" {
			return nil, schema.ErrInvalidSyntax.Errorf("the %s has an unknown member %q", what, k)
		}
		if _, dup := out[name]; dup {
			return nil, schema.ErrInvalidSyntax.Errorf("the %s has member %q more than once", what, name)
		}
		out[name] = val
	}
	return out, nil
}

// checkSchemas insists on the PatchOp schema and nothing else, since a
// request that claims another message schema is not a PATCH request.
func checkSchemas(v any) error {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return schema.ErrInvalidSyntax.Errorf("schemas must be an array holding %q", URN)
	}
	for _, s := range list {
		str, ok := s.(string)
		if !ok || !strings.EqualFold(str, URN) {
			return schema.ErrInvalidSyntax.Errorf("schemas must hold only %q", URN)
		}
	}
	return nil
}

func parseOperation(v any) (Operation, error) {
	m, err := members(v, "operation", "op", "path", "value")
	if err != nil {
		return Operation{}, err
	}
	name, ok := m["op"].(string)
	if !ok {
		return Operation{}, schema.ErrInvalidSyntax.Errorf("op must be one of add, remove or replace")
	}
	var op Operation
	switch {
	case strings.EqualFold(name, string(Add)):
		op.Op = Add
	case strings.EqualFold(name, string(Remove)):
		op.Op = Remove
	case strings.EqualFold(name, string(Replace)):
		op.Op = Replace
	default:
		return Operation{}, schema.ErrInvalidSyntax.Errorf("op %q is not add, remove or replace", name)
	}
	// A null path is unassigned (RFC 7643 §2.5), the same as none.
	if raw := m["path"]; raw != nil {
		s, ok := raw.(string)
		if !ok {
			return Operation{}, schema.ErrInvalidPath.Errorf("path must be a string")
		}
		p, err := ParsePath(s)
		if err != nil {
			return Operation{}, err
		}
		op.Path = &p
	}
	value, hasValue := m["value"]
	op.Value = value
	switch {
	case op.Op == Remove && op.Path == nil:
		return Operation{}, schema.ErrNoTarget.Errorf("remove needs a path")
	case op.Op != Remove && !hasValue:
		return Operation{}, schema.ErrInvalidValue.Errorf("%s needs a value", op.Op)
	case op.Op != Remove && op.Path == nil:
		// RFC 7644 §3.5.2.1 and §3.5.2.3: without a path the value is
		// the set of attributes to add or replace.
		if _, ok := value.(map[string]any); !ok {
			return Operation{}, schema.ErrInvalidValue.Errorf("%s without a path needs an object of attributes as its value", op.Op)
		}
	}
	return op, nil
}

// atOperation prefixes err's detail with the operation's position, so
// that a client that sent many operations learns which one failed.
func atOperation(i int, err error) error {
	var se *schema.Error
	if !errors.As(err, &se) {
		return fmt.Errorf("operation %d: %w", i+1, err)
	}
	kind := &schema.Error{Status: se.Status, ScimType: se.ScimType}
	return kind.Errorf("operation %d: %w", i+1, detailOf{se})
}

// detailOf shows a SCIM error as its detail alone, so that wrapping it
// in another detail does not repeat the scimType.
type detailOf struct{ err *schema.Error }

func (d detailOf) Error() string { return d.err.Detail }
func (d detailOf) Unwrap() error { return d.err }
