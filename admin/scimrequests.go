package admin

import (
	"net/http"
	"time"
)

// scimRequestJSON is one SCIM request of the partner's request log. Empty
// scim_type and detail are sent as "" rather than left out, so every
// record has the same shape.
type scimRequestJSON struct {
	Time       time.Time `json:"time"`
	Method     string    `json:"method"`
	Path       string    `json:"path"`
	Status     int       `json:"status"`
	ScimType   string    `json:"scim_type"`
	Detail     string    `json:"detail"`
	DurationMs int64     `json:"duration_ms"`
}

// listSCIMRequests shows the partner's latest SCIM requests, newest
// first, for troubleshooting a provisioning client. The log is a short
// ring, so there is a limit but no cursor.
func (h *Handler) listSCIMRequests(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	limit, err := readLimit(r)
	if err != nil {
		return err
	}
	recs, err := h.store.ListRequests(r.Context(), p.ID, limit)
	if err != nil {
		return err
	}
	out := listJSON[scimRequestJSON]{Data: make([]scimRequestJSON, 0, len(recs))}
	for _, rec := range recs {
		out.Data = append(out.Data, scimRequestJSON{
			Time: rec.Time, Method: rec.Method, Path: rec.Path, Status: rec.Status,
			ScimType: rec.ScimType, Detail: rec.Detail, DurationMs: rec.DurationMs,
		})
	}
	return writeJSON(w, http.StatusOK, out)
}

// readLimit reads a listing's only parameter, limit, held to the rules
// of every page size.
func readLimit(r *http.Request) (int, error) {
	q, err := readQuery(r, "limit")
	if err != nil {
		return 0, err
	}
	var ps problems
	limit, _ := pageParams(q, &ps)
	return limit, ps.err()
}
