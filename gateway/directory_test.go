package gateway

import (
	"context"
	"errors"
	"testing"

	"github.com/partnergate/partnergate/store"
)

func TestDirectory(t *testing.T) {
	t.Parallel()
	partners := []store.Partner{
		{ID: "acme", Name: "Acme Corp", Hostnames: []string{"portal.acme.test", "Login.Acme.Test."}},
		{ID: "globex", Name: "Globex"},
	}
	var failing error
	d := NewDirectory("Apps.Localhost", func(context.Context) ([]store.Partner, error) { return partners, failing })
	if _, ok := d.Resolve("acme.apps.localhost"); ok {
		t.Fatal("an empty directory resolved a host")
	}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]string{
		"acme.apps.localhost":      "acme",
		"ACME.apps.localhost:8080": "acme",
		"portal.acme.test":         "acme",
		"login.acme.test":          "acme",
		"globex.apps.localhost.":   "globex",
		"initech.apps.localhost":   "",
		"apps.localhost":           "",
		"acme":                     "",
		"portal.acme.test.evil":    "",
	} {
		p, ok := d.Resolve(host)
		if got := ""; ok {
			got = p.ID
			if got != want {
				t.Errorf("Resolve(%q) = %q, want %q", host, got, want)
			}
		} else if want != "" {
			t.Errorf("Resolve(%q) found nothing, want %q", host, want)
		}
	}
	// A failed reload keeps serving the last good snapshot.
	failing = errors.New("store down")
	partners = nil
	if err := d.Reload(context.Background()); err == nil {
		t.Fatal("reload with a failing store reported success")
	}
	if p, ok := d.Resolve("acme.apps.localhost"); !ok || p.Name != "Acme Corp" {
		t.Error("a failed reload dropped the snapshot")
	}
	// A partner removed from the store disappears on the next reload.
	failing = nil
	partners = []store.Partner{{ID: "globex", Name: "Globex"}}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := d.Resolve("portal.acme.test"); ok {
		t.Error("a deleted partner's custom hostname still resolves")
	}
	// A suspension reaches the snapshot on the next reload, under every
	// hostname of the partner.
	partners = []store.Partner{{ID: "globex", Name: "Globex", Hostnames: []string{"sso.globex.test"}, Suspended: true}}
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"globex.apps.localhost", "sso.globex.test"} {
		if p, ok := d.Resolve(host); !ok || !p.Suspended {
			t.Errorf("Resolve(%q) = %+v, want the suspended globex", host, p)
		}
	}
}

func TestDirectoryImpliedHostWins(t *testing.T) {
	t.Parallel()
	partners := []store.Partner{
		{ID: "acme", Name: "Acme Corp", Hostnames: []string{"globex.apps.localhost"}},
		{ID: "globex", Name: "Globex"},
	}
	d := NewDirectory("apps.localhost", func(context.Context) ([]store.Partner, error) { return partners, nil })
	if err := d.Reload(context.Background()); err != nil {
		t.Fatal(err)
	}
	if p, ok := d.Resolve("globex.apps.localhost"); !ok || p.ID != "globex" {
		t.Errorf("globex.apps.localhost resolved to %v, want globex: a custom hostname shadowed a partner's own", p)
	}
}
