package admin

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnergate/partnergate/store"
)

// world is two partners with one of everything, and a credential of each
// kind that must not reach acme's objects.
type world struct {
	acmeUser, acmeAdmin            string
	group, mapping, token, session string
	scimToken, connection, test    string
	acmeToken, readOnly, expired   string
	revoked, globexToken, acmeSCIM string
	plainCookie, adminCookie       string
	mfaMethod                      string
	// Setup links: acme's unredeemed one (setupLinkID), the sessions
	// acme's and globex's became, one past its expiry, and a session
	// revoked after it was redeemed.
	setupLinkID, setupLink     string
	acmeSetup, globexSetup     string
	expiredSetup, revokedSetup string
	// An operator session, and one ended.
	operatorSession, endedOperatorSession string
}

func (e *env) mustJSON(method, path, body string, want int, v any) {
	e.t.Helper()
	if err := json.Unmarshal(e.mustCall(method, path, body, want), v); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) newToken(partnerID, body string) (id, secret string) {
	e.t.Helper()
	var tok struct{ ID, Token string }
	e.mustJSON("POST", "/api/v1/partners/"+partnerID+"/admin-tokens", body, http.StatusCreated, &tok)
	return tok.ID, tok.Token
}

func (e *env) newSCIMToken(partnerID, body string) (id, secret string) {
	e.t.Helper()
	var tok struct{ ID, Token string }
	e.mustJSON("POST", "/api/v1/partners/"+partnerID+"/scim-tokens", body, http.StatusCreated, &tok)
	return tok.ID, tok.Token
}

func (e *env) newSetupLink(partnerID, body string) (id, secret string) {
	e.t.Helper()
	var link struct{ ID, Token string }
	e.mustJSON("POST", "/api/v1/partners/"+partnerID+"/setup-links", body, http.StatusCreated, &link)
	return link.ID, link.Token
}

// newOperatorSession opens an operator session with the operator key and
// returns its token.
func (e *env) newOperatorSession() string {
	e.t.Helper()
	var s struct{ Token string }
	e.mustJSON("POST", "/api/v1/operator-sessions", "", http.StatusCreated, &s)
	return s.Token
}

// redeem turns a setup link into a setup session and returns its token.
func (e *env) redeem(link string) string {
	e.t.Helper()
	rec := e.do(request{method: "POST", path: "/api/v1/setup-links/redeem", auth: bearer(link)})
	if rec.Code != http.StatusOK {
		e.t.Fatalf("redeem setup link: %d %s", rec.Code, rec.Body)
	}
	return decodeAs[struct{ Token string }](e.t, rec.Body.Bytes()).Token
}

// signIn starts a real session for the user and returns its cookie value.
func (e *env) signIn(partnerID, userID string) string {
	e.t.Helper()
	u, err := e.store.GetUser(e.t.Context(), partnerID, userID)
	if err != nil {
		e.t.Fatal(err)
	}
	cookie, _, err := e.sessions.Issue(e.t.Context(), u, "192.0.2.50", "walk-test")
	if err != nil {
		e.t.Fatal(err)
	}
	return cookie
}

