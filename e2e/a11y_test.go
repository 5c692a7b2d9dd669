package e2e

// Accessibility of the end-user pages in a real browser: axe-core's WCAG
// 2.1 A/AA rules, a keyboard walk through each page's form, and full-page
// screenshots at desktop and phone widths for a person to look at.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axePath is axe-core's browser bundle relative to this package's
// directory; scripts/test.sh installs it there.
const axePath = "../.cache/axe/node_modules/axe-core/axe.min.js"

// axeSource returns axe-core's source, or skips the test when it is not
// installed; under CI=true it fails instead, so CI cannot go green by
// testing nothing.
func axeSource(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(axePath)
	if err != nil {
		msg := fmt.Sprintf("axe-core not installed (%v); scripts/test.sh installs it: npm install --prefix .cache/axe axe-core@4.10.2 --no-audit --no-fund", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return string(b)
}

// axeViolation is one failed axe rule with the first few elements it
// failed on.
type axeViolation struct {
	ID      string   `json:"id"`
	Impact  string   `json:"impact"`
	Help    string   `json:"help"`
	Targets []string `json:"targets"`
	Count   int      `json:"count"`
}

// axeRun runs axe on the page and maps its violations to axeViolation.
const axeRun = `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}).then(r => ({passes: r.passes.length, violations: r.violations.map(v => ({
	id: v.id, impact: v.impact || "", help: v.help, count: v.nodes.length,
	targets: v.nodes.slice(0, 3).map(n => JSON.stringify(n.target)),
}))}))`

// axeResult is what axeRun returns: how many rules passed and which failed.
type axeResult struct {
	Passes     int            `json:"passes"`
	Violations []axeViolation `json:"violations"`
}

// checkAxe injects axe-core into the page the tab is on, runs the WCAG
// 2.0/2.1 A and AA rules and fails the test with every serious or critical
// violation. Evaluating through the DevTools protocol is not subject to
// the page's Content-Security-Policy, so the pages' strict CSP can stay.
func checkAxe(t *testing.T, ctx context.Context, src, page string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src)); err != nil {
		t.Fatalf("%s: inject axe-core: %v", page, err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[axeResult](axeRun, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: axe.run: %v", page, err)
	}
	if res.Passes == 0 {
		t.Fatalf("%s: axe checked nothing (no rule passed)", page)
	}
	var bad []string
	for _, v := range res.Violations {
		if v.Impact == "serious" || v.Impact == "critical" {
			bad = append(bad, fmt.Sprintf("  %s (%s, %d elements): %s\n    at %s", v.ID, v.Impact, v.Count, v.Help, strings.Join(v.Targets, ", ")))
		} else {
			t.Logf("%s: axe %s (%s): %s at %s", page, v.ID, v.Impact, v.Help, strings.Join(v.Targets, ", "))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%s: %d serious or critical accessibility violations:\n%s", page, len(bad), strings.Join(bad, "\n"))
	}
}

// screenshotDir is where screenshots go: $PARTNERGATE_SCREENSHOTS, else a
// gitignored cache in the repo.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("PARTNERGATE_SCREENSHOTS")
	if dir == "" {
		dir = "../.cache/screenshots"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// viewport is an emulated screen.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	desktop    = viewport{"desktop", 1280, 900, false}
	phone      = viewport{"phone", 390, 844, true}
	screenSets = []viewport{desktop, phone}
)

// emulate sets the tab's screen to v.
func emulate(v viewport) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: v.width, Height: v.height, DeviceScaleFactor: 1, Mobile: v.mobile,
		})
		return err
	})
}

// settle waits until the page's CSS transitions (colours fade when the
// scheme changes) have finished and two frames have been drawn, so axe
// and screenshots see the page as it rests.
var settle = chromedp.Evaluate[chromedp.Void](`Promise.all(document.getAnimations().map(a => a.finished.catch(() => {})))
	.then(() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))))`, chromedp.EvalAwaitPromise)

