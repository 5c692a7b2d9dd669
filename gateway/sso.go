package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
	"golang.org/x/oauth2"

	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/sso"
	"github.com/partnergate/partnergate/sso/account"
	"github.com/partnergate/partnergate/sso/connection"
	"github.com/partnergate/partnergate/sso/diagnostics"
	"github.com/partnergate/partnergate/sso/oidc"
	"github.com/partnergate/partnergate/sso/preset"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// SSO is what single sign-on needs beyond the password login.
type SSO struct {
	Store SSOStore
	// OIDC and SAML are shared by every partner: they cache discovery
	// documents and IdP metadata.
	OIDC *oidc.Client
	SAML *saml.MetadataCache
	// Secrets opens connections' client secrets and SP keys.
	Secrets *secretbox.Box
	// FailuresKept bounds each connection's log of failed sign-ins
	// (default 50).
	FailuresKept int
}

// SSOStore is what SSO reads and writes.
type SSOStore interface {
	account.Store
	store.Tickets
	GetSSOConnection(ctx context.Context, partnerID, id string) (store.SSOConnection, error)
	ListSSOConnections(ctx context.Context, partnerID string) ([]store.SSOConnection, error)
	FindSSOConnectionByDomain(ctx context.Context, partnerID, domain string) (store.SSOConnection, error)
	AppendSSOFailure(ctx context.Context, partnerID, connectionID string, f store.SSOFailure, keep int) error
}

const (
	// flowTTL bounds the time between leaving for the IdP and coming back.
	flowTTL = 10 * time.Minute
	// handoffTTL bounds the hop from the SAML ACS to the completion page.
	handoffTTL    = 2 * time.Minute
	ssoCookieBase = "pg_sso"
	// maxSAMLForm caps an ACS post: metadata-sized responses with several
	// certificates and many groups fit well within it.
	maxSAMLForm = 512 << 10
	// maxLogoutSessions bounds the sessions remembered per IdP session.
	maxLogoutSessions = 20
)

// What an end user reads when SSO fails; the details go to the admins.
const (
	msgSSOFailed      = "Your organization’s sign-in service could not sign you in. Try again; if it keeps happening, contact your administrator and quote the reference below."
	msgSSOExpired     = "This sign-in took too long or was opened in another browser. Please start again."
	msgSSOUnavailable = "Your organization’s sign-in service cannot be reached right now. Please try again shortly."
	msgSSONoAccess    = "Your account does not have access here. Contact your administrator."
)

// flow is one sign-in between leaving for the IdP and coming back, kept
// as a ticket under the hash of its state.
type flow struct {
	Connection string `json:"c"`
	Nonce      string `json:"n,omitempty"`
	Verifier   string `json:"v,omitempty"`
	RequestID  string `json:"r,omitempty"`
	ReturnTo   string `json:"t,omitempty"`
	// Browser is the hash of the binding cookie of the browser that
	// started, so a callback replayed into another browser fails.
	Browser string `json:"b"`
	// Test names the test sign-in this is, "" for a real one.
	Test string `json:"x,omitempty"`
}

// handoff carries a verified SAML sign-in from the ACS, which the IdP's
// cross-site POST reaches without the browser's cookies, to the
// completion page, which a same-site redirect reaches with them.
type handoff struct {
	Flow   flow       `json:"f"`
	Claims sso.Claims `json:"a"`
}

// conn is a connection with its decoded settings.
type conn struct {
	store.SSOConnection
	cfg connection.Config
}

func (g *Gateway) serveSSO(w http.ResponseWriter, r *http.Request, p *Partner, route string) bool {
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case route == "sso/start" && get:
		g.startSSO(w, r, p)
	case route == "sso/test" && get:
		g.startTest(w, r, p)
	case route == "callback/oidc" && get:
		g.oidcCallback(w, r, p)
	case route == "saml/acs" && r.Method == http.MethodPost:
		g.samlACS(w, r, p)
	case route == "sso/complete" && get:
		g.completeHandoff(w, r, p)
	case route == "saml/metadata" && get:
		g.samlMetadata(w, r, p)
	case route == "saml/slo" && (get || r.Method == http.MethodPost):
		g.samlLogout(w, r, p)
	case route == "oidc/logout" && r.Method == http.MethodPost:
		g.oidcBackchannelLogout(w, r, p)
	default:
		return false
	}
	return true
}

// ssoRoutes are the routes serveSSO answers, for a 405 on another method.
var ssoRoutes = []string{"sso/start", "sso/test", "callback/oidc", "saml/acs", "sso/complete", "saml/metadata", "saml/slo", "oidc/logout"}

