package bolt

import (
	"context"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

func utcToken(t store.Token) store.Token {
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	return t
}

// CreateToken implements store.Tokens. The partner must exist, for the
// reason CreateUser gives.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketPartners).Get([]byte(t.PartnerID)) == nil {
			return fmt.Errorf("partner %q: %w", t.PartnerID, store.ErrNotFound)
		}
		tokens, err := nestedForWrite(tx, bucketTokens, t.PartnerID)
		if err != nil {
			return err
		}
		if tokens.Get([]byte(t.ID)) != nil {
			return store.ErrAlreadyExists
		}
		return putJSON(tokens, t.ID, utcToken(t))
	})
	if err != nil {
		return fmt.Errorf("create token %q in partner %q: %w", t.ID, t.PartnerID, err)
	}
	return nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, partnerID, id string) (store.Token, error) {
	var t store.Token
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(nested(tx, bucketTokens, partnerID), id, &t)
	})
	if err != nil {
		return store.Token{}, fmt.Errorf("get token %q in partner %q: %w", id, partnerID, err)
	}
	return t, nil
}

// ListTokens implements store.Tokens. A partner has few tokens, so it
// reads them all and keeps those of the kind, in bbolt's key order.
func (s *Store) ListTokens(ctx context.Context, partnerID string, kind store.TokenKind) ([]store.Token, error) {
	var out []store.Token
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		all, err := decodeAll[store.Token](nested(tx, bucketTokens, partnerID))
		if err != nil {
			return err
		}
		for _, t := range all {
			if t.Kind == kind {
				out = append(out, t)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s tokens of partner %q: %w", kind, partnerID, err)
	}
	return out, nil
}

// DeleteToken implements store.Tokens.
func (s *Store) DeleteToken(ctx context.Context, partnerID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		tokens := nested(tx, bucketTokens, partnerID)
		if tokens == nil || tokens.Get([]byte(id)) == nil {
			return store.ErrNotFound
		}
		return tokens.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete token %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}
