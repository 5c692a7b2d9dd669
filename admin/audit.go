package admin

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// record writes one admin write to the audit trail. The write has
// happened (or was refused) either way, so a failure here is logged for
// the operator rather than turned into an error for the client.
func (h *Handler) record(r *http.Request, stream, action string, n *note, err error) {
	c := callerOf(r)
	result, reason := outcome(err)
	e := audit.Event{
		PartnerID: stream,
		Actor:     c.actor,
		Action:    action,
		Outcome:   result,
		Reason:    reason,
		SourceIP:  c.ip,
		RequestID: c.requestID,
	}
	if n.target.id != "" {
		e.Target = audit.Target{Type: n.target.kind, ID: n.target.id}
	}
	for _, ch := range n.changes {
		e.Changes = append(e.Changes, audit.Change{Field: ch.Field, From: orNil(ch.From), To: orNil(ch.To), Redacted: ch.Redacted})
	}
	// The trail must not lose an event because the client hung up.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), publishTimeout)
	defer cancel()
	if _, rerr := h.audit.Record(ctx, e); rerr != nil {
		h.log.Error("audit event not recorded",
			zap.String("action", action), zap.String("partner_id", stream), zap.Error(rerr))
	}
}

func (h *Handler) queryAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	return h.serveAuditQuery(w, r, p.ID)
}

func (h *Handler) queryPlatformAudit(w http.ResponseWriter, r *http.Request) error {
	return h.serveAuditQuery(w, r, store.PlatformStream)
}

func (h *Handler) serveAuditQuery(w http.ResponseWriter, r *http.Request, stream string) error {
	q, err := auditQuery(r, true)
	if err != nil {
		return err
	}
	page, err := h.audit.Query(r.Context(), stream, q)
	if err != nil {
		return auditQueryError(err)
	}
	var next *string
	if page.NextCursor != "" {
		next = &page.NextCursor
	}
	return writeJSON(w, http.StatusOK, struct {
		Events     []audit.Event `json:"events"`
		NextCursor *string       `json:"next_cursor"`
	}{nonNil(page.Events), next})
}

// exportAudit streams the partner's events as JSON lines, oldest first.
// Once streaming has begun the status is sent; a later failure cuts the
// stream short, which the client sees as a missing final newline.
func (h *Handler) exportAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	q, err := auditQuery(r, false)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Content-Disposition", `attachment; filename="`+p.ID+`-audit.jsonl"`)
	sw := &sentWriter{w: w}
	bw := bufio.NewWriter(sw)
	if _, err := h.audit.Export(r.Context(), p.ID, q.Filter, bw); err != nil {
		if !sw.sent {
			// Nothing has reached the client, so it can still get a real
			// error instead of an empty 200 that reads as "no events". A
			// filter the audit log refuses always fails here.
			w.Header().Del("Content-Disposition")
			return auditQueryError(err)
		}
		h.log.Error("audit export cut short", zap.String("partner_id", p.ID), zap.Error(err))
		return nil
	}
	if err := bw.Flush(); err != nil {
		h.log.Info("audit export not delivered", zap.String("partner_id", p.ID), zap.Error(err))
	}
	return nil
}

func (h *Handler) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	report, err := h.audit.Verify(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, report)
}

// auditQueryError turns the audit log's refusal of a query into the 400
// the client should see; other errors pass through. The message is the
// audit log's own, without the wrapping that names the stream.
func auditQueryError(err error) error {
	switch {
	case errors.Is(err, audit.ErrBadCursor):
		return badRequest("invalid_query", "cursor", "cursor is not one this API returned")
	case errors.Is(err, audit.ErrBadFilter):
		msg := err.Error()
		if _, detail, ok := strings.Cut(msg, audit.ErrBadFilter.Error()+": "); ok {
			msg = detail
		}
		return badRequest("invalid_query", "", msg)
	}
	return err
}

// sentWriter tells whether any byte of a streamed response was written.
type sentWriter struct {
	w    http.ResponseWriter
	sent bool
}

func (s *sentWriter) Write(b []byte) (int, error) {
	if len(b) > 0 {
		s.sent = true
	}
	return s.w.Write(b)
}

// auditQuery reads the filters; paged adds limit and cursor.
func auditQuery(r *http.Request, paged bool) (audit.Query, error) {
	allowed := []string{"actor", "action", "target", "since", "until"}
	if paged {
		allowed = append(allowed, "limit", "cursor")
	}
	v, err := readQuery(r, allowed...)
	if err != nil {
		return audit.Query{}, err
	}
	q := audit.Query{
		Filter: audit.Filter{ActorID: v.Get("actor"), Action: v.Get("action"), TargetID: v.Get("target")},
		Cursor: v.Get("cursor"),
	}
	var ps problems
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Filter.Since}, {"until", &q.Filter.Until}} {
		if s := v.Get(f.name); s != "" {
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				ps.add(f.name, f.name+" must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			}
			*f.dst = t
		}
	}
	if !q.Filter.Since.IsZero() && q.Filter.Until.Before(q.Filter.Since) && !q.Filter.Until.IsZero() {
		ps.add("until", "until must not be before since")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > audit.MaxLimit {
			ps.add("limit", "limit must be a whole number from 1 to "+strconv.Itoa(audit.MaxLimit))
		}
		q.Limit = n
	}
	if err := ps.queryErr(); err != nil {
		return q, err
	}
	return q, nil
}

// orNil leaves an empty value out of a change, as audit expects for a
// field that had none.
func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}
