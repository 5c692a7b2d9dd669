package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/governance"
	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
)

// Revoker ends sessions on every node. The admin API cannot do this with
// the store alone: deleting session rows does not evict copies other
// nodes hold in memory, so the revocation must also be announced.
type Revoker interface {
	// RevokeUser ends every session of the user and announces each one.
	// It succeeds when the user has no sessions.
	RevokeUser(ctx context.Context, partnerID, userID string) error
	// Revoke ends one session; ErrNotFound-free when it is already gone.
	Revoke(ctx context.Context, partnerID, sessionID string) error
}

// SessionAuth finds the browser session a request carries on a partner's
// hostname: the sign-in a partner admin's portal runs on.
type SessionAuth interface {
	// SessionOf answers session.ErrNoSession when the request has no live
	// session for the partner its host names, and an error matching
	// store.ErrUnavailable when it cannot tell.
	SessionOf(r *http.Request) (*session.Identity, error)
}

// Config is what New needs. Store, OperatorKeys, BaseDomain, Revoker,
// Audit, SecretKey and SecretsKey are required; Sessions, Mailer and ClientIP are
// optional (without Sessions no cookie signs anyone in; without Mailer
// invitations are refused); Logger and Now default to a no-op logger and
// time.Now.
type Config struct {
	Store store.Store
	// OperatorKeys are Bearer tokens with full access, by name; each must
	// be at least 16 bytes of Bearer token characters.
	OperatorKeys []OperatorKey
	// BaseDomain, e.g. "apps.localhost": <id>.<BaseDomain> is every
	// partner's implied hostname.
	BaseDomain string
	Revoker    Revoker
	Sessions   SessionAuth
	Audit      *audit.Log
	Mailer     mail.Sender
	// SecretKey derives the CSRF tokens of cookie sessions; 32 bytes.
	SecretKey []byte
	// SecretsKey encrypts SSO connections' client secrets at rest; 32
	// bytes, derived for keys.ConnectionSecrets.
	SecretsKey []byte
	// ClientIP returns the client address, trusting forwarded headers only
	// from configured proxies; nil or "" means the peer address.
	ClientIP func(*http.Request) string
	// InviteTTL is how long an invitation or reset link works (default 72h).
	InviteTTL time.Duration
	// Hashing bounds argon2 work, shared with every other handler of the
	// process that hashes; nil gives this handler a default of its own.
	Hashing *password.Limiter
	// LinkScheme is the scheme of links mailed to users: "https" (the
	// default) or "http" for a local setup.
	LinkScheme string
	// Policies serves the governance baseline and partners' effective
	// policies, shared with the sign-ins; nil reads them from Store with
	// the default baseline.
	Policies *governance.Source
	// SAMLMetadata reads IdP metadata URLs, to show their certificates'
	// expiry; the sign-ins share it. Nil shows them for pasted metadata
	// only.
	SAMLMetadata *saml.MetadataCache
	// LinkPort is the port of partner sites in those links and in the
	// SSO URLs shown, "" for the scheme's default.
	LinkPort string
	Logger   *zap.Logger
	Now      func() time.Time
}

// OperatorKey is a named operator credential. The name appears in audit
// events; the key never does.
type OperatorKey struct {
	Name string
	Key  string
}

// Handler serves the admin API. Build it with New.
type Handler struct {
	store      store.Store
	keys       []operatorDigest
	base       string
	revoker    Revoker
	sessions   SessionAuth
	audit      *audit.Log
	mailer     mail.Sender
	csrfKey    []byte
	secrets    *secretbox.Box
	clientIP   func(*http.Request) string
	inviteTTL  time.Duration
	linkScheme string
	linkPort   string
	// samlMetadata is shared with the sign-ins.
	samlMetadata *saml.MetadataCache
	policies     *governance.Source
	log          *zap.Logger
	now          func() time.Time
	mux          *http.ServeMux
	table        []route
	// hashing bounds the argon2id hashes in flight (see hashPassword);
	// hashFn is a field so tests can hold a slot.
	hashing *password.Limiter
	hashFn  func(string) (string, error)
	// userScanBudget bounds the users one search reads (see listUsers).
	userScanBudget int
}

