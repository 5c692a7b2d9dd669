package storetest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

var ssoConnectionTests = []subtest{
	{"CreateGetList", testSSOConnectionCreateGetList},
	{"CreateDuplicate", testSSOConnectionCreateDuplicate},
	{"CreateNeedsPartner", testSSOConnectionCreateNeedsPartner},
	{"Update", testSSOConnectionUpdate},
	{"UpdateDomainTaken", testSSOConnectionUpdateDomainTaken},
	{"UpdateCallbackError", testSSOConnectionUpdateCallbackError},
	{"UpdateMissing", testSSOConnectionUpdateMissing},
	{"Delete", testSSOConnectionDelete},
	{"PartnerIsolation", testSSOConnectionPartnerIsolation},
	{"DeletePartner", testSSOConnectionDeletePartner},
}

// newSSOConnection returns an enabled OIDC connection whose config holds
// an encrypted-looking secret, so every test round-trips the JSON value.
func newSSOConnection(partnerID, id string, domains ...string) store.SSOConnection {
	at := now()
	return store.SSOConnection{
		ID:        id,
		PartnerID: partnerID,
		Name:      "Connection " + id,
		Preset:    "okta",
		Protocol:  "oidc",
		Enabled:   true,
		Domains:   domains,
		JIT:       true,
		Config:    json.RawMessage(`{"issuer":"https://idp.example.com/` + id + `","client_id":"cid","client_secret":"enc:v1:Zm9v","scopes":["openid","email"]}`),
		CreatedBy: "setup_link:t_creator",
		CreatedAt: at,
		UpdatedAt: at,
	}
}

func createSSOConnection(t *testing.T, s store.Store, c store.SSOConnection) store.SSOConnection {
	t.Helper()
	if err := s.CreateSSOConnection(t.Context(), c); err != nil {
		t.Fatalf("create sso connection %q in partner %q: %v", c.ID, c.PartnerID, err)
	}
	return c
}

// normSSOConnection treats no domains and an empty list alike and
// compares configs as JSON values.
func normSSOConnection(c store.SSOConnection) store.SSOConnection {
	c.CreatedAt, c.UpdatedAt = normTime(c.CreatedAt), normTime(c.UpdatedAt)
	if len(c.Domains) == 0 {
		c.Domains = nil
	}
	c.Config = normProfile(c.Config)
	return c
}

func listSSOConnections(t *testing.T, s store.Store, partnerID string) []store.SSOConnection {
	t.Helper()
	got, err := s.ListSSOConnections(t.Context(), partnerID)
	if err != nil {
		t.Fatalf("list sso connections of partner %q: %v", partnerID, err)
	}
	return got
}

// checkSSOConnectionStored reads the connection back by id and by each of
// its domains, in upper case: domains are matched case-insensitively.
func checkSSOConnectionStored(t *testing.T, s store.Store, want store.SSOConnection) {
	t.Helper()
	got, err := s.GetSSOConnection(t.Context(), want.PartnerID, want.ID)
	if err != nil {
		t.Errorf("get sso connection %q in partner %q: %v", want.ID, want.PartnerID, err)
		return
	}
	checkEqual(t, "sso connection "+want.ID, got, want, normSSOConnection)
	for _, d := range want.Domains {
		checkByDomain(t, s, want.PartnerID, strings.ToUpper(d), want.ID)
	}
}

func checkSSOConnectionGone(t *testing.T, s store.Store, partnerID, id string) {
	t.Helper()
	_, err := s.GetSSOConnection(t.Context(), partnerID, id)
	checkErr(t, fmt.Sprintf("get sso connection %q in partner %q", id, partnerID), err, store.ErrNotFound)
}

// checkByDomain checks which connection FindSSOConnectionByDomain finds:
// wantID, or none for "".
func checkByDomain(t *testing.T, s store.Store, partnerID, domain, wantID string) {
	t.Helper()
	c, err := s.FindSSOConnectionByDomain(t.Context(), partnerID, domain)
	checkFoundID(t, fmt.Sprintf("sso connection by domain %q in partner %q", domain, partnerID), c.ID, err, wantID)
}

