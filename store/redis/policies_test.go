package redis

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// TestPolicyKeyLayout pins a partner's policy to one key under the
// partner's hash tag, gone with the partner, and the governance baseline
// to one key with a tag of its own that no partner's sweep matches, not
// even that of a partner named "platform".
func TestPolicyKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	rec := store.PolicyRecord{Policy: json.RawMessage(`{"mfa":{"required":true}}`), UpdatedBy: "ops"}
	must(t, s.PutGovernance(ctx, rec))
	for _, id := range []string{"acme", "platform"} {
		must(t, s.CreatePartner(ctx, store.Partner{ID: id}))
		must(t, s.PutPolicy(ctx, id, rec))
	}
	want := []string{
		"pg:governance:{platform}", "pg:partners",
		"pg:{acme}:partner", "pg:{acme}:policy",
		"pg:{platform}:partner", "pg:{platform}:policy",
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys:\n got  %q\n want %q", got, want)
	}
	must(t, s.DeletePolicy(ctx, "acme"))
	must(t, s.DeletePartner(ctx, "platform"))
	want = []string{"pg:governance:{platform}", "pg:partners", "pg:{acme}:partner"}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after deleting acme's policy and partner platform:\n got  %q\n want %q", got, want)
	}
}