// New checks cfg and returns a ready Handler.
func New(cfg Config) (*Handler, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if cfg.Revoker == nil {
		errs = append(errs, errors.New("revoker is required"))
	}
	if cfg.Audit == nil {
		errs = append(errs, errors.New("audit log is required"))
	}
	if len(cfg.SecretKey) < 32 {
		errs = append(errs, errors.New("secret key of 32 bytes is required"))
	}
	secrets, err := secretbox.New(cfg.SecretsKey)
	if err != nil {
		errs = append(errs, errors.New("secrets key of 32 bytes is required"))
	}
	keys, err := digestKeys(cfg.OperatorKeys)
	if err != nil {
		errs = append(errs, err)
	}
	base, msg := normalizeBaseDomain(cfg.BaseDomain)
	if msg != "" {
		errs = append(errs, fmt.Errorf("base domain: %s", msg))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	h := &Handler{
		store:          cfg.Store,
		keys:           keys,
		base:           base,
		revoker:        cfg.Revoker,
		sessions:       cfg.Sessions,
		audit:          cfg.Audit,
		mailer:         cfg.Mailer,
		csrfKey:        cfg.SecretKey,
		secrets:        secrets,
		clientIP:       cfg.ClientIP,
		inviteTTL:      cfg.InviteTTL,
		linkScheme:     cfg.LinkScheme,
		linkPort:       cfg.LinkPort,
		samlMetadata:   cfg.SAMLMetadata,
		policies:       cfg.Policies,
		log:            cfg.Logger,
		now:            cfg.Now,
		mux:            http.NewServeMux(),
		hashing:        cfg.Hashing,
		hashFn:         password.Hash,
		userScanBudget: userScanBudget,
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.hashing == nil {
		h.hashing = password.NewLimiter(0, 0)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.policies == nil {
		h.policies = governance.New(cfg.Store, policy.Policy{})
	}
	if h.linkScheme == "" {
		h.linkScheme = "https"
	}
	if h.inviteTTL <= 0 {
		h.inviteTTL = 72 * time.Hour
	}
	h.routes()
	return h, nil
}

// handlerFunc is a route handler; a returned error becomes the response.
type handlerFunc func(http.ResponseWriter, *http.Request) error

// reach says who may call a route.
type reach int

const (
	// platform routes span partners: operators only.
	platform reach = iota
	// partnerRead routes read one partner's objects.
	partnerRead
	// partnerWrite routes change one partner's objects.
	partnerWrite
	// self routes describe the caller and need only a credential.
	self
	// setupLink is the redeem route: only a setup link not yet redeemed
	// reaches it.
	setupLink
	// setupSession routes finish a setup: only a redeemed setup session
	// reaches them, never an operator or partner admin.
	setupSession
	// operatorKey routes need an operator key itself, not a session
	// opened with one.
	operatorKey
	// operatorSession routes act on the caller's own operator session.
	operatorSession
)

// route is one method on one path. action names the audit event a write
// records, e.g. "user.create".
type route struct {
	method  string
	pattern string
	reach   reach
	action  string
	// setup says whether a redeemed setup session of the path's partner
	// reaches the route too (see permitSetup); each row says so, so a new
	// route is out of a setup's reach unless marked.
	setup setupScope
	fn    handlerFunc
}

// setupScope says whether a redeemed setup session reaches a route.
type setupScope bool

const (
	outOfSetup setupScope = false
	inSetup    setupScope = true
)

func (h *Handler) routes() {
	const (
		partners = "/api/v1/partners"
		partner  = partners + "/{id}"
		users    = partner + "/users"
		user     = users + "/{userId}"
		groups   = partner + "/groups"
		group    = groups + "/{groupId}"
	)
	var (
		ssoConns    = partner + "/sso-connections"
		ssoConn     = ssoConns + "/{connectionId}"
		adminTokens = partner + "/" + adminTokenKind.collection
		adminToken  = adminTokens + "/{tokenId}"
		scimTokens  = partner + "/" + scimTokenKind.collection
		scimToken   = scimTokens + "/{tokenId}"
		setupLinks  = partner + "/setup-links"
	)
	h.table = []route{
		{"GET", "/api/v1/me", self, "", inSetup, h.getMe},
		{"GET", "/api/v1/sso-presets", self, "", inSetup, h.listSSOPresets},
		{"GET", "/api/v1/governance", platform, "", outOfSetup, h.getGovernance},
		{"PUT", "/api/v1/governance", platform, "governance.update", outOfSetup, h.putGovernance},
		{"GET", partners, platform, "", outOfSetup, h.listPartners},
		{"POST", partners, platform, "partner.create", outOfSetup, h.createPartner},
		{"GET", partner, partnerRead, "", inSetup, h.getPartner},
		{"PATCH", partner, platform, "partner.update", outOfSetup, h.updatePartner},
		{"DELETE", partner, platform, "partner.delete", outOfSetup, h.deletePartner},
		{"GET", partner + "/domains", partnerRead, "", inSetup, h.listDomains},
		{"POST", partner + "/domains", partnerWrite, "domain.add", inSetup, h.addDomain},
		{"DELETE", partner + "/domains/{domain}", partnerWrite, "domain.remove", outOfSetup, h.removeDomain},
		{"GET", users, partnerRead, "", outOfSetup, h.listUsers},
		{"POST", users, partnerWrite, "user.create", outOfSetup, h.createUser},
		{"GET", user, partnerRead, "", outOfSetup, h.getUser},
		{"PATCH", user, partnerWrite, "user.update", outOfSetup, h.updateUser},
		{"DELETE", user, partnerWrite, "user.delete", outOfSetup, h.deleteUser},
		{"POST", user + "/suspend", partnerWrite, "user.suspend", outOfSetup, h.suspendUser},
		{"POST", user + "/resume", partnerWrite, "user.resume", outOfSetup, h.resumeUser},
		{"PUT", user + "/password", partnerWrite, "user.password_set", outOfSetup, h.setPassword},
		{"POST", user + "/password-reset", partnerWrite, "user.password_reset", outOfSetup, h.resetPassword},
		{"GET", user + "/sessions", partnerRead, "", outOfSetup, h.listSessions},
		{"DELETE", user + "/sessions", partnerWrite, "user.sign_out", outOfSetup, h.revokeSessions},
		{"DELETE", user + "/sessions/{sessionId}", partnerWrite, "session.revoke", outOfSetup, h.revokeSession},
		{"GET", user + "/mfa-methods", partnerRead, "", outOfSetup, h.listMFAMethods},
		{"DELETE", user + "/mfa-methods/{methodId}", partnerWrite, "user.mfa_remove", outOfSetup, h.removeMFAMethod},
		{"POST", partner + "/invitations", partnerWrite, "user.invite", outOfSetup, h.invite},
		{"GET", groups, partnerRead, "", outOfSetup, h.listGroups},
		{"POST", groups, partnerWrite, "group.create", outOfSetup, h.createGroup},
		{"GET", group, partnerRead, "", outOfSetup, h.getGroup},
		{"PATCH", group, partnerWrite, "group.update", outOfSetup, h.updateGroup},
		{"DELETE", group, partnerWrite, "group.delete", outOfSetup, h.deleteGroup},
		{"GET", group + "/members", partnerRead, "", outOfSetup, h.listMembers},
		{"POST", group + "/members", partnerWrite, "group.members_add", outOfSetup, h.addMembers},
		{"DELETE", group + "/members/{userId}", partnerWrite, "group.member_remove", outOfSetup, h.removeMember},
		{"GET", partner + "/role-mappings", partnerRead, "", outOfSetup, h.listRoleMappings},
		{"POST", partner + "/role-mappings", partnerWrite, "role_mapping.create", outOfSetup, h.createRoleMapping},
		{"GET", partner + "/role-mappings/{mappingId}", partnerRead, "", outOfSetup, h.getRoleMapping},
		{"DELETE", partner + "/role-mappings/{mappingId}", partnerWrite, "role_mapping.delete", outOfSetup, h.deleteRoleMapping},
		{"GET", adminTokens, partnerRead, "", outOfSetup, h.listTokens(adminTokenKind)},
		{"POST", adminTokens, partnerWrite, "admin_token.create", outOfSetup, h.createToken(adminTokenKind)},
		{"GET", adminToken, partnerRead, "", outOfSetup, h.getToken(adminTokenKind)},
		{"DELETE", adminToken, partnerWrite, "admin_token.revoke", outOfSetup, h.revokeToken(adminTokenKind)},
		{"GET", scimTokens, partnerRead, "", inSetup, h.listTokens(scimTokenKind)},
		{"POST", scimTokens, partnerWrite, "scim_token.create", inSetup, h.createToken(scimTokenKind)},
		{"GET", scimToken, partnerRead, "", outOfSetup, h.getToken(scimTokenKind)},
		{"DELETE", scimToken, partnerWrite, "scim_token.revoke", inSetup, h.revokeToken(scimTokenKind)},
		{"GET", partner + "/scim-requests", partnerRead, "", inSetup, h.listSCIMRequests},
		{"GET", partner + "/sso-presets/{preset}", partnerRead, "", inSetup, h.getSSOPreset},
		{"GET", ssoConns, partnerRead, "", inSetup, h.listSSOConnections},
		{"POST", ssoConns, partnerWrite, "sso_connection.create", inSetup, h.createSSOConnection},
		{"GET", ssoConn, partnerRead, "", inSetup, h.getSSOConnection},
		{"PATCH", ssoConn, partnerWrite, "sso_connection.update", inSetup, h.updateSSOConnection},
		{"DELETE", ssoConn, partnerWrite, "sso_connection.delete", inSetup, h.deleteSSOConnection},
		{"POST", ssoConn + "/test", partnerWrite, "sso_connection.test", inSetup, h.startSSOTest},
		{"GET", ssoConn + "/tests/{testId}", partnerRead, "", inSetup, h.getSSOTest},
		{"GET", ssoConn + "/failures", partnerRead, "", inSetup, h.listSSOFailures},
		{"GET", partner + "/policy", partnerRead, "", inSetup, h.getPolicy},
		{"PUT", partner + "/policy", partnerWrite, "policy.update", outOfSetup, h.putPolicy},
		{"DELETE", partner + "/policy", partnerWrite, "policy.reset", outOfSetup, h.deletePolicy},
		{"GET", partner + "/policy/effective", partnerRead, "", inSetup, h.getEffectivePolicy},
		{"GET", partner + "/branding", partnerRead, "", inSetup, h.getBranding},
		{"PUT", partner + "/branding", partnerWrite, "branding.update", inSetup, h.putBranding},
		{"PUT", partner + "/branding/logo", partnerWrite, "branding.logo_set", inSetup, h.putLogo},
		{"DELETE", partner + "/branding/logo", partnerWrite, "branding.logo_remove", inSetup, h.deleteLogo},
		{"GET", "/api/v1/policy-report", platform, "", outOfSetup, h.getPolicyReport},
		{"GET", partner + "/audit", partnerRead, "", outOfSetup, h.queryAudit},
		{"GET", partner + "/audit/export", partnerRead, "", outOfSetup, h.exportAudit},
		{"GET", partner + "/audit/verify", partnerRead, "", outOfSetup, h.verifyAudit},
		{"GET", "/api/v1/audit", platform, "", outOfSetup, h.queryPlatformAudit},
		{"GET", setupLinks, platform, "", outOfSetup, h.listSetupLinks},
		{"POST", setupLinks, platform, "setup_link.create", outOfSetup, h.createSetupLink},
		{"DELETE", setupLinks + "/{linkId}", platform, "setup_link.revoke", outOfSetup, h.revokeSetupLink},
		{"POST", "/api/v1/setup-links/redeem", setupLink, "setup_link.redeem", outOfSetup, h.redeemSetupLink},
		{"POST", partner + "/setup/complete", setupSession, "setup_link.complete", inSetup, h.completeSetup},
		{"POST", "/api/v1/setup/end", setupSession, "setup_link.end", inSetup, h.endSetup},
		{"POST", "/api/v1/operator-sessions", operatorKey, "operator_session.create", outOfSetup, h.createOperatorSession},
		{"DELETE", "/api/v1/operator-sessions/current", operatorSession, "operator_session.delete", outOfSetup, h.deleteOperatorSession},
	}
	allow := map[string][]string{}
	var patterns []string
	for _, rt := range h.table {
		h.mux.Handle(rt.method+" "+rt.pattern, h.guard(rt))
		if _, seen := allow[rt.pattern]; !seen {
			patterns = append(patterns, rt.pattern)
		}
		allow[rt.pattern] = append(allow[rt.pattern], rt.method)
		if rt.method == http.MethodGet {
			allow[rt.pattern] = append(allow[rt.pattern], http.MethodHead)
		}
	}
	// The bare pattern is a fallback answering 405 with the allowed
	// methods; ServeMux prefers the method-specific patterns, so the
	// fallback sees only the rest.
	for _, pattern := range patterns {
		allowed := strings.Join(allow[pattern], ", ")
		h.mux.Handle(pattern, h.handle(func(w http.ResponseWriter, _ *http.Request) error {
			w.Header().Set("Allow", allowed)
			return errMethodNotAllowed
		}))
	}
	h.mux.Handle("GET /api/v1/openapi.json", http.HandlerFunc(serveOpenAPI))
	h.mux.Handle("/", h.handle(func(http.ResponseWriter, *http.Request) error {
		return errRouteNotFound
	}))
}

func (h *Handler) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			fail(w, err)
		}
	})
}

