package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/sso/preset"
)

// The preset list shows placeholders, is the same for every caller, and
// a partner admin reads it too.
func TestListSSOPresets(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		_, tok := e.newToken("acme", `{"name": "wizard", "read_only": true}`)
		for _, auth := range [][]string{nil, bearer(tok)} {
			req := request{method: "GET", path: "/api/v1/sso-presets", auth: auth}
			rec := e.do(req)
			if rec.Code != http.StatusOK {
				t.Fatalf("GET /api/v1/sso-presets = %d %s", rec.Code, rec.Body)
			}
			list := decodeAs[listJSON[preset.Preset]](t, rec.Body.Bytes())
			var ids []string
			for _, p := range list.Data {
				ids = append(ids, p.ID)
			}
			if strings.Join(ids, ",") != strings.Join(preset.IDs(), ",") {
				t.Errorf("ids = %v", ids)
			}
			if !strings.Contains(rec.Body.String(), `"value":"{redirect_uri}"`) {
				t.Error("the list does not show the redirect_uri placeholder")
			}
		}
	})
}

// A partner's preset is rendered on its primary hostname: the first
// custom one, else <id>.<base>.
func TestGetSSOPresetRendered(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex", "login.globex.example", "sso.globex.example")
		for _, c := range []struct{ partner, host string }{
			{"acme", "acme." + testBase},
			{"globex", "login.globex.example"},
		} {
			for _, id := range preset.IDs() {
				body := e.mustCall("GET", "/api/v1/partners/"+c.partner+"/sso-presets/"+id, "", http.StatusOK)
				got := decodeAs[preset.Preset](t, body)
				if got.ID != id {
					t.Errorf("%s: id %q", id, got.ID)
				}
				want := preset.Render(mustPreset(t, id), preset.URLsFor("https", c.host))
				if strings.TrimSpace(string(body)) != string(mustJSONBytes(t, want)) {
					t.Errorf("%s for %s:\n got %s\nwant %s", id, c.partner, body, mustJSONBytes(t, want))
				}
				if strings.Contains(string(body), "{redirect_uri}") || strings.Contains(string(body), "{acs_url}") {
					t.Errorf("%s for %s left a placeholder: %s", id, c.partner, body)
				}
			}
		}
		body := string(e.mustCall("GET", "/api/v1/partners/globex/sso-presets/entra", "", http.StatusOK))
		for _, want := range []string{
			`"value":"https://login.globex.example/.partnergate/callback/oidc"`,
			`"value":"https://login.globex.example/.partnergate/saml/acs"`,
			`"value":"https://login.globex.example/.partnergate/saml/metadata"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("entra for globex lacks %s", want)
			}
		}
		e.mustCall("GET", "/api/v1/partners/acme/sso-presets/nope", "", http.StatusNotFound)
		e.mustCall("GET", "/api/v1/partners/initech/sso-presets/okta", "", http.StatusNotFound)
	})
}

// A local setup mails http links; the URLs to copy follow suit, so the
// IdP redirects where the gateway listens.
func TestGetSSOPresetLinkScheme(t *testing.T) {
	t.Parallel()
	e := newEnvOn(t, "bolt", func(c *Config) { c.LinkScheme = "http" })
	e.createPartner("acme")
	body := string(e.mustCall("GET", "/api/v1/partners/acme/sso-presets/generic-oidc", "", http.StatusOK))
	if !strings.Contains(body, `"value":"http://acme.`+testBase+`/.partnergate/callback/oidc"`) {
		t.Errorf("redirect URI not on http: %s", body)
	}
}

func mustPreset(t *testing.T, id string) preset.Preset {
	t.Helper()
	p, ok := preset.Get(id)
	if !ok {
		t.Fatalf("no preset %q", id)
	}
	return p
}

func mustJSONBytes(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
