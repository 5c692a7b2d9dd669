package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/store"
)

var (
	partnerCreateFields = fieldSet{
		writable: []string{"id", "name", "hostnames"},
		readOnly: []string{"created_at", "updated_at", "default_hostname", "domains", "suspended"},
	}
	partnerPatchFields = fieldSet{
		writable: []string{"name", "hostnames", "suspended"},
		readOnly: []string{"id", "created_at", "updated_at", "default_hostname", "domains"},
	}
)

// partnerJSON is a partner on the wire. Hostnames lists custom domains
// only; DefaultHostname is the implied <id>.<base_domain>.
type partnerJSON struct {
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Hostnames       []string  `json:"hostnames"`
	DefaultHostname string    `json:"default_hostname"`
	Domains         []string  `json:"domains"`
	Suspended       bool      `json:"suspended"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
}

// listJSON is every list response. It is an object rather than a bare
// array so pagination can add next_cursor without breaking clients.
type listJSON[T any] struct {
	Data []T `json:"data"`
}

func (h *Handler) partnerJSON(p store.Partner) partnerJSON {
	return partnerJSON{
		ID:              p.ID,
		Name:            p.Name,
		Hostnames:       nonNil(p.Hostnames),
		DefaultHostname: p.ID + "." + h.base,
		Domains:         nonNil(p.Domains),
		Suspended:       p.Suspended,
		CreatedAt:       p.CreatedAt,
		UpdatedAt:       p.UpdatedAt,
	}
}

func partnerPath(id string) string { return "/api/v1/partners/" + id }

// partnerInput holds the writable members a partner request sent.
type partnerInput struct {
	id        opt[string]
	name      opt[string]
	hostnames opt[[]string]
	suspended opt[bool]
}

func decodePartner(m members) (partnerInput, error) {
	var in partnerInput
	var err error
	if in.id, err = member[string](m, "id"); err != nil {
		return in, err
	}
	if in.name, err = member[string](m, "name"); err != nil {
		return in, err
	}
	if in.hostnames, err = member[[]string](m, "hostnames"); err != nil {
		return in, err
	}
	in.suspended, err = member[bool](m, "suspended")
	return in, err
}

func (h *Handler) listPartners(w http.ResponseWriter, r *http.Request) error {
	partners, err := h.store.ListPartners(r.Context())
	if err != nil {
		return err
	}
	// The store promises no order; clients and tests get a stable one.
	slices.SortFunc(partners, func(a, b store.Partner) int { return strings.Compare(a.ID, b.ID) })
	out := listJSON[partnerJSON]{Data: make([]partnerJSON, 0, len(partners))}
	for _, p := range partners {
		out.Data = append(out.Data, h.partnerJSON(p))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createPartner(w http.ResponseWriter, r *http.Request) error {
	m, err := readObject(w, r, partnerCreateFields)
	if err != nil {
		return err
	}
	in, err := decodePartner(m)
	if err != nil {
		return err
	}
	hostnames, err := in.validate(true, h.base)
	if err != nil {
		return err
	}
	now := h.timestamp()
	p := store.Partner{ID: in.id.val, Name: in.name.val, Hostnames: hostnames, CreatedAt: now, UpdatedAt: now}
	if err := h.store.CreatePartner(r.Context(), p); err != nil {
		if errors.Is(err, store.ErrAlreadyExists) {
			return conflict("id", "a partner with this id already exists", err)
		}
		return partnerWriteError(err)
	}
	noteStream(r, p.ID)
	noteTarget(r, "partner", p.ID, change{Field: "name", To: p.Name}, change{Field: "hostnames", To: strings.Join(p.Hostnames, ",")})
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: p.ID})
	w.Header().Set("Location", partnerPath(p.ID))
	return writeResource(w, http.StatusCreated, h.partnerJSON(p))
}

func (h *Handler) getPartner(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, h.partnerJSON(p))
}

func (h *Handler) updatePartner(w http.ResponseWriter, r *http.Request) error {
	id, err := partnerID(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, partnerPatchFields)
	if err != nil {
		return err
	}
	in, err := decodePartner(m)
	if err != nil {
		return err
	}
	hostnames, err := in.validate(false, h.base)
	if err != nil {
		return err
	}
	pre, err := preconditionOf(r)
	if err != nil {
		return err
	}
	noteTarget(r, "partner", id)
	if in.suspended.set && !in.suspended.val {
		if err := h.revokeBeforeResume(r.Context(), id); err != nil {
			return err
		}
	}
	now := h.timestamp()
	p, err := h.store.UpdatePartner(r.Context(), id, func(p store.Partner) (store.Partner, error) {
		if err := pre.check(h.partnerJSON(p)); err != nil {
			return p, err
		}
		if in.name.set {
			noteTarget(r, "partner", id, change{Field: "name", From: p.Name, To: in.name.val})
			p.Name = in.name.val
		}
		if in.hostnames.set {
			noteTarget(r, "partner", id, change{Field: "hostnames", From: strings.Join(p.Hostnames, ","), To: strings.Join(hostnames, ",")})
			p.Hostnames = hostnames
		}
		if in.suspended.set && in.suspended.val != p.Suspended {
			noteTarget(r, "partner", id, change{Field: "suspended", From: boolString(p.Suspended), To: boolString(in.suspended.val)})
			p.Suspended = in.suspended.val
		}
		p.UpdatedAt = now
		return p, nil
	})
	if err != nil {
		return partnerWriteError(err)
	}
	// Announced before the revocation, so every node stops admitting the
	// partner's users before their sessions go.
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: id})
	// Even when already suspended: repeating the request finishes a
	// revocation that failed.
	if in.suspended.set && in.suspended.val {
		if err := h.revokePartnerSessions(r.Context(), id); err != nil {
			return revocationFailed("the partner was suspended but its users' sessions could not all be ended; repeat the request", err)
		}
	}
	return writeResource(w, http.StatusOK, h.partnerJSON(p))
}

// revokeBeforeResume ends every session of a suspended partner's users
// once more before it is resumed: a node that had not yet heard of the
// suspension may have signed someone in after the first revocation, and
// that session must not come back to life. A partner not suspended is
// left alone; one whose revocation fails stays suspended, and repeating
// the request finishes the job.
func (h *Handler) revokeBeforeResume(ctx context.Context, id string) error {
	p, err := h.store.GetPartner(ctx, id)
	switch {
	case err != nil:
		return partnerWriteError(err)
	case !p.Suspended:
		return nil
	}
	if err := h.revokePartnerSessions(ctx, id); err != nil {
		return revocationFailed("the partner was not resumed because its users' sessions could not all be ended; repeat the request", err)
	}
	return nil
}

// revokeBatch is how many users revokePartnerSessions reads at a time, so
// a large partner is never held in memory at once.
const revokeBatch = 500

// revokePartnerSessions ends every session of every user of the partner
// on every node. The store has no per-partner revocation that other
// nodes would hear of, so it goes user by user.
func (h *Handler) revokePartnerSessions(ctx context.Context, partnerID string) error {
	page := store.Page{Limit: revokeBatch}
	for {
		users, err := h.store.ListUsers(ctx, partnerID, page)
		if err != nil {
			return err
		}
		for _, u := range users {
			if err := h.revoker.RevokeUser(ctx, partnerID, u.ID); err != nil {
				return err
			}
		}
		if len(users) < page.Limit {
			return nil
		}
		page.After = users[len(users)-1].ID
	}
}

// deletePartner ends every user's sessions before removing the partner:
// DeletePartner drops the session rows but announces nothing, so nodes
// would keep serving cached sessions. If any revocation fails the partner
// stays, and repeating the request finishes the job.
func (h *Handler) deletePartner(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, h.partnerJSON(p)); err != nil {
		return err
	}
	// The partner's own stream goes with it; the platform keeps the record.
	noteStream(r, store.PlatformStream)
	noteTarget(r, "partner", p.ID, change{Field: "name", From: p.Name})
	if err := h.revokePartnerSessions(r.Context(), p.ID); err != nil {
		return revocationFailed("the partner was not deleted because its users' sessions could not all be ended; repeat the request", err)
	}
	if err := h.store.DeletePartner(r.Context(), p.ID); err != nil {
		return partnerWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: p.ID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// partnerID returns the path's partner id. One that could never have
// been created is answered 404 without asking the store.
func partnerID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if checkPartnerID(id) != "" {
		return "", errPartnerNotFound
	}
	return id, nil
}

// partner loads the path's partner.
func (h *Handler) partner(r *http.Request) (store.Partner, error) {
	id, err := partnerID(r)
	if err != nil {
		return store.Partner{}, err
	}
	p, err := h.store.GetPartner(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Partner{}, errPartnerNotFound
	}
	return p, err
}

func partnerWriteError(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errPartnerNotFound
	case errors.Is(err, store.ErrHostnameTaken):
		return conflict("hostnames", "a hostname is already in use by another partner", err)
	}
	return err
}

// timestamp is now as stored: UTC, at millisecond precision.
func (h *Handler) timestamp() time.Time {
	return h.now().UTC().Truncate(time.Millisecond)
}

// nonNil makes a nil list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
