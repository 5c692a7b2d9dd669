package scim

import (
	"errors"
	"net/http"

	"github.com/partnergate/partnergate/scim/filter"
	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

// found is a resource a root search matched: a user's resource, or a
// group, rendered only if on the page.
type found struct {
	user  Resource
	group store.Group
}

// searchAll is POST /.search at the partner's root (RFC 7644 §3.4.3): one
// query over Users and Groups, listing users first, each in id order,
// unless sortBy orders them all.
func (h *Handler) searchAll(w http.ResponseWriter, r *http.Request) error {
	q, err := searchQuery(w, r)
	if err != nil {
		return err
	}
	start, count, err := paging(q)
	if err != nil {
		return err
	}
	order, err := parseSort(q, schema.UserResource, schema.GroupResource)
	if err != nil {
		return err
	}
	fu, noUsers, err := rootFilter(schema.UserResource, q.filter)
	if err != nil {
		return err
	}
	fg, noGroups, err := rootFilter(schema.GroupResource, q.filter)
	if err != nil {
		return err
	}
	if noUsers != nil && noGroups != nil {
		return noUsers
	}
	var matches []found
	if noUsers == nil {
		users, err := h.matchingUsers(r, fu)
		if err != nil {
			return err
		}
		for _, u := range users {
			matches = append(matches, found{user: u})
		}
	}
	if noGroups == nil {
		groups, err := h.matchingGroups(r, fg)
		if err != nil {
			return err
		}
		for _, g := range groups {
			matches = append(matches, found{group: g})
		}
	}
	if order != nil {
		err := sortMatches(matches, order, func(m found) (Resource, *schema.ResourceType, error) {
			if m.user != nil {
				return m.user, schema.UserResource, nil
			}
			res, err := h.renderGroup(r, m.group, sortsByMembers(q))
			return res, schema.GroupResource, err
		})
		if err != nil {
			return err
		}
	}
	userProj, groupProj := q.projection(schema.UserResource), q.projection(schema.GroupResource)
	withMembers := groupProj.returns("members")
	return writePage(w, start, count, matches, func(m found) (Resource, error) {
		if m.user != nil {
			return userProj.apply(m.user), nil
		}
		res, err := h.renderGroup(r, m.group, withMembers)
		if err != nil {
			return nil, err
		}
		return groupProj.apply(res), nil
	})
}

// rootFilter parses a root search's filter for resources of type rt: nil
// for none. If it names an attribute rt lacks, unknown says so, and it
// matches no resource of rt. Any other error is the filter's own.
func rootFilter(rt *schema.ResourceType, text string) (f *filter.Filter, unknown, err error) {
	if text == "" {
		return nil, nil, nil
	}
	f, err = filter.Parse(rt, text)
	if errors.Is(err, schema.ErrUnknownAttribute) {
		return nil, err, nil
	}
	return f, nil, err
}
