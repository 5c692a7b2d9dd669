package e2e

import (
	"net/http"
	"strings"
	"testing"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestMFASecurityKeyJourney: a partner admin makes MFA required; at her
// next sign-in alice sets up a security key in a real browser (Chromium's
// virtual authenticator), saves her recovery codes and reaches the app;
// signing in again asks for the key, and the key alone (no code) lets
// her in. The admin API lists her methods without their secrets.
func TestMFASecurityKeyJourney(t *testing.T) {
	t.Parallel()
	j := newJourney(t)
	n, up := startApp(t, func(t *testing.T, cfg nodeConfig) *node {
		cfg.store = "file " + t.TempDir()
		return startNode(t, cfg)
	})
	aliceID := n.seedAcme(t)
	n.mustAdmin(t, "PUT", "/api/v1/partners/acme/policy", map[string]any{"mfa": map[string]any{"required": true, "methods": []string{"webauthn", "totp"}}}, http.StatusOK)
	j.step("acme requires MFA")

	ctx := browser(t)
	if _, err := chromedp.Call(ctx, cdpwebauthn.Enable, cdpwebauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	opts := cdpwebauthn.VirtualAuthenticatorOptions{
		Protocol: cdpwebauthn.AuthenticatorProtocolCtap2, Ctap2version: cdpwebauthn.Ctap2versionCtap21,
		Transport: cdpwebauthn.AuthenticatorTransportUsb, HasResidentKey: true, HasUserVerification: true, IsUserVerified: true,
		AutomaticPresenceSimulation: true,
	}
	if _, err := chromedp.Call(ctx, cdpwebauthn.AddVirtualAuthenticator, cdpwebauthn.AddVirtualAuthenticatorParams{Options: &opts}); err != nil {
		t.Fatalf("add virtual authenticator: %v", err)
	}
	app := n.url(partnerHost("acme"), "/reports")
	signInWithPassword := func() {
		browse(t, ctx, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SendKeys(chromedp.ID("email"), acmeEmail), chromedp.SendKeys(chromedp.ID("password"), acmePassword),
			chromedp.Submit(chromedp.ID("password")))
	}
	signInWithPassword()
	waitPage(t, ctx, "Set up two-step verification")
	if n := up.requests(); n != 0 {
		t.Fatalf("the app was reached before the second step (%d requests)", n)
	}
	browse(t, ctx, chromedp.Click(chromedp.CSS("button[data-webauthn=register]")))
	codes := waitPage(t, ctx, "Save your recovery codes")
	if strings.Count(codes, "-") < 20 {
		t.Errorf("the recovery codes page shows no codes:\n%s", codes)
	}
	browse(t, ctx, chromedp.Click(chromedp.CSS("form button[type=submit]")))
	landOnApp(t, ctx, app)
	if got := up.lastTo(t, "/reports").Header.Get("X-Auth-User"); got != aliceID {
		t.Errorf("the app saw %q, want alice", got)
	}
	j.step("alice set up a security key at sign-in and reached the app")

	browse(t, ctx, chromedp.Navigate(n.url(partnerHost("acme"), "/.partnergate/logout")),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("a[href='/.partnergate/login']")))
	before := up.requests()
	signInWithPassword()
	waitPage(t, ctx, "Verify it")
	if up.requests() != before {
		t.Fatal("the app was reached with the password alone")
	}
	browse(t, ctx, chromedp.Click(chromedp.CSS("button[data-webauthn=login]")))
	landOnApp(t, ctx, app)
	j.step("the next sign-in asked for the key, and the key let her in")

	// Passkeys may sign in alone here (the default policy): no email, no
	// password, only the key with its user verification.
	browse(t, ctx, chromedp.Navigate(n.url(partnerHost("acme"), "/.partnergate/logout")),
		chromedp.Click(chromedp.CSS("button[type=submit]")), chromedp.WaitVisible(chromedp.CSS("a[href='/.partnergate/login']")))
	before = up.requests()
	browse(t, ctx, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.CSS("button[data-webauthn=login]")),
		chromedp.Click(chromedp.CSS("button[data-webauthn=login]")))
	landOnApp(t, ctx, app)
	if got := up.lastTo(t, "/reports").Header.Get("X-Auth-User"); got != aliceID || up.requests() == before {
		t.Errorf("after the passkey alone the app saw %q", got)
	}
	j.step("a passkey alone signed her in")

	methods := data(n.mustAdmin(t, "GET", "/api/v1/partners/acme/users/"+aliceID+"/mfa-methods", nil, http.StatusOK))
	kinds := map[any]bool{}
	for _, m := range methods {
		kinds[m["kind"]] = true
		if _, leaked := m["secret"]; leaked {
			t.Errorf("the API shows a method's secret: %v", m)
		}
	}
	if !kinds["webauthn"] || !kinds["recovery"] || len(methods) != 2 {
		t.Errorf("alice's methods: %v", methods)
	}
	j.step("the admin API lists a security key and recovery codes")
	j.done()
}
