package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/partnergate/partnergate/internal/idptest"
)

// TestSCIMUsersSignInThroughSSO: with SCIM on, the directory owns who
// exists. A user it provisions signs in through the partner's SAML IdP,
// with the roles of the groups SCIM put them in; deactivated, they lose
// their session and the IdP can no longer sign them in; deleted, they are
// not brought back by just-in-time provisioning; and nobody SCIM never
// provisioned gets in, whatever the IdP asserts.
func TestSCIMUsersSignInThroughSSO(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	up := startUpstream(t)
	n := startSSONode(t, nodeConfig{store: "file " + t.TempDir(), upstream: up.addr})
	host := partnerHost("acme")
	token := n.seedSSOPartner(t)
	scimToken := n.adminAs(t, token, "POST", "/api/v1/partners/acme/scim-tokens", map[string]any{"name": "directory"}, http.StatusCreated)["token"].(string)
	samlID, idp := n.startSAMLConnection(t, token, true, true)
	alice, bob := idp.User(t, "alice"), idp.User(t, "bob")
	j.step("acme with a SCIM token and a SAML connection (JIT on)")

	user := n.scim(t, scimToken, "POST", "/Users", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
		"userName": "`+alice.Email+`", "externalId": "dir-alice", "active": true,
		"name": {"givenName": "Alice", "familyName": "Directory"},
		"emails": [{"value": "`+alice.Email+`", "type": "work", "primary": true}]}`, http.StatusCreated)
	aliceID := user["id"].(string)
	group := n.scim(t, scimToken, "POST", "/Groups", `{"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
		"displayName": "Finance", "members": [{"value": "`+aliceID+`"}]}`, http.StatusCreated)
	n.adminAs(t, token, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": group["id"], "role": "approver"}, http.StatusCreated)
	j.step("SCIM provisions alice into Finance, mapped to approver")

	ctx := browser(t)
	signIn := func(email string) context.Context {
		tab := newTab(t, ctx)
		browse(t, tab, chromedp.Navigate(n.url(host, "/.partnergate/login?return_to=%2Fledger")), chromedp.WaitVisible(chromedp.ID("email")),
			chromedp.SendKeys(chromedp.ID("email"), email), chromedp.Submit(chromedp.ID("email")))
		return tab
	}
	tab := signIn(alice.Email)
	samlLogin(t, tab, alice)
	landOnApp(t, tab, n.url(host, "/ledger"))
	got := up.lastTo(t, "/ledger")
	if got.Header.Get("X-Auth-User") != aliceID || got.Header.Get("X-Auth-Roles") != "approver" || got.Header.Get("X-Auth-Groups") != "Finance" {
		t.Errorf("the app saw user %q roles %q groups %q, want the SCIM user %s as approver in Finance (SSO leaves SCIM's groups alone)",
			got.Header.Get("X-Auth-User"), got.Header.Get("X-Auth-Roles"), got.Header.Get("X-Auth-Groups"), aliceID)
	}
	j.step("alice signs in through SimpleSAMLphp as the SCIM user, with SCIM's groups")

	n.scim(t, scimToken, "PATCH", "/Users/"+aliceID, `{"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
		"Operations": [{"op": "replace", "value": {"active": false}}]}`, http.StatusOK)
	before := up.reachedAs(alice.Email)
	browse(t, tab, chromedp.Navigate(n.url(host, "/ledger")), chromedp.WaitVisible(chromedp.ID("email")))
	if up.reachedAs(alice.Email) != before {
		t.Error("a deactivated user's session still reached the app")
	}
	again := signIn(alice.Email)
	samlLogin(t, again, alice)
	waitPage(t, again, "Your account does not have access here.")
	if ref := query(t, again, chromedp.Text(chromedp.CSS("p.hint code"))); ref != "user_inactive" {
		t.Errorf("deactivated user through SSO: reference %q, want user_inactive", ref)
	}
	j.step("SCIM deactivates alice: her session ends, the IdP's sign-in is refused")

	n.scim(t, scimToken, "DELETE", "/Users/"+aliceID, "", http.StatusNoContent)
	for _, who := range []idptest.SAMLUser{alice, bob} {
		before := up.reachedAs(who.Email)
		tab := signIn(who.Email)
		samlLogin(t, tab, who)
		waitPage(t, tab, "Your account does not have access here.")
		if ref := query(t, tab, chromedp.Text(chromedp.CSS("p.hint code"))); ref != "user_not_provisioned" {
			t.Errorf("%s through SSO: reference %q, want user_not_provisioned", who.Username, ref)
		}
		if up.reachedAs(who.Email) != before {
			t.Errorf("%s reached the app", who.Username)
		}
	}
	if users := n.users(t, token); len(users) != 0 {
		t.Errorf("just-in-time provisioning made users SCIM did not: %v", users)
	}
	failures := data(n.adminAs(t, token, "GET", "/api/v1/partners/acme/sso-connections/"+samlID+"/failures", nil, http.StatusOK))
	if len(failures) != 3 {
		t.Errorf("the connection logged %d failures, want 3: %v", len(failures), failures)
	}
	j.step("SCIM deletes alice: neither she nor bob, whom SCIM never provisioned, gets in")
	j.done()
}
