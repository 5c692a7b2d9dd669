// Package portal is the admin web portal: server-rendered pages for
// partner admins (on their partner's hostname, signed in through its own
// login), for operators (with an operator key) and for an IT admin
// holding a setup link. It is an HTML client of the admin API, called in
// process with the visitor's own credential, so every page is bound by
// the API's authorization, validation and audit trail and holds no
// rights of its own.
package portal

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/secretbox"
)

// Config is what New needs. API and SecretKey are required.
type Config struct {
	// API is the admin API handler the portal calls in process.
	API http.Handler
	// SecretKey seals the portal's own sessions (operators and setup
	// links) and derives their CSRF tokens; 32 bytes.
	SecretKey []byte
	// PartnerOf names the partner whose hostname a request is on; false
	// on the admin site. Nil means no host is a partner's.
	PartnerOf func(*http.Request) (partnerID string, ok bool)
	// GatewayPrefix is the reserved path prefix of partner sites, where
	// partner admins sign in (default "/.partnergate/").
	GatewayPrefix string
	// AdminSite reports whether a request that is on no partner's
	// hostname is on the admin site, the only place operators and setup
	// links are served; nil means every such request is.
	AdminSite func(*http.Request) bool
	// SiteURL is the origin of a partner's site on host, e.g.
	// "https://acme.example.com"; nil means https on the default port.
	SiteURL func(host string) string
	// SCIMBaseURL is the base URL of a partner's SCIM endpoint, served on
	// the admin site; nil derives it from the request's host, which is
	// right for viewers on the admin host.
	SCIMBaseURL func(partnerID string) string
	// InsecureCookies drops the Secure flag, for a local setup over http.
	InsecureCookies bool
	Logger          *zap.Logger
	Now             func() time.Time
}

// Handler serves the portal. Build it with New.
type Handler struct {
	cfg Config
	box *secretbox.Box
	mux *http.ServeMux
	log *zap.Logger
	now func() time.Time
}

// New checks cfg and returns a ready Handler.
func New(cfg Config) (*Handler, error) {
	if cfg.API == nil {
		return nil, errors.New("portal: the admin API handler is required")
	}
	box, err := secretbox.New(deriveKey(cfg.SecretKey, "portal session"))
	if err != nil || len(cfg.SecretKey) < 32 {
		return nil, errors.New("portal: a secret key of 32 bytes is required")
	}
	if cfg.GatewayPrefix == "" {
		cfg.GatewayPrefix = "/.partnergate/"
	}
	h := &Handler{cfg: cfg, box: box, mux: http.NewServeMux(), log: cfg.Logger, now: cfg.Now}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.routes()
	return h, nil
}

func deriveKey(secret []byte, purpose string) []byte {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("partnergate " + purpose))
	return mac.Sum(nil)
}

// ServeHTTP sets the headers every portal answer carries and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	// Pages load only their own stylesheet, script and images; nothing
	// may frame them, and no address bar (a setup link) leaks onward.
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// viewerKind is who is using the portal.
type viewerKind int

const (
	operatorViewer viewerKind = iota + 1
	partnerAdminViewer
	setupViewer
)

// viewer is the person behind a request and how to act as them.
type viewer struct {
	kind      viewerKind
	name      string
	partnerID string
	readOnly  bool
	// csrf is the token every form of theirs sends back in "csrf".
	csrf string
	api  *client
	// base is the portal's URL path prefix, e.g. "/.partnergate/admin".
	base string
}

// link is a URL path on the portal.
func (v *viewer) link(p string) string { return v.base + p }

// sealed is the portal's own session, kept in a cookie sealed with the
// server's key: the browser holds it but can neither read nor forge it.
type sealed struct {
	Kind    string `json:"k"`
	Secret  string `json:"s"`
	Partner string `json:"p,omitempty"`
	Expires int64  `json:"e"`
}

const (
	// cookieName is the sealed cookie's name over http; over https it
	// carries the __Host- prefix, which browsers accept only host-only,
	// Secure and on Path=/, so a sibling subdomain cannot plant one.
	cookieName       = "pg_portal"
	operatorLifetime = 8 * time.Hour
	sealedPurpose    = "partnergate portal session"
)