// colorScheme makes the tab's page prefer scheme ("light" or "dark").
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// checkPage runs axe and takes screenshots of the tab's page in the light
// and the dark colour scheme (the pages follow the system's), then leaves
// the tab light. Dark screenshots are named <page>-dark-desktop.png and
// <page>-dark-phone.png.
func checkPage(t *testing.T, ctx context.Context, src, dir, page string) {
	t.Helper()
	for _, scheme := range []string{"dark", "light"} {
		browse(t, ctx, colorScheme(scheme), settle)
		name := page
		if scheme == "dark" {
			name += "-dark"
		}
		checkAxe(t, ctx, src, name)
		screenshots(t, ctx, dir, name)
	}
}

// screenshots writes full-page PNGs of the tab's page at desktop and
// phone sizes into dir as <page>-desktop.png and <page>-phone.png, and
// leaves the tab at desktop size.
func screenshots(t *testing.T, ctx context.Context, dir, page string) {
	t.Helper()
	for _, v := range screenSets {
		browse(t, ctx, emulate(v), settle)
		// Content wider than the screen means sideways scrolling, which
		// nobody on a phone should need.
		if overflow := query(t, ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - window.innerWidth`)); overflow > 0 {
			t.Errorf("%s at %s: the page is %dpx wider than the screen", page, v.name, overflow)
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("%s: screenshot at %s: %v", page, v.name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, page+"-"+v.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	browse(t, ctx, emulate(desktop))
}

// keyboardProbe describes the focused element and reports whether the
// keyboard walk should type into it (an empty required field of the first
// form) and whether it is the control that walk wants to activate.
const keyboardProbe = `(() => {
	const el = document.activeElement;
	const form = document.querySelector("main form");
	const target = form ? form.querySelector("button[type=submit], button:not([type])") : document.querySelector("main a.button");
	const describe = e => !e || e === document.body ? "body" : e.tagName.toLowerCase() + (e.id ? "#" + e.id : "") + (e.name ? "[name=" + e.name + "]" : "") + (e.textContent.trim() ? " “" + e.textContent.trim().slice(0, 30) + "”" : "");
	return {
		focused: describe(el),
		target: describe(target),
		onTarget: !!target && el === target,
		fill: !!form && form.contains(el) && el.tagName === "INPUT" && el.required && !el.readOnly && el.value === "" ? (el.type === "email" ? "someone@example.com" : el.type === "url" ? "https://idp.example.com/" : el.inputMode === "numeric" ? "123456" : "keyboard only 1") : "",
	};
})()`

type keyboardState struct {
	Focused  string `json:"focused"`
	Target   string `json:"target"`
	OnTarget bool   `json:"onTarget"`
	Fill     string `json:"fill"`
}

// armActivation records, without leaving the page, that the first form
// was submitted or (on a page without a form) the main link followed.
const armActivation = `(() => {
	window.__activated = "";
	const form = document.querySelector("main form");
	if (form) {
		form.addEventListener("submit", e => { e.preventDefault(); window.__activated = "submit"; });
	} else {
		document.querySelector("main a.button").addEventListener("click", e => { e.preventDefault(); window.__activated = "click"; });
	}
	document.activeElement && document.activeElement.blur();
	return true;
})()`

// checkKeyboard starts from the body with nothing focused and presses Tab
// until the page's first form's submit button (or, with no form, its main
// link) has focus, typing into the required fields it passes; then Enter
// must submit the form (or follow the link). The submission is caught, so
// the tab stays on the page.
func checkKeyboard(t *testing.T, ctx context.Context, page string) {
	t.Helper()
	browse(t, ctx,
		chromedp.Evaluate[chromedp.Void](armActivation),
		// A click on the page's margin moves the sequential focus
		// navigation starting point to the body, as a person would.
		chromedp.MouseClickXY(2, 2),
	)
	var walk []string
	for i := 0; ; i++ {
		if i == 60 {
			t.Errorf("%s: %d Tab presses never reached the submit control; focus went %s", page, i, strings.Join(walk, " → "))
			return
		}
		browse(t, ctx, chromedp.KeyEvent(kb.Tab))
		st := query(t, ctx, chromedp.Evaluate[keyboardState](keyboardProbe))
		walk = append(walk, st.Focused)
		if st.Fill != "" {
			browse(t, ctx, chromedp.KeyEvent(st.Fill))
		}
		if st.OnTarget {
			break
		}
	}
	browse(t, ctx, chromedp.KeyEvent(kb.Enter))
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.__activated`))
	if err != nil || got == "" {
		t.Errorf("%s: Enter on the focused %s did nothing (%v); focus went %s", page, walk[len(walk)-1], err, strings.Join(walk, " → "))
		return
	}
	t.Logf("%s: keyboard: Tab %s, Enter: %s", page, strings.Join(walk, " → Tab "), got)
}

