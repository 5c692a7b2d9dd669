package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
)

// policyJSON is a partner's own policy as stored: the fields it sets.
type policyJSON struct {
	Policy    policy.Policy `json:"policy"`
	UpdatedAt time.Time     `json:"updated_at,omitzero"`
	UpdatedBy string        `json:"updated_by,omitempty"`
}

// effectiveJSON is what is in force for a partner, with the baseline it
// was held to and the fields where the baseline overrode the partner's
// own value (a baseline tightened after the partner wrote its policy).
type effectiveJSON struct {
	Effective  policy.Policy `json:"effective"`
	Baseline   policy.Policy `json:"baseline"`
	Overridden []string      `json:"overridden"`
}

// governanceJSON is the platform's baseline in force and where it comes
// from: "configuration" until an operator stores one through the API.
type governanceJSON struct {
	Policy    policy.Policy `json:"policy"`
	Source    string        `json:"source"`
	UpdatedAt time.Time     `json:"updated_at,omitzero"`
	UpdatedBy string        `json:"updated_by,omitempty"`
}

func (h *Handler) getPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	own, rec, err := h.policies.Partner(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, policyOf(own, rec))
}

func policyOf(own policy.Policy, rec store.PolicyRecord) policyJSON {
	return policyJSON{Policy: own, UpdatedAt: rec.UpdatedAt, UpdatedBy: rec.UpdatedBy}
}

// putPolicy replaces the partner's policy. A value looser than the
// baseline is refused whole, naming each field, what was asked and the
// baseline's limit.
func (h *Handler) putPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	asked, err := readPolicy(w, r)
	if err != nil {
		return err
	}
	baseline, err := h.policies.Baseline(r.Context())
	if err != nil {
		return err
	}
	if err := checkPartnerPolicy(baseline, asked); err != nil {
		return err
	}
	own, rec, err := h.policies.Partner(r.Context(), p.ID)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, policyOf(own, rec)); err != nil {
		return err
	}
	raw, err := json.Marshal(asked)
	if err != nil {
		return err
	}
	next := store.PolicyRecord{Policy: raw, UpdatedAt: h.timestamp(), UpdatedBy: callerOf(r).actor.Name}
	noteTarget(r, "policy", p.ID, diffPolicy(own, asked)...)
	if err := h.store.PutPolicy(r.Context(), p.ID, next); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errPartnerNotFound
		}
		return err
	}
	h.publish(r, store.Event{Kind: store.PolicyChanged, PartnerID: p.ID})
	return writeResource(w, http.StatusOK, policyOf(asked, next))
}

// deletePolicy drops the partner's policy: it inherits the baseline whole.
func (h *Handler) deletePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	own, rec, err := h.policies.Partner(r.Context(), p.ID)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, policyOf(own, rec)); err != nil {
		return err
	}
	noteTarget(r, "policy", p.ID, diffPolicy(own, policy.Policy{})...)
	if err := h.store.DeletePolicy(r.Context(), p.ID); err != nil {
		return err
	}
	h.publish(r, store.Event{Kind: store.PolicyChanged, PartnerID: p.ID})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) getEffectivePolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	baseline, err := h.policies.Baseline(r.Context())
	if err != nil {
		return err
	}
	own, _, err := h.policies.Partner(r.Context(), p.ID)
	if err != nil {
		return err
	}
	overridden := policy.Overridden(baseline, own)
	if overridden == nil {
		overridden = []string{}
	}
	return writeJSON(w, http.StatusOK, effectiveJSON{Effective: policy.Effective(baseline, own), Baseline: baseline, Overridden: overridden})
}

func (h *Handler) getGovernance(w http.ResponseWriter, r *http.Request) error {
	out, err := h.governance(r)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, out)
}

func (h *Handler) governance(r *http.Request) (governanceJSON, error) {
	baseline, err := h.policies.Baseline(r.Context())
	if err != nil {
		return governanceJSON{}, err
	}
	out := governanceJSON{Policy: baseline, Source: "configuration"}
	rec, err := h.store.GetGovernance(r.Context())
	switch {
	case err == nil:
		out.Source, out.UpdatedBy, out.UpdatedAt = "operator", rec.UpdatedBy, rec.UpdatedAt
	case !errors.Is(err, store.ErrNotFound):
		return governanceJSON{}, err
	}
	return out, nil
}