func (e *env) buildWorld() world {
	e.t.Helper()
	var w world
	for _, p := range []string{"acme", "globex"} {
		e.createPartner(p)
		e.mustCall("POST", "/api/v1/partners/"+p+"/domains", `{"domain": "`+p+`.example"}`, http.StatusCreated)
	}
	// Setup links first: a partner with users gets none.
	// Expired: valid for an hour, then the clock moves past it.
	_, w.expired = e.newToken("acme", `{"name": "short", "expires_at": "`+e.clock.Now().Add(time.Hour).Format(time.RFC3339)+`"}`)
	_, w.expiredSetup = e.newSetupLink("acme", `{"name": "short", "expires_in": "1h"}`)
	e.clock.Advance(2 * time.Hour)
	w.setupLinkID, w.setupLink = e.newSetupLink("acme", `{"name": "acme IT"}`)
	_, link := e.newSetupLink("acme", `{"name": "acme IT, redeemed"}`)
	w.acmeSetup = e.redeem(link)
	_, link = e.newSetupLink("globex", `{"name": "globex IT"}`)
	w.globexSetup = e.redeem(link)
	revokedLinkID, link := e.newSetupLink("acme", `{"name": "acme IT, revoked"}`)
	w.revokedSetup = e.redeem(link)
	e.mustCall("DELETE", "/api/v1/partners/acme/setup-links/"+revokedLinkID, "", http.StatusNoContent)
	w.acmeUser = e.createUser("acme", `{"email": "user@acme.example", "password": "`+alicePassword+`"}`)
	w.acmeAdmin = e.createUser("acme", `{"email": "admin@acme.example"}`)
	var g struct{ ID string }
	e.mustJSON("POST", "/api/v1/partners/acme/groups", `{"name": "Admins", "members": ["`+w.acmeAdmin+`"]}`, http.StatusCreated, &g)
	w.group = g.ID
	var m struct{ ID string }
	e.mustJSON("POST", "/api/v1/partners/acme/role-mappings", `{"group": "`+w.group+`", "role": "partner_admin"}`, http.StatusCreated, &m)
	w.mapping = m.ID
	w.operatorSession = e.newOperatorSession()
	w.endedOperatorSession = e.newOperatorSession()
	if rec := e.do(request{method: "DELETE", path: "/api/v1/operator-sessions/current", auth: bearer(w.endedOperatorSession)}); rec.Code != http.StatusNoContent {
		e.t.Fatalf("end an operator session: %d %s", rec.Code, rec.Body)
	}
	w.token, w.acmeToken = e.newToken("acme", `{"name": "automation"}`)
	_, w.readOnly = e.newToken("acme", `{"name": "reporting", "read_only": true}`)
	var revokedID string
	revokedID, w.revoked = e.newToken("acme", `{"name": "old"}`)
	e.mustCall("DELETE", "/api/v1/partners/acme/admin-tokens/"+revokedID, "", http.StatusNoContent)
	_, w.globexToken = e.newToken("globex", `{"name": "globex automation"}`)
	w.scimToken, w.acmeSCIM = e.newSCIMToken("acme", `{"name": "provisioning"}`)
	var conn struct{ ID string }
	e.mustJSON("POST", "/api/v1/partners/acme/sso-connections", validSSOConnection, http.StatusCreated, &conn)
	w.connection = conn.ID
	var test struct{ ID string }
	e.mustJSON("POST", "/api/v1/partners/acme/sso-connections/"+conn.ID+"/test", "", http.StatusCreated, &test)
	w.test = test.ID
	w.mfaMethod = "mfa_walk_totp"
	if err := e.store.AddMFAMethod(e.t.Context(), store.MFAMethod{
		ID: w.mfaMethod, PartnerID: "acme", UserID: w.acmeUser, Kind: store.MFATOTP, Name: "Phone",
		Secret: []byte("walk-totp-seed"), CreatedAt: e.clock.Now(),
	}); err != nil {
		e.t.Fatal(err)
	}
	// A branding with a logo, so a refused write or removal would show.
	e.mustCall("PUT", "/api/v1/partners/acme/branding", `{"display_name": "Acme", "accent_color": "#b00020"}`, http.StatusOK)
	if rec := e.do(request{method: "PUT", path: "/api/v1/partners/acme/branding/logo", body: string(testPNG(8, 8)), contentType: "image/png"}); rec.Code != http.StatusOK {
		e.t.Fatalf("PUT acme's logo = %d %s", rec.Code, rec.Body)
	}
	if err := e.dir.Reload(e.t.Context()); err != nil {
		e.t.Fatal(err)
	}
	w.plainCookie = e.signIn("acme", w.acmeUser)
	w.adminCookie = e.signIn("acme", w.acmeAdmin)
	sessions, err := e.store.ListUserSessions(e.t.Context(), "acme", w.acmeUser)
	if err != nil || len(sessions) != 1 {
		e.t.Fatalf("sessions of the plain user: %v, %v", sessions, err)
	}
	w.session = sessions[0].ID
	return w
}