func (h *Handler) setSession(w http.ResponseWriter, s sealed) error {
	b, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode portal session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     h.cookieName(),
		Value:    base64.RawURLEncoding.EncodeToString(h.box.Seal(b, []byte(sealedPurpose))),
		Path:     "/",
		Expires:  time.Unix(s.Expires, 0),
		HttpOnly: true,
		Secure:   !h.cfg.InsecureCookies,
		// Strict: a link from another site arrives without it, so no
		// cross-site request acts as an operator.
		SameSite: http.SameSiteStrictMode,
	})
	return nil
}

func (h *Handler) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: h.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: !h.cfg.InsecureCookies, SameSite: http.SameSiteStrictMode})
}

func (h *Handler) cookieName() string {
	if h.cfg.InsecureCookies {
		return cookieName
	}
	return "__Host-" + cookieName
}

// session opens the sealed cookie; ok is false without a live one.
func (h *Handler) session(r *http.Request) (s sealed, raw string, ok bool) {
	c, err := r.Cookie(h.cookieName())
	if err != nil || len(c.Value) > 4096 {
		return s, "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil {
		return s, "", false
	}
	plain, err := h.box.Open(b, []byte(sealedPurpose))
	if err != nil || json.Unmarshal(plain, &s) != nil || !h.now().Before(time.Unix(s.Expires, 0)) {
		return sealed{}, "", false
	}
	return s, c.Value, true
}

// sealedCSRF binds a form token to one sealed session.
func (h *Handler) sealedCSRF(raw string) string {
	mac := hmac.New(sha256.New, deriveKey(h.cfg.SecretKey, "portal csrf"))
	mac.Write([]byte(raw))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// me is the API's answer to GET /api/v1/me.
type me struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	PartnerID string `json:"partner_id"`
	ReadOnly  bool   `json:"read_only"`
	CSRFToken string `json:"csrf_token"`
}

// operatorSessionPrefix starts the operator sessions the API opens.
const operatorSessionPrefix = "pgos."

var (
	errSignedOut = errors.New("portal: not signed in")
	errNotHere   = &apiError{Status: http.StatusNotFound}
)

// siteKind is which of the portal's sites a request is on.
type siteKind int

const (
	nowhere siteKind = iota
	partnerSite
	adminSite
)

// site places a request: a partner's hostname serves its partner
// admins; the admin site operators and setup links; any other host (a
// name under the partners' domain that no partner has) nobody.
func (h *Handler) site(r *http.Request) siteKind {
	if _, ok := h.partnerOf(r); ok {
		return partnerSite
	}
	if h.cfg.AdminSite == nil || h.cfg.AdminSite(r) {
		return adminSite
	}
	return nowhere
}

// sameOrigin reports whether a browser sent a form from this site.
// Browsers mark their requests with Sec-Fetch-Site or Origin; a request
// with neither is no cross-site form and passes.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}

// identify finds who is using the portal: on a partner's hostname, a
// partner admin by the partner's session cookie; elsewhere an operator
// or a setup link by the portal's sealed cookie.
func (h *Handler) identify(r *http.Request) (*viewer, error) {
	v := &viewer{base: basePath(r)}
	switch h.site(r) {
	case nowhere:
		return nil, errNotHere
	case partnerSite:
		v.api = &client{api: h.cfg.API, from: r, cred: credential{cookie: true}}
		var m me
		if err := v.api.do(http.MethodGet, apiPath("me"), nil, &m); err != nil {
			if isStatus(err, http.StatusUnauthorized) {
				return nil, errSignedOut
			}
			return nil, err
		}
		v.kind, v.name, v.partnerID, v.readOnly, v.csrf = partnerAdminViewer, m.Name, m.PartnerID, m.ReadOnly, m.CSRFToken
		v.api.cred.csrf = m.CSRFToken
		return v, nil
	}
	s, raw, ok := h.session(r)
	if !ok {
		return nil, errSignedOut
	}
	v.api = &client{api: h.cfg.API, from: r, cred: credential{bearer: s.Secret}}
	var m me
	if err := v.api.do(http.MethodGet, apiPath("me"), nil, &m); err != nil {
		if isStatus(err, http.StatusUnauthorized) {
			return nil, errSignedOut
		}
		return nil, err
	}
	switch {
	// An operator cookie holds an operator session, never a key.
	case s.Kind == "operator" && m.Kind == "operator" && strings.HasPrefix(s.Secret, operatorSessionPrefix):
		v.kind = operatorViewer
	case s.Kind == "setup" && m.Kind == "setup_link" && m.PartnerID != "":
		v.kind = setupViewer
	default:
		return nil, errSignedOut
	}
	v.name, v.partnerID, v.csrf = m.Name, m.PartnerID, h.sealedCSRF(raw)
	return v, nil
}

