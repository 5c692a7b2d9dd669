package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/invite"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/templates"
)

// DefaultPrefix is where the gateway's own routes live on a protected site.
const DefaultPrefix = "/.partnergate/"

// Store is what the login and set-password flows need from the storage
// backend.
type Store interface {
	GetUserByEmail(ctx context.Context, partnerID, email string) (store.User, error)
	store.Counters
	invite.Store
}

// Limits bound sign-in attempts. An account or an address over its limit
// is refused until its window ends, whatever password it sends.
type Limits struct {
	// AccountFailures counts attempts on one account since its last
	// successful sign-in.
	AccountFailures int
	// IPAttempts counts every attempt from one address, successful or not,
	// so a script cannot refill its budget with an account it owns.
	IPAttempts int
	Window     time.Duration
}

// DefaultLimits are generous to people and hard on scripts.
var DefaultLimits = Limits{AccountFailures: 5, IPAttempts: 100, Window: 15 * time.Minute}

// Config wires a Gateway.
type Config struct {
	Directory *Directory
	Sessions  *session.Manager
	Store     Store
	Templates *templates.Set
	// Audit receives every sign-in, failed sign-in, sign-out and password
	// set through a link.
	Audit   *audit.Log
	CSRFKey []byte
	Prefix  string
	Headers HeaderNames
	Limits  Limits
	// Hashing bounds argon2 work; the process shares one across every
	// handler that hashes. Nil gives this gateway a default of its own.
	Hashing *password.Limiter
	// ClientIP returns the client address, trusting forwarded headers only
	// from configured proxies. When it is nil or answers "", the
	// connection's peer address counts.
	ClientIP func(*http.Request) string
	// Policies gives partners' effective policies: SSO-only sign-in,
	// lockout, allowed IP ranges. Nil applies the default baseline.
	Policies Policies
	// Branding gives partners' looks; nil shows the product's own.
	Branding BrandingStore
	// MFA turns on the second sign-in step.
	MFA *MFA
	// SSO turns on single sign-on; nil offers passwords only.
	SSO *SSO
	// Scheme is how browsers reach partner hosts: "https" (default), or
	// "http" for a local setup. SSO URLs registered at IdPs use it.
	Scheme string
	// StoreTimeout bounds each store call of the login and set-password
	// flows (default 2s).
	StoreTimeout time.Duration
	Now          func() time.Time
	Logger       *zap.Logger
}

// Gateway serves one protected site. It is safe for concurrent use.
type Gateway struct {
	cfg     Config
	headers headerSet
	assets  http.Handler
}

