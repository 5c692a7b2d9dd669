package portal

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

type scimAPIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at"`
	Token     string     `json:"token"`
}

func (e *env) scimTokens(partnerID string) []scimAPIToken {
	e.t.Helper()
	var out list[scimAPIToken]
	e.apiJSON("GET", "/api/v1/partners/"+partnerID+"/scim-tokens", nil, &out)
	return out.Data
}

var scimSecret = regexp.MustCompile(`pgsc\.[A-Za-z0-9._-]+`)

func TestSCIMTokens(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		b := e.partnerAdmin("acme", "ann@acme.test")
		res := b.get("/scim")
		if res.status != http.StatusOK {
			t.Fatalf("/scim: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "empty SCIM page", res.body, "https://acme.apps.localhost/scim/v2/acme/", `data-copy="scim-base-url"`,
			"No tokens yet", "No requests yet", "Two tokens can be live at once", "Okta", "Microsoft Entra ID", "aadOptscim062020")

		res = b.form("/scim", "/scim/tokens", url.Values{"name": {"Okta provisioning"}, "expires": {time.Now().AddDate(0, 1, 0).Format(time.DateOnly)}})
		if res.status != http.StatusOK {
			t.Fatalf("create token: %d\n%s", res.status, res.body)
		}
		secret := scimSecret.FindString(res.body)
		if secret == "" || !strings.Contains(res.body, "will not be shown again") || !strings.Contains(res.body, `data-copy="new-token-value"`) {
			t.Fatalf("the new token is not shown once:\n%s", res.body)
		}
		tokens := e.scimTokens("acme")
		if len(tokens) != 1 || tokens[0].Name != "Okta provisioning" || tokens[0].ExpiresAt == nil || tokens[0].Token != "" {
			t.Fatalf("tokens: %+v", tokens)
		}
		res = b.get("/scim")
		if strings.Contains(res.body, secret) || scimSecret.MatchString(res.body) {
			t.Error("the token list shows the secret again")
		}
		ssoPageHas(t, "SCIM page with a token", res.body, "Okta provisioning", "Revoke Okta provisioning", "1 live token")

		// A second name clash is refused beside the field; nothing is made.
		res = b.form("/scim", "/scim/tokens", url.Values{"name": {"okta provisioning"}})
		if res.status != http.StatusConflict {
			t.Errorf("duplicate name: %d", res.status)
		}
		ssoPageHas(t, "refused token", res.body, `id="token-name-error"`, "another SCIM token of this partner has this name", `value="okta provisioning"`)
		res = b.form("/scim", "/scim/tokens", url.Values{"name": {"Later"}, "expires": {"next week"}})
		ssoPageHas(t, "bad date", res.body, `id="token-expires-error"`, "Enter a date")
		if len(e.scimTokens("acme")) != 1 {
			t.Error("a refused create made a token")
		}

		// Forged forms change nothing.
		for _, csrf := range []string{"", "forged"} {
			if res := b.post("/scim/tokens", url.Values{"csrf": {csrf}, "name": {"Forged"}}); res.status != http.StatusForbidden {
				t.Errorf("create with csrf %q: %d", csrf, res.status)
			}
			if res := b.post("/scim/tokens/"+tokens[0].ID+"/revoke", url.Values{"csrf": {csrf}}); res.status != http.StatusForbidden {
				t.Errorf("revoke with csrf %q: %d", csrf, res.status)
			}
		}
		if len(e.scimTokens("acme")) != 1 {
			t.Error("a forged form changed the tokens")
		}

		res = b.form("/scim", "/scim/tokens/"+tokens[0].ID+"/revoke", nil)
		if res.status != http.StatusSeeOther || len(e.scimTokens("acme")) != 0 {
			t.Errorf("revoke: %d, left %+v", res.status, e.scimTokens("acme"))
		}
	})
}

func TestSCIMRequestLog(t *testing.T) {
	e := newEnv(t, "bolt")
	e.partner("acme")
	rec := store.RequestRecord{Time: time.Now().UTC().Truncate(time.Millisecond), Method: "POST", Path: "/scim/v2/acme/Users", Status: 409,
		ScimType: "uniqueness", Detail: "userName <b>taken</b>", DurationMs: 12}
	if err := e.store.AppendRequest(t.Context(), "acme", rec, 100); err != nil {
		t.Fatal(err)
	}
	res := e.partnerAdmin("acme", "ann@acme.test").get("/scim")
	ssoPageHas(t, "request log", res.body, "POST /scim/v2/acme/Users", "409", "uniqueness", "userName &lt;b&gt;taken&lt;/b&gt;", "12 ms")
}

func TestSCIMIsolationAndSetupViewer(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *env) {
		e.partner("acme")
		e.partner("bravo")
		// A setup link is for a partner without users, and its session
		// makes SCIM tokens only before any user exists: it goes first.
		s := e.ssoSetupBrowser("acme")
		res := s.get("/scim")
		if res.status != http.StatusOK {
			t.Fatalf("setup viewer /scim: %d\n%s", res.status, res.body)
		}
		ssoPageHas(t, "setup viewer SCIM page", res.body, "https://admin.localhost/scim/v2/acme/")
		res = s.form("/scim", "/scim/tokens", url.Values{"name": {"Entra"}})
		if res.status != http.StatusOK || !scimSecret.MatchString(res.body) {
			t.Fatalf("setup viewer create: %d\n%s", res.status, res.body)
		}
		tokens := e.scimTokens("acme")
		if len(tokens) != 1 {
			t.Fatalf("tokens: %+v", tokens)
		}
		if res := s.form("/scim", "/scim/tokens/"+tokens[0].ID+"/revoke", nil); res.status != http.StatusSeeOther || len(e.scimTokens("acme")) != 0 {
			t.Errorf("setup viewer revoke: %d", res.status)
		}

		var theirs scimAPIToken
		e.apiJSON("POST", "/api/v1/partners/bravo/scim-tokens", map[string]any{"name": "<script>x</script>"}, &theirs)
		a := e.partnerAdmin("acme", "ann@acme.test")
		if res := a.form("/scim", "/scim/tokens/"+theirs.ID+"/revoke", nil); res.status != http.StatusNotFound {
			t.Errorf("acme revokes bravo's token: %d", res.status)
		}
		if len(e.scimTokens("bravo")) != 1 {
			t.Error("bravo's token was revoked")
		}
		res = e.partnerAdmin("bravo", "bob@bravo.test").get("/scim")
		if strings.Contains(res.body, "<script>x") || !strings.Contains(res.body, "&lt;script&gt;x&lt;/script&gt;") {
			t.Error("a token name is not escaped")
		}
	})
}
