package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/store"
)

// minKeyLen keeps operator keys out of brute-force reach; an operator
// generating one with `openssl rand -base64 32` clears it easily.
const minKeyLen = 16

// PartnerAdminRole is the app role that makes a signed-in user an admin
// of their own partner.
const PartnerAdminRole = "partner_admin"

// Failed authentications allowed per window before 429: per source
// address, and per admin token so one token's secret cannot be guessed
// from many addresses.
const (
	authFailuresPerIP    = 20
	authFailuresPerToken = 10
	authFailureWindow    = 10 * time.Minute
	// platformScope holds what belongs to no partner: the per-address
	// counters and operator sessions. No partner id can start with an
	// underscore.
	platformScope = "_admin"
)

// operatorDigest is a configured operator key, kept only as its SHA-256:
// comparing fixed-size digests leaks neither a key's length nor how much
// of it matched.
type operatorDigest struct {
	name   string
	digest [32]byte
}

// CheckOperatorKeys reports what is wrong with a set of operator keys, so
// a config can be refused before anything runs.
func CheckOperatorKeys(keys []OperatorKey) error {
	_, err := digestKeys(keys)
	return err
}

func digestKeys(keys []OperatorKey) ([]operatorDigest, error) {
	if len(keys) == 0 {
		return nil, errors.New("at least one operator key is required")
	}
	out := make([]operatorDigest, 0, len(keys))
	for i, k := range keys {
		// Errors name the key by position only: the value is a secret.
		switch {
		case len(k.Key) < minKeyLen:
			return nil, fmt.Errorf("operator key #%d is shorter than %d bytes", i+1, minKeyLen)
		case !isToken68(k.Key):
			return nil, fmt.Errorf("operator key #%d holds characters a Bearer token cannot carry (allowed: A-Z a-z 0-9 - . _ ~ + / and trailing =)", i+1)
		}
		// A key that reads like a partner token would be mistaken for one,
		// by people and by secret scanners alike.
		for _, kind := range tokenKinds {
			if strings.HasPrefix(k.Key, kind.prefix) {
				return nil, fmt.Errorf("operator key #%d starts with %q, which marks partner %ss", i+1, kind.prefix, kind.noun)
			}
		}
		if strings.HasPrefix(k.Key, apitoken.SetupPrefix) {
			return nil, fmt.Errorf("operator key #%d starts with %q, which marks setup links", i+1, apitoken.SetupPrefix)
		}
		if strings.HasPrefix(k.Key, operatorSessionPrefix) {
			return nil, fmt.Errorf("operator key #%d starts with %q, which marks operator sessions", i+1, operatorSessionPrefix)
		}
		name := k.Name
		if name == "" {
			name = "operator-" + strconv.Itoa(i+1)
		}
		out = append(out, operatorDigest{name: name, digest: sha256.Sum256([]byte(k.Key))})
	}
	return out, nil
}

// isToken68 reports whether s fits RFC 6750's b64token syntax, the only
// form a client can send after "Bearer ". Catching a stray newline from a
// secrets file here beats a key that silently never matches.
func isToken68(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for _, c := range []byte(body) {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// caller is who an authenticated request comes from. Everything a handler
// may reach follows from it, never from the path or the body.
type caller struct {
	operator bool
	// key is the operator key an operator holds, or opened their session
	// with.
	key *operatorDigest
	// operatorSession is the id of the operator session the caller
	// authenticated with, "" for the key itself.
	operatorSession string
	// partnerID is the one partner a non-operator reaches.
	partnerID string
	readOnly  bool
	// ownerID is the partner admin whose rights the caller carries: the
	// signed-in user, or the user who made the admin token.
	ownerID string
	// cookie marks a browser session: its writes need the CSRF header.
	cookie    bool
	sessionID string
	// signedInAt is when the user of a cookie session signed in, for the
	// writes that need a recent sign-in.
	signedInAt time.Time
	// setup marks a setup link, and setupRedeemed the setup session it
	// became once redeemed; permitSetup bounds what either reaches.
	setup         bool
	setupRedeemed bool
	// actor names the caller in audit events: an operator key by its
	// name, and a session opened with it by the key's name as its id and
	// the session's in its name (see operatorSessionCaller); an admin
	// token or setup link by its id and name; a user by id and email.
	actor     audit.Actor
	requestID string
	ip        string
}

type callerKey struct{}

func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey{}).(*caller)
	return c
}

