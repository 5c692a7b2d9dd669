package gateway_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/store"
)

func tinyPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 4, 4))
	img.Set(1, 1, color.RGBA{R: 10, G: 95, B: 255, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBrandedPages: every page on acme's host carries acme's look (name,
// welcome, logo, colours, footer, support link) and only acme's; a
// missing page is a branded 404.
func TestBrandedPages(t *testing.T) {
	t.Parallel()
	onEachBackend(t, func(t *testing.T, backend string) {
		e := newSSOEnv(t, backend, "acme", "globex")
		ctx := context.Background()
		if err := e.st.PutBranding(ctx, "acme", store.Branding{
			DisplayName: "Acme Partner Portal", PrimaryColor: "#0a5fff", WelcomeMessage: "Welcome, partners.",
			Footer: "Acme Corp · 1 Main St", SupportURL: "https://help.acme.example/", UpdatedAt: time.Now(),
		}); err != nil {
			t.Fatal(err)
		}
		logo := tinyPNG(t)
		if err := e.st.PutLogo(ctx, "acme", logo, "v1"); err != nil {
			t.Fatal(err)
		}
		b := e.browser(t)
		for _, path := range []string{"/.partnergate/login", "/.partnergate/logout", "/.partnergate/nowhere"} {
			p := b.get(t, e.url("acme", path))
			for _, want := range []string{"Acme Partner Portal", "Acme Corp · 1 Main St", `href="https://help.acme.example/"`, `src="/.partnergate/branding/logo?v=v1"`, `href="/.partnergate/branding.css?v=`} {
				if !strings.Contains(p.body, want) {
					t.Errorf("%s lacks %s", path, want)
				}
			}
			if path == "/.partnergate/nowhere" && (p.status != http.StatusNotFound || !strings.Contains(p.body, "Page not found")) {
				t.Errorf("a missing page: %d", p.status)
			}
		}
		if login := b.get(t, e.url("acme", "/.partnergate/login")); !strings.Contains(login.body, "Welcome, partners.") {
			t.Error("the login page lacks the welcome message")
		}
		css := b.get(t, e.url("acme", "/.partnergate/branding.css"))
		if css.status != http.StatusOK || !strings.Contains(css.header.Get("Content-Type"), "text/css") || !strings.Contains(css.body, "#0a5fff") {
			t.Errorf("branding.css: %d %q %s", css.status, css.header.Get("Content-Type"), css.body)
		}
		got := b.get(t, e.url("acme", "/.partnergate/branding/logo"))
		if got.status != http.StatusOK || got.header.Get("Content-Type") != "image/png" || got.body != string(logo) {
			t.Errorf("logo: %d %q, %d bytes", got.status, got.header.Get("Content-Type"), len(got.body))
		}
		other := b.get(t, e.url("globex", "/.partnergate/login"))
		if strings.Contains(other.body, "Acme") || strings.Contains(other.body, "branding.css") || strings.Contains(other.body, "branding/logo") {
			t.Error("globex's login page shows acme's branding")
		}
		if got := b.get(t, e.url("globex", "/.partnergate/branding/logo")); got.status != http.StatusNotFound {
			t.Errorf("globex's logo: %d", got.status)
		}
	})
}

// stallingBranding answers no branding read until its caller gives up,
// and reports why the caller did.
type stallingBranding struct {
	gateway.BrandingStore
	ended chan error
}

func (s stallingBranding) GetBranding(ctx context.Context, _ string) (store.Branding, error) {
	<-ctx.Done()
	s.ended <- ctx.Err()
	return store.Branding{}, ctx.Err()
}

// TestReviewBrandingFollowsRequest: a page's branding read ends with its
// request, not at the store timeout, when the client goes away.
func TestReviewBrandingFollowsRequest(t *testing.T) {
	t.Parallel()
	f := newFixture(t, gateway.Limits{})
	branding := stallingBranding{ended: make(chan error, 1)}
	cfg := f.cfg
	cfg.Branding, cfg.StoreTimeout = branding, 5*time.Second
	gw, err := gateway.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := httptest.NewRequest(http.MethodGet, "http://"+testHost+"/.partnergate/login", nil).WithContext(ctx)
	gw.Serve(httptest.NewRecorder(), r)
	if err := <-branding.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the branding read ended with %v, want the request's cancellation", err)
	}
}