func testSSOConnectionCreateGetList(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	createPartner(t, s, "empty")
	// Ids run against creation order so a creation-ordered list fails.
	c3 := createSSOConnection(t, s, newSSOConnection("acme", "c3", "acme.com", "acme.co.uk"))
	c1 := newSSOConnection("acme", "c1", "Subsidiary.Example")
	c1.Preset, c1.Protocol, c1.Enabled, c1.JIT = "generic-saml", "saml", false, false
	c1.Config = json.RawMessage(`{"metadata_url":"https://idp.example.org/metadata","allow_idp_initiated":false}`)
	createSSOConnection(t, s, c1)
	c2 := newSSOConnection("acme", "c2")
	c2.Config = nil
	createSSOConnection(t, s, c2)

	for _, c := range []store.SSOConnection{c1, c2, c3} {
		checkSSOConnectionStored(t, s, c)
	}
	checkList(t, "sso connections", listSSOConnections(t, s, "acme"), []store.SSOConnection{c1, c2, c3}, normSSOConnection)
	checkList(t, "sso connections of a partner without any", listSSOConnections(t, s, "empty"), nil, normSSOConnection)
	checkSSOConnectionGone(t, s, "acme", "nobody")
	checkByDomain(t, s, "acme", "subsidiary.example", "c1")
	checkByDomain(t, s, "acme", "example.com", "")
	checkByDomain(t, s, "acme", "", "")
}

func testSSOConnectionCreateDuplicate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	c := createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com", "acme.io"))

	tests := []struct {
		name string
		conn store.SSOConnection
	}{
		{"ID", newSSOConnection("acme", "c1", "other.com")},
		{"Domain", newSSOConnection("acme", "c2", "other.com", "ACME.io")},
	}
	for _, tc := range tests {
		err := s.CreateSSOConnection(t.Context(), tc.conn)
		checkErr(t, "create sso connection with taken "+tc.name, err, store.ErrAlreadyExists)
	}
	checkSSOConnectionStored(t, s, c)
	checkSSOConnectionGone(t, s, "acme", "c2")
	// The refused creates claimed nothing: other.com routes nowhere and
	// may still be taken.
	checkByDomain(t, s, "acme", "other.com", "")
	other := createSSOConnection(t, s, newSSOConnection("acme", "c2", "other.com"))
	checkList(t, "sso connections", listSSOConnections(t, s, "acme"), []store.SSOConnection{c, other}, normSSOConnection)
}

func testSSOConnectionCreateNeedsPartner(t *testing.T, s store.Store) {
	err := s.CreateSSOConnection(t.Context(), newSSOConnection("nobody", "c1", "acme.com"))
	checkErr(t, "create sso connection of a missing partner", err, store.ErrNotFound)
	checkSSOConnectionGone(t, s, "nobody", "c1")
	checkByDomain(t, s, "nobody", "acme.com", "")
	createPartner(t, s, "nobody")
	createSSOConnection(t, s, newSSOConnection("nobody", "c1", "acme.com"))
}

