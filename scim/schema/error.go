package schema

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
)

// ErrorURN is the schema of a SCIM error response (RFC 7644 §3.12).
const ErrorURN = "urn:ietf:params:scim:api:messages:2.0:Error"

// Error is a SCIM error: the HTTP status, the scimType keyword of RFC 7644
// §3.12 (empty when none applies) and a human-readable detail. It marshals
// to the SCIM error response body.
//
// The Err* values below are its kinds: match them with errors.Is, which
// compares scimType only, and create errors of a kind with their Errorf.
type Error struct {
	Status   int
	ScimType string
	Detail   string
	// err is what Errorf formatted, kept so that errors.Is and errors.As
	// see through to anything it wrapped with %w.
	err error
}

// The kinds of SCIM error, one per scimType of RFC 7644 §3.12 Table 9.
var (
	ErrInvalidFilter  = &Error{Status: http.StatusBadRequest, ScimType: "invalidFilter", Detail: "the filter syntax is invalid or names an unknown attribute"}
	ErrTooMany        = &Error{Status: http.StatusBadRequest, ScimType: "tooMany", Detail: "too many results"}
	ErrUniqueness     = &Error{Status: http.StatusConflict, ScimType: "uniqueness", Detail: "a unique attribute value is already in use"}
	ErrMutability     = &Error{Status: http.StatusBadRequest, ScimType: "mutability", Detail: "the attribute cannot be modified"}
	ErrInvalidSyntax  = &Error{Status: http.StatusBadRequest, ScimType: "invalidSyntax", Detail: "the request body is not valid SCIM"}
	ErrInvalidPath    = &Error{Status: http.StatusBadRequest, ScimType: "invalidPath", Detail: "the path attribute is invalid"}
	ErrNoTarget       = &Error{Status: http.StatusBadRequest, ScimType: "noTarget", Detail: "the path did not yield an attribute that can be operated on"}
	ErrInvalidValue   = &Error{Status: http.StatusBadRequest, ScimType: "invalidValue", Detail: "a value is missing or of the wrong type"}
	ErrInvalidVersion = &Error{Status: http.StatusBadRequest, ScimType: "invalidVers", Detail: "the SCIM protocol version is not supported"}
	ErrSensitive      = &Error{Status: http.StatusForbidden, ScimType: "sensitive", Detail: "the request cannot be completed because of sensitive information in the URI"}
)

// Errorf returns a new error of e's kind whose detail is the formatted
// message. %w verbs wrap as in fmt.Errorf.
func (e *Error) Errorf(format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Status: e.Status, ScimType: e.ScimType, Detail: err.Error(), err: err}
}

func (e *Error) Error() string {
	if e.ScimType == "" {
		return fmt.Sprintf("scim %d: %s", e.Status, e.Detail)
	}
	return fmt.Sprintf("scim %s: %s", e.ScimType, e.Detail)
}

// Unwrap returns the formatted error, through which errors.Is and
// errors.As reach whatever Errorf wrapped with %w.
func (e *Error) Unwrap() error { return e.err }

// Is reports whether target is an *Error of the same kind, so that
// errors.Is(err, schema.ErrInvalidFilter) matches any invalidFilter error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.ScimType == e.ScimType && t.Status == e.Status
}

// MarshalJSON renders the error response body of RFC 7644 §3.12, whose
// status is a string.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Schemas  []string `json:"schemas"`
		ScimType string   `json:"scimType,omitempty"`
		Detail   string   `json:"detail,omitempty"`
		Status   string   `json:"status"`
	}{[]string{ErrorURN}, e.ScimType, e.Detail, strconv.Itoa(e.Status)})
}
