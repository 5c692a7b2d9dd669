package scim

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

// RequestsKept is how many of a partner's latest SCIM requests the
// request log holds: enough to see a provisioning run's failures, small
// enough that the log stays a ring rather than a history.
const RequestsKept = 200

// maxLoggedChars bounds a logged path and detail, so a huge filter cannot
// blow up a log of RequestsKept records.
const maxLoggedChars = 1024

// logTimeout bounds the bookkeeping after a request, which outlives the
// client: the request was served either way.
const logTimeout = 5 * time.Second

// statusRecorder remembers the status a handler answered with and the
// SCIM error it failed with, so a request can be logged without reading
// bodies.
type statusRecorder struct {
	http.ResponseWriter
	status int
	err    *schema.Error
	// audited is set when the handler recorded an event of its own.
	audited bool
}

func (rw *statusRecorder) WriteHeader(status int) {
	if rw.status == 0 {
		rw.status = status
	}
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *statusRecorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *statusRecorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// answered is the status the client got: a handler that wrote nothing
// answered 200.
func (rw *statusRecorder) answered() int {
	if rw.status == 0 {
		return http.StatusOK
	}
	return rw.status
}

type recorderKey struct{}

// noteError hands the error fail answered with to the request's
// recorder, if it has one: unauthenticated requests have none.
func noteError(r *http.Request, se *schema.Error) {
	if rw, ok := r.Context().Value(recorderKey{}).(*statusRecorder); ok {
		rw.err = se
	}
}

// markAudited tells the request's recorder that the handler wrote the
// request's own audit event.
func markAudited(r *http.Request) {
	if rw, ok := r.Context().Value(recorderKey{}).(*statusRecorder); ok {
		rw.audited = true
	}
}

// serveLogged serves an authenticated request and then logs it: in the
// partner's request log always, and in the audit log once. A write that
// changed something recorded its own event (scim.user.create,
// scim.group.patch…); every other request — reads, failed writes, and
// writes that changed nothing — gets "scim.request", so each request is
// in the trail exactly once.
func (h *Handler) serveLogged(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	at := h.now()
	rw := &statusRecorder{ResponseWriter: w}
	r = r.WithContext(context.WithValue(r.Context(), recorderKey{}, rw))
	h.mux.ServeHTTP(rw, r)

	status := rw.answered()
	rec := store.RequestRecord{
		Time:       at,
		Method:     r.Method,
		Path:       loggedPath(r.URL),
		Status:     status,
		DurationMs: time.Since(start).Milliseconds(),
	}
	if rw.err != nil {
		rec.ScimType, rec.Detail = rw.err.ScimType, truncate(rw.err.Detail)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), logTimeout)
	defer cancel()
	if err := h.store.AppendRequest(ctx, partnerOf(r), rec, RequestsKept); err != nil {
		h.log.Error("scim request not logged", zap.String("partner", partnerOf(r)), zap.Error(err))
	}
	if rw.audited {
		return
	}
	e := audit.Event{
		PartnerID: partnerOf(r),
		Actor:     audit.Actor{Type: audit.ActorSCIMToken, ID: tokenIDOf(r)},
		Action:    "scim.request",
		Outcome:   audit.Success,
	}
	if status >= http.StatusBadRequest {
		e.Outcome, e.Reason = audit.Failure, reason(rec.ScimType, status)
	}
	if _, err := h.audit.Record(ctx, e); err != nil {
		h.log.Error("audit event not recorded", zap.String("partner", partnerOf(r)), zap.Error(err))
	}
}

// loggedPath is the path with, of the query, only the filter: it says
// which resources a client looked for and holds no secret, while other
// parameters are of no use in troubleshooting and are not vetted.
func loggedPath(u *url.URL) string {
	p := u.Path
	if f := u.Query().Get("filter"); f != "" {
		p += "?" + url.Values{"filter": {f}}.Encode()
	}
	return truncate(p)
}

// truncate cuts s to maxLoggedChars bytes, never inside a character.
func truncate(s string) string {
	if len(s) <= maxLoggedChars {
		return s
	}
	return strings.ToValidUTF8(s[:maxLoggedChars], "")
}

// reason is an audit reason code for a failed request: the scimType if
// the error has one, else the status text as a lowercase code, such as
// "not_found".
func reason(scimType string, status int) string {
	if scimType != "" {
		return scimType
	}
	if text := http.StatusText(status); text != "" {
		return strings.ReplaceAll(strings.ToLower(strings.ReplaceAll(text, "-", " ")), " ", "_")
	}
	return "status_" + strconv.Itoa(status)
}
