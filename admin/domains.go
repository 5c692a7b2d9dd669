package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/partnergate/partnergate/store"
)

const maxDomains = 50

var domainFields = fieldSet{writable: []string{"domain"}}

type domainJSON struct {
	Domain string `json:"domain"`
}

var errDomainExists = errors.New("domain already listed")

func (h *Handler) listDomains(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	out := listJSON[domainJSON]{Data: make([]domainJSON, 0, len(p.Domains))}
	for _, d := range p.Domains {
		out.Data = append(out.Data, domainJSON{Domain: d})
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) addDomain(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, domainFields)
	if err != nil {
		return err
	}
	raw, err := member[string](m, "domain")
	if err != nil {
		return err
	}
	domain, msg := normalizeHostname(raw.val)
	if msg != "" {
		var ps problems
		ps.add("domain", "domain "+msg)
		return ps.err()
	}
	noteTarget(r, "domain", domain)
	now := h.timestamp()
	_, err = h.store.UpdatePartner(r.Context(), p.ID, func(p store.Partner) (store.Partner, error) {
		switch {
		case slices.Contains(p.Domains, domain):
			return p, errDomainExists
		case len(p.Domains) >= maxDomains:
			return p, conflict("domain", fmt.Sprintf("a partner has at most %d email domains", maxDomains), nil)
		}
		p.Domains = append(p.Domains, domain)
		slices.Sort(p.Domains)
		p.UpdatedAt = now
		return p, nil
	})
	switch {
	case errors.Is(err, errDomainExists):
		return conflict("domain", "this partner already lists this domain", nil)
	case err != nil:
		return partnerWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: p.ID})
	w.Header().Set("Location", partnerPath(p.ID)+"/domains/"+domain)
	return writeJSON(w, http.StatusCreated, domainJSON{Domain: domain})
}

// removeDomain leaves the partner's 404 to UpdatePartner, which reads the
// partner anyway.
func (h *Handler) removeDomain(w http.ResponseWriter, r *http.Request) error {
	id, err := partnerID(r)
	if err != nil {
		return err
	}
	domain := r.PathValue("domain")
	noteTarget(r, "domain", domain)
	now := h.timestamp()
	_, err = h.store.UpdatePartner(r.Context(), id, func(p store.Partner) (store.Partner, error) {
		i := slices.Index(p.Domains, domain)
		if i < 0 {
			return p, errDomainNotFound
		}
		p.Domains = slices.Delete(p.Domains, i, i+1)
		p.UpdatedAt = now
		return p, nil
	})
	if err != nil {
		return partnerWriteError(err)
	}
	h.publish(r, store.Event{Kind: store.PartnersChanged, PartnerID: id})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// meJSON tells a caller who it is; csrf_token is what a cookie session
// sends back in X-CSRF-Token on writes, and setup tells a portal to show
// only the setup it may do.
type meJSON struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	PartnerID string `json:"partner_id,omitempty"`
	ReadOnly  bool   `json:"read_only"`
	Setup     bool   `json:"setup,omitempty"`
	CSRFToken string `json:"csrf_token,omitempty"`
}

func (h *Handler) getMe(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	out := meJSON{Kind: string(c.actor.Type), Name: c.actor.Name, PartnerID: c.partnerID, ReadOnly: c.readOnly, Setup: c.setup}
	if c.operator {
		// An operator is the key's operator, whether by the key or a
		// session; the session in the audit name is no name to show.
		out.Name = c.key.name
	}
	if c.cookie {
		out.CSRFToken = h.csrfToken(c.sessionID)
	}
	return writeJSON(w, http.StatusOK, out)
}
