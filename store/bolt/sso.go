package bolt

import (
	"context"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// ssoDomainKeys returns the domain index keys of domains, sorted and each
// once. An empty domain is none: bbolt refuses empty keys, and no email
// has an empty domain to route by.
func ssoDomainKeys(domains []string) []string {
	keys := make([]string, 0, len(domains))
	for _, d := range domains {
		if d != "" {
			keys = append(keys, strings.ToLower(d))
		}
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// reindexSSODomains moves connection id's routes from the domains in from
// to those in to. A domain another connection routes fails with
// store.ErrAlreadyExists; the caller's transaction then rolls back
// whatever was already moved. A connection can hold many domains, so the
// one-key-per-record uniqueIndex does not fit.
func reindexSSODomains(tx *bbolt.Tx, partnerID, id string, from, to []string) error {
	oldKeys, newKeys := ssoDomainKeys(from), ssoDomainKeys(to)
	if slices.Equal(oldKeys, newKeys) {
		return nil
	}
	index, err := nestedForWrite(tx, bucketSSODomains, partnerID)
	if err != nil {
		return err
	}
	for _, key := range oldKeys {
		if slices.Contains(newKeys, key) {
			continue
		}
		if err := index.Delete([]byte(key)); err != nil {
			return fmt.Errorf("domain %q: %w", key, err)
		}
	}
	for _, key := range newKeys {
		if slices.Contains(oldKeys, key) {
			continue
		}
		if index.Get([]byte(key)) != nil {
			return fmt.Errorf("domain %q: %w", key, store.ErrAlreadyExists)
		}
		if err := index.Put([]byte(key), []byte(id)); err != nil {
			return fmt.Errorf("domain %q: %w", key, err)
		}
	}
	return nil
}

func utcSSOConnection(c store.SSOConnection) store.SSOConnection {
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c
}

// CreateSSOConnection implements store.SSOConnections. The partner must
// exist, for the reason CreateUser gives.
func (s *Store) CreateSSOConnection(ctx context.Context, c store.SSOConnection) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketPartners).Get([]byte(c.PartnerID)) == nil {
			return fmt.Errorf("partner %q: %w", c.PartnerID, store.ErrNotFound)
		}
		conns, err := nestedForWrite(tx, bucketSSOConnections, c.PartnerID)
		if err != nil {
			return err
		}
		if conns.Get([]byte(c.ID)) != nil {
			return store.ErrAlreadyExists
		}
		if err := reindexSSODomains(tx, c.PartnerID, c.ID, nil, c.Domains); err != nil {
			return err
		}
		return putJSON(conns, c.ID, utcSSOConnection(c))
	})
	if err != nil {
		return fmt.Errorf("create sso connection %q in partner %q: %w", c.ID, c.PartnerID, err)
	}
	return nil
}

// GetSSOConnection implements store.SSOConnections.
func (s *Store) GetSSOConnection(ctx context.Context, partnerID, id string) (store.SSOConnection, error) {
	var c store.SSOConnection
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return getJSON(nested(tx, bucketSSOConnections, partnerID), id, &c)
	})
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("get sso connection %q in partner %q: %w", id, partnerID, err)
	}
	return c, nil
}

// ListSSOConnections implements store.SSOConnections; bbolt's key order
// is the id order.
func (s *Store) ListSSOConnections(ctx context.Context, partnerID string) ([]store.SSOConnection, error) {
	var out []store.SSOConnection
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = decodeAll[store.SSOConnection](nested(tx, bucketSSOConnections, partnerID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list sso connections of partner %q: %w", partnerID, err)
	}
	return out, nil
}

// UpdateSSOConnection implements store.SSOConnections. fn runs once,
// inside the write transaction, so it must not call the Store.
func (s *Store) UpdateSSOConnection(ctx context.Context, partnerID, id string, fn func(store.SSOConnection) (store.SSOConnection, error)) (store.SSOConnection, error) {
	var next store.SSOConnection
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		conns := nested(tx, bucketSSOConnections, partnerID)
		var cur store.SSOConnection
		if err := getJSON(conns, id, &cur); err != nil {
			return err
		}
		var err error
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIdentityChanged
		}
		next = utcSSOConnection(next)
		if err := reindexSSODomains(tx, partnerID, id, cur.Domains, next.Domains); err != nil {
			return err
		}
		return putJSON(conns, id, next)
	})
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("update sso connection %q in partner %q: %w", id, partnerID, err)
	}
	return next, nil
}

// DeleteSSOConnection implements store.SSOConnections; the connection's
// failure log goes in the same transaction.
func (s *Store) DeleteSSOConnection(ctx context.Context, partnerID, id string) error {
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		conns := nested(tx, bucketSSOConnections, partnerID)
		var c store.SSOConnection
		if err := getJSON(conns, id, &c); err != nil {
			return err
		}
		if err := reindexSSODomains(tx, partnerID, id, c.Domains, nil); err != nil {
			return err
		}
		if err := dropSSOFailures(tx, partnerID, id); err != nil {
			return err
		}
		return conns.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete sso connection %q in partner %q: %w", id, partnerID, err)
	}
	return nil
}

// FindSSOConnectionByDomain implements store.SSOConnections.
func (s *Store) FindSSOConnectionByDomain(ctx context.Context, partnerID, domain string) (store.SSOConnection, error) {
	var c store.SSOConnection
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		return recordByIndex(tx, bucketSSODomains, bucketSSOConnections, partnerID, []byte(strings.ToLower(domain)), &c)
	})
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("find sso connection by domain %q in partner %q: %w", domain, partnerID, err)
	}
	return c, nil
}