func (g *Gateway) startSSO(w http.ResponseWriter, r *http.Request, p *Partner) {
	if g.toPrimaryHost(w, r, p) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	returnTo := safeReturnPath(r.URL.Query().Get("return_to"), g.cfg.Prefix)
	c, err := g.loadConnection(ctx, p, r.URL.Query().Get("connection"))
	if err == nil && !c.Enabled {
		err = store.ErrNotFound
	}
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	g.beginSSO(w, r, p, c, flow{ReturnTo: returnTo})
}

// startTest opens an admin's test link: it is used up here, so a link
// seen in a log or history later is worth nothing.
func (g *Gateway) startTest(w http.ResponseWriter, r *http.Request, p *Partner) {
	if g.toPrimaryHost(w, r, p) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	res, err := diagnostics.Redeem(ctx, g.cfg.SSO.Store, p.ID, r.URL.Query().Get("ticket"))
	if err != nil {
		if !errors.Is(err, diagnostics.ErrNotFound) {
			g.ssoUnavailableOrGone(w, r, p, err)
			return
		}
		g.renderSSOError(w, r, p, http.StatusNotFound, "This test link was already used or has expired. Start a new test from the admin portal.", "")
		return
	}
	// A test may try a connection before it is switched on.
	c, err := g.loadConnection(ctx, p, res.ConnectionID)
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	g.beginSSO(w, r, p, c, flow{Test: res.ID})
}

// toPrimaryHost moves a sign-in to the partner's primary host, the one
// whose URLs are registered at its IdPs, so the flow's cookie and the
// IdP's answer meet on one host.
func (g *Gateway) toPrimaryHost(w http.ResponseWriter, r *http.Request, p *Partner) bool {
	if normalizeHost(r.Host) == p.PrimaryHost {
		return false
	}
	host := p.PrimaryHost
	if i := strings.LastIndexByte(r.Host, ':'); i >= 0 && !strings.HasSuffix(r.Host, "]") {
		host += r.Host[i:]
	}
	u := url.URL{Scheme: g.scheme(), Host: host, Path: r.URL.Path, RawQuery: r.URL.RawQuery}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
	return true
}

func (g *Gateway) beginSSO(w http.ResponseWriter, r *http.Request, p *Partner, c conn, f flow) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout+g.ssoTimeout())
	defer cancel()
	binding := g.browserBinding(w, r)
	f.Connection = c.ID
	f.Browser = hashHex(binding)
	state := randomToken()
	var target string
	var form map[string]string
	switch {
	case c.cfg.OIDC != nil:
		cfg, err := g.oidcConfig(r, c)
		if err != nil {
			g.ssoFailed(w, r, p, c, f, sso.Wrap(sso.Misconfigured, "The connection's client secret cannot be read; enter it again.", err), "")
			return
		}
		f.Nonce, f.Verifier = rand.Text(), oauth2.GenerateVerifier()
		if target, err = g.cfg.SSO.OIDC.AuthCodeURL(ctx, cfg, oidc.Start{State: state, Nonce: f.Nonce, Verifier: f.Verifier}); err != nil {
			g.ssoFailed(w, r, p, c, f, err, "")
			return
		}
	default:
		cfg, err := g.samlConfig(ctx, r, c)
		if err != nil {
			g.ssoFailed(w, r, p, c, f, err, "")
			return
		}
		req, err := saml.AuthnRequest(cfg, state)
		if err != nil {
			g.ssoFailed(w, r, p, c, f, err, "")
			return
		}
		f.RequestID, target, form = req.ID, req.URL, req.Form
	}
	payload, err := json.Marshal(f)
	if err == nil {
		err = g.cfg.SSO.Store.PutTicket(ctx, p.ID, flowKey(state), payload, flowTTL)
	}
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if form == nil {
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	g.renderSAMLPost(w, r, p, c.Name, target, form)
}

