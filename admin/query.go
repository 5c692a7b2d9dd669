package admin

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// Page sizes of list endpoints.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// pageJSON is a list that continues: NextCursor, when not null, fetches
// the following page.
type pageJSON[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// readQuery parses the query string and refuses parameters the endpoint
// does not know or that repeat, so a typo is an error rather than a
// silently ignored filter.
func readQuery(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badRequest("invalid_query", "", "the query string is malformed")
	}
	var ps problems
	for name, values := range q {
		switch {
		case !slices.Contains(allowed, name):
			ps.add(name, fmt.Sprintf("unknown query parameter %q", name))
		case len(values) > 1:
			ps.add(name, fmt.Sprintf("query parameter %q appears more than once", name))
		}
	}
	if len(ps) > 0 {
		slices.SortFunc(ps, func(a, b problem) int { return strings.Compare(a.Field, b.Field) })
		return nil, ps.queryErr()
	}
	return q, nil
}

// queryErr is err for problems of the query string, which are the
// client's request gone wrong rather than invalid content: 400
// invalid_query instead of 422.
func (ps problems) queryErr() error {
	if len(ps) == 0 {
		return nil
	}
	ae := ps.err().(*apiError)
	ae.status, ae.code = http.StatusBadRequest, "invalid_query"
	return ae
}

// pageParams reads limit and cursor; problems go to ps.
func pageParams(q url.Values, ps *problems) (limit int, after string) {
	limit = defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			ps.add("limit", fmt.Sprintf("limit must be a whole number from 1 to %d", maxPageSize))
		} else {
			limit = n
		}
	}
	if v := q.Get("cursor"); v != "" {
		id, ok := decodeCursor(v)
		if !ok {
			ps.add("cursor", "cursor is not one this API returned")
		}
		after = id
	}
	return limit, after
}

// Cursors are opaque to clients: the id to continue after, encoded so
// nobody builds one by hand and expects it to keep working.
const cursorPrefix = "after:"

func encodeCursor(id string) *string {
	c := base64.RawURLEncoding.EncodeToString([]byte(cursorPrefix + id))
	return &c
}

func decodeCursor(c string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", false
	}
	id, ok := strings.CutPrefix(string(b), cursorPrefix)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}
