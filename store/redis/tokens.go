package redis

import (
	"context"
	"fmt"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// CreateToken implements store.Tokens. The partner must exist, checked in
// the transaction as for CreateUser.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	if err := s.createToken(ctx, t); err != nil {
		return fmt.Errorf("create token %q: %w", t.ID, err)
	}
	return nil
}

func (s *Store) createToken(ctx context.Context, t store.Token) error {
	k, err := scopeOf(t.PartnerID)
	if err != nil {
		return err
	}
	if t.ID == "" {
		return errEmptyID
	}
	raw, err := encode(t)
	if err != nil {
		return err
	}
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, k.partner(), k.token(t.ID))
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", t.PartnerID, store.ErrNotFound)
		case found[1]:
			return store.ErrAlreadyExists
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.token(t.ID), raw, 0)
			pipe.ZAdd(ctx, k.tokens(t.Kind), goredis.Z{Member: t.ID})
			return nil
		})
		return err
	}, k.partner(), k.token(t.ID))
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, partnerID, id string) (store.Token, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.Token{}, fmt.Errorf("get token %q: %w", id, err)
	}
	t, err := getJSON[store.Token](ctx, s.client, k.token(id))
	if err != nil {
		return store.Token{}, fmt.Errorf("get token %q: %w", id, err)
	}
	return t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context, partnerID string, kind store.TokenKind) ([]store.Token, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, fmt.Errorf("list %s tokens: %w", kind, err)
	}
	tokens, err := listPage[store.Token](ctx, s.client, k.tokens(kind), k.token, store.Page{})
	if err != nil {
		return nil, fmt.Errorf("list %s tokens of %q: %w", kind, partnerID, err)
	}
	return tokens, nil
}

// DeleteToken implements store.Tokens.
func (s *Store) DeleteToken(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete token %q: %w", id, err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		t, err := getJSON[store.Token](ctx, tx, k.token(id))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, k.token(id))
			pipe.ZRem(ctx, k.tokens(t.Kind), id)
			return nil
		})
		return err
	}, k.token(id))
	if err != nil {
		return fmt.Errorf("delete token %q: %w", id, err)
	}
	return nil
}
