package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/scim/schema"
	"github.com/partnergate/partnergate/store"
)

// BasePath is where the endpoint lives; the partner id follows it.
const BasePath = "/scim/v2/"

// maxBodyBytes caps request bodies; a user with every attribute filled is
// a few KiB, and a group PATCH adding a thousand members under 100 KiB.
const maxBodyBytes = 1 << 20

const requestTimeout = 30 * time.Second

// Revoker ends a user's sessions on every node.
type Revoker interface {
	RevokeUser(ctx context.Context, partnerID, userID string) error
}

// Config wires a Handler. Store, Revoker and Audit are required.
type Config struct {
	Store   store.Store
	Revoker Revoker
	Audit   *audit.Log
	// Hashing bounds argon2 work for passwords clients send, shared with
	// every other handler of the process that hashes; nil gives this
	// handler a default of its own.
	Hashing *password.Limiter
	// Policies gives each partner's effective policy (package
	// governance), whose password rule passwords clients send must meet;
	// nil holds every partner to the default policy.
	Policies Policies
	Logger   *zap.Logger
	Now      func() time.Time
}

// Policies gives each partner's effective policy. An error means it could
// not be read: a password that needs it is refused.
type Policies interface {
	Effective(ctx context.Context, partnerID string) (policy.Policy, error)
}

// Handler serves SCIM for every partner, each behind its own tokens.
type Handler struct {
	store    store.Store
	revoker  Revoker
	audit    *audit.Log
	hashing  *password.Limiter
	policies Policies
	log      *zap.Logger
	now      func() time.Time
	mux      *http.ServeMux
}

// New checks cfg and returns a ready Handler.
func New(cfg Config) (*Handler, error) {
	var missing []string
	if cfg.Store == nil {
		missing = append(missing, "store")
	}
	if cfg.Revoker == nil {
		missing = append(missing, "revoker")
	}
	if cfg.Audit == nil {
		missing = append(missing, "audit log")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("scim: missing %s", strings.Join(missing, ", "))
	}
	h := &Handler{store: cfg.Store, revoker: cfg.Revoker, audit: cfg.Audit, hashing: cfg.Hashing, policies: cfg.Policies, log: cfg.Logger, now: cfg.Now, mux: http.NewServeMux()}
	if h.hashing == nil {
		h.hashing = password.NewLimiter(0, 0)
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

func (h *Handler) routes() {
	const p = BasePath + "{partner}/"
	h.handle("GET "+p+"ServiceProviderConfig", h.serviceProviderConfig)
	h.handle("GET "+p+"ResourceTypes", h.resourceTypes)
	h.handle("GET "+p+"ResourceTypes/{name}", h.resourceType)
	h.handle("GET "+p+"Schemas", h.schemas)
	h.handle("GET "+p+"Schemas/{urn}", h.schema)
	h.handle("GET "+p+"Users", h.listUsers)
	h.handle("POST "+p+"Users/.search", h.searchUsers)
	h.handle("POST "+p+"Users", h.createUser)
	h.handle("GET "+p+"Users/{id}", h.getUser)
	h.handle("PUT "+p+"Users/{id}", h.replaceUser)
	h.handle("PATCH "+p+"Users/{id}", h.patchUser)
	h.handle("DELETE "+p+"Users/{id}", h.deleteUser)
	h.handle("GET "+p+"Groups", h.listGroups)
	h.handle("POST "+p+"Groups/.search", h.searchGroups)
	h.handle("POST "+p+"Groups", h.createGroup)
	h.handle("GET "+p+"Groups/{id}", h.getGroup)
	h.handle("PUT "+p+"Groups/{id}", h.replaceGroup)
	h.handle("PATCH "+p+"Groups/{id}", h.patchGroup)
	h.handle("DELETE "+p+"Groups/{id}", h.deleteGroup)
	h.handle("POST "+p+".search", h.searchAll)
	h.handle("/", func(http.ResponseWriter, *http.Request) error {
		return &schema.Error{Status: http.StatusNotFound, Detail: "no such SCIM endpoint"}
	})
}

type handlerFunc func(http.ResponseWriter, *http.Request) error

// handle serves pattern with fn, unless the partner is suspended: then
// every endpoint refuses, so a provisioning client changes nothing while
// the partner is shut out.
func (h *Handler) handle(pattern string, fn handlerFunc) {
	h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h.checkNotSuspended(r)
		if err == nil {
			err = fn(w, r)
		}
		if err != nil {
			h.fail(w, r, err)
		}
	}))
}