// validSSOConnection is an OIDC connection a partner admin may create.
const validSSOConnection = `{"name": "Okta", "preset": "okta", "domains": ["acme.com"], "jit": true,
	"oidc": {"issuer": "https://acme.okta.com", "client_id": "0oa1", "client_secret": "okta-client-secret-value"}}`

// fill turns a route pattern into a path at acme's objects.
func (w world) fill(pattern string) string {
	token := w.token
	if strings.Contains(pattern, "/scim-tokens/") {
		token = w.scimToken
	}
	return strings.NewReplacer(
		"{id}", "acme",
		"{userId}", w.acmeUser,
		"{groupId}", w.group,
		"{mappingId}", w.mapping,
		"{tokenId}", token,
		"{sessionId}", w.session,
		"{domain}", "acme.example",
		"{preset}", "okta",
		"{connectionId}", w.connection,
		"{testId}", w.test,
		"{methodId}", w.mfaMethod,
		"{linkId}", w.setupLinkID,
	).Replace(pattern)
}

// validBodies are bodies each write would accept from a rightful caller,
// so a refusal is the credential's doing, not the body's.
func (w world) validBody(rt route) string {
	switch rt.method + " " + rt.pattern {
	case "POST /api/v1/partners":
		return `{"id": "initech", "name": "Initech"}`
	case "PATCH /api/v1/partners/{id}":
		return `{"name": "Renamed"}`
	case "POST /api/v1/partners/{id}/domains":
		return `{"domain": "new.example"}`
	case "POST /api/v1/partners/{id}/users":
		return `{"email": "new@acme.example"}`
	case "PATCH /api/v1/partners/{id}/users/{userId}":
		return `{"name": "Renamed"}`
	case "PUT /api/v1/partners/{id}/users/{userId}/password":
		return `{"password": "` + newPassword + `"}`
	case "POST /api/v1/partners/{id}/invitations":
		return `{"email": "invitee@acme.example"}`
	case "POST /api/v1/partners/{id}/groups":
		return `{"name": "Engineering"}`
	case "PATCH /api/v1/partners/{id}/groups/{groupId}":
		return `{"name": "Owners"}`
	case "POST /api/v1/partners/{id}/groups/{groupId}/members":
		return `{"members": ["` + w.acmeUser + `"]}`
	case "POST /api/v1/partners/{id}/role-mappings":
		return `{"group": "` + w.group + `", "role": "viewer"}`
	case "POST /api/v1/partners/{id}/admin-tokens", "POST /api/v1/partners/{id}/scim-tokens":
		return `{"name": "another"}`
	case "POST /api/v1/partners/{id}/sso-connections":
		return `{"name": "SAML", "preset": "generic-saml", "saml": {"metadata_url": "https://idp.example.com/metadata"}}`
	case "PATCH /api/v1/partners/{id}/sso-connections/{connectionId}":
		return `{"enabled": true}`
	case "PUT /api/v1/partners/{id}/policy", "PUT /api/v1/governance":
		return `{"mfa": {"required": true}}`
	case "PUT /api/v1/partners/{id}/branding":
		return `{"display_name": "Acme Renamed", "primary_color": "#0a5fff"}`
	case "PUT /api/v1/partners/{id}/branding/logo":
		return string(walkLogo)
	}
	return ""
}

// validContentType is the Content-Type of validBody's body; "" means the
// default, JSON.
func (w world) validContentType(rt route) string {
	if rt.method+" "+rt.pattern == "PUT /api/v1/partners/{id}/branding/logo" {
		return "image/png"
	}
	return ""
}

// walkLogo is a logo another than the one the world starts with, so an
// upload that got through would show in the snapshot.
var walkLogo = testPNG(24, 12)