// renderSAMLPost sends a SAML message by POST. The page's policy lets its
// one form post to the IdP and nowhere else.
func (g *Gateway) renderSAMLPost(w http.ResponseWriter, r *http.Request, p *Partner, provider, target string, form map[string]string) {
	u, err := url.Parse(target)
	// The origin goes into a header: a host with anything but host
	// characters (";" would add a directive) is refused.
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.Trim(u.Host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:[]") != "" {
		g.renderSSOError(w, r, p, http.StatusBadGateway, msgSSOFailed, string(sso.Misconfigured))
		return
	}
	fields := make([]templates.Field, 0, len(form))
	for _, name := range slices.Sorted(maps.Keys(form)) {
		fields = append(fields, templates.Field{Name: name, Value: form[name]})
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; form-action "+u.Scheme+"://"+u.Host+"; frame-ancestors 'none'; base-uri 'none'")
	g.render(w, http.StatusOK, templates.PageSSOPost, templates.SSOPost{
		Page: g.page(r.Context(), p, "Continue"), Provider: provider, Action: target, Fields: fields,
		ScriptURL: g.cfg.Prefix + "assets/autopost.js",
	})
}

func (g *Gateway) oidcCallback(w http.ResponseWriter, r *http.Request, p *Partner) {
	q := r.URL.Query()
	f, c, ok := g.resumeFlow(w, r, p, q.Get("state"))
	if !ok {
		return
	}
	if c.cfg.OIDC == nil {
		// The state of a SAML flow (its RelayState, seen in the URL to
		// the IdP) brought here.
		g.ssoFailed(w, r, p, c, f, sso.Fail(sso.InvalidState, "The sign-in came back to the OpenID Connect callback, but it was started as a SAML sign-in."), "")
		return
	}
	cfg, err := g.oidcConfig(r, c)
	if err != nil {
		g.ssoFailed(w, r, p, c, f, sso.Wrap(sso.Misconfigured, "The connection's client secret cannot be read; enter it again.", err), "")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.ssoTimeout())
	defer cancel()
	claims, err := g.cfg.SSO.OIDC.Finish(ctx, cfg, oidc.Start{State: q.Get("state"), Nonce: f.Nonce, Verifier: f.Verifier}, q)
	if err != nil {
		g.ssoFailed(w, r, p, c, f, err, "")
		return
	}
	g.completeSSO(w, r, p, c, f, claims)
}

// resumeFlow uses up the flow a state names and checks it came back to
// the browser that started it.
func (g *Gateway) resumeFlow(w http.ResponseWriter, r *http.Request, p *Partner, state string) (flow, conn, bool) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	if state == "" || len(state) > 256 {
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOExpired, string(sso.InvalidState))
		return flow{}, conn{}, false
	}
	b, err := g.cfg.SSO.Store.TakeTicket(ctx, p.ID, flowKey(state))
	if errors.Is(err, store.ErrNotFound) {
		g.cfg.Logger.Info("SSO callback with an unknown or used state", zap.String("partner", p.ID))
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOExpired, string(sso.InvalidState))
		return flow{}, conn{}, false
	}
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return flow{}, conn{}, false
	}
	var f flow
	if err := json.Unmarshal(b, &f); err != nil {
		g.ssoUnavailableOrGone(w, r, p, fmt.Errorf("decode SSO flow: %w", err))
		return flow{}, conn{}, false
	}
	c, err := g.loadConnection(ctx, p, f.Connection)
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return flow{}, conn{}, false
	}
	if !g.sameBrowser(r, f) {
		g.ssoFailed(w, r, p, c, f, sso.Fail(sso.InvalidState, "The sign-in came back to another browser than the one that started it, or its cookie was lost."), "")
		return flow{}, conn{}, false
	}
	return f, c, true
}

func (g *Gateway) sameBrowser(r *http.Request, f flow) bool {
	value, n := findCookie(r.Header, ssoCookieName(r))
	if n != 1 || value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashHex(value)), []byte(f.Browser)) == 1
}

func (g *Gateway) samlACS(w http.ResponseWriter, r *http.Request, p *Partner) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	if err := r.ParseForm(); err != nil {
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOFailed, string(sso.Malformed))
		return
	}
	response, relay := r.PostForm.Get("SAMLResponse"), r.PostForm.Get("RelayState")
	if response == "" {
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOFailed, string(sso.Malformed))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout+g.ssoTimeout())
	defer cancel()
	var f flow
	solicited := false
	if relay != "" && len(relay) <= 256 {
		b, err := g.cfg.SSO.Store.TakeTicket(ctx, p.ID, flowKey(relay))
		switch {
		case err == nil:
			if err := json.Unmarshal(b, &f); err != nil {
				g.ssoUnavailableOrGone(w, r, p, fmt.Errorf("decode SSO flow: %w", err))
				return
			}
			solicited = true
		case !errors.Is(err, store.ErrNotFound):
			g.ssoUnavailableOrGone(w, r, p, err)
			return
		}
	}
	if !solicited {
		// An IdP-initiated sign-in may carry a return path as its relay
		// state; anything else in it is ignored.
		g.idpInitiated(ctx, w, r, p, response, safeReturnPath(relay, g.cfg.Prefix))
		return
	}
	c, err := g.loadConnection(ctx, p, f.Connection)
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	if c.cfg.SAML == nil {
		// The state of an OIDC flow (seen in the URL to the IdP) posted
		// as a RelayState.
		g.ssoFailed(w, r, p, c, f, sso.Fail(sso.InvalidState, "A SAML response came back for a sign-in that was started with OpenID Connect."), "")
		return
	}
	cfg, err := g.samlConfig(ctx, r, c)
	if err != nil {
		g.ssoFailed(w, r, p, c, f, err, "")
		return
	}
	// A sign-in we started must answer our request, even on a connection
	// that also accepts IdP-initiated ones: an unsolicited response posted
	// with a victim's RelayState must not complete the victim's flow.
	cfg.AllowIdPInitiated = false
	claims, err := saml.ParseResponse(ctx, cfg, response, []string{f.RequestID}, g.replayCache(p))
	if err != nil {
		g.ssoFailed(w, r, p, c, f, err, "")
		return
	}
	id := randomToken()
	payload, err := json.Marshal(handoff{Flow: f, Claims: claims})
	if err == nil {
		err = g.cfg.SSO.Store.PutTicket(ctx, p.ID, handoffKey(id), payload, handoffTTL)
	}
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, g.cfg.Prefix+"sso/complete?id="+url.QueryEscape(id), http.StatusSeeOther)
}

