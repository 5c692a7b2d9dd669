package admin

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/store"
)

// An admin token reads "pgat.<partner>.<token id>.<secret>". Naming the
// partner and the token lets authentication fetch one record from the
// partner's own keyspace instead of keeping a global index of secrets.
const tokenPrefix = "pgat."

// Token limits: a partner rarely needs more than a handful, and a bounded
// list keeps a leaked admin credential from minting thousands.
const (
	maxTokensPerPartner = 50
	maxTokenLifetime    = 2 * 365 * 24 * time.Hour
)

var tokenFields = fieldSet{
	writable: []string{"name", "read_only", "expires_at"},
	readOnly: []string{"id", "created_at", "created_by", "token", "expired"},
}

// tokenJSON is a token on the wire; Token is set only in the answer to
// its creation.
type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ReadOnly  bool       `json:"read_only"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Expired   bool       `json:"expired"`
	Token     string     `json:"token,omitempty"`
}

func (h *Handler) tokenJSON(t store.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, Name: t.Name, ReadOnly: t.ReadOnly, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}
	if !t.ExpiresAt.IsZero() {
		exp := t.ExpiresAt
		out.ExpiresAt = &exp
		out.Expired = !h.now().Before(exp)
	}
	return out
}

type tokenRef struct{ partnerID, tokenID string }

// parseToken splits an admin token. Only the shape is checked here; the
// secret is compared against the stored hash by the caller.
func parseToken(token string) (tokenRef, string, bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return tokenRef{}, "", false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 || checkPartnerID(parts[0]) != "" || !strings.HasPrefix(parts[1], "t_") || len(parts[2]) != 43 {
		return tokenRef{}, "", false
	}
	return tokenRef{partnerID: parts[0], tokenID: parts[1]}, parts[2], true
}

// newTokenSecret returns the token to hand out once and the hash to keep.
func newTokenSecret(partnerID, tokenID string) (token, hash string) {
	secret := base64.RawURLEncoding.EncodeToString(randomBytes(32))
	sum := sha256.Sum256([]byte(secret))
	return tokenPrefix + partnerID + "." + tokenID + "." + secret, hex.EncodeToString(sum[:])
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return b
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	tokens, err := h.store.ListTokens(r.Context(), p.ID, store.AdminToken)
	if err != nil {
		return err
	}
	out := listJSON[tokenJSON]{Data: make([]tokenJSON, 0, len(tokens))}
	for _, t := range tokens {
		out.Data = append(out.Data, h.tokenJSON(t))
	}
	return writeJSON(w, http.StatusOK, out)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) error {
	p, err := h.partner(r)
	if err != nil {
		return err
	}
	m, err := readObject(w, r, tokenFields)
	if err != nil {
		return err
	}
	name, err := member[string](m, "name")
	if err != nil {
		return err
	}
	readOnly, err := member[bool](m, "read_only")
	if err != nil {
		return err
	}
	expires, err := member[time.Time](m, "expires_at")
	if err != nil {
		return err
	}
	var ps problems
	ps.add("name", checkName("name", name.val, true))
	now := h.timestamp()
	if at, ok := expires.value(); ok {
		switch {
		case !at.After(now):
			ps.add("expires_at", "expires_at must be in the future")
		case at.Sub(now) > maxTokenLifetime:
			ps.add("expires_at", "expires_at must be within two years")
		}
	}
	if err := ps.err(); err != nil {
		return err
	}
	existing, err := h.store.ListTokens(r.Context(), p.ID, store.AdminToken)
	if err != nil {
		return err
	}
	if len(existing) >= maxTokensPerPartner {
		return conflict("", "this partner already has the maximum number of admin tokens; revoke one first", nil)
	}
	if slices.ContainsFunc(existing, func(t store.Token) bool { return strings.EqualFold(t.Name, name.val) }) {
		return conflict("name", "another admin token of this partner has this name", nil)
	}
	c := callerOf(r)
	t := store.Token{
		ID:        newID("t_"),
		PartnerID: p.ID,
		Kind:      store.AdminToken,
		Name:      name.val,
		ReadOnly:  readOnly.val,
		CreatedBy: string(c.actor.Type) + ":" + c.actor.ID,
		OwnerID:   c.ownerID,
		CreatedAt: now,
	}
	if at, ok := expires.value(); ok {
		t.ExpiresAt = at.UTC().Truncate(time.Millisecond)
	}
	secret, hash := newTokenSecret(p.ID, t.ID)
	t.SecretHash = hash
	if err := h.store.CreateToken(r.Context(), t); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errPartnerNotFound
		}
		return err
	}
	noteTarget(r, "admin_token", t.ID, change{Field: "name", To: t.Name}, change{Field: "read_only", To: boolString(t.ReadOnly)})
	out := h.tokenJSON(t)
	out.Token = secret
	w.Header().Set("Location", partnerPath(p.ID)+"/admin-tokens/"+t.ID)
	return writeJSON(w, http.StatusCreated, out)
}

func (h *Handler) getToken(w http.ResponseWriter, r *http.Request) error {
	t, err := h.token(r)
	if err != nil {
		return err
	}
	return writeResource(w, http.StatusOK, h.tokenJSON(t))
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) error {
	t, err := h.token(r)
	if err != nil {
		return err
	}
	if err := checkIfMatch(r, h.tokenJSON(t)); err != nil {
		return err
	}
	noteTarget(r, "admin_token", t.ID)
	if err := h.store.DeleteToken(r.Context(), t.PartnerID, t.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return errTokenNotFound
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// token loads the path's admin token; a SCIM token by the same id is not
// one, and answers 404.
func (h *Handler) token(r *http.Request) (store.Token, error) {
	p, err := h.partner(r)
	if err != nil {
		return store.Token{}, err
	}
	t, err := h.store.GetToken(r.Context(), p.ID, r.PathValue("tokenId"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Token{}, errTokenNotFound
	case err != nil:
		return store.Token{}, err
	case t.Kind != store.AdminToken:
		return store.Token{}, errTokenNotFound
	}
	return t, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
