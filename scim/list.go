package scim

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/partnergate/partnergate/scim/filter"
	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

// Paging bounds of list requests (RFC 7644 §3.4.2.4).
const (
	defaultCount = 100
	maxCount     = 500
	// scanBatch is how many records one read of a paged store list
	// returns: users or groups in a filtered scan, ids of a group's
	// members.
	scanBatch = 500
)

const listResponseURN = "urn:ietf:params:scim:api:messages:2.0:ListResponse"

// query is a list request's parameters, from the URL of a GET or the body
// of a POST to .search; attributes and excludedAttributes (RFC 7644 §3.9)
// also shape the resource a single-resource request returns.
type query struct {
	filter, startIndex, count      string
	attributes, excludedAttributes string
	sortBy, sortOrder              string
}

// queryOf reads the parameters of r's URL.
func queryOf(r *http.Request) query {
	v := r.URL.Query()
	return query{
		filter: v.Get("filter"), startIndex: v.Get("startIndex"), count: v.Get("count"),
		attributes: v.Get("attributes"), excludedAttributes: v.Get("excludedAttributes"),
		sortBy: v.Get("sortBy"), sortOrder: v.Get("sortOrder"),
	}
}

// searchQuery reads the body of a POST to .search (RFC 7644 §3.4.3),
// where attributes and excludedAttributes are arrays of names.
func searchQuery(w http.ResponseWriter, r *http.Request) (query, error) {
	res, err := readResource(w, r)
	if err != nil {
		return query{}, err
	}
	var q query
	q.filter, _ = lookup(res, "filter").(string)
	q.sortBy, _ = lookup(res, "sortBy").(string)
	q.sortOrder, _ = lookup(res, "sortOrder").(string)
	for name, dst := range map[string]*string{"startIndex": &q.startIndex, "count": &q.count} {
		if v := lookup(res, name); v != nil {
			*dst = fmt.Sprint(v)
		}
	}
	for name, dst := range map[string]*string{"attributes": &q.attributes, "excludedAttributes": &q.excludedAttributes} {
		switch v := lookup(res, name).(type) {
		case string:
			*dst = v
		case []any:
			names := make([]string, 0, len(v))
			for _, n := range v {
				if s, ok := n.(string); ok {
					names = append(names, s)
				}
			}
			*dst = strings.Join(names, ",")
		}
	}
	return q, nil
}

func (q query) projection(rt *schema.ResourceType) projection {
	return newProjection(rt, q.attributes, q.excludedAttributes)
}

// serveList answers a list request for resources of type rt. match
// returns everything the filter (nil for none) matches, in id order, so
// that pages are stable between requests; render turns the matches on
// the requested page into resources, which the query's projection trims.
// Splitting the two lets a resource that is costly to render in full, a
// Group with its members, be rendered so only when it is on the page.
// With sortBy, view renders each match for its sort key: the whole match
// set is ordered before it is paged.
func serveList[T any](w http.ResponseWriter, q query, rt *schema.ResourceType, match func(*filter.Filter) ([]T, error), view, render func(T) (Resource, error)) error {
	start, count, err := paging(q)
	if err != nil {
		return err
	}
	order, err := parseSort(q, rt)
	if err != nil {
		return err
	}
	var f *filter.Filter
	if q.filter != "" {
		if f, err = filter.Parse(rt, q.filter); err != nil {
			return err
		}
	}
	matches, err := match(f)
	if err != nil {
		return err
	}
	if order != nil {
		err = sortMatches(matches, order, func(m T) (Resource, *schema.ResourceType, error) {
			res, err := view(m)
			return res, rt, err
		})
		if err != nil {
			return err
		}
	}
	proj := q.projection(rt)
	return writePage(w, start, count, matches, func(m T) (Resource, error) {
		res, err := render(m)
		if err != nil {
			return nil, err
		}
		return proj.apply(res), nil
	})
}

// writePage answers the ListResponse of the count matches from the
// 1-based start, rendered by render.
func writePage[T any](w http.ResponseWriter, start, count int, matches []T, render func(T) (Resource, error)) error {
	from := min(start-1, len(matches))
	to := from + min(count, len(matches)-from)
	return writeList(w, start, len(matches), matches[from:to], render)
}

// writeList answers the ListResponse of page, the results from the
// 1-based start of total, rendered by render.
func writeList[T any](w http.ResponseWriter, start, total int, page []T, render func(T) (Resource, error)) error {
	resources := make([]any, 0, len(page))
	for _, m := range page {
		res, err := render(m)
		if err != nil {
			return err
		}
		resources = append(resources, res)
	}
	writeJSON(w, http.StatusOK, Resource{
		"schemas":      []string{listResponseURN},
		"totalResults": total,
		"startIndex":   start,
		"itemsPerPage": len(resources),
		"Resources":    resources,
	})
	return nil
}

// paging reads startIndex (1-based) and count; out-of-range values are
// clamped as RFC 7644 §3.4.2.4 says, garbage is refused.
func paging(q query) (start, count int, err error) {
	start, count = 1, defaultCount
	if q.startIndex != "" {
		n, err := strconv.Atoi(q.startIndex)
		if err != nil {
			return 0, 0, schema.ErrInvalidValue.Errorf("startIndex %q is not a number", q.startIndex)
		}
		start = max(n, 1)
	}
	if q.count != "" {
		n, err := strconv.Atoi(q.count)
		if err != nil {
			return 0, 0, schema.ErrInvalidValue.Errorf("count %q is not a number", q.count)
		}
		count = min(max(n, 0), maxCount)
	}
	return start, count, nil
}

// eachPage reads an id-ordered store list scanBatch records at a time,
// calling fn with each page, so that no one read is unbounded however
// long the list.
func eachPage[T any](list func(store.Page) ([]T, error), id func(T) string, fn func([]T) error) error {
	page := store.Page{Limit: scanBatch}
	for {
		batch, err := list(page)
		if err != nil {
			return err
		}
		if err := fn(batch); err != nil {
			return err
		}
		if len(batch) < page.Limit {
			return nil
		}
		page.After = id(batch[len(batch)-1])
	}
}