// creator names the caller as the creator of an object, in the
// "<actor type>:<actor id>" form Token.CreatedBy holds. An operator
// session appends its id, "operator:<key name>/<session id>", so what a
// stolen session made can be told from the rest of the key's work.
func (c *caller) creator() string {
	by := string(c.actor.Type) + ":" + c.actor.ID
	if c.operatorSession != "" {
		by += "/" + c.operatorSession
	}
	return by
}

var (
	errRateLimited  = &apiError{status: http.StatusTooManyRequests, code: "rate_limited", retryAfter: authFailureWindow, message: "too many failed authentications; retry later"}
	errTokenExpired = &apiError{status: http.StatusUnauthorized, code: "token_expired", message: "this admin token has expired"}
	errSetupExpired = &apiError{status: http.StatusUnauthorized, code: "token_expired", message: "this setup link has expired"}
	errTokenOwner   = &apiError{status: http.StatusUnauthorized, code: "token_owner_not_admin", message: "the user who created this admin token is no longer an active partner admin"}
	errNotAdmin     = &apiError{status: http.StatusForbidden, code: "forbidden", message: "the signed-in user is not an admin of this partner"}
)

// authenticate finds the caller: an operator key, operator session,
// admin token or setup link as a Bearer token, or else a partner admin's
// session cookie.
// Failed Bearer attempts are counted per address and per token. Past the
// address's limit every attempt is refused with 429 before any secret is
// compared; past a token's limit only wrong secrets for it are. ip is the
// request's source address.
func (h *Handler) authenticate(r *http.Request, ip string) (*caller, error) {
	if len(r.Header.Values("Authorization")) == 0 && h.sessions != nil && hasCookies(r) {
		return h.sessionCaller(r)
	}
	ctx := r.Context()
	ipKey := "authfail:ip:" + ip
	n, err := h.store.Count(ctx, platformScope, ipKey)
	if err != nil {
		return nil, err
	}
	if n >= authFailuresPerIP {
		return nil, errRateLimited
	}
	token, ok := bearerToken(r)
	if !ok {
		return nil, h.authFailed(r, ipKey, "", "")
	}
	if c := h.operator(token); c != nil {
		return c, nil
	}
	if strings.HasPrefix(token, operatorSessionPrefix) {
		return h.operatorSessionCaller(r, ipKey, token)
	}
	// Only admin tokens and setup links open this API: a SCIM token does
	// not parse here, and a token of one kind given the other's prefix is
	// refused like a wrong secret.
	prefix, kind := adminTokenKind.prefix, adminTokenKind.kind
	if strings.HasPrefix(token, apitoken.SetupPrefix) {
		prefix, kind = apitoken.SetupPrefix, store.SetupToken
	}
	partnerID, tokenID, secret, ok := apitoken.Parse(prefix, token)
	if !ok {
		return nil, h.authFailed(r, ipKey, "", "")
	}
	t, err := h.store.GetToken(ctx, partnerID, tokenID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, h.authFailed(r, ipKey, "", "")
	case err != nil:
		return nil, err
	}
	if !apitoken.Verify(secret, t.SecretHash) || t.Kind != kind {
		// The per-token limit applies to wrong secrets only: a token's id
		// is no secret (read-only tokens list it, audit events name it),
		// so counting against it must not let anyone who knows the id lock
		// out the holder of the secret. A 256-bit secret needs no limit to
		// resist guessing; the limit only keeps guessers from costing work.
		tokenKey := "authfail:token:" + tokenID
		n, err := h.store.Count(ctx, partnerID, tokenKey)
		if err != nil {
			return nil, err
		}
		if n >= authFailuresPerToken {
			return nil, errRateLimited
		}
		return nil, h.authFailed(r, ipKey, partnerID, tokenKey)
	}
	if !t.ExpiresAt.IsZero() && !h.now().Before(t.ExpiresAt) {
		// The secret matched, so nobody is guessing: refuse without
		// counting against the address.
		if t.Kind == store.SetupToken {
			return nil, errSetupExpired
		}
		return nil, errTokenExpired
	}
	if t.Kind == store.SetupToken {
		return &caller{
			partnerID:     t.PartnerID,
			setup:         true,
			setupRedeemed: t.Redeemed,
			actor:         audit.Actor{Type: audit.ActorSetupLink, ID: t.ID, Name: t.Name},
		}, nil
	}
	if t.OwnerID != "" {
		if err := h.checkOwner(r, t); err != nil {
			return nil, err
		}
	}
	return &caller{
		partnerID: t.PartnerID,
		readOnly:  t.ReadOnly,
		ownerID:   t.OwnerID,
		actor:     audit.Actor{Type: audit.ActorAdminToken, ID: t.ID, Name: t.Name},
	}, nil
}

