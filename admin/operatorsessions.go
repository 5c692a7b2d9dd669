package admin

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/store"
)

// An operator session stands in for an operator key in a browser: the
// portal holds "pgos.<session id>.<secret>" instead of the key itself, so
// signing out can end it on the server at once, and a copied cookie is
// worth at most a working day. The session belongs to no partner, so its
// record is a ticket in platformScope that expires with it; the format is
// not apitoken's, which names a partner.

const (
	operatorSessionPrefix   = "pgos."
	operatorSessionIDPrefix = "os_"
	// operatorSessionIDLen is the length of a session id: the prefix and
	// store.NewID's 20 base32 characters.
	operatorSessionIDLen = len(operatorSessionIDPrefix) + 20
	operatorSessionTTL   = 8 * time.Hour
)

var (
	errOperatorSessionExpired = &apiError{status: http.StatusUnauthorized, code: "token_expired", message: "this operator session has expired; sign in again"}
	errOperatorKeyOnly        = &apiError{status: http.StatusForbidden, code: "forbidden", message: "only an operator key may open an operator session"}
	errOperatorSessionOnly    = &apiError{status: http.StatusForbidden, code: "forbidden", message: "only an operator session may end itself"}
)

// operatorSessionRecord is a session's ticket payload. KeyTag ties it to
// the key that opened it, so removing or replacing a key in the config
// ends its sessions too; it is keyed, so the store never holds anything
// a weak key could be guessed from.
type operatorSessionRecord struct {
	KeyTag     string    `json:"key_tag"`
	SecretHash string    `json:"secret_hash"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// operatorSessionJSON answers the opening of a session; the token is
// shown only here.
type operatorSessionJSON struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// operatorSessionTicket names a session's ticket. Session ids are no
// secret, so the id may name a key.
func operatorSessionTicket(id string) string { return "operator-session:" + id }

// keyTag is what an operator session records of the key that opened it.
func (h *Handler) keyTag(k *operatorDigest) string {
	mac := hmac.New(sha256.New, h.csrfKey)
	mac.Write([]byte("partnergate operator session\x00"))
	mac.Write(k.digest[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

// parseOperatorSession splits a session token. Only the shape is checked,
// and the id strictly, since it names a store key.
func parseOperatorSession(token string) (id, secret string, ok bool) {
	rest, _ := strings.CutPrefix(token, operatorSessionPrefix)
	id, secret, ok = strings.Cut(rest, ".")
	if !ok || secret == "" || len(id) != operatorSessionIDLen || !strings.HasPrefix(id, operatorSessionIDPrefix) {
		return "", "", false
	}
	for _, c := range []byte(id[len(operatorSessionIDPrefix):]) {
		if !('a' <= c && c <= 'z' || '2' <= c && c <= '7') {
			return "", "", false
		}
	}
	return id, secret, true
}

// operatorSessionCaller admits the holder of a live operator session as
// the operator whose key opened it. Unknown sessions and wrong secrets
// count against the address like every failed Bearer token.
func (h *Handler) operatorSessionCaller(r *http.Request, ipKey, token string) (*caller, error) {
	id, secret, ok := parseOperatorSession(token)
	if !ok {
		return nil, h.authFailed(r, ipKey, "", "")
	}
	payload, err := h.store.GetTicket(r.Context(), platformScope, operatorSessionTicket(id))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, h.authFailed(r, ipKey, "", "")
	case err != nil:
		return nil, err
	}
	var s operatorSessionRecord
	if err := json.Unmarshal(payload, &s); err != nil {
		return nil, fmt.Errorf("decode operator session %s: %w", id, err)
	}
	if !apitoken.Verify(secret, s.SecretHash) {
		return nil, h.authFailed(r, ipKey, "", "")
	}
	// The secret matched, so nobody is guessing: what follows refuses
	// without counting.
	if !h.now().Before(s.ExpiresAt) {
		return nil, errOperatorSessionExpired
	}
	var key *operatorDigest
	for i := range h.keys {
		if hmac.Equal([]byte(h.keyTag(&h.keys[i])), []byte(s.KeyTag)) {
			key = &h.keys[i]
		}
	}
	if key == nil {
		return nil, errUnauthorized
	}
	// The actor's id stays the key's name, so the trail is still queried
	// by operator; the name carries the session, so what a stolen session
	// did can be told from the rest of the key's work.
	return &caller{
		operator:        true,
		key:             key,
		operatorSession: id,
		actor:           audit.Actor{Type: audit.ActorOperator, ID: key.name, Name: key.name + " (session " + id + ")"},
	}, nil
}

// createOperatorSession opens a session for the operator key the caller
// holds; permit keeps a session from opening another, which would make a
// stolen one last for ever.
func (h *Handler) createOperatorSession(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	id := store.NewID(operatorSessionIDPrefix)
	secret, hash := apitoken.NewSecret()
	rec := operatorSessionRecord{KeyTag: h.keyTag(c.key), SecretHash: hash, ExpiresAt: h.timestamp().Add(operatorSessionTTL)}
	payload, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	noteTarget(r, "operator_session", id)
	if err := h.store.PutTicket(r.Context(), platformScope, operatorSessionTicket(id), payload, operatorSessionTTL); err != nil {
		return fmt.Errorf("store operator session: %w", err)
	}
	return writeJSON(w, http.StatusCreated, operatorSessionJSON{Token: operatorSessionPrefix + id + "." + secret, ExpiresAt: rec.ExpiresAt})
}

// deleteOperatorSession ends the caller's own session: the next request
// with it finds no ticket.
func (h *Handler) deleteOperatorSession(w http.ResponseWriter, r *http.Request) error {
	c := callerOf(r)
	noteTarget(r, "operator_session", c.operatorSession)
	if _, err := h.store.TakeTicket(r.Context(), platformScope, operatorSessionTicket(c.operatorSession)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("end operator session %s: %w", c.operatorSession, err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