func (h *Handler) partnerOf(r *http.Request) (string, bool) {
	if h.cfg.PartnerOf == nil {
		return "", false
	}
	return h.cfg.PartnerOf(r)
}

// basePath is where the portal is mounted: the part of the path the
// browser asked for that a proxy stripped before the portal saw it.
func basePath(r *http.Request) string {
	asked := r.URL.EscapedPath()
	if u, err := url.ParseRequestURI(r.RequestURI); err == nil {
		asked = u.EscapedPath()
	}
	base, ok := strings.CutSuffix(asked, r.URL.EscapedPath())
	if !ok || !strings.HasPrefix(base, "/") || strings.ContainsAny(base, "\"'<>\\") {
		return ""
	}
	return base
}

// pageFunc serves one portal page for a known viewer.
type pageFunc func(w http.ResponseWriter, r *http.Request, v *viewer) error

// page admits the viewers of the given kinds to fn. A state change must
// carry the viewer's CSRF token in the form field "csrf".
func (h *Handler) page(fn pageFunc, kinds ...viewerKind) http.Handler {
	return h.admit(fn, true, kinds...)
}

// upload admits like page but leaves a POST's body to fn, which reads it
// within a cap of its own and must check the CSRF token in it first.
func (h *Handler) upload(fn pageFunc, kinds ...viewerKind) http.Handler {
	return h.admit(fn, false, kinds...)
}

func (h *Handler) admit(fn pageFunc, readForm bool, kinds ...viewerKind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := h.identify(r)
		if errors.Is(err, errSignedOut) {
			h.toSignIn(w, r)
			return
		}
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		allowed := false
		for _, k := range kinds {
			allowed = allowed || v.kind == k
		}
		if !allowed {
			h.fail(w, r, v, &apiError{Status: http.StatusNotFound})
			return
		}
		if r.Method == http.MethodPost && readForm {
			if err := parseForm(w, r); err != nil {
				h.fail(w, r, v, err)
				return
			}
			if !validCSRF(r.PostForm.Get("csrf"), v.csrf) {
				h.fail(w, r, v, errCSRF)
				return
			}
		}
		if err := fn(w, r, v); err != nil {
			h.fail(w, r, v, err)
		}
	})
}

// validCSRF compares a form's token with the viewer's in constant time;
// an empty one never matches.
func validCSRF(got, want string) bool {
	return got != "" && hmac.Equal([]byte(got), []byte(want))
}

var errCSRF = &apiError{Status: http.StatusForbidden, Code: "csrf_failed", Message: "This form has expired. Go back, reload the page and try again."}

// maxForm caps a form; a logo upload has its own, larger cap.
const maxForm = 64 << 10

func parseForm(w http.ResponseWriter, r *http.Request) error {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return &apiError{Status: http.StatusBadRequest, Code: "bad_form", Message: "The form could not be read."}
	}
	return nil
}

// toSignIn sends a visitor without a session where they can get one: a
// partner admin to their partner's login, anyone else to the operator
// sign-in.
func (h *Handler) toSignIn(w http.ResponseWriter, r *http.Request) {
	base := basePath(r)
	switch h.site(r) {
	case nowhere:
		h.fail(w, r, nil, errNotHere)
		return
	case partnerSite:
		http.Redirect(w, r, h.cfg.GatewayPrefix+"login?return_to="+url.QueryEscape(base+"/"), http.StatusFound)
		return
	}
	http.Redirect(w, r, base+"/sign-in", http.StatusFound)
}
