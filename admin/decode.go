package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"time"
)

// maxBodyBytes bounds every request body; the largest legitimate one, a
// partner with its hostnames, is a few KiB.
const maxBodyBytes = 64 << 10

// fieldSet says which members a request body may carry. readOnly names
// members that exist on the resource but cannot be written, so the client
// is told so instead of "unknown field".
type fieldSet struct {
	writable []string
	readOnly []string
}

// members is a request body's top-level object: each member's raw value.
type members map[string]json.RawMessage

// readObject decodes the body as one JSON object whose member names are
// all in fs.writable. Names match exactly: unlike encoding/json's struct
// decoding it does not fold case, so "Password" or "ID" cannot slip past
// the allowlist. A repeated name is refused because parsers disagree on
// which copy wins.
func readObject(w http.ResponseWriter, r *http.Request, fs fieldSet) (members, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	// Without UseNumber, Token converts a top-level number to float64 and
	// fails on one out of range with an error that is no syntax error.
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, decodeError(err)
	}
	if tok != json.Delim('{') {
		return nil, badRequest("invalid_json", "", "request body must be a JSON object")
	}
	m := members{}
	var order []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, decodeError(err)
		}
		name, _ := tok.(string) // inside an object the decoder yields only string keys
		if _, dup := m[name]; dup {
			return nil, badRequest("invalid_json", name, fmt.Sprintf("member %q appears more than once", name))
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, decodeError(err)
		}
		m[name] = raw
		order = append(order, name)
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err == nil {
			return nil, badRequest("invalid_json", "", "request body must hold a single JSON object")
		}
		return nil, decodeError(err)
	}
	for _, name := range order {
		switch {
		case slices.Contains(fs.writable, name):
		case slices.Contains(fs.readOnly, name):
			return nil, badRequest("read_only_field", name, fmt.Sprintf("%s is read-only", name))
		default:
			return nil, badRequest("unknown_field", name, fmt.Sprintf("unknown field %q", name))
		}
	}
	return m, nil
}

// checkContentType insists on JSON. Besides saying what we parse, it keeps
// a cross-site HTML form, which cannot send this type without a CORS
// preflight, from ever reaching a state change.
func checkContentType(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/json" && mt != "application/merge-patch+json") {
		return &apiError{
			status:  http.StatusUnsupportedMediaType,
			code:    "unsupported_media_type",
			message: "Content-Type must be application/json",
		}
	}
	return nil
}

// decodeError turns a decoder failure into a client error. Messages give
// an offset at most, never input bytes, which may be part of a password.
func decodeError(err error) error {
	var tooBig *http.MaxBytesError
	var syntax *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		return &apiError{
			status:  http.StatusRequestEntityTooLarge,
			code:    "body_too_large",
			message: fmt.Sprintf("request body exceeds %d bytes", maxBodyBytes),
		}
	case errors.Is(err, io.EOF):
		return badRequest("invalid_json", "", "request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("invalid_json", "", "request body ends before the JSON is complete")
	case errors.As(err, &syntax):
		return badRequest("invalid_json", "", fmt.Sprintf("request body is not valid JSON (at byte %d)", syntax.Offset))
	default:
		return fmt.Errorf("read request body: %w", err)
	}
}

// opt is one decoded member: absent, null, or a value.
type opt[T any] struct {
	set  bool
	null bool
	val  T
}

// value reports the member's value, or false if it was absent or null.
func (o opt[T]) value() (T, bool) {
	return o.val, o.set && !o.null
}

// member decodes m[name] as a T. A JSON null is reported as such, because
// in a merge-style PATCH null means "clear", which differs from absent.
func member[T any](m members, name string) (opt[T], error) {
	raw, ok := m[name]
	if !ok {
		return opt[T]{}, nil
	}
	if bytes.Equal(raw, []byte("null")) {
		return opt[T]{set: true, null: true}, nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return opt[T]{}, badRequest("invalid_type", name, fmt.Sprintf("%s must be %s", name, jsonType(v)))
	}
	return opt[T]{set: true, val: v}, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "true or false"
	case []string:
		return "an array of strings"
	case time.Time:
		return "an RFC 3339 time such as 2026-01-02T15:04:05Z"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