// checkOwner refuses a token whose owner is no longer an active partner
// admin: a token must not outlive the rights of the person who made it.
func (h *Handler) checkOwner(r *http.Request, t store.Token) error {
	u, err := h.store.GetUser(r.Context(), t.PartnerID, t.OwnerID)
	if errors.Is(err, store.ErrNotFound) {
		return errTokenOwner
	}
	if err != nil {
		return err
	}
	_, roles, err := session.Access(r.Context(), h.store, u)
	if err != nil {
		return err
	}
	if !u.Active || !slices.Contains(roles, PartnerAdminRole) {
		return errTokenOwner
	}
	return nil
}

// operator matches token against every key, never stopping early, so
// timing does not reveal which key (or whether any) matched.
func (h *Handler) operator(token string) *caller {
	digest := sha256.Sum256([]byte(token))
	var found *operatorDigest
	for i := range h.keys {
		if subtle.ConstantTimeCompare(digest[:], h.keys[i].digest[:]) == 1 {
			found = &h.keys[i]
		}
	}
	if found == nil {
		return nil
	}
	return &caller{operator: true, key: found, actor: audit.Actor{Type: audit.ActorOperator, ID: found.name, Name: found.name}}
}

// authFailed counts a failed attempt and answers 401. A counter that
// cannot be written is logged, not fatal: the refusal stands either way.
func (h *Handler) authFailed(r *http.Request, ipKey, partnerID, tokenKey string) error {
	ctx := r.Context()
	if _, err := h.store.Incr(ctx, platformScope, ipKey, authFailureWindow); err != nil {
		h.log.Warn("count failed admin authentication", zap.Error(err))
	}
	if tokenKey != "" {
		if _, err := h.store.Incr(ctx, partnerID, tokenKey, authFailureWindow); err != nil {
			h.log.Warn("count failed admin authentication", zap.Error(err))
		}
	}
	return errUnauthorized
}

// sessionCaller admits a partner admin signed in on their partner's
// hostname. A user without the role is known but not allowed: 403.
func (h *Handler) sessionCaller(r *http.Request) (*caller, error) {
	id, err := h.sessions.SessionOf(r)
	switch {
	case errors.Is(err, session.ErrNoSession):
		return nil, errUnauthorized
	case err != nil:
		return nil, err
	case !slices.Contains(id.Roles, PartnerAdminRole):
		return nil, errNotAdmin
	}
	return &caller{
		partnerID:  id.PartnerID,
		ownerID:    id.UserID,
		cookie:     true,
		sessionID:  id.SessionID,
		signedInAt: id.IssuedAt,
		actor:      audit.Actor{Type: audit.ActorUser, ID: id.UserID, Name: id.Email},
	}, nil
}

// refuse answers a failed authentication; a 401 names the scheme that
// authenticates.
func refuse(w http.ResponseWriter, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	fail(w, err)
}

func hasCookies(r *http.Request) bool {
	return len(r.Header.Values("Cookie")) > 0
}

func bearerToken(r *http.Request) (string, bool) {
	values := r.Header.Values("Authorization")
	if len(values) != 1 {
		return "", false
	}
	scheme, token, ok := strings.Cut(values[0], " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// sourceIP is the client address for counters and audit events.
func (h *Handler) sourceIP(r *http.Request) string {
	if h.clientIP != nil {
		if ip := h.clientIP(r); ip != "" {
			return ip
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// csrfToken binds a token to one session, so a page of that session can
// send it back and a cross-site request, which cannot read it, cannot.
func (h *Handler) csrfToken(sessionID string) string {
	mac := hmac.New(sha256.New, h.csrfKey)
	mac.Write([]byte("partnergate admin csrf\x00" + sessionID))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (h *Handler) checkCSRF(r *http.Request, c *caller) bool {
	got := r.Header.Values("X-CSRF-Token")
	if len(got) != 1 {
		return false
	}
	return hmac.Equal([]byte(got[0]), []byte(h.csrfToken(c.sessionID)))
}
