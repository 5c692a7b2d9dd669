package audit

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/partnergate/partnergate/store"
)

// Errors Query and Export answer for a request the caller should fix.
var (
	// ErrBadCursor means a cursor is not one Query returned.
	ErrBadCursor = errors.New("malformed audit cursor")
	// ErrBadFilter means a filter cannot select anything sensible.
	ErrBadFilter = errors.New("invalid audit filter")
)

// Page sizes of Query.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Filter selects events. Zero fields select everything.
type Filter struct {
	// ActorID keeps the events of the actor with this id.
	ActorID string
	// Action keeps the events of this action, or, when it ends in ".*",
	// of every action below that prefix: "user.*" keeps "user.create" and
	// "user.password.reset", but neither "user" nor "users.create".
	Action string
	// TargetID keeps the events whose target has this id.
	TargetID string
	// Since keeps events at or after it; Until keeps those before it.
	Since, Until time.Time
}

func (f Filter) check() error {
	if f.Action != "" && !validAction(strings.TrimSuffix(f.Action, ".*")) {
		return fmt.Errorf("%w: action %q is neither an action nor a prefix ending in \".*\"", ErrBadFilter, f.Action)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && f.Until.Before(f.Since) {
		return fmt.Errorf("%w: until %v is before since %v", ErrBadFilter, f.Until, f.Since)
	}
	return nil
}

// inTime reports whether t lies in [Since, Until).
func (f Filter) inTime(t time.Time) bool {
	return !t.Before(f.Since) && (f.Until.IsZero() || t.Before(f.Until))
}

// eventKeys is what a filter looks at in an event. Decoding only this
// first spares a rare filter building every event it passes over.
type eventKeys struct {
	Actor struct {
		ID string `json:"id"`
	} `json:"actor"`
	Action string `json:"action"`
	Target struct {
		ID string `json:"id"`
	} `json:"target"`
}

// pick returns the event rec holds if f selects it.
func (f Filter) pick(rec store.AuditRecord) (e Event, ok bool, err error) {
	if !f.inTime(rec.Time) {
		return Event{}, false, nil
	}
	if f.ActorID != "" || f.Action != "" || f.TargetID != "" {
		var k eventKeys
		if err := json.Unmarshal(rec.Data, &k); err != nil {
			return Event{}, false, fmt.Errorf("decode event %d: %w", rec.Seq, err)
		}
		if !f.matches(k) {
			return Event{}, false, nil
		}
	}
	e, err = eventOf(rec)
	return e, err == nil, err
}

func (f Filter) matches(k eventKeys) bool {
	if f.ActorID != "" && k.Actor.ID != f.ActorID {
		return false
	}
	if f.TargetID != "" && k.Target.ID != f.TargetID {
		return false
	}
	if prefix, ok := strings.CutSuffix(f.Action, "*"); ok {
		return strings.HasPrefix(k.Action, prefix)
	}
	return f.Action == "" || k.Action == f.Action
}

// Query asks for one page of a stream's events, newest first.
type Query struct {
	Filter
	// Cursor continues after a previous page: its NextCursor.
	Cursor string
	// Limit caps the events of the page: 0 or less means DefaultLimit,
	// more than MaxLimit means MaxLimit.
	Limit int
}

// Page is one answer to a Query.
type Page struct {
	Events []Event `json:"events"`
	// NextCursor continues the query; "" means nothing older matches. A
	// page may hold fewer events than asked, even none, and still have a
	// cursor: one Query reads a bounded number of events, so a rare filter
	// cannot hold a request for as long as the stream is.
	NextCursor string `json:"next_cursor,omitempty"`
}

// Query returns the events of a partner's stream ("" for the platform)
// that q selects, newest first. It fails with ErrBadFilter or ErrBadCursor
// for a query the caller should fix.
func (l *Log) Query(ctx context.Context, partnerID string, q Query) (Page, error) {
	page, err := l.query(ctx, partnerID, q)
	if err != nil {
		return Page{}, fmt.Errorf("query audit events of %s: %w", streamName(partnerID), err)
	}
	return page, nil
}

func (l *Log) query(ctx context.Context, stream string, q Query) (Page, error) {
	if err := q.check(); err != nil {
		return Page{}, err
	}
	before, err := decodeCursor(q.Cursor)
	if err != nil {
		return Page{}, err
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	limit = min(limit, MaxLimit)

	page := Page{Events: []Event{}}
	// The first batch is exactly a page, which an unfiltered query needs;
	// batches double from there for filters that skip much.
	batch := min(limit, l.batch)
	for scanned := 0; scanned < l.scanBudget; {
		n := min(batch, l.scanBudget-scanned)
		recs, err := l.store.ScanAudit(ctx, stream, before, n)
		if err != nil {
			return Page{}, err
		}
		for _, rec := range recs {
			// Times never decrease along a stream: all that follows is
			// older still.
			if rec.Time.Before(q.Since) {
				return page, nil
			}
			scanned++
			before = rec.Seq
			e, ok, err := q.pick(rec)
			if err != nil {
				return Page{}, err
			}
			if !ok {
				continue
			}
			page.Events = append(page.Events, e)
			if len(page.Events) == limit {
				page.NextCursor = encodeCursor(rec.Seq)
				return page, nil
			}
		}
		if len(recs) < n {
			return page, nil
		}
		batch = min(2*batch, l.batch)
	}
	page.NextCursor = encodeCursor(before)
	return page, nil
}

// A cursor is the seq a page continues below, wrapped so that clients do
// not build their own.
const cursorPrefix = "before:"

func encodeCursor(before int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + strconv.FormatInt(before, 10)))
}