func testSSOConnectionUpdate(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	c := createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com", "acme.io"))
	want := c
	want.Name, want.Enabled, want.JIT = "Okta (prod)", false, false
	want.Domains = []string{"acme.io", "acme.de"}
	want.Config = json.RawMessage(`{"issuer":"https://new.example.com","client_id":"cid2"}`)
	want.UpdatedAt = c.UpdatedAt.Add(time.Minute)

	got, err := s.UpdateSSOConnection(t.Context(), "acme", "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
		checkEqual(t, "sso connection passed to update", cur, c, normSSOConnection)
		cur.Name, cur.Enabled, cur.JIT = want.Name, want.Enabled, want.JIT
		cur.Domains, cur.Config, cur.UpdatedAt = want.Domains, want.Config, want.UpdatedAt
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update sso connection: %v", err)
	}
	checkEqual(t, "updated sso connection", got, want, normSSOConnection)
	checkSSOConnectionStored(t, s, want)
	checkList(t, "sso connections", listSSOConnections(t, s, "acme"), []store.SSOConnection{want}, normSSOConnection)
	// The domain given up routes nowhere and is free again.
	checkByDomain(t, s, "acme", "acme.com", "")
	createSSOConnection(t, s, newSSOConnection("acme", "c2", "ACME.com"))
	checkByDomain(t, s, "acme", "acme.com", "c2")

	// A domain moves from one connection to another in two updates: one
	// gives it up, then the other takes it.
	for _, step := range []struct {
		id      string
		domains []string
	}{{"c1", []string{"acme.de"}}, {"c2", []string{"acme.com", "acme.io"}}} {
		_, err := s.UpdateSSOConnection(t.Context(), "acme", step.id, func(cur store.SSOConnection) (store.SSOConnection, error) {
			cur.Domains = step.domains
			return cur, nil
		})
		if err != nil {
			t.Fatalf("update domains of sso connection %q to %q: %v", step.id, step.domains, err)
		}
	}
	checkByDomain(t, s, "acme", "acme.io", "c2")
	checkByDomain(t, s, "acme", "acme.de", "c1")

	// The case of a domain is the connection's own to change.
	_, err = s.UpdateSSOConnection(t.Context(), "acme", "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
		cur.Domains = []string{"ACME.DE"}
		return cur, nil
	})
	if err != nil {
		t.Fatalf("update the case of a connection's own domain: %v", err)
	}
	checkByDomain(t, s, "acme", "acme.de", "c1")

	// Without domains the connection is found by none.
	_, err = s.UpdateSSOConnection(t.Context(), "acme", "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
		cur.Domains = nil
		return cur, nil
	})
	if err != nil {
		t.Fatalf("clear a connection's domains: %v", err)
	}
	checkByDomain(t, s, "acme", "acme.de", "")
}

func testSSOConnectionUpdateDomainTaken(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	a := createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com"))
	b := createSSOConnection(t, s, newSSOConnection("acme", "c2", "acme.io"))

	_, err := s.UpdateSSOConnection(t.Context(), "acme", "c2", func(cur store.SSOConnection) (store.SSOConnection, error) {
		cur.Domains = []string{"new.example", "ACME.COM"}
		cur.Name = "changed"
		return cur, nil
	})
	checkErr(t, "route a domain another connection holds", err, store.ErrAlreadyExists)
	checkSSOConnectionStored(t, s, a)
	checkSSOConnectionStored(t, s, b)
	// The refused update claimed nothing and gave up nothing.
	checkByDomain(t, s, "acme", "new.example", "")
	err = s.CreateSSOConnection(t.Context(), newSSOConnection("acme", "c3", "acme.io"))
	checkErr(t, "create sso connection with the domain kept by a refused update", err, store.ErrAlreadyExists)
}

func testSSOConnectionUpdateCallbackError(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	c := createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com"))

	_, err := s.UpdateSSOConnection(t.Context(), "acme", "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
		cur.Domains = []string{"changed.example"}
		return cur, errFn
	})
	checkErr(t, "update sso connection with failing callback", err, errFn)
	checkSSOConnectionStored(t, s, c)
	createSSOConnection(t, s, newSSOConnection("acme", "c2", "changed.example"))
}

func testSSOConnectionUpdateMissing(t *testing.T, s store.Store) {
	createPartner(t, s, "acme")
	for _, partnerID := range []string{"acme", "nobody"} {
		called := false
		_, err := s.UpdateSSOConnection(t.Context(), partnerID, "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
			called = true
			return cur, nil
		})
		checkErr(t, fmt.Sprintf("update missing sso connection in partner %q", partnerID), err, store.ErrNotFound)
		if called {
			t.Errorf("update of a missing sso connection in partner %q called the callback", partnerID)
		}
	}
	// Nor can an update move a connection to another partner or id.
	createSSOConnection(t, s, newSSOConnection("acme", "c1"))
	for _, move := range []func(*store.SSOConnection){
		func(c *store.SSOConnection) { c.ID = "c2" },
		func(c *store.SSOConnection) { c.PartnerID = "other" },
	} {
		_, err := s.UpdateSSOConnection(t.Context(), "acme", "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
			move(&cur)
			return cur, nil
		})
		if err == nil {
			t.Error("update that moved an sso connection succeeded")
		}
	}
	checkSSOConnectionGone(t, s, "acme", "c2")
}

func testSSOConnectionDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com"))
	kept := createSSOConnection(t, s, newSSOConnection("acme", "c2", "acme.io"))

	if err := s.DeleteSSOConnection(ctx, "acme", "c1"); err != nil {
		t.Fatalf("delete sso connection: %v", err)
	}
	checkSSOConnectionGone(t, s, "acme", "c1")
	checkByDomain(t, s, "acme", "acme.com", "")
	checkSSOConnectionStored(t, s, kept)
	checkList(t, "sso connections", listSSOConnections(t, s, "acme"), []store.SSOConnection{kept}, normSSOConnection)
	checkErr(t, "delete deleted sso connection", s.DeleteSSOConnection(ctx, "acme", "c1"), store.ErrNotFound)

	// The deleted connection's id and domain are free again.
	createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com"))
}

// testSSOConnectionPartnerIsolation checks partner B never sees A's
// connections, by id or by domain, and may route the same domain to one
// of its own.
func testSSOConnectionPartnerIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "a")
	createPartner(t, s, "b")
	ca := createSSOConnection(t, s, newSSOConnection("a", "c1", "shared.example", "a.example"))

	checkSSOConnectionGone(t, s, "b", "c1")
	checkByDomain(t, s, "b", "a.example", "")
	checkList(t, "sso connections of b", listSSOConnections(t, s, "b"), nil, normSSOConnection)
	_, err := s.UpdateSSOConnection(ctx, "b", "c1", func(cur store.SSOConnection) (store.SSOConnection, error) {
		t.Error("update of another partner's sso connection called the callback")
		return cur, nil
	})
	checkErr(t, "update another partner's sso connection", err, store.ErrNotFound)
	checkErr(t, "delete another partner's sso connection", s.DeleteSSOConnection(ctx, "b", "c1"), store.ErrNotFound)

	// Ids and domains are per partner.
	cb := createSSOConnection(t, s, newSSOConnection("b", "c1", "shared.example"))
	checkByDomain(t, s, "a", "shared.example", "c1")
	checkSSOConnectionStored(t, s, ca)
	checkSSOConnectionStored(t, s, cb)
	found, err := s.FindSSOConnectionByDomain(ctx, "b", "shared.example")
	if err != nil {
		t.Fatalf("find b's sso connection by domain: %v", err)
	}
	if found.PartnerID != "b" {
		t.Errorf("b's domain lookup found partner %q's connection", found.PartnerID)
	}
}

func testSSOConnectionDeletePartner(t *testing.T, s store.Store) {
	ctx := t.Context()
	createPartner(t, s, "acme")
	createPartner(t, s, "other")
	createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com"))
	createSSOConnection(t, s, newSSOConnection("acme", "c2", "acme.io"))
	kept := createSSOConnection(t, s, newSSOConnection("other", "c1", "acme.com"))

	if err := s.DeletePartner(ctx, "acme"); err != nil {
		t.Fatalf("delete partner: %v", err)
	}
	for _, id := range []string{"c1", "c2"} {
		checkSSOConnectionGone(t, s, "acme", id)
	}
	checkByDomain(t, s, "acme", "acme.com", "")
	checkByDomain(t, s, "acme", "acme.io", "")
	checkSSOConnectionStored(t, s, kept)

	// A partner created again under the id starts with none.
	createPartner(t, s, "acme")
	if got := listSSOConnections(t, s, "acme"); len(got) != 0 {
		t.Errorf("sso connections of a recreated partner: %s", listString(got))
	}
	checkByDomain(t, s, "acme", "acme.com", "")
	// Nor are its old ids and domains held.
	createSSOConnection(t, s, newSSOConnection("acme", "c1", "acme.com", "acme.io"))
}
