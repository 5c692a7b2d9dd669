package redis

import (
	"slices"
	"testing"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// TestSSOFailureKeyLayout pins a connection's failure log to one list
// under the partner's hash tag, bounded by keep, gone with the connection
// and gone with the partner.
func TestSSOFailureKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	for _, id := range []string{"okta", "entra"} {
		must(t, s.CreateSSOConnection(ctx, store.SSOConnection{ID: id, PartnerID: "acme"}))
		for range 5 {
			must(t, s.AppendSSOFailure(ctx, "acme", id, store.SSOFailure{Code: "idp_error", Message: "denied"}, 3))
		}
	}
	want := []string{
		"pg:partners", "pg:{acme}:partner",
		"pg:{acme}:ssoconnection:entra", "pg:{acme}:ssoconnection:okta", "pg:{acme}:ssoconnections",
		"pg:{acme}:ssofailures:entra", "pg:{acme}:ssofailures:okta",
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys:\n got  %q\n want %q", got, want)
	}
	n, err := s.client.LLen(ctx, "pg:{acme}:ssofailures:okta").Result()
	must(t, err)
	if n != 3 {
		t.Errorf("okta's log holds %d failures, want the 3 kept", n)
	}
	must(t, s.DeleteSSOConnection(ctx, "acme", "okta"))
	want = []string{
		"pg:partners", "pg:{acme}:partner",
		"pg:{acme}:ssoconnection:entra", "pg:{acme}:ssoconnections",
		"pg:{acme}:ssofailures:entra",
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after deleting okta:\n got  %q\n want %q", got, want)
	}
	must(t, s.DeletePartner(ctx, "acme"))
	if got := allKeys(t, s); len(got) != 0 {
		t.Errorf("keys after deleting acme: %q, want none", got)
	}
}