// ServeHTTP authenticates before routing, so an unauthenticated caller
// learns nothing, not even which routes exist. Only the OpenAPI document,
// the public contract, is served to anyone.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A bound on the whole request, so a slow store cannot stack retries
	// into a hang; deleting a large partner is the longest call.
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	rw := &recorder{ResponseWriter: w}
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	reqID := store.NewID("req_")
	rw.Header().Set("X-Request-Id", reqID)
	r = r.WithContext(ctx)
	ip := h.sourceIP(r)
	if r.URL.Path == openAPIPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		h.mux.ServeHTTP(rw, r)
	} else if c, err := h.authenticate(r, ip); err != nil {
		refuse(rw, err)
	} else if !canonical(r.URL.Path) {
		// ServeMux would answer a redirect; an API client gets a 404 instead
		// of being steered to a path it did not ask for. Unauthenticated
		// callers got their 401 above.
		fail(rw, errRouteNotFound)
	} else {
		c.requestID, c.ip = reqID, ip
		r = r.WithContext(context.WithValue(ctx, callerKey{}, c))
		h.mux.ServeHTTP(rw, r)
	}
	h.logRequest(r, rw)
}

const requestTimeout = 30 * time.Second

func canonical(p string) bool {
	return p != "" && path.Clean(p) == p
}

