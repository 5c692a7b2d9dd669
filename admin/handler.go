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

	"github.com/partnergate/partnergate/store"
)

// Revoker ends sessions on every node. The admin API cannot do this with
// the store alone: deleting session rows does not evict copies other
// nodes hold in memory, so the revocation must also be announced.
type Revoker interface {
	// RevokeUser ends every session of the user and announces each one.
	// It succeeds when the user has no sessions.
	RevokeUser(ctx context.Context, partnerID, userID string) error
}

// Config is what New needs. Store, OperatorKeys, BaseDomain and Revoker
// are required; Logger and Now default to a no-op logger and time.Now.
type Config struct {
	Store store.Store
	// OperatorKeys are Bearer tokens with full access. Each must be at
	// least 16 bytes of Bearer token characters.
	OperatorKeys []string
	// BaseDomain, e.g. "apps.localhost": <id>.<BaseDomain> is every
	// partner's implied hostname.
	BaseDomain string
	Revoker    Revoker
	Logger     *zap.Logger
	Now        func() time.Time
}

// Handler serves the admin API. Build it with New.
type Handler struct {
	store   store.Store
	keys    [][32]byte
	base    string
	revoker Revoker
	log     *zap.Logger
	now     func() time.Time
	mux     *http.ServeMux
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
		store:   cfg.Store,
		keys:    keys,
		base:    base,
		revoker: cfg.Revoker,
		log:     cfg.Logger,
		now:     cfg.Now,
		mux:     http.NewServeMux(),
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	h.routes()
	return h, nil
}

// handlerFunc is a route handler; a returned error becomes the response.
type handlerFunc func(http.ResponseWriter, *http.Request) error

type route struct {
	method string
	fn     handlerFunc
}

func (h *Handler) routes() {
	h.resource("/api/v1/partners",
		route{http.MethodGet, h.listPartners},
		route{http.MethodPost, h.createPartner})
	h.resource("/api/v1/partners/{id}",
		route{http.MethodGet, h.getPartner},
		route{http.MethodPatch, h.updatePartner},
		route{http.MethodDelete, h.deletePartner})
	h.resource("/api/v1/partners/{id}/users",
		route{http.MethodGet, h.listUsers},
		route{http.MethodPost, h.createUser})
	h.resource("/api/v1/partners/{id}/users/{userId}",
		route{http.MethodGet, h.getUser},
		route{http.MethodPatch, h.updateUser},
		route{http.MethodDelete, h.deleteUser})
	h.mux.Handle("/", h.handle(func(http.ResponseWriter, *http.Request) error {
		return errRouteNotFound
	}))
}

// resource registers each method of one path, and the bare path as a
// fallback that answers 405 naming the allowed methods; ServeMux prefers
// the method-specific patterns, so the fallback sees only the rest.
func (h *Handler) resource(pattern string, routes ...route) {
	allow := make([]string, 0, len(routes)+1)
	for _, rt := range routes {
		h.mux.Handle(rt.method+" "+pattern, h.handle(rt.fn))
		allow = append(allow, rt.method)
		if rt.method == http.MethodGet {
			allow = append(allow, http.MethodHead)
		}
	}
	allowed := strings.Join(allow, ", ")
	h.mux.Handle(pattern, h.handle(func(w http.ResponseWriter, _ *http.Request) error {
		w.Header().Set("Allow", allowed)
		return errMethodNotAllowed
	}))
}

func (h *Handler) handle(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			fail(w, err)
		}
	})
}

// ServeHTTP authenticates before anything else, so an unauthenticated
// caller learns nothing, not even which routes exist.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A bound on the whole request, so a slow store cannot stack retries
	// into a hang; deleting a large partner is the longest call.
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	rw := &recorder{ResponseWriter: w}
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	switch {
	case h.authorize(r) != nil:
		rw.Header().Set("WWW-Authenticate", "Bearer")
		fail(rw, errUnauthorized)
	case !canonical(r.URL.Path):
		// ServeMux would answer a redirect; an API client gets a 404 instead
		// of being steered to a path it did not ask for.
		fail(rw, errRouteNotFound)
	default:
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
