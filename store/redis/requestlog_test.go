package redis

import (
	"slices"
	"testing"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// TestRequestLogKeyLayout pins the log to one list under the partner's
// hash tag, bounded by keep, and gone with the partner.
func TestRequestLogKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	for range 5 {
		must(t, s.AppendRequest(ctx, "acme", store.RequestRecord{Method: "GET", Path: "/scim/v2/acme/Users", Status: 200}, 3))
	}
	want := []string{"pg:partners", "pg:{acme}:partner", "pg:{acme}:scimrequests"}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys:\n got  %q\n want %q", got, want)
	}
	n, err := s.client.LLen(ctx, "pg:{acme}:scimrequests").Result()
	must(t, err)
	if n != 3 {
		t.Errorf("acme's log holds %d records, want the 3 kept", n)
	}
	must(t, s.DeletePartner(ctx, "acme"))
	if got := allKeys(t, s); len(got) != 0 {
		t.Errorf("keys after deleting acme: %q, want none", got)
	}
}