// New checks cfg and fills in defaults.
func New(cfg Config) (*Gateway, error) {
	var missing []string
	if cfg.Directory == nil {
		missing = append(missing, "directory")
	}
	if cfg.Sessions == nil {
		missing = append(missing, "session manager")
	}
	if cfg.Store == nil {
		missing = append(missing, "store")
	}
	if cfg.Templates == nil {
		missing = append(missing, "templates")
	}
	if cfg.Audit == nil {
		missing = append(missing, "audit log")
	}
	if len(cfg.CSRFKey) < 32 {
		missing = append(missing, "CSRF key of 32 bytes")
	}
	if sso := cfg.SSO; sso != nil && (sso.Store == nil || sso.OIDC == nil || sso.SAML == nil || sso.Secrets == nil) {
		missing = append(missing, "SSO store, OIDC client, SAML metadata cache and secrets box")
	}
	if m := cfg.MFA; m != nil && (m.Store == nil || m.Secrets == nil) {
		missing = append(missing, "MFA store and secrets box")
	}
	if cfg.Scheme != "" && cfg.Scheme != "https" && cfg.Scheme != "http" {
		return nil, fmt.Errorf("gateway: scheme %q is neither https nor http", cfg.Scheme)
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("gateway: missing %s", strings.Join(missing, ", "))
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if !strings.HasPrefix(cfg.Prefix, "/") || !strings.HasSuffix(cfg.Prefix, "/") || len(cfg.Prefix) < 3 {
		return nil, fmt.Errorf("gateway: prefix %q must start and end with '/'", cfg.Prefix)
	}
	if cfg.Headers == (HeaderNames{}) {
		cfg.Headers = DefaultHeaderNames
	}
	if cfg.Limits.AccountFailures <= 0 || cfg.Limits.IPAttempts <= 0 || cfg.Limits.Window <= 0 {
		cfg.Limits.AccountFailures = DefaultLimits.AccountFailures
		cfg.Limits.IPAttempts = DefaultLimits.IPAttempts
		cfg.Limits.Window = DefaultLimits.Window
	}
	if cfg.Hashing == nil {
		cfg.Hashing = password.NewLimiter(0, 0)
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = 2 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Gateway{
		cfg:     cfg,
		headers: newHeaderSet(cfg.Headers),
		assets:  http.StripPrefix(cfg.Prefix+"assets/", http.FileServerFS(templates.Assets())),
	}, nil
}

// Serve decides a request. When it returns an identity, r carries the
// identity headers and may go upstream; otherwise Serve has answered.
func (g *Gateway) Serve(w http.ResponseWriter, r *http.Request) (*session.Identity, bool) {
	g.headers.strip(r.Header)
	if !g.guardTrailers(r) {
		http.Error(w, "Bad Request: reserved header sent as a trailer", http.StatusBadRequest)
		return nil, false
	}
	p, ok := g.cfg.Directory.Resolve(r.Host)
	if !ok {
		http.NotFound(w, r)
		return nil, false
	}
	if p.Suspended {
		g.serveSuspended(w, r, p)
		return nil, false
	}
	if strings.HasPrefix(r.URL.Path, g.cfg.Prefix) {
		if ambiguous(r.URL.EscapedPath()) {
			http.Error(w, "Bad Request: ambiguous path", http.StatusBadRequest)
			return nil, false
		}
		// The push service's callback comes from its network, not the
		// user's, and needs no address: its signature authenticates it.
		if g.isPushAnswer(r) || g.allowedAddress(w, r, p) {
			g.serveReserved(w, r, p)
		}
		return nil, false
	}
	if reachesPrefix(r.URL.EscapedPath(), g.cfg.Prefix) {
		http.Error(w, "Bad Request: ambiguous path", http.StatusBadRequest)
		return nil, false
	}
	id, err := lookupSession(g.cfg.Sessions, r, p.ID)
	switch {
	case err == nil:
		// The session's partner policy is in memory by now (its lengths
		// were just read), so the address check costs no store call.
		if !g.allowedAddress(w, r, p) {
			return nil, false
		}
		g.setIdentity(r.Header, id)
		hideOwnCookies(r.Header)
		return id, true
	case errors.Is(err, store.ErrUnavailable):
		g.unavailable(w, p, err)
	default:
		g.challenge(w, r)
	}
	return nil, false
}

// lookupSession finds the session on this request. Several session
// cookies mean someone is tossing cookies at us: none is trusted.
func lookupSession(sessions *session.Manager, r *http.Request, partnerID string) (*session.Identity, error) {
	value, n := findCookie(r.Header, sessionCookieName(r))
	if n != 1 {
		return nil, session.ErrNoSession
	}
	return sessions.Lookup(r.Context(), partnerID, value)
}

func (g *Gateway) setIdentity(h http.Header, id *session.Identity) {
	c := g.headers.canonical
	// One backing array for the six values; each header gets a full slice
	// of its own cell, so an append downstream copies rather than spills.
	v := [...]string{
		encodeValue(id.PartnerID),
		encodeValue(id.UserID),
		encodeValue(id.Email),
		encodeValue(id.Name),
		encodeList(id.Groups),
		encodeList(id.Roles),
	}
	vals := v[:]
	for i := range vals {
		h[c[i]] = vals[i : i+1 : i+1]
	}
}

// challenge sends a browser to the login page and tells an API client 401.
func (g *Gateway) challenge(w http.ResponseWriter, r *http.Request) {
	if !isBrowser(r) {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "Unauthorized: sign in required", http.StatusUnauthorized)
		return
	}
	target := g.cfg.Prefix + "login"
	if rt := safeReturnPath(r.URL.RequestURI(), g.cfg.Prefix); rt != "/" {
		target += "?return_to=" + url.QueryEscape(rt)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusFound)
}

// unavailable fails closed: no identity, nothing proxied, and the cookie
// kept so the user carries on once the store is back.
func (g *Gateway) unavailable(w http.ResponseWriter, p *Partner, err error) {
	if ce := g.cfg.Logger.Check(zap.WarnLevel, "session store unavailable, refusing request"); ce != nil {
		ce.Write(zap.String("partner", p.ID), zap.Error(err))
	}
	w.Header().Set("Retry-After", "5")
	w.Header().Set("Cache-Control", "no-store")
	http.Error(w, "Service Unavailable: sign-in service unreachable, try again shortly", http.StatusServiceUnavailable)
}

func isBrowser(r *http.Request) bool {
	if strings.EqualFold(r.Header.Get("X-Requested-With"), "XMLHttpRequest") {
		return false
	}
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
