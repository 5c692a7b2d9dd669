package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	cdpwebauthn "github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// TestMFASecurityKeyJourney is issue 6's "done when": a partner admin,
// with the API alone, sets "WebAuthn or TOTP required, 8-hour sessions,
// 30-minute idle" and sees a loosening attempt refused with reasons; at
// her next sign-in alice sets up a security key in a real browser
// (Chromium's virtual authenticator), saves her recovery codes and
// reaches the app under exactly those rules; signing in again asks for
// the key, and where passkeys may sign in alone the key alone does. The
// admin API lists her methods without their secrets.
func TestMFASecurityKeyJourney(t *testing.T) {
	backends(t, func(t *testing.T, start func(t *testing.T, cfg nodeConfig) *node) {
		j := newJourney(t)
		n, up := startApp(t, start)
		aliceID := n.seedAcme(t)
		token := n.mustAdmin(t, "POST", "/api/v1/partners/acme/admin-tokens", map[string]any{"name": "acme it"}, http.StatusCreated)["token"].(string)
		n.adminAs(t, token, "PUT", "/api/v1/partners/acme/policy", map[string]any{
			"mfa":     map[string]any{"required": true, "methods": []string{"webauthn", "totp"}},
			"session": map[string]any{"max_lifetime": "8h", "idle_timeout": "30m"},
		}, http.StatusOK)
		refused := n.adminAs(t, token, "PUT", "/api/v1/partners/acme/policy", map[string]any{
			"session": map[string]any{"max_lifetime": "24h"}, "password": map[string]any{"min_length": 6},
		}, http.StatusUnprocessableEntity)["error"].(map[string]any)
		details := fmt.Sprint(refused["details"])
		if refused["code"] != "policy_loosens_baseline" || !strings.Contains(details, "session.max_lifetime") || !strings.Contains(details, "password.min_length") || !strings.Contains(details, "12h0m0s") {
			t.Errorf("the loosening attempt was refused as %v", refused)
		}
		eff := n.adminAs(t, token, "GET", "/api/v1/partners/acme/policy/effective", nil, http.StatusOK)["effective"].(map[string]any)
		if s := eff["session"].(map[string]any); s["max_lifetime"] != "8h0m0s" || s["idle_timeout"] != "30m0s" {
			t.Errorf("effective session lengths after the refused write: %v", s)
		}
		j.step("the partner admin set WebAuthn or TOTP required, 8h sessions, 30m idle; a loosening attempt was refused with reasons")

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
		sessions := data(n.adminAs(t, token, "GET", "/api/v1/partners/acme/users/"+aliceID+"/sessions", nil, http.StatusOK))
		if len(sessions) != 1 {
			t.Fatalf("alice's sessions: %v", sessions)
		}
		created, _ := time.Parse(time.RFC3339, sessions[0]["created_at"].(string))
		expires, _ := time.Parse(time.RFC3339, sessions[0]["expires_at"].(string))
		if d := expires.Sub(created); d < 8*time.Hour-time.Second || d > 8*time.Hour+time.Second {
			t.Errorf("alice's session lasts %v, want the policy's 8h", d)
		}
		j.step("alice set up a security key at sign-in and reached the app, with an 8-hour session")

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
	})
}