// decodeCursor returns the seq a cursor continues below; 0, the newest,
// for no cursor.
func decodeCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return 0, ErrBadCursor
	}
	seq, err := strconv.ParseInt(strings.TrimPrefix(string(raw), cursorPrefix), 10, 64)
	if !strings.HasPrefix(string(raw), cursorPrefix) || err != nil || seq < 1 {
		return 0, ErrBadCursor
	}
	return seq, nil
}

// Export writes the events of a partner's stream ("" for the platform)
// that f selects to w as JSON lines, oldest first, and returns how many it
// wrote. It holds one batch in memory at a time and flushes each to w as
// it goes. Events recorded after Export starts are left out, so an export
// of a busy stream still ends. It fails with ErrBadFilter before writing
// anything for a filter the caller should fix.
func (l *Log) Export(ctx context.Context, partnerID string, f Filter, w io.Writer) (int, error) {
	n, err := l.export(ctx, partnerID, f, w)
	if err != nil {
		return n, fmt.Errorf("export audit events of %s: %w", streamName(partnerID), err)
	}
	return n, nil
}

func (l *Log) export(ctx context.Context, stream string, f Filter, w io.Writer) (int, error) {
	if err := f.check(); err != nil {
		return 0, err
	}
	head, err := l.store.AuditHead(ctx, stream)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	n := 0
	for after := int64(0); ; {
		recs, err := l.store.ScanAuditForward(ctx, stream, after, l.batch)
		if err != nil {
			return n, err
		}
		for _, rec := range recs {
			// Past the head, or past Until (times never decrease), the
			// export is complete.
			if rec.Seq > head.Seq || !f.Until.IsZero() && !rec.Time.Before(f.Until) {
				return n, flush(bw)
			}
			after = rec.Seq
			e, ok, err := f.pick(rec)
			if err != nil {
				return n, err
			}
			if !ok {
				continue
			}
			if err := enc.Encode(e); err != nil {
				return n, fmt.Errorf("write event %d: %w", e.Seq, err)
			}
			n++
		}
		if err := flush(bw); err != nil || len(recs) < l.batch {
			return n, err
		}
	}
}

func flush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write events: %w", err)
	}
	return nil
}