// idpInitiated accepts a response no request of ours asked for, through
// the one connection that opted in and trusts the IdP the response names.
// It has no browser to check: that is the risk the opt-in accepts. The
// named issuer only picks the connection; that connection's keys decide.
func (g *Gateway) idpInitiated(ctx context.Context, w http.ResponseWriter, r *http.Request, p *Partner, response, returnTo string) {
	conns, err := g.cfg.SSO.Store.ListSSOConnections(ctx, p.ID)
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	issuer := saml.ResponseIssuer(response)
	type candidate struct {
		c   conn
		cfg saml.Config
	}
	var trusting, optedIn []candidate
	for _, sc := range conns {
		c, err := g.decodeConnection(sc)
		if err != nil || !c.Enabled || c.cfg.SAML == nil || issuer == "" {
			continue
		}
		cfg, err := g.samlConfig(ctx, r, c)
		if err != nil || cfg.IdP.EntityID != issuer {
			continue
		}
		trusting = append(trusting, candidate{c, cfg})
		if c.cfg.SAML.AllowIdPInitiated {
			optedIn = append(optedIn, candidate{c, cfg})
		}
	}
	switch {
	case len(optedIn) == 1:
		one := optedIn[0]
		f := flow{Connection: one.c.ID, ReturnTo: returnTo}
		claims, err := saml.ParseResponse(ctx, one.cfg, response, nil, g.replayCache(p))
		if err != nil {
			g.ssoFailed(w, r, p, one.c, f, err, "")
			return
		}
		g.completeSSO(w, r, p, one.c, f, claims)
	case len(optedIn) > 1:
		g.ssoFailed(w, r, p, optedIn[0].c, flow{Connection: optedIn[0].c.ID}, sso.Fail(sso.Misconfigured,
			"Several connections accept sign-ins started at this identity provider, so one it starts cannot be told apart. Allow IdP-initiated sign-in on one of them only.",
			sso.Fact{Label: "IdP entity ID", Value: issuer}), "")
	case len(trusting) > 0:
		g.ssoFailed(w, r, p, trusting[0].c, flow{Connection: trusting[0].c.ID}, sso.Fail(sso.Unsolicited,
			"The identity provider started this sign-in itself, which the connection does not accept. Start from the app's sign-in page, or allow IdP-initiated sign-in on the connection.",
			sso.Fact{Label: "IdP entity ID", Value: issuer}), "")
	default:
		// Nothing of the partner's trusts it: no connection's log is
		// the place for it.
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOFailed, string(sso.Unsolicited))
	}
}

func (g *Gateway) completeHandoff(w http.ResponseWriter, r *http.Request, p *Partner) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > 256 {
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOExpired, string(sso.InvalidState))
		return
	}
	b, err := g.cfg.SSO.Store.TakeTicket(ctx, p.ID, handoffKey(id))
	if errors.Is(err, store.ErrNotFound) {
		g.renderSSOError(w, r, p, http.StatusBadRequest, msgSSOExpired, string(sso.InvalidState))
		return
	}
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	var h handoff
	if err := json.Unmarshal(b, &h); err != nil {
		g.ssoUnavailableOrGone(w, r, p, fmt.Errorf("decode SSO handoff: %w", err))
		return
	}
	c, err := g.loadConnection(ctx, p, h.Flow.Connection)
	if err != nil {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	if !g.sameBrowser(r, h.Flow) {
		g.ssoFailed(w, r, p, c, h.Flow, sso.Fail(sso.InvalidState, "The sign-in came back to another browser than the one that started it, or its cookie was lost."), "")
		return
	}
	g.completeSSO(w, r, p, c, h.Flow, h.Claims)
}

