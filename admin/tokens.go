package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/partnergate/partnergate/apitoken"
	"github.com/partnergate/partnergate/store"
)

// tokenKind is what sets one kind of partner API token apart; the routes
// that create, list, read and revoke tokens are the same for every kind.
type tokenKind struct {
	kind store.TokenKind
	// prefix starts the kind's secrets (see package apitoken).
	prefix string
	// noun names a token of the kind in messages, e.g. "admin token".
	noun string
	// target is the audit target type, e.g. "admin_token".
	target string
	// collection is the path segment under the partner, e.g. "admin-tokens".
	collection string
	// limit bounds the partner's live tokens of the kind: a partner rarely
	// needs more than a handful, and a bounded list keeps a leaked
	// credential from minting thousands.
	limit int
	// readOnly says whether the kind has a read-only mode.
	readOnly bool
	// ownerBound says whether a token of the kind carries its creator's
	// admin rights and stops with them. A SCIM token is the partner's
	// directory integration and outlives whoever connected it; its
	// created_by still names them.
	ownerBound bool
	fields     fieldSet
	notFound   *apiError
}

var adminTokenKind = &tokenKind{
	kind:       store.AdminToken,
	prefix:     apitoken.AdminPrefix,
	noun:       "admin token",
	target:     "admin_token",
	collection: "admin-tokens",
	limit:      50,
	readOnly:   true,
	ownerBound: true,
	fields: fieldSet{
		writable: []string{"name", "read_only", "expires_at"},
		readOnly: []string{"id", "created_at", "created_by", "token", "expired"},
	},
	notFound: errAdminTokenNotFound,
}

// scimTokenKind opens the partner's SCIM endpoint. The limit is lower than for
// admin tokens: a partner has one or two provisioning clients, and two
// live tokens are all a rotation needs.
var scimTokenKind = &tokenKind{
	kind:       store.SCIMToken,
	prefix:     apitoken.SCIMPrefix,
	noun:       "SCIM token",
	target:     "scim_token",
	collection: "scim-tokens",
	limit:      10,
	fields: fieldSet{
		writable: []string{"name", "expires_at"},
		readOnly: []string{"id", "created_at", "created_by", "token", "expired"},
	},
	notFound: errSCIMTokenNotFound,
}

// tokenKinds are every kind the admin API issues.
var tokenKinds = []*tokenKind{adminTokenKind, scimTokenKind}

// maxTokenLifetime bounds an expiry, of every kind: a credential nobody
// rotates for years is one nobody remembers to revoke.
const maxTokenLifetime = 2 * 365 * 24 * time.Hour

// tokenJSON is a token on the wire; Token is set only in the answer to
// its creation, and ReadOnly only for a kind that has the mode.
type tokenJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	ReadOnly  *bool      `json:"read_only,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
	Expired   bool       `json:"expired"`
	Token     string     `json:"token,omitempty"`
}

func (h *Handler) tokenJSON(k *tokenKind, t store.Token) tokenJSON {
	out := tokenJSON{ID: t.ID, Name: t.Name, CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt}
	if k.readOnly {
		out.ReadOnly = &t.ReadOnly
	}
	if !t.ExpiresAt.IsZero() {
		exp := t.ExpiresAt
		out.ExpiresAt = &exp
		out.Expired = !h.now().Before(exp)
	}
	return out
}

func (h *Handler) listTokens(k *tokenKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.partner(r)
		if err != nil {
			return err
		}
		tokens, err := h.store.ListTokens(r.Context(), p.ID, k.kind)
		if err != nil {
			return err
		}
		out := listJSON[tokenJSON]{Data: make([]tokenJSON, 0, len(tokens))}
		for _, t := range tokens {
			out.Data = append(out.Data, h.tokenJSON(k, t))
		}
		return writeJSON(w, http.StatusOK, out)
	}
}

func (h *Handler) createToken(k *tokenKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		p, err := h.partner(r)
		if err != nil {
			return err
		}
		m, err := readObject(w, r, k.fields)
		if err != nil {
			return err
		}
		name, err := member[string](m, "name")
		if err != nil {
			return err
		}
		// A kind without the mode has refused the member as unknown
		// above, so this reads false for it.
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
		existing, err := h.store.ListTokens(r.Context(), p.ID, k.kind)
		if err != nil {
			return err
		}
		c := callerOf(r)
		// A setup is for a partner without users, and a SCIM token
		// reaches every user: a setup session may make one before
		// provisioning starts, not once the partner has users, whoever
		// made them.
		if c.setup && k.kind == store.SCIMToken {
			if err := h.checkNoUsers(r.Context(), p.ID, errSetupHasUsers); err != nil {
				return err
			}
		}
		if len(existing) >= k.limit {
			return conflict("", fmt.Sprintf("this partner already has the maximum number of %ss; revoke one first", k.noun), nil)
		}
		if slices.ContainsFunc(existing, func(t store.Token) bool { return strings.EqualFold(t.Name, name.val) }) {
			return conflict("name", fmt.Sprintf("another %s of this partner has this name", k.noun), nil)
		}
		t := store.Token{
			ID:        store.NewID(apitoken.IDPrefix),
			PartnerID: p.ID,
			Kind:      k.kind,
			Name:      name.val,
			ReadOnly:  readOnly.val,
			CreatedBy: c.creator(),
			CreatedAt: now,
		}
		if k.ownerBound {
			t.OwnerID = c.ownerID
		}
		if at, ok := expires.value(); ok {
			t.ExpiresAt = at.UTC().Truncate(time.Millisecond)
		}
		secret, hash := apitoken.New(k.prefix, p.ID, t.ID)
		t.SecretHash = hash
		if err := h.store.CreateToken(r.Context(), t); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errPartnerNotFound
			}
			return err
		}
		changes := []change{{Field: "name", To: t.Name}}
		if k.readOnly {
			changes = append(changes, change{Field: "read_only", To: boolString(t.ReadOnly)})
		}
		noteTarget(r, k.target, t.ID, changes...)
		out := h.tokenJSON(k, t)
		out.Token = secret
		w.Header().Set("Location", partnerPath(p.ID)+"/"+k.collection+"/"+t.ID)
		return writeJSON(w, http.StatusCreated, out)
	}
}

func (h *Handler) getToken(k *tokenKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := h.token(r, k)
		if err != nil {
			return err
		}
		return writeResource(w, http.StatusOK, h.tokenJSON(k, t))
	}
}

func (h *Handler) revokeToken(k *tokenKind) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		t, err := h.token(r, k)
		if err != nil {
			return err
		}
		if !callerOf(r).mayChange(t.CreatedBy) {
			return k.notFound
		}
		if err := checkIfMatch(r, h.tokenJSON(k, t)); err != nil {
			return err
		}
		noteTarget(r, k.target, t.ID)
		if err := h.store.DeleteToken(r.Context(), t.PartnerID, t.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return k.notFound
			}
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// token loads the path's token of kind k. Ids of every kind share the
// partner's keyspace, so a token of another kind by the same id is not
// one and answers 404.
func (h *Handler) token(r *http.Request, k *tokenKind) (store.Token, error) {
	p, err := h.partner(r)
	if err != nil {
		return store.Token{}, err
	}
	t, err := h.store.GetToken(r.Context(), p.ID, r.PathValue("tokenId"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Token{}, k.notFound
	case err != nil:
		return store.Token{}, err
	case t.Kind != k.kind:
		return store.Token{}, k.notFound
	}
	return t, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
