package redis

import (
	"slices"
	"testing"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// TestBrandingKeyLayout pins a partner's branding and logo to one key
// each under the partner's hash tag, the logo's bytes stored raw (not
// base64 or JSON), and both gone with the partner.
func TestBrandingKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	must(t, s.PutBranding(ctx, "acme", store.Branding{DisplayName: "Acme"}))
	png := []byte("\x89PNG\r\n\x1a\n\x00\xff\"\\")
	must(t, s.PutLogo(ctx, "acme", png, "v1"))
	want := []string{"pg:partners", "pg:{acme}:branding", "pg:{acme}:logo", "pg:{acme}:partner"}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys:\n got  %q\n want %q", got, want)
	}
	raw, err := s.client.HGet(ctx, "pg:{acme}:logo", logoPNGField).Bytes()
	must(t, err)
	if !slices.Equal(raw, png) {
		t.Errorf("stored logo %q, want the raw bytes %q", raw, png)
	}
	must(t, s.DeleteLogo(ctx, "acme"))
	want = []string{"pg:partners", "pg:{acme}:branding", "pg:{acme}:partner"}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after deleting the logo:\n got  %q\n want %q", got, want)
	}
	must(t, s.PutLogo(ctx, "acme", png, "v2"))
	must(t, s.DeletePartner(ctx, "acme"))
	if got := allKeys(t, s); len(got) != 0 {
		t.Errorf("keys after deleting the partner: %q, want none", got)
	}
}
