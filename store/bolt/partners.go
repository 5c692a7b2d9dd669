package bolt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/partnergate/partnergate/store"
)

// hostKey is a hostname's index key. DNS names are case-insensitive, so two
// partners must not hold spellings of one name that differ only in case.
func hostKey(h string) []byte { return []byte(strings.ToLower(h)) }

// claimHostnames points each hostname at partnerID, failing if another
// partner holds one.
func claimHostnames(tx *bbolt.Tx, partnerID string, hostnames []string) error {
	b := tx.Bucket(bucketHostnames)
	for _, h := range hostnames {
		if owner := b.Get(hostKey(h)); owner != nil && string(owner) != partnerID {
			return fmt.Errorf("hostname %q: %w", h, store.ErrHostnameTaken)
		}
		if err := b.Put(hostKey(h), []byte(partnerID)); err != nil {
			return fmt.Errorf("hostname %q: %w", h, err)
		}
	}
	return nil
}

func releaseHostnames(tx *bbolt.Tx, partnerID string, hostnames []string) error {
	b := tx.Bucket(bucketHostnames)
	for _, h := range hostnames {
		if string(b.Get(hostKey(h))) != partnerID {
			continue
		}
		if err := b.Delete(hostKey(h)); err != nil {
			return fmt.Errorf("hostname %q: %w", h, err)
		}
	}
	return nil
}

func utcPartner(p store.Partner) store.Partner {
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p
}

// CreatePartner implements store.Partners.
func (s *Store) CreatePartner(ctx context.Context, p store.Partner) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPartners)
		if b.Get([]byte(p.ID)) != nil {
			return store.ErrAlreadyExists
		}
		if err := claimHostnames(tx, p.ID, p.Hostnames); err != nil {
			return err
		}
		return putJSON(b, p.ID, utcPartner(p))
	})
	if err != nil {
		return fmt.Errorf("create partner %q: %w", p.ID, err)
	}
	return nil
}

// GetPartner implements store.Partners.
func (s *Store) GetPartner(ctx context.Context, id string) (store.Partner, error) {
	var p store.Partner
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(tx.Bucket(bucketPartners), id, &p)
	})
	if err != nil {
		return store.Partner{}, fmt.Errorf("get partner %q: %w", id, err)
	}
	return p, nil
}

// ListPartners implements store.Partners; partners come ordered by id.
func (s *Store) ListPartners(ctx context.Context) ([]store.Partner, error) {
	var out []store.Partner
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = decodeAll[store.Partner](tx.Bucket(bucketPartners))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", err)
	}
	return out, nil
}

// UpdatePartner implements store.Partners. fn runs once, inside the write
// transaction, so it must not call the Store.
func (s *Store) UpdatePartner(ctx context.Context, id string, fn func(store.Partner) (store.Partner, error)) (store.Partner, error) {
	var next store.Partner
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPartners)
		var cur store.Partner
		if err := getJSON(b, id, &cur); err != nil {
			return err
		}
		var err error
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID {
			return errIdentityChanged
		}
		next = utcPartner(next)
		if err := releaseHostnames(tx, id, cur.Hostnames); err != nil {
			return err
		}
		if err := claimHostnames(tx, id, next.Hostnames); err != nil {
			return err
		}
		return putJSON(b, id, next)
	})
	if err != nil {
		return store.Partner{}, fmt.Errorf("update partner %q: %w", id, err)
	}
	return next, nil
}

// DeletePartner implements store.Partners.
func (s *Store) DeletePartner(ctx context.Context, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketPartners)
		var p store.Partner
		if err := getJSON(b, id, &p); err != nil {
			return err
		}
		if err := releaseHostnames(tx, id, p.Hostnames); err != nil {
			return err
		}
		for _, root := range partnerScoped {
			err := tx.Bucket(root).DeleteBucket([]byte(id))
			if err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("bucket %s: %w", root, err)
			}
		}
		if err := tx.Bucket(bucketPolicies).Delete([]byte(id)); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
		if err := deleteBranding(tx, id); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete partner %q: %w", id, err)
	}
	return nil
}
