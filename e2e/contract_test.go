package e2e

import (
	"net/http"
	"strings"
	"sync"

	"github.com/partnergate/partnergate/admin"
	"github.com/partnergate/partnergate/internal/apicontract"
)

var (
	contractOnce sync.Once
	contract     *apicontract.Contract
	contractErr  error
)

// checkContract reports, on n's test, every way an admin API answer
// departs from the OpenAPI document. It uses Errorf, which any goroutine
// may call, so concurrent callers can use it too.
func (n *node) checkContract(req *http.Request, resp *http.Response) {
	contractOnce.Do(func() { contract, contractErr = apicontract.Load(admin.OpenAPIDocument()) })
	if contractErr != nil {
		n.t.Errorf("openapi.json: %v", contractErr)
		return
	}
	// On a partner's host the API sits below the portal prefix.
	vreq := req.Clone(req.Context())
	vreq.URL.Path = strings.TrimPrefix(vreq.URL.Path, portalPrefix)
	check := *resp
	check.Body = http.NoBody
	if b := body(resp); b != "" {
		check.Body = newBody(b)
	}
	if problems := contract.Check(vreq, &check); len(problems) > 0 {
		n.t.Errorf("%s %s answered %d, which openapi.json does not describe:\n  %s\nbody: %s",
			req.Method, req.URL.Path, resp.StatusCode, strings.Join(problems, "\n  "), body(resp))
	}
}

// portalPrefix is where the Caddyfiles mount the admin API on partner hosts.
const portalPrefix = "/.partnergate/admin"
