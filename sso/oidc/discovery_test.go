package oidc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/sso"
)

// TestDiscoveryHTTPSIssuerNeedsHTTPSEndpoints serves an https issuer whose
// document downgrades one endpoint at a time to http: each downgrade fails
// discovery as a misconfiguration naming that endpoint, and a document
// that keeps every endpoint on https (with userinfo absent) is accepted.
func TestDiscoveryHTTPSIssuerNeedsHTTPSEndpoints(t *testing.T) {
	t.Parallel()
	for _, downgraded := range []string{"", "authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"} {
		t.Run("downgraded="+downgraded, func(t *testing.T) {
			t.Parallel()
			var srv *httptest.Server
			srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				u := srv.URL
				doc := map[string]any{
					"issuer":                 u,
					"authorization_endpoint": u + "/authorize",
					"token_endpoint":         u + "/token",
					"jwks_uri":               u + "/jwks",
				}
				if downgraded == "userinfo_endpoint" {
					doc["userinfo_endpoint"] = u + "/userinfo"
				}
				if downgraded != "" {
					doc[downgraded] = strings.Replace(doc[downgraded].(string), "https://", "http://", 1)
				}
				writeJSON(w, http.StatusOK, doc)
			}))
			t.Cleanup(srv.Close)
			cfg := Config{Issuer: srv.URL, ClientID: testClientID, RedirectURL: testRedirect}
			_, err := New(Options{HTTPClient: srv.Client()}).AuthCodeURL(t.Context(), cfg, newStart())
			if downgraded == "" {
				if err != nil {
					t.Fatalf("all-https discovery failed: %v", err)
				}
				return
			}
			wantFailure(t, err, sso.Misconfigured, "Endpoint", downgraded)
		})
	}
}
