package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
)

// as calls the handler with token as the Bearer credential.
func (e *env) as(token, method, path, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(request{method: method, path: path, body: body, auth: bearer(token)})
}

const redeemPath = "/api/v1/setup-links/redeem"

// setupLinkDespiteUsers stores a setup link for a partner that has users,
// which the API refuses to make, to show what such a link would meet.
func (e *env) setupLinkDespiteUsers(partnerID string) string {
	e.t.Helper()
	id := store.NewID(apitoken.IDPrefix)
	secret, hash := apitoken.New(apitoken.SetupPrefix, partnerID, id)
	now := e.clock.Now()
	if err := e.store.PutTicket(e.t.Context(), partnerID, setupTicket(id), nil, time.Hour); err != nil {
		e.t.Fatal(err)
	}
	if err := e.store.CreateToken(e.t.Context(), store.Token{ID: id, PartnerID: partnerID, Kind: store.SetupToken, Name: "IT",
		SecretHash: hash, CreatedBy: "operator:ops", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		e.t.Fatal(err)
	}
	return secret
}

// TestSetupLinkFlow follows a setup from the operator's link to the IT
// admin becoming the partner's admin: the session sets up SSO and SCIM on
// the way and ends with the setup.
func TestSetupLinkFlow(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"

		rec := e.call("POST", p+"/setup-links", `{"name": "Acme IT", "expires_in": "48h"}`)
		if rec.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
		created := decodeAs[setupLinkJSON](t, rec.Body.Bytes())
		if !strings.HasPrefix(created.Token, "pgsl.acme."+created.ID+".") || created.Redeemed || created.Name != "Acme IT" ||
			!created.ExpiresAt.Equal(t0.Add(48*time.Hour)) || !created.CreatedAt.Equal(t0) {
			t.Errorf("created = %+v", created)
		}
		list := decodeAs[listJSON[setupLinkJSON]](t, e.mustCall("GET", p+"/setup-links", "", http.StatusOK))
		if len(list.Data) != 1 || list.Data[0].ID != created.ID || list.Data[0].Token != "" {
			t.Errorf("list = %+v", list)
		}

		rec = e.as(created.Token, "POST", redeemPath, "")
		if rec.Code != http.StatusOK {
			t.Fatalf("redeem: %d %s", rec.Code, rec.Body)
		}
		redeemed := decodeAs[setupSessionJSON](t, rec.Body.Bytes())
		if redeemed.PartnerID != "acme" || redeemed.Token == created.Token ||
			!strings.HasPrefix(redeemed.Token, "pgsl.acme."+created.ID+".") || !redeemed.ExpiresAt.Equal(t0.Add(setupSessionTTL)) {
			t.Errorf("redeemed = %+v", redeemed)
		}
		setup := redeemed.Token
		// Both secrets were shown once, above; no later answer may hold them.
		e.mu.Lock()
		e.bodies = nil
		e.mu.Unlock()

		assertJSON(t, e.as(setup, "GET", "/api/v1/me", "").Body.Bytes(),
			`{"kind": "setup_link", "name": "Acme IT", "partner_id": "acme", "read_only": false, "setup": true}`)
		if rec := e.as(setup, "POST", p+"/sso-connections", validSSOConnection); rec.Code != http.StatusCreated {
			t.Errorf("SSO connection with the setup session: %d %s", rec.Code, rec.Body)
		}
		rec = e.as(setup, "POST", p+"/scim-tokens", `{"name": "okta"}`)
		if rec.Code != http.StatusCreated {
			t.Errorf("SCIM token with the setup session: %d %s", rec.Code, rec.Body)
		}
		if by := decodeAs[tokenJSON](t, rec.Body.Bytes()).CreatedBy; by != "setup_link:"+created.ID {
			t.Errorf("SCIM token created_by = %q", by)
		}
		list = decodeAs[listJSON[setupLinkJSON]](t, e.mustCall("GET", p+"/setup-links", "", http.StatusOK))
		if len(list.Data) != 1 || !list.Data[0].Redeemed {
			t.Errorf("list after redeem = %+v", list)
		}

		rec = e.as(setup, "POST", p+"/setup/complete", `{"email": "it@acme.example", "name": "Ida"}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("complete: %d %s", rec.Code, rec.Body)
		}
		got := decodeAs[struct{ User userJSON }](t, rec.Body.Bytes()).User
		u, err := e.store.GetUserByEmail(t.Context(), "acme", "it@acme.example")
		if err != nil {
			t.Fatalf("the new admin: %v", err)
		}
		if got.ID != u.ID || !u.Active || u.PasswordHash != "" || u.Name != "Ida" || len(got.Groups) != 1 {
			t.Errorf("answered %+v, stored %+v", got, u)
		}
		if _, roles, err := session.Access(t.Context(), e.store, u); err != nil || !slices.Contains(roles, PartnerAdminRole) {
			t.Errorf("roles of the new admin = %v, %v", roles, err)
		}
		g, err := e.store.GetGroupByName(t.Context(), "acme", setupAdminsGroup)
		if err != nil || got.Groups[0] != g.ID {
			t.Errorf("group %q: %+v, %v", setupAdminsGroup, g, err)
		}

		// The setup session ended with the setup, and its link is gone.
		assertError(t, e.as(setup, "GET", "/api/v1/me", ""), http.StatusUnauthorized, "unauthorized", "")
		assertError(t, e.as(created.Token, "POST", redeemPath, ""), http.StatusUnauthorized, "unauthorized", "")
		list = decodeAs[listJSON[setupLinkJSON]](t, e.mustCall("GET", p+"/setup-links", "", http.StatusOK))
		if len(list.Data) != 0 {
			t.Errorf("list after completion = %+v", list)
		}

		// The trail names the link as the actor, in the partner's stream.
		events := e.auditEvents(p + "/audit?action=setup_link.*").Events
		if !slices.Equal(eventActions(events), []string{"setup_link.complete", "setup_link.redeem", "setup_link.create"}) {
			t.Fatalf("setup events = %v", eventActions(events))
		}
		link := audit.Actor{Type: audit.ActorSetupLink, ID: created.ID, Name: "Acme IT"}
		if ev := events[0]; ev.Actor != link || ev.Target != (audit.Target{Type: "user", ID: u.ID}) || ev.Outcome != audit.Success {
			t.Errorf("complete event = %+v", ev)
		}
		if ev := events[1]; ev.Actor != link || ev.Target != (audit.Target{Type: "setup_link", ID: created.ID}) || ev.Outcome != audit.Success {
			t.Errorf("redeem event = %+v", ev)
		}
		e.noLeak(created.Token, setup)
	})
}

// TestSetupCompleteNeverMapsExistingGroup: completing finds the user the
// holder's own directory provisioned, but makes a group of its own for
// the admins: a group that existed, whoever is in it, never gets the
// role, and a completion repeated or raced makes only the one group.
func TestSetupCompleteNeverMapsExistingGroup(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		var existing struct{ ID string }
		e.mustJSON("POST", p+"/groups", `{"name": "partner admins"}`, http.StatusCreated, &existing)

		_, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		if rec := e.as(setup, "POST", p+"/scim-tokens", `{"name": "okta"}`); rec.Code != http.StatusCreated {
			t.Fatalf("SCIM token: %d %s", rec.Code, rec.Body)
		}
		// As the holder's SCIM client would provision them, with the token.
		e.clock.Advance(time.Second)
		userID := e.createUser("acme", `{"email": "it@acme.example", "name": "Ida"}`)
		codes := make([]int, 2)
		var wg sync.WaitGroup
		for i := range codes {
			wg.Go(func() {
				codes[i] = e.as(setup, "POST", p+"/setup/complete", `{"email": "it@acme.example", "name": "Someone else"}`).Code
			})
		}
		wg.Wait()
		if !slices.Contains(codes, http.StatusOK) {
			t.Fatalf("concurrent completions = %v, want one 200", codes)
		}
		u, err := e.store.GetUser(t.Context(), "acme", userID)
		if err != nil || u.Name != "Ida" || len(u.Groups) != 1 || u.Groups[0] == existing.ID {
			t.Fatalf("user = %+v, %v; want Ida in a new group", u, err)
		}
		g, err := e.store.GetGroup(t.Context(), "acme", u.Groups[0])
		if err != nil || g.Name != setupAdminsGroup+" (2)" {
			t.Errorf("the admins' group = %+v, %v", g, err)
		}
		ms, err := e.store.ListRoleMappings(t.Context(), "acme")
		if err != nil || len(ms) != 1 || ms[0].GroupID != g.ID || ms[0].Role != PartnerAdminRole {
			t.Errorf("role mappings = %+v, %v; want only the new group's", ms, err)
		}
		if gs, err := e.store.ListGroups(t.Context(), "acme", store.Page{}); err != nil || len(gs) != 2 {
			t.Errorf("groups = %+v, %v; want the existing one and one new", gs, err)
		}
	})
}

// TestSetupLinkNeedsPartnerWithoutUsers: a setup session's SCIM token
// could set any user's password, so a partner with users gets no link,
// and a link whose partner gained users is not redeemed, nor used up.
func TestSetupLinkNeedsPartnerWithoutUsers(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		const p = "/api/v1/partners/acme"
		e.createUser("globex", `{"email": "admin@globex.example"}`)
		e.unchanged(func() {
			rec := e.call("POST", "/api/v1/partners/globex/setup-links", `{}`)
			assertError(t, rec, http.StatusConflict, "partner_has_users", "")
			if !strings.Contains(rec.Body.String(), "this partner already has users; invite its admin or create an admin token instead") {
				t.Errorf("message: %s", rec.Body)
			}
		})

		_, link := e.newSetupLink("acme", `{}`)
		userID := e.createUser("acme", `{"email": "late@acme.example"}`)
		e.unchanged(func() {
			assertError(t, e.as(link, "POST", redeemPath, ""), http.StatusConflict, "partner_has_users", "")
		})
		e.mustCall("DELETE", p+"/users/"+userID, "", http.StatusNoContent)
		e.redeem(link)
	})
}

// TestSetupLinkRevokeUndoesSession: revoking a setup session revokes the
// tokens it made and disables its SSO connections, so nothing it set up
// outlives it; what others made stays as it is.
func TestSetupLinkRevokeUndoesSession(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		operatorSCIM, _ := e.newSCIMToken("acme", `{"name": "operator's"}`)
		var operatorConn struct{ ID string }
		e.mustJSON("POST", p+"/sso-connections", `{"name": "Ops", "preset": "generic-saml", "enabled": true, "saml": {"metadata_url": "https://idp.example.com/md"}}`,
			http.StatusCreated, &operatorConn)

		linkID, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		var scim, conn struct{ ID string }
		if err := json.Unmarshal(e.as(setup, "POST", p+"/scim-tokens", `{"name": "okta"}`).Body.Bytes(), &scim); err != nil || scim.ID == "" {
			t.Fatalf("SCIM token of the session: %v", err)
		}
		rec := e.as(setup, "POST", p+"/sso-connections", strings.Replace(validSSOConnection, `"jit": true`, `"jit": true, "enabled": true`, 1))
		if err := json.Unmarshal(rec.Body.Bytes(), &conn); err != nil || conn.ID == "" {
			t.Fatalf("SSO connection of the session: %d %s", rec.Code, rec.Body)
		}
		// The session cannot make admin tokens; one it had made would go
		// all the same.
		adminTok := store.Token{ID: store.NewID("t_"), PartnerID: "acme", Kind: store.AdminToken, Name: "planted",
			SecretHash: strings.Repeat("0", 64), CreatedBy: "setup_link:" + linkID, CreatedAt: e.clock.Now()}
		if err := e.store.CreateToken(t.Context(), adminTok); err != nil {
			t.Fatal(err)
		}

		e.mustCall("DELETE", p+"/setup-links/"+linkID, "", http.StatusNoContent)
		for _, id := range []string{scim.ID, adminTok.ID} {
			if _, err := e.store.GetToken(t.Context(), "acme", id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("token %s of the revoked session: %v, want it gone", id, err)
			}
		}
		if c, err := e.store.GetSSOConnection(t.Context(), "acme", conn.ID); err != nil || c.Enabled {
			t.Errorf("SSO connection of the revoked session: %+v, %v; want it kept, disabled", c, err)
		}
		if _, err := e.store.GetToken(t.Context(), "acme", operatorSCIM); err != nil {
			t.Errorf("the operator's SCIM token: %v", err)
		}
		if c, err := e.store.GetSSOConnection(t.Context(), "acme", operatorConn.ID); err != nil || !c.Enabled {
			t.Errorf("the operator's SSO connection: %+v, %v", c, err)
		}
		events := e.auditEvents(p + "/audit?action=setup_link.revoke").Events
		if len(events) != 1 || !slices.Equal(events[0].Changes, []audit.Change{
			{Field: "revoked_scim_token", To: scim.ID},
			{Field: "revoked_admin_token", To: adminTok.ID},
			{Field: "disabled_sso_connection", To: conn.ID},
		}) {
			t.Errorf("revoke events = %+v", events)
		}
	})
}

// TestSetupSessionChangesOnlyItsOwn: a setup session reads the partner's
// SSO connections and SCIM tokens, but changes, tests and revokes only
// those it made; the others answer 404 as if absent.
func TestSetupSessionChangesOnlyItsOwn(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		otherSCIM, _ := e.newSCIMToken("acme", `{"name": "operator's"}`)
		var other struct{ ID string }
		e.mustJSON("POST", p+"/sso-connections", `{"name": "Ops", "preset": "generic-saml", "saml": {"metadata_url": "https://idp.example.com/md"}}`,
			http.StatusCreated, &other)
		_, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		var own struct{ ID string }
		if err := json.Unmarshal(e.as(setup, "POST", p+"/sso-connections", validSSOConnection).Body.Bytes(), &own); err != nil || own.ID == "" {
			t.Fatalf("own SSO connection: %v", err)
		}
		ownSCIM := decodeAs[struct{ ID string }](t, e.as(setup, "POST", p+"/scim-tokens", `{"name": "okta"}`).Body.Bytes()).ID

		conn := p + "/sso-connections/" + other.ID
		e.unchanged(func() {
			assertError(t, e.as(setup, "PATCH", conn, `{"enabled": true}`), http.StatusNotFound, "not_found", "")
			assertError(t, e.as(setup, "DELETE", conn, ""), http.StatusNotFound, "not_found", "")
			assertError(t, e.as(setup, "POST", conn+"/test", ""), http.StatusNotFound, "not_found", "")
			assertError(t, e.as(setup, "DELETE", p+"/scim-tokens/"+otherSCIM, ""), http.StatusNotFound, "not_found", "")
		})
		if rec := e.as(setup, "GET", conn, ""); rec.Code != http.StatusOK {
			t.Errorf("reading another's connection: %d %s", rec.Code, rec.Body)
		}
		ownConn := p + "/sso-connections/" + own.ID
		if rec := e.as(setup, "PATCH", ownConn, `{"enabled": true}`); rec.Code != http.StatusOK {
			t.Errorf("PATCH own connection: %d %s", rec.Code, rec.Body)
		}
		if rec := e.as(setup, "POST", ownConn+"/test", ""); rec.Code != http.StatusCreated {
			t.Errorf("test own connection: %d %s", rec.Code, rec.Body)
		}
		if rec := e.as(setup, "DELETE", ownConn, ""); rec.Code != http.StatusNoContent {
			t.Errorf("DELETE own connection: %d %s", rec.Code, rec.Body)
		}
		if rec := e.as(setup, "DELETE", p+"/scim-tokens/"+ownSCIM, ""); rec.Code != http.StatusNoContent {
			t.Errorf("revoke own SCIM token: %d %s", rec.Code, rec.Body)
		}
		// The operator is no setup session: everything is theirs to change.
		e.mustCall("PATCH", conn, `{"enabled": true}`, http.StatusOK)
	})
}

// TestSetupEnd: signing out ends a setup session on the server at once;
// the link stays used.
func TestSetupEnd(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		id, link := e.newSetupLink("acme", `{}`)
		_, unredeemed := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		e.unchanged(func() {
			assertError(t, e.as(unredeemed, "POST", "/api/v1/setup/end", ""), http.StatusForbidden, "setup_scope", "")
			assertError(t, e.call("POST", "/api/v1/setup/end", ""), http.StatusForbidden, "forbidden", "")
		})
		rec := e.as(setup, "POST", "/api/v1/setup/end", "")
		if rec.Code != http.StatusNoContent {
			t.Fatalf("end: %d %s", rec.Code, rec.Body)
		}
		assertError(t, e.as(setup, "GET", "/api/v1/me", ""), http.StatusUnauthorized, "token_expired", "")
		assertError(t, e.as(link, "POST", redeemPath, ""), http.StatusUnauthorized, "unauthorized", "")
		// Ending again, from a second tab, finds it ended.
		assertError(t, e.as(setup, "POST", "/api/v1/setup/end", ""), http.StatusUnauthorized, "token_expired", "")
		// Newest first: the end, then the unredeemed link's refused try.
		events := e.auditEvents(p + "/audit?action=setup_link.end").Events
		if len(events) != 2 || events[1].Reason != "setup_scope" || events[0].Outcome != audit.Success || events[0].Target != (audit.Target{Type: "setup_link", ID: id}) ||
			events[0].Actor.Type != audit.ActorSetupLink {
			t.Errorf("end events = %+v", events)
		}
	})
}

// TestSetupEndStaysRevocable: a session that ends itself stays listed,
// expired, and revoking its link still undoes what it set up, so ending
// is no way to keep a SCIM token or an enabled connection out of the
// operator's reach.
func TestSetupEndStaysRevocable(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		linkID, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		scim, conn := e.setupArtifacts(setup, "acme.com")
		e.mustCall("POST", "/api/v1/setup/end", "", http.StatusForbidden) // only the session ends itself
		if rec := e.as(setup, "POST", "/api/v1/setup/end", ""); rec.Code != http.StatusNoContent {
			t.Fatalf("end: %d %s", rec.Code, rec.Body)
		}

		list := decodeAs[listJSON[setupLinkJSON]](t, e.mustCall("GET", p+"/setup-links", "", http.StatusOK))
		if len(list.Data) != 1 || list.Data[0].ID != linkID || !list.Data[0].Redeemed || !list.Data[0].ExpiresAt.Equal(e.clock.Now()) {
			t.Errorf("list after the end = %+v, want the link, redeemed, expired now", list)
		}
		e.mustCall("DELETE", p+"/setup-links/"+linkID, "", http.StatusNoContent)
		if _, err := e.store.GetToken(t.Context(), "acme", scim); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("SCIM token of the ended session: %v, want it revoked", err)
		}
		if c, err := e.store.GetSSOConnection(t.Context(), "acme", conn); err != nil || c.Enabled {
			t.Errorf("SSO connection of the ended session: %+v, %v; want it disabled", c, err)
		}
		assertError(t, e.call("DELETE", p+"/setup-links/"+linkID, ""), http.StatusNotFound, "not_found", "")
	})
}

// setupArtifacts has the setup session make a SCIM token and an enabled
// SSO connection for the domain, and returns their ids.
func (e *env) setupArtifacts(setup, domain string) (scim, conn string) {
	e.t.Helper()
	const p = "/api/v1/partners/acme"
	rec := e.as(setup, "POST", p+"/scim-tokens", `{"name": "okta"}`)
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("SCIM token of the session: %d %s", rec.Code, rec.Body)
	}
	scim = decodeAs[tokenJSON](e.t, rec.Body.Bytes()).ID
	body := strings.NewReplacer(`"jit": true`, `"jit": true, "enabled": true`, "acme.com", domain).Replace(validSSOConnection)
	rec = e.as(setup, "POST", p+"/sso-connections", body)
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("SSO connection of the session: %d %s", rec.Code, rec.Body)
	}
	return scim, decodeAs[struct{ ID string }](e.t, rec.Body.Bytes()).ID
}

// TestRevokingACompletedSetupKeepsItsWork: a completed setup's link
// answers 404, and what the setup made, now the new admin's, stays.
func TestRevokingACompletedSetupKeepsItsWork(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"

		linkID, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		scim, conn := e.setupArtifacts(setup, "acme.example")
		if rec := e.as(setup, "POST", p+"/setup/complete", `{"email": "it@acme.example", "name": "Ida"}`); rec.Code != http.StatusOK {
			t.Fatalf("complete: %d %s", rec.Code, rec.Body)
		}
		e.unchanged(func() {
			assertError(t, e.call("DELETE", p+"/setup-links/"+linkID, ""), http.StatusNotFound, "not_found", "")
		})
		if _, err := e.store.GetToken(t.Context(), "acme", scim); err != nil {
			t.Errorf("SCIM token of the completed setup: %v", err)
		}
		if c, err := e.store.GetSSOConnection(t.Context(), "acme", conn); err != nil || !c.Enabled {
			t.Errorf("SSO connection of the completed setup: %+v, %v; want it enabled", c, err)
		}
	})
}

// TestSetupUsersAfterRedeem: users that appear after the redeem, made by
// someone else, are out of the setup's reach: the session gets no SCIM
// token, which could set their passwords, and cannot complete as one of
// them, which would make them an admin.
func TestSetupUsersAfterRedeem(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		_, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		e.createUser("acme", `{"email": "ceo@acme.example", "name": "CEO"}`)
		e.clock.Advance(time.Second)
		e.unchanged(func() {
			assertError(t, e.as(setup, "POST", p+"/scim-tokens", `{"name": "okta"}`), http.StatusConflict, "partner_has_users", "")
		})
		// A connection made after the user does not bring them in reach.
		if rec := e.as(setup, "POST", p+"/sso-connections", validSSOConnection); rec.Code != http.StatusCreated {
			t.Fatalf("SSO connection: %d %s", rec.Code, rec.Body)
		}
		e.clock.Advance(time.Second)
		e.unchanged(func() {
			rec := e.as(setup, "POST", p+"/setup/complete", `{"email": "CEO@acme.example", "name": "x"}`)
			assertError(t, rec, http.StatusConflict, "user_exists", "email")
			if !strings.Contains(rec.Body.String(), "a user with this email already exists; ask the platform to make them an admin") {
				t.Errorf("message: %s", rec.Body)
			}
		})
		if ms, err := e.store.ListRoleMappings(t.Context(), "acme"); err != nil || len(ms) != 0 {
			t.Errorf("role mappings = %+v, %v; want none", ms, err)
		}
	})
}

// TestSetupCompleteRepeated: a completion that made its user and failed
// later is repeated, and finds that user for the setup's own, though the
// session made no SCIM token or connection that could have provisioned it.
func TestSetupCompleteRepeated(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"
		_, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		// Every name of the admins' group is taken, so the first try fails
		// after making the user.
		var taken []string
		for n := 1; n <= maxAdminsGroupNames; n++ {
			name := setupAdminsGroup
			if n > 1 {
				name = fmt.Sprintf("%s (%d)", setupAdminsGroup, n)
			}
			g := store.Group{ID: store.NewID("g_"), PartnerID: "acme", Name: name, CreatedAt: e.clock.Now(), UpdatedAt: e.clock.Now()}
			if err := e.store.CreateGroup(t.Context(), g); err != nil {
				t.Fatal(err)
			}
			taken = append(taken, g.ID)
		}
		const body = `{"email": "it@acme.example", "name": "Ida"}`
		assertError(t, e.as(setup, "POST", p+"/setup/complete", body), http.StatusConflict, "conflict", "")
		u, err := e.store.GetUserByEmail(t.Context(), "acme", "it@acme.example")
		if err != nil {
			t.Fatalf("the user of the failed try: %v", err)
		}
		e.clock.Advance(time.Minute)
		if err := e.store.DeleteGroup(t.Context(), "acme", taken[0]); err != nil {
			t.Fatal(err)
		}
		rec := e.as(setup, "POST", p+"/setup/complete", body)
		if rec.Code != http.StatusOK {
			t.Fatalf("repeated completion: %d %s", rec.Code, rec.Body)
		}
		if got := decodeAs[struct{ User userJSON }](t, rec.Body.Bytes()).User; got.ID != u.ID || len(got.Groups) != 1 {
			t.Errorf("completed as %+v, want %s in the admins' group", got, u.ID)
		}
	})
}

// TestSetupLinkRedeemOnce: a link redeems once, even when two redeems
// race, and its secret never works again.
func TestSetupLinkRedeemOnce(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")

		_, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)
		assertError(t, e.as(setup, "POST", redeemPath, ""), http.StatusGone, "setup_link_used", "")
		assertError(t, e.as(link, "POST", redeemPath, ""), http.StatusUnauthorized, "unauthorized", "")
		assertError(t, e.as(link, "GET", "/api/v1/partners/acme", ""), http.StatusUnauthorized, "unauthorized", "")
		if rec := e.as(setup, "GET", "/api/v1/partners/acme", ""); rec.Code != http.StatusOK {
			t.Errorf("the session after a second redeem: %d %s", rec.Code, rec.Body)
		}

		// The loser of a race finds the link used up (410), or, if it
		// authenticates after the winner replaced the secret, unknown (401).
		for range 5 {
			_, link := e.newSetupLink("acme", `{}`)
			codes := make([]int, 2)
			var wg sync.WaitGroup
			for i := range codes {
				wg.Go(func() { codes[i] = e.as(link, "POST", redeemPath, "").Code })
			}
			wg.Wait()
			slices.Sort(codes)
			if codes[0] != http.StatusOK || (codes[1] != http.StatusUnauthorized && codes[1] != http.StatusGone) {
				t.Errorf("concurrent redeems = %v, want one 200 and one 401 or 410", codes)
			}
		}
	})
}

// TestSetupLinkEnds: an expired link, a revoked one and a revoked session
// all stop working.
func TestSetupLinkEnds(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		const p = "/api/v1/partners/acme"

		_, short := e.newSetupLink("acme", `{"expires_in": "10m"}`)
		revokedID, revoked := e.newSetupLink("acme", `{}`)
		sessionID, link := e.newSetupLink("acme", `{}`)
		setup := e.redeem(link)

		e.mustCall("DELETE", p+"/setup-links/"+revokedID, "", http.StatusNoContent)
		assertError(t, e.as(revoked, "POST", redeemPath, ""), http.StatusUnauthorized, "unauthorized", "")
		e.mustCall("DELETE", p+"/setup-links/"+sessionID, "", http.StatusNoContent)
		assertError(t, e.as(setup, "GET", p, ""), http.StatusUnauthorized, "unauthorized", "")
		assertError(t, e.call("DELETE", p+"/setup-links/"+sessionID, ""), http.StatusNotFound, "not_found", "")

		e.clock.Advance(10 * time.Minute)
		assertError(t, e.as(short, "POST", redeemPath, ""), http.StatusUnauthorized, "token_expired", "")

		// A session ends with its link's expiry, however recently redeemed.
		_, link = e.newSetupLink("acme", `{"expires_in": "1h"}`)
		rec := e.as(link, "POST", redeemPath, "")
		if at := decodeAs[setupSessionJSON](t, rec.Body.Bytes()).ExpiresAt; !at.Equal(e.clock.Now().Add(time.Hour)) {
			t.Errorf("session of a link with an hour left expires at %v", at)
		}
		e.clock.Advance(time.Hour)
		assertError(t, e.as(decodeAs[setupSessionJSON](t, rec.Body.Bytes()).Token, "GET", p, ""), http.StatusUnauthorized, "token_expired", "")
	})
}

// TestSetupLinkScope: a link reaches only the redeem and its session only
// its own partner's setup; the setup routes are for setup links alone.
func TestSetupLinkScope(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		e.createPartner("acme")
		e.createPartner("globex")
		const p = "/api/v1/partners/acme"
		_, link := e.newSetupLink("acme", `{}`)
		_, other := e.newSetupLink("acme", `{}`)
		setup := e.redeem(other)
		_, admin := e.newToken("acme", `{"name": "automation"}`)

		e.unchanged(func() {
			for _, r := range []struct{ method, path, body string }{
				{"GET", p + "/sso-connections", ""},
				{"POST", p + "/sso-connections", validSSOConnection},
				{"GET", "/api/v1/me", ""},
				{"POST", p + "/setup/complete", `{"email": "it@acme.example"}`},
			} {
				assertError(t, e.as(link, r.method, r.path, r.body), http.StatusForbidden, "setup_scope", "")
			}
			for _, r := range []struct{ method, path, body string }{
				{"GET", p + "/users", ""},
				{"POST", p + "/users", `{"email": "x@acme.example"}`},
				{"PUT", p + "/policy", `{"mfa": {"required": true}}`},
				{"GET", p + "/admin-tokens", ""},
				{"POST", p + "/admin-tokens", `{"name": "mine now"}`},
				{"GET", p + "/scim-tokens/t_aaaaaaaaaaaaaaaaaaaa", ""},
				{"DELETE", p + "/domains/acme.example", ""},
				{"GET", "/api/v1/governance", ""},
				{"PUT", "/api/v1/governance", `{"mfa": {"required": true}}`},
				{"GET", p + "/setup-links", ""},
				{"POST", p + "/setup-links", `{}`},
				{"GET", "/api/v1/partners/globex/users", ""},
			} {
				rec := e.as(setup, r.method, r.path, r.body)
				assertError(t, rec, http.StatusForbidden, "setup_scope", "")
				if !strings.Contains(rec.Body.String(), "a setup link reaches only SSO, SCIM, domain and branding setup") {
					t.Errorf("%s %s: %s", r.method, r.path, rec.Body)
				}
			}
			for _, path := range []string{"/api/v1/partners/globex", "/api/v1/partners/globex/sso-connections", "/api/v1/partners/globex/branding"} {
				assertError(t, e.as(setup, "GET", path, ""), http.StatusNotFound, "not_found", "")
			}
			assertError(t, e.as(setup, "POST", "/api/v1/partners/globex/setup/complete", `{"email": "it@globex.example"}`), http.StatusNotFound, "not_found", "")

			// Operators and partner admins have no use for the setup routes.
			for _, auth := range []string{testKey, admin} {
				assertError(t, e.as(auth, "POST", redeemPath, ""), http.StatusForbidden, "forbidden", "")
				assertError(t, e.as(auth, "POST", p+"/setup/complete", `{"email": "it@acme.example"}`), http.StatusForbidden, "forbidden", "")
			}
			for _, r := range []struct{ method, path string }{{"GET", p + "/setup-links"}, {"POST", p + "/setup-links"}, {"DELETE", p + "/setup-links/t_aaaaaaaaaaaaaaaaaaaa"}} {
				assertError(t, e.as(admin, r.method, r.path, `{}`), http.StatusForbidden, "forbidden", "")
			}
		})
		// Reads of the setup's own partner go through.
		for _, path := range []string{p, p + "/domains", p + "/branding", p + "/policy/effective", "/api/v1/sso-presets", p + "/sso-presets/okta"} {
			if rec := e.as(setup, "GET", path, ""); rec.Code != http.StatusOK {
				t.Errorf("GET %s with the setup session: %d %s", path, rec.Code, rec.Body)
			}
		}
	})
}

// TestSetupLinkTokenKinds: a token of one kind never opens as another,
// whatever prefix it is given.
func TestSetupLinkTokenKinds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	_, link := e.newSetupLink("acme", `{}`)
	_, scim := e.newSCIMToken("acme", `{"name": "okta"}`)
	_, admin := e.newToken("acme", `{"name": "automation"}`)
	relabel := func(token, prefix string) string { return prefix + token[len("pgxx."):] }
	e.unchanged(func() {
		for name, token := range map[string]string{
			"a SCIM token":                     scim,
			"a SCIM token as a setup link":     relabel(scim, "pgsl."),
			"an admin token as a setup link":   relabel(admin, "pgsl."),
			"a setup link as an admin token":   relabel(link, "pgat."),
			"a setup link with a cut secret":   link[:len(link)-1],
			"a setup link of another partner":  strings.Replace(link, "pgsl.acme.", "pgsl.globex.", 1),
			"a setup link with a wrong secret": link[:len(link)-4] + "AAAA",
			"a setup link without its partner": strings.Replace(link, "pgsl.acme.", "pgsl.", 1),
		} {
			if rec := e.as(token, "POST", redeemPath, ""); rec.Code != http.StatusUnauthorized {
				t.Errorf("%s: %d %s, want 401", name, rec.Code, rec.Body)
			}
		}
	})
	if rec := e.as(link, "POST", redeemPath, ""); rec.Code != http.StatusOK {
		t.Errorf("the link itself: %d %s", rec.Code, rec.Body)
	}
	if err := CheckOperatorKeys([]OperatorKey{{Key: "pgsl.looks-like-a-setup-link"}}); err == nil {
		t.Error("an operator key with the setup link prefix was accepted")
	}
}

// TestSetupLinkWrongSecretLimit: wrong secrets for a link count as failed
// authentications, against the link as against an admin token, while its
// right secret keeps working.
func TestSetupLinkWrongSecretLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	id, link := e.newSetupLink("acme", `{}`)
	guess := "pgsl.acme." + id + "." + strings.Repeat("G", 43)
	for i := range authFailuresPerToken {
		addr := fmt.Sprintf("198.51.100.%d:5000", i+1)
		assertError(t, e.do(request{method: "POST", path: redeemPath, auth: bearer(guess), remoteAddr: addr}), http.StatusUnauthorized, "unauthorized", "")
	}
	assertError(t, e.do(request{method: "POST", path: redeemPath, auth: bearer(guess), remoteAddr: "192.0.2.78:5000"}), http.StatusTooManyRequests, "rate_limited", "")
	if n, err := e.store.Count(t.Context(), platformScope, "authfail:ip:198.51.100.1"); err != nil || n == 0 {
		t.Errorf("failures counted against the address: %d, %v", n, err)
	}
	if rec := e.do(request{method: "POST", path: redeemPath, auth: bearer(link), remoteAddr: "192.0.2.79:5000"}); rec.Code != http.StatusOK {
		t.Errorf("the right secret: %d %s", rec.Code, rec.Body)
	}
}

// TestSetupLinkCreateChecks covers refusals of link creation and
// revocation.
func TestSetupLinkCreateChecks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	e.createPartner("globex")
	const p = "/api/v1/partners/acme"
	e.unchanged(func() {
		for _, bad := range []struct{ field, body string }{
			{"expires_in", `{"expires_in": "5m"}`},
			{"expires_in", `{"expires_in": "169h"}`},
			{"expires_in", `{"expires_in": "soon"}`},
			{"expires_in", `{"expires_in": "-1h"}`},
			{"name", `{"name": "` + strings.Repeat("n", maxSetupLinkNameLen+1) + `"}`},
			{"name", `{"name": "bell\u0007"}`},
		} {
			assertError(t, e.call("POST", p+"/setup-links", bad.body), http.StatusUnprocessableEntity, "validation_failed", bad.field)
		}
		assertError(t, e.call("POST", p+"/setup-links", `{"token": "mine"}`), http.StatusBadRequest, "read_only_field", "token")
		assertError(t, e.call("POST", p+"/setup-links", `{"expires_in": 72}`), http.StatusBadRequest, "invalid_type", "expires_in")
		assertError(t, e.call("POST", "/api/v1/partners/nobody/setup-links", `{}`), http.StatusNotFound, "not_found", "")
		assertError(t, e.call("GET", "/api/v1/partners/nobody/setup-links", ""), http.StatusNotFound, "not_found", "")
	})
	for _, body := range []string{`{"expires_in": "10m"}`, `{"expires_in": "168h", "name": "` + strings.Repeat("n", maxSetupLinkNameLen) + `"}`} {
		e.mustCall("POST", p+"/setup-links", body, http.StatusCreated)
	}

	// Only live links count against the limit.
	for range maxSetupLinks - 2 {
		e.mustCall("POST", p+"/setup-links", `{}`, http.StatusCreated)
	}
	assertError(t, e.call("POST", p+"/setup-links", `{}`), http.StatusConflict, "conflict", "")
	e.clock.Advance(11 * time.Minute)
	e.mustCall("POST", p+"/setup-links", `{}`, http.StatusCreated)

	// A link answers 404 under another partner, as does a token of
	// another kind under setup-links.
	globexID, _ := e.newSetupLink("globex", `{}`)
	adminID, _ := e.newToken("acme", `{"name": "automation"}`)
	e.unchanged(func() {
		for _, id := range []string{globexID, adminID, "t_nothing"} {
			assertError(t, e.call("DELETE", p+"/setup-links/"+id, ""), http.StatusNotFound, "not_found", "")
		}
	})
}