// completeSSO maps a verified sign-in to a user and starts a session, or,
// for a test, shows what would happen.
func (g *Gateway) completeSSO(w http.ResponseWriter, r *http.Request, p *Partner, c conn, f flow, claims sso.Claims) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*g.cfg.StoreTimeout)
	defer cancel()
	// c was read again when the IdP answered: a connection switched off
	// since the sign-in started signs no one in. Only a test may use one.
	if f.Test == "" && !c.Enabled {
		g.ssoFailed(w, r, p, c, f, sso.Fail(sso.Disabled, "The connection was switched off while the user was signing in."), "")
		return
	}
	profile, err := sso.MapProfile(claims, c.cfg.Mapping)
	if err != nil {
		g.ssoFailed(w, r, p, c, f, err, "")
		return
	}
	mapsGroups := len(c.cfg.Mapping.Groups) > 0
	if f.Test != "" {
		out, err := account.Preview(ctx, g.cfg.SSO.Store, c.SSOConnection, claims, profile, mapsGroups)
		if err != nil {
			g.ssoFailed(w, r, p, c, f, err, profile.Email)
			return
		}
		g.testSucceeded(w, r, p, c, f, claims, profile, out)
		return
	}
	out, err := account.Resolve(ctx, g.cfg.SSO.Store, c.SSOConnection, claims, profile, mapsGroups, g.cfg.Now())
	if err != nil {
		g.ssoFailed(w, r, p, c, f, err, profile.Email)
		return
	}
	g.finishFirstStep(w, r, p, out.User, f.ReturnTo, signInVia{
		Method: "sso", Connection: c.ID, IdPSubject: claims.Subject, IdPSession: claims.SessionID,
		IdPMFA: claims.MultiFactor(), Created: out.Created,
	})
}

// ssoFailed records a failed sign-in for the connection's admins and
// tells the browser: the typed reason in full for a test, a reference for
// a user.
func (g *Gateway) ssoFailed(w http.ResponseWriter, r *http.Request, p *Partner, c conn, f flow, err error, email string) {
	// A store that did not answer decided nothing about the sign-in: the
	// user may try again shortly, as everywhere else.
	if _, typed := errors.AsType[*sso.Failure](err); !typed && (errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)) {
		g.ssoUnavailableOrGone(w, r, p, err)
		return
	}
	fail := sso.AsFailure(err)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.StoreTimeout)
	defer cancel()
	rec := store.SSOFailure{Time: g.cfg.Now(), Code: string(fail.Code), Message: fail.Message, Email: clip(email, maxActorName), Test: f.Test != ""}
	for _, fact := range fail.Facts {
		rec.Facts = append(rec.Facts, store.FailureFact{Label: fact.Label, Value: fact.Value})
	}
	if aerr := g.cfg.SSO.Store.AppendSSOFailure(ctx, p.ID, c.ID, rec, g.failuresKept()); aerr != nil && !errors.Is(aerr, store.ErrNotFound) {
		g.cfg.Logger.Error("SSO failure not kept", zap.String("partner", p.ID), zap.String("connection", c.ID), zap.Error(aerr))
	}
	level := zap.InfoLevel
	if fail.Code == sso.Internal {
		level = zap.ErrorLevel
	}
	if ce := g.cfg.Logger.Check(level, "SSO sign-in failed"); ce != nil {
		ce.Write(zap.String("partner", p.ID), zap.String("connection", c.ID), zap.String("code", string(fail.Code)), zap.Bool("test", f.Test != ""), zap.Error(err))
	}
	if f.Test != "" {
		g.testFailed(w, r, p, c, f, fail)
		return
	}
	g.record(r, p, signInEvent{action: "signin", email: email, reason: string(fail.Code), connection: c.ID})
	status, msg := http.StatusUnauthorized, msgSSOFailed
	switch fail.Code {
	case sso.Unreachable:
		status, msg = http.StatusBadGateway, msgSSOUnavailable
	case sso.InvalidState:
		status, msg = http.StatusBadRequest, msgSSOExpired
	case sso.UserInactive, sso.UserNotProvisioned, sso.DomainNotAllowed:
		status, msg = http.StatusForbidden, msgSSONoAccess
	case sso.Internal:
		status = http.StatusInternalServerError
	}
	g.renderSSOError(w, r, p, status, msg, string(fail.Code))
}

func (g *Gateway) testSucceeded(w http.ResponseWriter, r *http.Request, p *Partner, c conn, f flow, claims sso.Claims, profile sso.Profile, out account.Outcome) {
	res := diagnostics.Result{
		Status: diagnostics.Succeeded, Subject: claims.Subject, Issuer: claims.Issuer, Claims: claims.Attributes,
		Profile: &profile, Groups: out.Groups, Roles: out.Roles,
		User: &diagnostics.User{ID: out.User.ID, Email: out.User.Email, WouldCreate: out.Created},
	}
	if out.Created {
		res.User.ID = ""
	}
	g.saveTest(w, r, p, c, f, res)
}