// TestAccessibilityOfEndUserPages checks every end-user page a partner's
// people see, plain and branded, with axe-core's WCAG 2.1 AA rules (no
// serious or critical violation may remain) and a keyboard-only walk,
// and saves screenshots of each at desktop and phone widths.
func TestAccessibilityOfEndUserPages(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	dir := screenshotDir(t)
	n, _ := startAcme(t, onFile)
	host := partnerHost("acme")
	ctx := browser(t)
	browse(t, ctx, emulate(desktop))

	check := func(page, url, wait string) {
		t.Helper()
		browse(t, ctx, chromedp.Navigate(url))
		waitPage(t, ctx, wait)
		checkPage(t, ctx, src, dir, page)
		checkKeyboard(t, ctx, page)
	}

	check("login", n.url(host, "/.partnergate/login"), "Sign in")
	// The same page after a failed sign-in: the alert and the fields
	// pointing at it.
	browse(t, ctx,
		chromedp.Navigate(n.url(host, "/.partnergate/login")), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), acmeEmail), chromedp.SendKeys(chromedp.ID("password"), "not the password"),
		chromedp.Submit(chromedp.ID("password")))
	waitPage(t, ctx, "Incorrect email or password.")
	checkPage(t, ctx, src, dir, "login-failed")
	checkKeyboard(t, ctx, "login-failed")
	check("sign-out", n.url(host, "/.partnergate/logout"), "Sign out")
	check("not-found", n.url(host, "/.partnergate/nowhere"), "Page not found")
	check("sso-error", n.url(host, "/.partnergate/callback/oidc?state=x"), "Sign-in didn")
	check("set-password-invalid", n.url(host, "/.partnergate/password?token=nope"), "This link can")

	n.mustAdmin(t, "PUT", "/api/v1/partners/acme/branding", map[string]any{
		"display_name":    "Acme Logistics",
		"primary_color":   "#0f766e",
		"accent_color":    "#f59e0b",
		"welcome_message": "Welcome, Acme partners. Use your work account to reach the shipment portal.",
		"footer":          "Acme Logistics GmbH · Partner support Monday to Friday, 8:00–18:00 CET",
		"support_url":     "https://support.acme.example/partners",
	}, http.StatusOK)
	// The node's directory picks the branding up by event.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		page := body(get(t, n.client(), n.url(host, "/.partnergate/login"), http.Header{"Accept": {"text/html"}}))
		if strings.Contains(page, "Welcome, Acme partners") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the login page never showed the branding:\n%s", page)
		}
	}
	check("login-branded", n.url(host, "/.partnergate/login"), "Welcome, Acme partners")

	n.mustAdmin(t, "PUT", "/api/v1/partners/acme/policy", map[string]any{"mfa": map[string]any{"required": true}}, http.StatusOK)
	browse(t, ctx,
		chromedp.Navigate(n.url(host, "/.partnergate/login")), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), acmeEmail), chromedp.SendKeys(chromedp.ID("password"), acmePassword),
		chromedp.Submit(chromedp.ID("password")))
	waitPage(t, ctx, "Set up two-step verification")
	checkPage(t, ctx, src, dir, "mfa-enroll")
	checkKeyboard(t, ctx, "mfa-enroll")

	// Last, as it shuts the site: the notice a suspended partner's site
	// shows for every request. It has no control for a keyboard walk.
	n.mustAdmin(t, "PATCH", "/api/v1/partners/acme", map[string]any{"suspended": true}, http.StatusOK)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		page := body(get(t, n.client(), n.url(host, "/"), http.Header{"Accept": {"text/html"}}))
		if strings.Contains(page, "access is suspended") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the site never showed the suspension:\n%s", page)
		}
	}
	browse(t, ctx, chromedp.Navigate(n.url(host, "/")))
	waitPage(t, ctx, "access is suspended")
	checkPage(t, ctx, src, dir, "suspended")

	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	t.Logf("screenshots in %s", abs)
}