var errSuspended = &schema.Error{Status: http.StatusForbidden, Detail: "partner suspended"}

func (h *Handler) checkNotSuspended(r *http.Request) error {
	suspended, err := store.PartnerSuspended(r.Context(), h.store, partnerOf(r))
	if err != nil {
		return err
	}
	if suspended {
		return errSuspended
	}
	return nil
}

// ServeHTTP authenticates the partner's token before anything else: the
// partner comes from the token, and a path naming another partner is
// answered as if the token were wrong. Only authenticated requests are
// logged: an unauthenticated one belongs to no partner for certain.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), requestTimeout)
	defer cancel()
	r = r.WithContext(ctx)
	w.Header().Set("Cache-Control", "no-store")
	cred, ok := h.authenticate(r)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="scim"`)
		h.fail(w, r, &schema.Error{Status: http.StatusUnauthorized, Detail: "a valid SCIM token of this partner is required as a Bearer token"})
		return
	}
	r = r.WithContext(context.WithValue(ctx, credentialKey{}, cred))
	h.serveLogged(w, r)
}

// credential is the token a request authenticated with.
type credential struct{ partnerID, tokenID string }

type credentialKey struct{}

func credentialOf(r *http.Request) credential {
	c, _ := r.Context().Value(credentialKey{}).(credential)
	return c
}

func partnerOf(r *http.Request) string { return credentialOf(r).partnerID }

func tokenIDOf(r *http.Request) string { return credentialOf(r).tokenID }

// authenticate checks the Bearer token against the partner the path
// names. Every failure looks the same to the client.
func (h *Handler) authenticate(r *http.Request) (credential, bool) {
	var none credential
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath)
	if !ok {
		return none, false
	}
	pathPartner, _, _ := strings.Cut(rest, "/")
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return none, false
	}
	scheme, raw, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return none, false
	}
	partnerID, tokenID, secret, ok := apitoken.Parse(apitoken.SCIMPrefix, raw)
	if !ok || partnerID != pathPartner {
		return none, false
	}
	t, err := h.store.GetToken(r.Context(), partnerID, tokenID)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			h.log.Warn("scim token lookup failed", zap.String("partner", partnerID), zap.Error(err))
		}
		return none, false
	}
	if t.Kind != store.SCIMToken || !apitoken.Verify(secret, t.SecretHash) {
		return none, false
	}
	if !t.ExpiresAt.IsZero() && !h.now().Before(t.ExpiresAt) {
		return none, false
	}
	return credential{partnerID: partnerID, tokenID: tokenID}, true
}

// fail writes err in the SCIM error schema. Anything but a schema.Error
// is an internal failure whose detail stays in the log.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var se *schema.Error
	switch {
	case errors.As(err, &se):
	case errors.Is(err, store.ErrUnavailable):
		se = &schema.Error{Status: http.StatusServiceUnavailable, Detail: "storage is unavailable; retry shortly"}
	default:
		h.log.Error("scim request failed", zap.String("method", r.Method), zap.String("route", r.Pattern), zap.Error(err))
		se = &schema.Error{Status: http.StatusInternalServerError, Detail: "internal error"}
	}
	if se.Status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	noteError(r, se)
	writeJSON(w, se.Status, se)
}

// writeJSON answers with the SCIM media type. The values written are
// built from decoded JSON and strings, so marshalling cannot fail.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/scim+json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// readResource decodes a request body as one JSON object.
func readResource(w http.ResponseWriter, r *http.Request) (Resource, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, &schema.Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the body exceeds %d bytes", maxBodyBytes)}
		}
		return nil, fmt.Errorf("read body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var res Resource
	if err := dec.Decode(&res); err != nil || res == nil {
		return nil, schema.ErrInvalidSyntax.Errorf("the body is not a JSON object")
	}
	if dec.More() {
		return nil, schema.ErrInvalidSyntax.Errorf("the body holds more than one JSON value")
	}
	return res, nil
}

// location is the absolute URL of a resource, built from the request's
// host as Caddy matched it.
func location(r *http.Request, kind, id string) string {
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return scheme + "://" + r.Host + BasePath + partnerOf(r) + "/" + kind + "/" + id
}

func zapErr(err error) zap.Field { return zap.Error(err) }

// checkContentType accepts SCIM's media type and plain JSON: Okta and
// Entra send either.
func checkContentType(r *http.Request) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/scim+json" && mt != "application/json") {
		return &schema.Error{Status: http.StatusUnsupportedMediaType, Detail: "send the body as application/scim+json"}
	}
	return nil
}
