package e2e

import (
	"context"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browser starts a headless Chromium for the test. *.localhost names
// resolve to loopback in Chromium, so partner hosts need no setup.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium not found on PATH; the test command installs it: apt-get install -y chromium")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	return ctx
}

// browse runs steps in the browser and fails the test if one fails.
func browse(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// query runs one action in the browser and returns its result, failing
// the test if it fails.
func query[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestBrowserSignInAndOut walks the flow a person takes in a real browser:
// the app sends them to their partner's login page, they sign in and land
// where they were going, the app sees who they are, and signing out ends it.
func TestBrowserSignInAndOut(t *testing.T) {
	t.Parallel()
	n, up := startApp(t, onFile)
	aliceID := n.seedAcme(t)
	ctx := browser(t)
	app := n.url(partnerHost("acme"), "/dashboard?tab=usage")

	browse(t, ctx, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.ID("email")))
	heading := query(t, ctx, chromedp.Text(chromedp.CSS("body")))
	if !strings.Contains(heading, "Acme Corp") {
		t.Fatalf("login page does not name the partner: %q", heading)
	}
	// A wrong password first: one generic message, and the form again.
	browse(t, ctx,
		chromedp.SendKeys(chromedp.ID("email"), acmeEmail),
		chromedp.SendKeys(chromedp.ID("password"), "wrong password here"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("login-error")),
	)
	alert := query(t, ctx, chromedp.Text(chromedp.ID("login-error")))
	if !strings.Contains(alert, "Incorrect email or password.") {
		t.Errorf("alert %q, want the generic failure message", alert)
	}
	browse(t, ctx,
		chromedp.SendKeys(chromedp.ID("password"), acmePassword),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS("pre")),
	)
	page := query(t, ctx, chromedp.Text(chromedp.CSS("body")))
	location := query(t, ctx, chromedp.Location())
	if location != app {
		t.Errorf("after sign-in the browser is at %q, want %q", location, app)
	}
	if !strings.Contains(page, aliceID) || !strings.Contains(page, acmeEmail) {
		t.Errorf("the app did not see alice: %s", page)
	}
	if got := up.last(t).Header.Get("X-Auth-User"); got != aliceID {
		t.Errorf("app got X-Auth-User %q, want %q", got, aliceID)
	}

	// Sign out through the confirmation page, then the app is closed again.
	browse(t, ctx,
		chromedp.Navigate(n.url(partnerHost("acme"), "/.partnergate/logout")),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("a[href='/.partnergate/login']")),
	)
	before := up.requests()
	browse(t, ctx, chromedp.Navigate(app), chromedp.WaitVisible(chromedp.ID("email")))
	if up.requests() != before {
		t.Error("after sign-out the app was reached")
	}
	resp := get(t, n.client(), app, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API client after sign-out: status %d, want 401", resp.StatusCode)
	}
}