// TestTenantIsolationWalk calls every route of the API with every
// credential that must not reach acme's objects, and checks each is
// refused the right way and changes nothing.
func TestTenantIsolationWalk(t *testing.T) {
	t.Parallel()
	onEachStore(t, func(t *testing.T, backend string) {
		e := newEnvOn(t, backend)
		// Sessions live in real time in the store, so the clock does too.
		e.clock.Set(time.Now())
		w := e.buildWorld()
		// The secrets were shown once, at creation; from here on no
		// response may carry them.
		e.mu.Lock()
		e.bodies = nil
		e.mu.Unlock()
		n := 0
		call := func(rt route, auth []string, cookie string) *httpResult {
			n++
			req := request{
				method:      rt.method,
				path:        w.fill(rt.pattern),
				body:        w.validBody(rt),
				contentType: w.validContentType(rt),
				auth:        auth,
				remoteAddr:  fmt.Sprintf("203.0.113.%d:5000", n%250+1),
			}
			if cookie != "" {
				req.path = "http://acme." + testBase + req.path
				req.header = http.Header{"Cookie": {"pg_session=" + cookie}}
			}
			var res httpResult
			e.unchanged(func() {
				rec := e.do(req)
				res = httpResult{status: rec.Code, code: errorCode(rec.Body.Bytes())}
			})
			return &res
		}
		type cred struct {
			name   string
			auth   []string
			cookie string
			// want answers for a platform route, a partner read and a
			// partner write; 0 means the call may succeed.
			platform, read, write expect
		}
		creds := []cred{
			{"other partner's token", []string{"Bearer " + w.globexToken}, "",
				expect{403, "forbidden"}, expect{404, "not_found"}, expect{404, "not_found"}},
			{"revoked token", []string{"Bearer " + w.revoked}, "",
				expect{401, "unauthorized"}, expect{401, "unauthorized"}, expect{401, "unauthorized"}},
			// A SCIM token opens the SCIM endpoint, never this API.
			{"acme's SCIM token", []string{"Bearer " + w.acmeSCIM}, "",
				expect{401, "unauthorized"}, expect{401, "unauthorized"}, expect{401, "unauthorized"}},
			{"expired token", []string{"Bearer " + w.expired}, "",
				expect{401, "token_expired"}, expect{401, "token_expired"}, expect{401, "token_expired"}},
			{"read-only token", []string{"Bearer " + w.readOnly}, "",
				expect{403, "forbidden"}, expect{}, expect{403, "read_only_token"}},
			{"plain user's session", []string{}, w.plainCookie,
				expect{403, "forbidden"}, expect{403, "forbidden"}, expect{403, "forbidden"}},
			{"admin session without CSRF token", []string{}, w.adminCookie,
				expect{403, "forbidden"}, expect{}, expect{403, "csrf_failed"}},
			{"no credentials", []string{}, "",
				expect{401, "unauthorized"}, expect{401, "unauthorized"}, expect{401, "unauthorized"}},
		}
		checked := 0
		for _, rt := range e.h.table {
			for _, c := range creds {
				var want expect
				switch rt.reach {
				case platform, setupLink, setupSession, operatorKey, operatorSession:
					// The setup and operator-session routes are for their
					// own credentials alone: every other is refused as on a
					// platform route.
					want = c.platform
				case partnerRead:
					want = c.read
				case partnerWrite:
					want = c.write
				case self:
					want = c.read
					if c.name == "other partner's token" {
						want = expect{}
					}
				}
				if want.status == 0 {
					continue
				}
				got := call(rt, c.auth, c.cookie)
				checked++
				if got.status != want.status || got.code != want.code {
					t.Errorf("%s %s with %s: %d %s, want %d %s", rt.method, rt.pattern, c.name, got.status, got.code, want.status, want.code)
				}
			}
		}
		// A setup link reaches only the redeem; the session it becomes only
		// the routes marked inSetup, of its own partner, where another
		// partner's objects answer 404 as for anyone.
		setupCreds := []struct {
			name, token string
			want        func(route) expect
		}{
			{"acme's setup link", w.setupLink, func(rt route) expect {
				if rt.reach == setupLink {
					return expect{} // it would redeem
				}
				return expect{403, "setup_scope"}
			}},
			{"acme's setup session", w.acmeSetup, func(rt route) expect {
				switch {
				case rt.reach == setupLink:
					return expect{410, "setup_link_used"}
				case rt.setup == inSetup && rt.reach == partnerWrite &&
					(strings.Contains(rt.pattern, "{connectionId}") || strings.Contains(rt.pattern, "{tokenId}")):
					// The world's connection and SCIM token are the
					// operator's: a setup session changes only its own.
					return expect{404, "not_found"}
				case rt.setup == inSetup:
					return expect{} // its own setup
				}
				return expect{403, "setup_scope"}
			}},
			{"globex's setup session", w.globexSetup, func(rt route) expect {
				switch {
				case rt.reach == setupLink:
					return expect{410, "setup_link_used"}
				case rt.setup == inSetup && !strings.Contains(rt.pattern, "{id}"):
					// Routes naming no partner act on the caller itself.
					return expect{}
				case rt.setup == inSetup:
					return expect{404, "not_found"}
				}
				return expect{403, "setup_scope"}
			}},
			{"expired setup link", w.expiredSetup, func(route) expect { return expect{401, "token_expired"} }},
			{"revoked setup session", w.revokedSetup, func(route) expect { return expect{401, "unauthorized"} }},
			// An operator session has the key's rights, bar opening
			// another; only a session ends itself.
			{"operator session", w.operatorSession, func(rt route) expect {
				switch rt.reach {
				case operatorKey, setupLink, setupSession:
					return expect{403, "forbidden"}
				}
				return expect{}
			}},
			{"operator key", testKey, func(rt route) expect {
				if rt.reach == operatorSession {
					return expect{403, "forbidden"}
				}
				return expect{}
			}},
			{"ended operator session", w.endedOperatorSession, func(route) expect { return expect{401, "unauthorized"} }},
		}
		for _, rt := range e.h.table {
			for _, c := range setupCreds {
				want := c.want(rt)
				if want.status == 0 {
					continue
				}
				got := call(rt, bearer(c.token), "")
				checked++
				if got.status != want.status || got.code != want.code {
					t.Errorf("%s %s with %s: %d %s, want %d %s", rt.method, rt.pattern, c.name, got.status, got.code, want.status, want.code)
				}
			}
		}
		// The rightful token reads everything it is scoped to, so the
		// refusals above are about the credential, not bad paths.
		for _, rt := range e.h.table {
			if rt.method != http.MethodGet || rt.reach == platform {
				continue
			}
			if got := call(rt, []string{"Bearer " + w.acmeToken}, ""); got.status != http.StatusOK {
				t.Errorf("GET %s with acme's own token: %d %s, want 200", rt.pattern, got.status, got.code)
			}
		}
		// The branding writes' bodies are ones the rightful token may send,
		// so their refusals above are the credentials' doing too.
		for _, rt := range e.h.table {
			if rt.reach != partnerWrite || !strings.Contains(rt.pattern, "/branding") || rt.method != http.MethodPut {
				continue
			}
			rec := e.do(request{method: rt.method, path: w.fill(rt.pattern), body: w.validBody(rt),
				contentType: w.validContentType(rt), auth: bearer(w.acmeToken)})
			if rec.Code != http.StatusOK {
				t.Errorf("%s %s with acme's own token: %d %s, want 200", rt.method, rt.pattern, rec.Code, rec.Body)
			}
		}
		// The snapshot behind unchanged does not hold MFA methods: the
		// method every refused DELETE aimed at must still be there.
		if _, err := e.store.GetMFAMethod(t.Context(), "acme", w.acmeUser, w.mfaMethod); err != nil {
			t.Errorf("acme's MFA method after the walk: %v", err)
		}
		if checked < 4*len(e.h.table) {
			t.Errorf("only %d refusals checked over %d routes", checked, len(e.h.table))
		}
		e.noLeak(w.acmeToken, w.readOnly, w.expired, w.revoked, w.globexToken, w.acmeSCIM, w.plainCookie, w.adminCookie,
			w.setupLink, w.acmeSetup, w.globexSetup, w.expiredSetup, w.revokedSetup, w.operatorSession, w.endedOperatorSession)
	})
}

type expect struct {
	status int
	code   string
}

type httpResult struct {
	status int
	code   string
}

func errorCode(body []byte) string {
	var env struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	return env.Error.Code
}