func (g *Gateway) testFailed(w http.ResponseWriter, r *http.Request, p *Partner, c conn, f flow, fail *sso.Failure) {
	g.saveTest(w, r, p, c, f, diagnostics.Result{Status: diagnostics.Failed, Failure: fail})
}

// saveTest keeps a test's outcome for the admin API and shows it.
func (g *Gateway) saveTest(w http.ResponseWriter, r *http.Request, p *Partner, c conn, f flow, res diagnostics.Result) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), g.cfg.StoreTimeout)
	defer cancel()
	stored, err := diagnostics.Load(ctx, g.cfg.SSO.Store, p.ID, f.Test)
	if err == nil {
		res.ID, res.ConnectionID, res.CreatedAt, res.ExpiresAt = stored.ID, stored.ConnectionID, stored.CreatedAt, stored.ExpiresAt
		res.CompletedAt = g.cfg.Now().UTC().Truncate(time.Millisecond)
		err = diagnostics.Save(ctx, g.cfg.SSO.Store, p.ID, res, g.cfg.Now())
	}
	if err != nil {
		g.cfg.Logger.Warn("test sign-in result not kept", zap.String("partner", p.ID), zap.String("connection", c.ID), zap.Error(err))
	}
	page := templates.SSOTest{Page: g.page(r.Context(), p, "Test sign-in"), Connection: c.Name, Succeeded: res.Status == diagnostics.Succeeded}
	if fail := res.Failure; fail != nil {
		page.Code, page.Message = string(fail.Code), fail.Message
		for _, fact := range fail.Facts {
			page.Facts = append(page.Facts, templates.Fact{Label: fact.Label, Value: fact.Value})
		}
	}
	if pr := res.Profile; pr != nil {
		page.Subject, page.Issuer, page.Groups, page.Roles = res.Subject, res.Issuer, res.Groups, res.Roles
		page.Profile = []templates.Fact{{Label: "Email", Value: pr.Email}, {Label: "Name", Value: pr.Name}, {Label: "Given name", Value: pr.GivenName}, {Label: "Family name", Value: pr.FamilyName}, {Label: "IdP groups", Value: strings.Join(pr.Groups, ", ")}}
		for _, name := range slices.Sorted(maps.Keys(res.Claims)) {
			page.Claims = append(page.Claims, templates.Fact{Label: name, Value: strings.Join(res.Claims[name], ", ")})
		}
		page.UserNote = "Existing user " + res.User.Email
		if res.User.WouldCreate {
			page.UserNote = "Would be created on first sign-in: " + res.User.Email
		}
	}
	status := http.StatusOK
	if !page.Succeeded {
		status = http.StatusUnauthorized
	}
	g.render(w, status, templates.PageSSOTest, page)
}

func (g *Gateway) renderSSOError(w http.ResponseWriter, r *http.Request, p *Partner, status int, msg, reference string) {
	g.render(w, status, templates.PageSSOError, templates.SSOError{
		Page: g.page(r.Context(), p, "Sign-in failed"), Message: msg, Reference: reference, LoginURL: g.cfg.Prefix + "login",
	})
}

// ssoUnavailableOrGone answers a store outage with 503 and a connection
// that vanished, or never was, with 404.
func (g *Gateway) ssoUnavailableOrGone(w http.ResponseWriter, r *http.Request, p *Partner, err error) {
	if errors.Is(err, store.ErrNotFound) {
		g.renderSSOError(w, r, p, http.StatusNotFound, "This sign-in option is not available. Go back to the sign-in page and choose another.", "")
		return
	}
	g.cfg.Logger.Error("SSO unavailable", zap.String("partner", p.ID), zap.Error(err))
	w.Header().Set("Retry-After", "5")
	g.renderSSOError(w, r, p, http.StatusServiceUnavailable, msgUnavailable, "")
}

func (g *Gateway) loadConnection(ctx context.Context, p *Partner, id string) (conn, error) {
	if id == "" || len(id) > 64 {
		return conn{}, store.ErrNotFound
	}
	sc, err := g.cfg.SSO.Store.GetSSOConnection(ctx, p.ID, id)
	if err != nil {
		return conn{}, err
	}
	return g.decodeConnection(sc)
}

func (g *Gateway) decodeConnection(sc store.SSOConnection) (conn, error) {
	cfg, err := connection.Decode(sc)
	if err != nil {
		return conn{}, err
	}
	return conn{SSOConnection: sc, cfg: cfg}, nil
}

// urls are the partner's SSO URLs on the host the browser reached, which
// is its primary host for every step of a sign-in (see toPrimaryHost);
// the host keeps its port, for sites not on the scheme's default one.
func (g *Gateway) urls(r *http.Request) preset.PartnerURLs {
	return preset.URLsFor(g.scheme(), strings.ToLower(r.Host))
}