// putGovernance sets the baseline; fields it leaves unset come from the
// configuration. Partners' effective policies follow on every node at
// once, tightening or loosening with it; partners' own values stay stored
// and show as overridden where the baseline is now stricter.
func (h *Handler) putGovernance(w http.ResponseWriter, r *http.Request) error {
	asked, err := readPolicy(w, r)
	if err != nil {
		return err
	}
	current, err := h.governance(r)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, current); err != nil {
		return err
	}
	raw, err := json.Marshal(asked)
	if err != nil {
		return err
	}
	rec := store.PolicyRecord{Policy: raw, UpdatedAt: h.timestamp(), UpdatedBy: callerOf(r).actor.Name}
	noteTarget(r, "governance", "baseline", diffPolicy(current.Policy, policy.Fill(asked, h.policies.Configured()))...)
	if err := h.store.PutGovernance(r.Context(), rec); err != nil {
		return err
	}
	h.publish(r, store.Event{Kind: store.GovernanceChanged})
	out := governanceJSON{Policy: policy.Fill(asked, h.policies.Configured()), Source: "operator", UpdatedBy: rec.UpdatedBy, UpdatedAt: rec.UpdatedAt}
	return writeResource(w, http.StatusOK, out)
}

// readPolicy decodes a policy body, refusing unknown members at any depth
// and naming the field of a value of the wrong type, then checks every
// value.
func readPolicy(w http.ResponseWriter, r *http.Request) (policy.Policy, error) {
	if err := checkContentType(r); err != nil {
		return policy.Policy{}, err
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	var p policy.Policy
	if err := dec.Decode(&p); err != nil {
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &typeErr):
			return policy.Policy{}, badRequest("invalid_type", typeErr.Field, fmt.Sprintf("%s has the wrong type", typeErr.Field))
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return policy.Policy{}, badRequest("unknown_field", name, fmt.Sprintf("unknown field %q", name))
		}
		if de := decodeError(err); isClientError(de) {
			return policy.Policy{}, de
		}
		// A value its type refuses (a bad duration or IP range) says why.
		return policy.Policy{}, &apiError{status: http.StatusUnprocessableEntity, code: "validation_failed", message: err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return policy.Policy{}, badRequest("invalid_json", "", "request body must hold a single JSON object")
	}
	if invalid := p.Validate(); len(invalid) > 0 {
		var ps problems
		for _, pr := range invalid {
			ps.add(pr.Field, pr.Message)
		}
		return policy.Policy{}, ps.err()
	}
	return p, nil
}

func isClientError(err error) bool {
	var ae *apiError
	return errors.As(err, &ae)
}

// checkPartnerPolicy refuses a partner policy looser than the baseline.
func checkPartnerPolicy(baseline, asked policy.Policy) error {
	violations := policy.Loosens(baseline, asked)
	if len(violations) == 0 {
		return nil
	}
	e := &apiError{status: http.StatusUnprocessableEntity, code: "policy_loosens_baseline", field: violations[0].Field,
		message: "a partner policy may only tighten the platform's baseline"}
	for _, v := range violations {
		e.details = append(e.details, problem{Field: v.Field, Message: v.Message, Asked: v.Asked, Limit: v.Limit})
	}
	return e
}

// diffPolicy names the fields that change, for the audit trail.
func diffPolicy(from, to policy.Policy) []change {
	flat := func(p policy.Policy) map[string]string {
		b, _ := json.Marshal(p)
		var m map[string]json.RawMessage
		_ = json.Unmarshal(b, &m)
		out := map[string]string{}
		for k, v := range m {
			var nested map[string]json.RawMessage
			if json.Unmarshal(v, &nested) == nil {
				for nk, nv := range nested {
					out[k+"."+nk] = string(nv)
				}
				continue
			}
			out[k] = string(v)
		}
		return out
	}
	a, b := flat(from), flat(to)
	var out []change
	for _, field := range policyFields {
		if a[field] != b[field] {
			out = append(out, change{Field: field, From: a[field], To: b[field]})
		}
	}
	return out
}

// policyFields orders a policy's fields as the contract lists them.
var policyFields = []string{
	"mfa.required", "mfa.methods", "mfa.accept_idp_mfa",
	"session.max_lifetime", "session.idle_timeout", "session.remember_device",
	"password.min_length", "password.require", "password.history", "password.max_age", "password.passwordless", "password.block_common",
	"lockout.threshold", "lockout.duration", "sso_required", "allowed_ip_ranges",
}
