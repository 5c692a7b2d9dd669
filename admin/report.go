package admin

import (
	"math"
	"net/http"
	"slices"
	"strings"

	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/store"
)

// policyReportJSON is the operators' view across partners: the baseline,
// and per partner where it goes beyond it and how many of its active
// users have a second factor.
type policyReportJSON struct {
	Baseline policy.Policy          `json:"baseline"`
	Data     []partnerPolicyRowJSON `json:"data"`
}

type partnerPolicyRowJSON struct {
	PartnerID string `json:"partner_id"`
	Name      string `json:"name"`
	// Stricter names the fields where the partner's effective policy is
	// stricter than the baseline, in the order policyFields lists them.
	Stricter    []string `json:"stricter"`
	MFAEnrolled int      `json:"mfa_enrolled"`
	ActiveUsers int      `json:"active_users"`
	// MFAShare is MFAEnrolled/ActiveUsers to three decimals, 0 without
	// active users.
	MFAShare float64 `json:"mfa_share"`
}

// getPolicyReport reads every user of every partner, one partner and one
// batch of users at a time, so its memory stays bounded by a batch.
func (h *Handler) getPolicyReport(w http.ResponseWriter, r *http.Request) error {
	baseline, err := h.policies.Baseline(r.Context())
	if err != nil {
		return err
	}
	partners, err := h.store.ListPartners(r.Context())
	if err != nil {
		return err
	}
	slices.SortFunc(partners, func(a, b store.Partner) int { return strings.Compare(a.ID, b.ID) })
	out := policyReportJSON{Baseline: baseline, Data: make([]partnerPolicyRowJSON, 0, len(partners))}
	for _, p := range partners {
		row, err := h.partnerPolicyRow(r, baseline, p)
		if err != nil {
			return err
		}
		out.Data = append(out.Data, row)
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) partnerPolicyRow(r *http.Request, baseline policy.Policy, p store.Partner) (partnerPolicyRowJSON, error) {
	row := partnerPolicyRowJSON{PartnerID: p.ID, Name: p.Name}
	own, _, err := h.policies.Partner(r.Context(), p.ID)
	if err != nil {
		return row, err
	}
	row.Stricter = stricterFields(baseline, policy.Effective(baseline, own))
	after := ""
	for {
		batch, err := h.store.ListUsers(r.Context(), p.ID, store.Page{After: after, Limit: userScanBatch})
		if err != nil {
			return row, err
		}
		for _, u := range batch {
			if !u.Active {
				continue
			}
			row.ActiveUsers++
			methods, err := h.store.ListMFAMethods(r.Context(), p.ID, u.ID)
			if err != nil {
				return row, err
			}
			if slices.ContainsFunc(methods, func(m store.MFAMethod) bool { return m.Kind != store.MFARecovery }) {
				row.MFAEnrolled++
			}
		}
		if len(batch) < userScanBatch {
			break
		}
		after = batch[len(batch)-1].ID
	}
	if row.ActiveUsers > 0 {
		row.MFAShare = math.Round(float64(row.MFAEnrolled)/float64(row.ActiveUsers)*1000) / 1000
	}
	return row, nil
}

// stricterFields names the fields where effective is stricter than the
// baseline: those on which the baseline would loosen it.
func stricterFields(baseline, effective policy.Policy) []string {
	out := []string{}
	for _, v := range policy.Loosens(effective, baseline) {
		out = append(out, v.Field)
	}
	return out
}
