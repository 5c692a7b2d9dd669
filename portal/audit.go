package portal

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/partnergate/partnergate/audit"
)

func (h *Handler) auditRoutes() {
	h.mux.Handle("GET /audit", h.page(h.auditLog, partnerAdminViewer))
	h.mux.Handle("GET /audit/export", h.page(h.exportAudit, partnerAdminViewer))
}

// auditLogPage is the partner's audit trail, filtered, a page at a time,
// with the state of its hash chain.
type auditLogPage struct {
	frame
	Filter   auditFilter
	Filtered bool
	Events   []audit.Event
	Next     string
	First    string
	Export   string
	Verify   audit.Verification
}

// auditFilter is the filter form as sent: since and until as the
// browser's datetime-local inputs give them, read as UTC.
type auditFilter struct {
	Actor, Action, Target, Since, Until string
}

func auditFilterOf(r *http.Request) auditFilter {
	q := r.URL.Query()
	return auditFilter{
		Actor:  strings.TrimSpace(q.Get("actor")),
		Action: strings.TrimSpace(q.Get("action")),
		Target: strings.TrimSpace(q.Get("target")),
		Since:  strings.TrimSpace(q.Get("since")),
		Until:  strings.TrimSpace(q.Get("until")),
	}
}

// form is the filter as the portal's own links carry it.
func (f auditFilter) form() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"actor": f.Actor, "action": f.Action, "target": f.Target, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// apiQuery is the filter as the API reads it, with RFC 3339 times; a
// time the portal cannot read is refused like the API refuses one.
func (f auditFilter) apiQuery() (url.Values, error) {
	q := f.form()
	var bad []problem
	for _, name := range []string{"since", "until"} {
		s := q.Get(name)
		if s == "" {
			continue
		}
		t, err := parseLocalTime(s)
		if err != nil {
			bad = append(bad, problem{Field: name, Message: "Enter a date and time such as 2026-01-02 15:04."})
			continue
		}
		q.Set(name, t.Format(time.RFC3339))
	}
	if bad != nil {
		return nil, &apiError{Status: http.StatusBadRequest, Code: "invalid_query", Message: "The time filter could not be read.", Details: bad}
	}
	return q, nil
}

// parseLocalTime reads a datetime-local value (with or without seconds)
// as UTC, and accepts RFC 3339 as typed by hand or copied from an event.
func parseLocalTime(s string) (time.Time, error) {
	var err error
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano} {
		var t time.Time
		if t, err = time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, err
}

// auditPageSize is how many events one page of the log shows.
const auditPageSize = "50"

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, v *viewer) error {
	f := auditFilterOf(r)
	page := auditLogPage{frame: h.frame(r, v, "Audit log", "audit"), Filter: f}
	page.Filtered = len(f.form()) > 0
	if err := v.api.do("GET", apiPath("partners", v.partnerID, "audit", "verify"), nil, &page.Verify); err != nil {
		return err
	}
	status := http.StatusOK
	q, err := f.apiQuery()
	if err == nil {
		page.Export = v.link("/audit/export")
		if page.Filtered {
			page.Export += "?" + f.form().Encode()
		}
		cursor := r.URL.Query().Get("cursor")
		if cursor != "" {
			q.Set("cursor", cursor)
			page.First = v.link("/audit?" + f.form().Encode())
		}
		q.Set("limit", auditPageSize)
		var events auditPage
		err = v.api.do("GET", apiPath("partners", v.partnerID, "audit")+"?"+q.Encode(), nil, &events)
		page.Events = events.Events
		if events.NextCursor != nil {
			next := f.form()
			next.Set("cursor", *events.NextCursor)
			page.Next = v.link("/audit?" + next.Encode())
		}
	}
	if ae := asRefusal(err); ae != nil {
		page.Problem, status = ae, ae.Status
	} else if err != nil {
		return err
	}
	return h.render(w, status, "audit", page)
}

// exportAudit passes the API's JSON-lines export through as it is, so
// the file downloaded is exactly what the API answers.
func (h *Handler) exportAudit(w http.ResponseWriter, r *http.Request, v *viewer) error {
	q, err := auditFilterOf(r).apiQuery()
	if err != nil {
		return err
	}
	path := apiPath("partners", v.partnerID, "audit", "export")
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return v.api.stream("GET", path, w, "Content-Type", "Content-Disposition")
}