// sloURL is where a connection's IdP sends logout requests: the
// connection is in the URL because one SP entity serves every SAML
// connection of the partner.
func (g *Gateway) sloURL(r *http.Request, connectionID string) string {
	u := url.URL{Scheme: g.scheme(), Host: strings.ToLower(r.Host), Path: g.cfg.Prefix + "saml/slo", RawQuery: "connection=" + url.QueryEscape(connectionID)}
	return u.String()
}

func (g *Gateway) scheme() string {
	if g.cfg.Scheme != "" {
		return g.cfg.Scheme
	}
	return "https"
}

func (g *Gateway) oidcConfig(r *http.Request, c conn) (oidc.Config, error) {
	o := c.cfg.OIDC
	secret, err := connection.ClientSecret(g.cfg.SSO.Secrets, c.SSOConnection, o)
	if err != nil {
		return oidc.Config{}, err
	}
	return oidc.Config{
		Issuer: o.Issuer, ClientID: o.ClientID, ClientSecret: secret, Scopes: o.Scopes,
		RedirectURL: g.urls(r).RedirectURI, Userinfo: o.Userinfo,
	}, nil
}

func (g *Gateway) samlConfig(ctx context.Context, r *http.Request, c conn) (saml.Config, error) {
	s := c.cfg.SAML
	key, cert, err := connection.SPKeyPair(g.cfg.SSO.Secrets, c.SSOConnection, s)
	if err != nil {
		return saml.Config{}, sso.Wrap(sso.Misconfigured, "The connection's service provider key cannot be read; recreate the connection.", err)
	}
	var idp saml.IdP
	switch {
	case s.MetadataURL != "":
		idp, err = g.cfg.SSO.SAML.Get(ctx, s.MetadataURL)
	case s.MetadataXML != "":
		idp, err = saml.ParseMetadata([]byte(s.MetadataXML))
	default:
		idp, err = saml.ManualIdP(s.EntityID, s.SSOURL, []byte(s.Certificates))
	}
	if err != nil {
		return saml.Config{}, err
	}
	u := g.urls(r)
	return saml.Config{
		EntityID: u.SPEntityID, ACSURL: u.ACSURL, SLOURL: g.sloURL(r, c.ID),
		Key: key, Certificate: cert, IdP: idp,
		SignRequests: s.SignRequests, AllowIdPInitiated: s.AllowIdPInitiated, Now: g.cfg.Now,
	}, nil
}