// logRequest writes one line per request. It names the route pattern, not
// the raw path, and never bodies or headers, which carry passwords and
// keys.
func (h *Handler) logRequest(r *http.Request, rw *recorder) {
	level := zapcore.InfoLevel
	if rw.status >= 500 {
		level = zapcore.ErrorLevel
	}
	ce := h.log.Check(level, "admin request")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("method", r.Method),
		zap.String("route", r.Pattern),
		zap.Int("status", rw.status),
	}
	if id := r.PathValue("id"); id != "" {
		fields = append(fields, zap.String("partner_id", id))
	}
	if id := r.PathValue("userId"); id != "" {
		fields = append(fields, zap.String("user_id", id))
	}
	var ae *apiError
	if errors.As(rw.err, &ae) {
		fields = append(fields, zap.String("code", ae.code))
	}
	if rw.status >= 500 {
		fields = append(fields, zap.Error(rw.err))
	}
	ce.Write(fields...)
}

// recorder remembers the status and the error behind it for the log line.
type recorder struct {
	http.ResponseWriter
	status int
	err    error
}

func (rw *recorder) WriteHeader(status int) {
	if rw.status == 0 {
		rw.status = status
	}
	rw.ResponseWriter.WriteHeader(status)
}

func (rw *recorder) Write(b []byte) (int, error) {
	if rw.status == 0 {
		rw.status = http.StatusOK
	}
	return rw.ResponseWriter.Write(b)
}

func (rw *recorder) Unwrap() http.ResponseWriter { return rw.ResponseWriter }

// publish announces a change that is already stored. A failure is logged,
// not returned: the write stands, so an error response would only make
// the client retry into a conflict; and a bus that cannot publish has
// usually lost its connection, which already tells watchers to distrust
// their caches. It outlives a client that hangs up, since the change has
// been made either way.
func (h *Handler) publish(r *http.Request, e store.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), publishTimeout)
	defer cancel()
	if err := h.store.Publish(ctx, e); err != nil {
		h.log.Error("publish change event",
			zap.String("kind", string(e.Kind)),
			zap.String("partner_id", e.PartnerID),
			zap.Error(err))
	}
}

const publishTimeout = 5 * time.Second
