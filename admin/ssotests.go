package admin

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/partnergate/partnergate/sso/diagnostics"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/store"
)

var errSSOTestNotFound = &apiError{status: http.StatusNotFound, code: "not_found", message: "test sign-in not found or expired"}

// ssoTestJSON is a test sign-in as it starts: URL is the single-use link
// to open in a browser, shown only in this answer.
type ssoTestJSON struct {
	diagnostics.Result
	URL string `json:"url,omitempty"`
}

// startSSOTest makes a single-use link that runs a test sign-in through
// the connection, enabled or not, on the partner's primary host.
func (h *Handler) startSSOTest(w http.ResponseWriter, r *http.Request) error {
	c, err := h.ssoConnectionToChange(r)
	if err != nil {
		return err
	}
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	secret, res, err := diagnostics.Begin(r.Context(), h.store, c.PartnerID, c.ID, h.now())
	if err != nil {
		return err
	}
	link := url.URL{
		Scheme: h.linkScheme, Host: h.partnerHost(p), Path: preset.TestPath,
		RawQuery: url.Values{"ticket": {secret}}.Encode(),
	}
	noteTarget(r, "sso_connection", c.ID, change{Field: "test", To: res.ID})
	w.Header().Set("Location", ssoConnectionPath(c.PartnerID, c.ID)+"/tests/"+res.ID)
	return writeJSON(w, http.StatusCreated, ssoTestJSON{Result: res, URL: link.String()})
}

func (h *Handler) getSSOTest(w http.ResponseWriter, r *http.Request) error {
	c, err := h.ssoConnection(r)
	if err != nil {
		return err
	}
	res, err := diagnostics.Load(r.Context(), h.store, c.PartnerID, r.PathValue("testId"))
	if errors.Is(err, diagnostics.ErrNotFound) || (err == nil && res.ConnectionID != c.ID) {
		return errSSOTestNotFound
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, ssoTestJSON{Result: res})
}

// ssoFailureJSON is one failed sign-in through a connection.
type ssoFailureJSON struct {
	Time    time.Time           `json:"time"`
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Facts   []store.FailureFact `json:"facts"`
	Email   string              `json:"email,omitempty"`
	Test    bool                `json:"test"`
}

func (h *Handler) listSSOFailures(w http.ResponseWriter, r *http.Request) error {
	c, err := h.ssoConnection(r)
	if err != nil {
		return err
	}
	limit, err := readLimit(r)
	if err != nil {
		return err
	}
	recs, err := h.store.ListSSOFailures(r.Context(), c.PartnerID, c.ID, limit)
	if err != nil {
		return ssoConnectionError(err)
	}
	out := listJSON[ssoFailureJSON]{Data: make([]ssoFailureJSON, 0, len(recs))}
	for _, f := range recs {
		out.Data = append(out.Data, ssoFailureJSON{Time: f.Time, Code: f.Code, Message: f.Message, Facts: nonNil(f.Facts), Email: f.Email, Test: f.Test})
	}
	return writeJSON(w, http.StatusOK, out)
}