// samlMetadata serves the SP metadata of one of the partner's SAML
// connections: the one named, or the only one.
func (g *Gateway) samlMetadata(w http.ResponseWriter, r *http.Request, p *Partner) {
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	id := r.URL.Query().Get("connection")
	var c conn
	var err error
	if id != "" {
		c, err = g.loadConnection(ctx, p, id)
		if err == nil && c.cfg.SAML == nil {
			err = store.ErrNotFound
		}
	} else {
		c, err = g.onlySAMLConnection(ctx, p)
	}
	if errors.Is(err, errSeveralSAML) {
		http.Error(w, "Bad Request: this partner has several SAML connections; add ?connection=<id>", http.StatusBadRequest)
		return
	}
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		g.cfg.Logger.Error("SAML metadata unavailable", zap.String("partner", p.ID), zap.Error(err))
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	key, cert, err := connection.SPKeyPair(g.cfg.SSO.Secrets, c.SSOConnection, c.cfg.SAML)
	if err != nil {
		g.cfg.Logger.Error("SAML metadata: SP key pair", zap.String("partner", p.ID), zap.Error(err))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	u := g.urls(r)
	doc, err := saml.Metadata(saml.Config{
		EntityID: u.SPEntityID, ACSURL: u.ACSURL, SLOURL: g.sloURL(r, c.ID),
		Key: key, Certificate: cert, SignRequests: c.cfg.SAML.SignRequests,
	})
	if err != nil {
		g.cfg.Logger.Error("SAML metadata", zap.String("partner", p.ID), zap.Error(err))
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Disposition", `attachment; filename="`+p.ID+`-saml-metadata.xml"`)
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(doc)
}

var errSeveralSAML = errors.New("several SAML connections")

func (g *Gateway) onlySAMLConnection(ctx context.Context, p *Partner) (conn, error) {
	conns, err := g.cfg.SSO.Store.ListSSOConnections(ctx, p.ID)
	if err != nil {
		return conn{}, err
	}
	var found []store.SSOConnection
	for _, c := range conns {
		if c.Protocol == string(preset.SAML) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return conn{}, store.ErrNotFound
	case 1:
		return g.decodeConnection(found[0])
	}
	return conn{}, errSeveralSAML
}

// browserBinding returns this browser's SSO cookie, setting one if it has
// none. Concurrent sign-ins in two tabs share it.
func (g *Gateway) browserBinding(w http.ResponseWriter, r *http.Request) string {
	value, n := findCookie(r.Header, ssoCookieName(r))
	if n != 1 || len(value) != 43 {
		var b [32]byte
		rand.Read(b[:])
		value = base64.RawURLEncoding.EncodeToString(b[:])
	}
	// Set again either way, so it lives as long as the flow just begun.
	// Host-only (Path=/ as __Host- demands; hideOwnCookies keeps it from
	// the app) and Lax: the IdP's redirect back is a top-level navigation,
	// which carries it; a cross-site POST does not, which is why the SAML
	// ACS hands over to a same-site page before checking it. It outlives a
	// finished sign-in, so a second tab's sign-in still finds it.
	http.SetCookie(w, g.flowCookie(r, ssoCookieBase, value, int(flowTTL.Seconds())))
	return value
}

func ssoCookieName(r *http.Request) string { return cookieName(r, ssoCookieBase) }

func (g *Gateway) ssoTimeout() time.Duration { return 10 * time.Second }

func (g *Gateway) failuresKept() int {
	if g.cfg.SSO.FailuresKept > 0 {
		return g.cfg.SSO.FailuresKept
	}
	return 50
}

func hashHex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func flowKey(state string) string { return "sso-flow:" + hashHex(state) }

func handoffKey(id string) string { return "sso-handoff:" + hashHex(id) }

// replayCache remembers SAML assertion ids as tickets of the partner.
func (g *Gateway) replayCache(p *Partner) sso.ReplayCache {
	return ticketReplay{tickets: g.cfg.SSO.Store, partnerID: p.ID, now: g.cfg.Now}
}

type ticketReplay struct {
	tickets   store.Tickets
	partnerID string
	now       func() time.Time
}

func (t ticketReplay) Claim(ctx context.Context, id string, expires time.Time) (bool, error) {
	// Kept past the assertion's end by the skew its check allows.
	ttl := expires.Sub(t.now()) + sso.Skew
	if ttl < time.Second {
		ttl = time.Second
	}
	err := t.tickets.PutTicket(ctx, t.partnerID, "saml-assertion:"+hashHex(id), []byte{1}, ttl)
	if errors.Is(err, store.ErrAlreadyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("remember SAML assertion: %w", err)
	}
	return true, nil
}

// ssoOptions lists the partner's enabled connections for the login page,
// and whether an email alone may be sent for home-realm discovery. A
// store outage only hides the options: the password form still works.
func (g *Gateway) ssoOptions(ctx context.Context, p *Partner, returnTo string) ([]templates.SSOOption, bool) {
	if g.cfg.SSO == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(ctx, g.cfg.StoreTimeout)
	defer cancel()
	conns, err := g.cfg.SSO.Store.ListSSOConnections(ctx, p.ID)
	if err != nil {
		g.cfg.Logger.Warn("login page: SSO connections unavailable", zap.String("partner", p.ID), zap.Error(err))
		return nil, false
	}
	var opts []templates.SSOOption
	routes := false
	for _, c := range conns {
		if !c.Enabled {
			continue
		}
		opts = append(opts, templates.SSOOption{Name: c.Name, URL: g.startURL(c.ID, returnTo)})
		routes = routes || len(c.Domains) > 0
	}
	return opts, routes
}

func (g *Gateway) startURL(connectionID, returnTo string) string {
	q := url.Values{"connection": {connectionID}}
	if returnTo != "/" {
		q.Set("return_to", returnTo)
	}
	return g.cfg.Prefix + "sso/start?" + q.Encode()
}

// homeRealm sends an email whose domain one of the partner's enabled
// connections routes to that connection. It leaves through a page rather
// than a redirect: a form post's redirects are held to the login page's
// form-action policy, which does not name the IdP.
func (g *Gateway) homeRealm(w http.ResponseWriter, r *http.Request, p *Partner, email, returnTo string) bool {
	at := strings.LastIndexByte(email, '@')
	if g.cfg.SSO == nil || at < 0 || at == len(email)-1 {
		return false
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.StoreTimeout)
	defer cancel()
	c, err := g.cfg.SSO.Store.FindSSOConnectionByDomain(ctx, p.ID, strings.ToLower(email[at+1:]))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			g.cfg.Logger.Warn("home-realm discovery unavailable", zap.String("partner", p.ID), zap.Error(err))
		}
		return false
	}
	if !c.Enabled {
		return false
	}
	g.render(w, http.StatusOK, templates.PageSSORedirect, templates.SSORedirect{
		Page: g.page(r.Context(), p, "Continue"), Provider: c.Name, URL: g.startURL(c.ID, safeReturnPath(returnTo, g.cfg.Prefix)),
	})
	return true
}
