package e2e

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAccessibilityOfPortalPages checks the portal pages the onboarding
// journey does not pass through, and the portal's refusal states, with
// axe-core in light and dark, screenshots at both widths and a keyboard
// walk: a partner admin's user and group pages, the SSO delete
// confirmation, the branding preview, a policy and a branding write the
// API refused, and the portal's not-found page.
func TestAccessibilityOfPortalPages(t *testing.T) {
	t.Parallel()
	src, dir := axeSource(t), screenshotDir(t)
	n, _ := startApp(t, onFile)
	alice := n.seedAcme(t)
	grp := n.mustAdmin(t, "POST", "/api/v1/partners/acme/groups", map[string]any{"name": "Acme admins", "members": []string{alice}}, http.StatusCreated)
	n.mustAdmin(t, "POST", "/api/v1/partners/acme/role-mappings", map[string]any{"group": grp["id"], "role": "partner_admin"}, http.StatusCreated)
	conn := n.mustAdmin(t, "POST", "/api/v1/partners/acme/sso-connections", map[string]any{
		"name": "Acme Okta", "preset": "okta", "enabled": false,
		"oidc": map[string]any{"issuer": "https://acme.okta.example", "client_id": "partnergate", "client_secret": "a client secret 0123456789"},
	}, http.StatusCreated)
	portal := n.url(partnerHost("acme"), "/.partnergate/admin")

	ctx := browser(t)
	browse(t, ctx, emulate(desktop),
		chromedp.Navigate(portal+"/"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), acmeEmail), chromedp.SendKeys(chromedp.ID("password"), acmePassword),
		chromedp.Submit(chromedp.ID("password")))
	waitPage(t, ctx, "Recent activity")

	check := func(page, path, wait string) {
		t.Helper()
		browse(t, ctx, chromedp.Navigate(portal+path))
		waitPage(t, ctx, wait)
		checkPage(t, ctx, src, dir, "portal-"+page)
		checkKeyboard(t, ctx, "portal "+page)
	}
	check("user", "/users/"+alice, "Sign out everywhere")
	check("group", "/groups/"+grp["id"].(string), "Acme admins")
	check("sso-delete", "/sso/"+conn["id"].(string)+"/delete", "Delete Acme Okta")
	check("not-found", "/nowhere", "Page not found")

	browse(t, ctx, chromedp.Navigate(portal+"/branding/preview"))
	waitPage(t, ctx, "Sign in")
	checkPage(t, ctx, src, dir, "portal-branding-preview")

	browse(t, ctx, chromedp.Navigate(portal+"/policy"), chromedp.WaitVisible(chromedp.CSS(`[name="password.min_length"]`)),
		chromedp.SetValue(chromedp.CSS(`[name="password.min_length"]`), "6"),
		chromedp.Submit(chromedp.CSS(`[name="password.min_length"]`)))
	waitPage(t, ctx, "the platform's limit is 12")
	checkPage(t, ctx, src, dir, "portal-policy-refused")
	checkKeyboard(t, ctx, "portal policy refused")

	browse(t, ctx, chromedp.Navigate(portal+"/branding"), chromedp.WaitVisible(chromedp.ID("primary_color")),
		chromedp.SetValue(chromedp.ID("primary_color"), "#ffff66"),
		chromedp.SetValue(chromedp.ID("primary_color_pick"), "#ffff66"),
		chromedp.Submit(chromedp.ID("primary_color")))
	waitPage(t, ctx, "contrast")
	checkPage(t, ctx, src, dir, "portal-branding-refused")
	checkKeyboard(t, ctx, "portal branding refused")

	// The preview follows the form as it is typed in, before saving: a
	// yellow primary gets dark text, as the server would choose.
	browse(t, ctx, chromedp.Navigate(portal+"/branding"), chromedp.WaitVisible(chromedp.ID("primary_color")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("primary_color").value = ""`),
		chromedp.SendKeys(chromedp.ID("primary_color"), "#ffd60a"),
		chromedp.SendKeys(chromedp.ID("welcome_message"), "Hello from the preview"))
	preview := func(js string) string {
		t.Helper()
		return query(t, ctx, chromedp.Evaluate[string](`(() => { const d = document.getElementById("brand-preview").contentDocument; return `+js+`; })()`))
	}
	if got := preview(`d.documentElement.style.getPropertyValue("--primary") + " " + d.documentElement.style.getPropertyValue("--on-primary")`); got != "#ffd60a #111827" {
		t.Errorf("the preview's colours while typing: %q", got)
	}
	if got := preview(`d.getElementById("pv-welcome").textContent`); got != "Hello from the preview" {
		t.Errorf("the preview's welcome while typing: %q", got)
	}
	if picker := query(t, ctx, chromedp.Value(chromedp.ID("primary_color_pick"))); picker != "#ffd60a" {
		t.Errorf("the colour picker did not follow the hex field: %q", picker)
	}
}
