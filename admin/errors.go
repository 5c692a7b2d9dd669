package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/partnergate/partnergate/store"
)

// apiError is the one error type handlers return to shape a response.
// message is shown to the client; cause is for the log only.
type apiError struct {
	status  int
	code    string
	message string
	field   string
	details []problem
	cause   error
	// retryAfter, when set, is sent as Retry-After (a 429's window).
	retryAfter time.Duration
}

func (e *apiError) Error() string {
	if e.cause != nil {
		return e.code + ": " + e.message + ": " + e.cause.Error()
	}
	return e.code + ": " + e.message
}

func (e *apiError) Unwrap() error { return e.cause }

// problem is one invalid field, named by its path (hostnames[2]).
type problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Asked and Limit, for a value past a limit, are the value asked for
	// and the limit, as JSON text.
	Asked string `json:"asked,omitempty"`
	Limit string `json:"limit,omitempty"`
}

var (
	errUnauthorized       = &apiError{status: http.StatusUnauthorized, code: "unauthorized", message: "an operator key or partner admin token is required as a Bearer token, or a partner admin's session"}
	errRouteNotFound      = &apiError{status: http.StatusNotFound, code: "not_found", message: "no such resource"}
	errMethodNotAllowed   = &apiError{status: http.StatusMethodNotAllowed, code: "method_not_allowed", message: "method not allowed on this resource"}
	errPartnerNotFound    = &apiError{status: http.StatusNotFound, code: "not_found", message: "partner not found"}
	errUserNotFound       = &apiError{status: http.StatusNotFound, code: "not_found", message: "user not found"}
	errSessionNotFound    = &apiError{status: http.StatusNotFound, code: "not_found", message: "session not found"}
	errAdminTokenNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "admin token not found"}
	errSCIMTokenNotFound  = &apiError{status: http.StatusNotFound, code: "not_found", message: "SCIM token not found"}
	errGroupNotFound      = &apiError{status: http.StatusNotFound, code: "not_found", message: "group not found"}
	errMappingNotFound    = &apiError{status: http.StatusNotFound, code: "not_found", message: "role mapping not found"}
	errDomainNotFound     = &apiError{status: http.StatusNotFound, code: "not_found", message: "domain not found"}
)

func badRequest(code, field, message string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, field: field, message: message}
}

func conflict(field, message string, cause error) *apiError {
	return &apiError{status: http.StatusConflict, code: "conflict", field: field, message: message, cause: cause}
}

// revocationFailed reports sessions that could not be ended. It says what
// was left done, since the store has no transaction spanning both steps;
// repeating the request is safe and finishes the job.
func revocationFailed(message string, cause error) *apiError {
	status := http.StatusInternalServerError
	if errors.Is(cause, store.ErrUnavailable) {
		status = http.StatusServiceUnavailable
	}
	return &apiError{status: status, code: "revocation_failed", message: message, cause: cause}
}

// fail writes err as the JSON error envelope. Anything but an apiError is
// an internal failure whose detail stays in the log.
func fail(w http.ResponseWriter, err error) {
	if rw, ok := w.(*recorder); ok {
		rw.err = err
	}
	var ae *apiError
	switch {
	case errors.As(err, &ae):
	case errors.Is(err, store.ErrUnavailable):
		ae = &apiError{status: http.StatusServiceUnavailable, code: "unavailable", message: "storage is unavailable; retry shortly"}
	default:
		ae = &apiError{status: http.StatusInternalServerError, code: "internal_error", message: "internal error"}
	}
	switch {
	case ae.retryAfter > 0:
		w.Header().Set("Retry-After", strconv.Itoa(int(ae.retryAfter/time.Second)))
	case ae.status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(retryAfterSeconds))
	}
	type body struct {
		Code    string    `json:"code"`
		Message string    `json:"message"`
		Field   string    `json:"field,omitempty"`
		Details []problem `json:"details,omitempty"`
	}
	// The envelope holds only strings, so marshalling it cannot fail.
	_ = writeJSON(w, ae.status, struct {
		Error body `json:"error"`
	}{body{ae.code, ae.message, ae.field, ae.details}})
}

const retryAfterSeconds = 5

// writeJSON is the only way a body leaves the handler. It marshals before
// writing anything, so on failure the caller can still send a clean 500.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	// A failed write means the client went away; nothing is left to tell it.
	_, _ = w.Write(append(b, '\n'))
	return nil
}
