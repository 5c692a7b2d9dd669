package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var tokenTests = []subtest{
	{"CreateGet", testTokenCreateGet},
	{"CreateDuplicateID", testTokenCreateDuplicateID},
	{"CreateNeedsPartner", testTokenCreateNeedsPartner},
	{"ListByKind", testTokenListByKind},
	{"Delete", testTokenDelete},
}

// newToken returns a token that expires in a day.
func newToken(partnerID, id string, kind store.TokenKind) store.Token {
	at := now()
	return store.Token{
		ID:         id,
		PartnerID:  partnerID,
		Kind:       kind,
		Name:       "Token " + id,
		SecretHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		CreatedBy:  "operator:alice",
		CreatedAt:  at,
		ExpiresAt:  at.Add(24 * time.Hour),
	}
}

func createToken(t *testing.T, s store.Store, tok store.Token) store.Token {
	t.Helper()
	if err := s.CreateToken(t.Context(), tok); err != nil {
		t.Fatalf("create token %q in partner %q: %v", tok.ID, tok.PartnerID, err)
	}
	return tok
}

func normToken(tok store.Token) store.Token {
	tok.CreatedAt, tok.ExpiresAt = normTime(tok.CreatedAt), normTime(tok.ExpiresAt)
	return tok
}

func listTokens(t *testing.T, s store.Store, partnerID string, kind store.TokenKind) []store.Token {
	t.Helper()
	got, err := s.ListTokens(t.Context(), partnerID, kind)
	if err != nil {
		t.Fatalf("list %s tokens of partner %q: %v", kind, partnerID, err)
	}
	return got
}

func checkTokenStored(t *testing.T, s store.Store, want store.Token) {
	t.Helper()
	got, err := s.GetToken(t.Context(), want.PartnerID, want.ID)
	if err != nil {
		t.Errorf("get token %q in partner %q: %v", want.ID, want.PartnerID, err)
		return
	}
	checkEqual(t, "token "+want.ID, got, want, normToken)
}

func checkTokenGone(t *testing.T, s store.Store, partnerID, id string) {
	t.Helper()
	_, err := s.GetToken(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get token %q in partner %q", id, partnerID), err, store.ErrNotFound)
}

func testTokenCreateGet(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	admin := newToken("acme", "t1", store.AdminToken)
	admin.ReadOnly = true
	createToken(t, s, admin)
	forever := newToken("acme", "t2", store.SCIMToken)
	forever.ExpiresAt = time.Time{}
	createToken(t, s, forever)
	setup := newToken("acme", "t3", store.SetupToken)
	setup.Redeemed = true
	createToken(t, s, setup)

	checkTokenStored(t, s, admin)
	checkTokenStored(t, s, forever)
	checkTokenStored(t, s, setup)
	got, err := s.GetToken(t.Context(), "acme", "t2")
	if err == nil && !got.ExpiresAt.IsZero() {
		t.Errorf("token that never expires read back expiring at %v", got.ExpiresAt)
	}
	checkTokenGone(t, s, "acme", "nobody")
}

func testTokenCreateDuplicateID(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	tok := createToken(t, s, newToken("acme", "t1", store.AdminToken))

	dup := newToken("acme", "t1", store.SCIMToken)
	dup.SecretHash = "0000000000000000000000000000000000000000000000000000000000000000"
	checkErr(t, "create token with taken id", s.CreateToken(t.Context(), dup), store.ErrAlreadyExists)
	checkTokenStored(t, s, tok)
	checkList(t, "scim tokens", listTokens(t, s, "acme", store.SCIMToken), nil, normToken)
}

func testTokenCreateNeedsPartner(t *testing.T, s store.Store) {
	err := s.CreateToken(t.Context(), newToken("nobody", "t1", store.AdminToken))
	checkErr(t, "create token of a missing partner", err, store.ErrNotFound)
	checkTokenGone(t, s, "nobody", "t1")
	checkList(t, "admin tokens of a missing partner", listTokens(t, s, "nobody", store.AdminToken), nil, normToken)
}

func testTokenListByKind(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	// Ids run against creation order so a creation-ordered list fails.
	t3 := createToken(t, s, newToken("acme", "t3", store.AdminToken))
	t1 := createToken(t, s, newToken("acme", "t1", store.AdminToken))
	t2 := createToken(t, s, newToken("acme", "t2", store.SCIMToken))
	expired := newToken("acme", "t0", store.AdminToken)
	expired.ExpiresAt = now().Add(-time.Hour)
	createToken(t, s, expired)
	createToken(t, s, newToken("other", "t4", store.AdminToken))

	// Expired tokens stay listed, for callers to show.
	checkList(t, "admin tokens", listTokens(t, s, "acme", store.AdminToken), []store.Token{expired, t1, t3}, normToken)
	checkList(t, "scim tokens", listTokens(t, s, "acme", store.SCIMToken), []store.Token{t2}, normToken)
	checkList(t, "scim tokens of a partner without any", listTokens(t, s, "other", store.SCIMToken), nil, normToken)
	checkTokenStored(t, s, expired)
}

func testTokenDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createToken(t, s, newToken("acme", "t1", store.AdminToken))
	kept := createToken(t, s, newToken("acme", "t2", store.AdminToken))

	if err := s.DeleteToken(ctx, "acme", "t1"); err != nil {
		t.Fatalf("delete token: %v", err)
	}
	checkTokenGone(t, s, "acme", "t1")
	checkTokenStored(t, s, kept)
	checkList(t, "admin tokens", listTokens(t, s, "acme", store.AdminToken), []store.Token{kept}, normToken)
	checkErr(t, "delete deleted token", s.DeleteToken(ctx, "acme", "t1"), store.ErrNotFound)

	// The id is free again, for a token of either kind.
	scim := createToken(t, s, newToken("acme", "t1", store.SCIMToken))
	checkList(t, "admin tokens", listTokens(t, s, "acme", store.AdminToken), []store.Token{kept}, normToken)
	checkList(t, "scim tokens", listTokens(t, s, "acme", store.SCIMToken), []store.Token{scim}, normToken)
}
