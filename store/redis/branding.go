package redis

import (
	"context"
	"errors"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A partner's branding is one string and its logo one hash, both under
// the partner's hash tag, so DeletePartner's sweep drops them with the
// rest. The logo's version lives only in the logo hash, next to its raw
// bytes; GetBranding reads it with the branding in one MULTI, so the two
// never disagree and PutBranding needs no read-modify-write.

const (
	logoPNGField     = "png"
	logoVersionField = "version"
)

func utcBranding(b store.Branding) store.Branding {
	b.UpdatedAt = b.UpdatedAt.UTC().Truncate(time.Millisecond)
	return b
}

// GetBranding implements store.Brandings. A branding exists only while
// its partner does, so a missing key answers both "none" and "no partner".
func (s *Store) GetBranding(ctx context.Context, partnerID string) (store.Branding, error) {
	b, err := s.getBranding(ctx, partnerID)
	if err != nil {
		return store.Branding{}, fmt.Errorf("get branding of partner %q: %w", partnerID, err)
	}
	return b, nil
}

func (s *Store) getBranding(ctx context.Context, partnerID string) (store.Branding, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.Branding{}, err
	}
	var (
		get     *goredis.StringCmd
		version *goredis.StringCmd
	)
	_, err = s.client.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
		get = pipe.Get(ctx, k.branding())
		version = pipe.HGet(ctx, k.logo(), logoVersionField)
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return store.Branding{}, classify(err)
	}
	b, err := decodeReply[store.Branding](k.branding(), get)
	if err != nil {
		return store.Branding{}, err
	}
	b.LogoVersion, err = version.Result()
	if errors.Is(err, goredis.Nil) {
		b.LogoVersion, err = "", nil
	}
	return b, classify(err)
}

// PutBranding implements store.Brandings: the SET runs in a MULTI
// watching the partner, so the branding never reappears after
// DeletePartner.
func (s *Store) PutBranding(ctx context.Context, partnerID string, b store.Branding) error {
	if err := s.putBranding(ctx, partnerID, b); err != nil {
		return fmt.Errorf("put branding of partner %q: %w", partnerID, err)
	}
	return nil
}

func (s *Store) putBranding(ctx context.Context, partnerID string, b store.Branding) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	b = utcBranding(b)
	b.LogoVersion = "" // the logo hash holds it
	raw, err := encode(b)
	if err != nil {
		return err
	}
	return s.partnerTxn(ctx, k, partnerID, func(pipe goredis.Pipeliner) {
		pipe.Set(ctx, k.branding(), raw, 0)
	})
}

// partnerTxn runs write in a MULTI, under WATCH of the partner, if the
// partner exists; ErrNotFound otherwise.
func (s *Store) partnerTxn(ctx context.Context, k scope, partnerID string, write func(goredis.Pipeliner)) error {
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, k.partner())
		if err != nil {
			return err
		}
		if !found[0] {
			return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			write(pipe)
			return nil
		})
		return err
	}, k.partner())
}

// GetLogo implements store.Brandings.
func (s *Store) GetLogo(ctx context.Context, partnerID string) ([]byte, string, error) {
	png, version, err := s.getLogo(ctx, partnerID)
	if err != nil {
		return nil, "", fmt.Errorf("get logo of partner %q: %w", partnerID, err)
	}
	return png, version, nil
}

func (s *Store) getLogo(ctx context.Context, partnerID string) ([]byte, string, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, "", err
	}
	vals, err := s.client.HMGet(ctx, k.logo(), logoPNGField, logoVersionField).Result()
	if err != nil {
		return nil, "", classify(err)
	}
	png, ok1 := vals[0].(string)
	version, ok2 := vals[1].(string)
	if !ok1 && !ok2 {
		return nil, "", store.ErrNotFound
	}
	if !ok1 || !ok2 {
		return nil, "", fmt.Errorf("decode %s: field missing", k.logo())
	}
	return []byte(png), version, nil
}

// PutLogo implements store.Brandings: the logo and the empty branding it
// may create are written in one MULTI watching the partner.
func (s *Store) PutLogo(ctx context.Context, partnerID string, png []byte, version string) error {
	if err := s.putLogo(ctx, partnerID, png, version); err != nil {
		return fmt.Errorf("put logo of partner %q: %w", partnerID, err)
	}
	return nil
}

func (s *Store) putLogo(ctx context.Context, partnerID string, png []byte, version string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return err
	}
	empty, err := encode(store.Branding{})
	if err != nil {
		return err
	}
	return s.partnerTxn(ctx, k, partnerID, func(pipe goredis.Pipeliner) {
		pipe.HSet(ctx, k.logo(), logoPNGField, png, logoVersionField, version)
		pipe.SetNX(ctx, k.branding(), empty, 0)
	})
}

// DeleteLogo implements store.Brandings: deleting the hash drops the
// version with the bytes.
func (s *Store) DeleteLogo(ctx context.Context, partnerID string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil // no partner can have the id, so it has no logo
	}
	if err := s.client.Del(ctx, k.logo()).Err(); err != nil {
		return fmt.Errorf("delete logo of partner %q: %w", partnerID, classify(err))
	}
	return nil
}
