package redis

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// A connection routes many domains, so its ssodomain: keys are a list of
// unique keys of its own rather than indexKeys' one key per index: a
// write claims the domains it adds, found free under WATCH, and drops
// those it gives up, which no other connection can hold meanwhile.

// ssoDomainKeys returns the domain index keys of domains, sorted and each
// once. An empty domain is none: no email has an empty domain to route by.
func ssoDomainKeys(k scope, domains []string) []uniqueKey {
	keys := make([]uniqueKey, 0, len(domains))
	for _, d := range domains {
		if d != "" {
			keys = append(keys, uniqueKey{"domain", d, k.ssoDomain(d)})
		}
	}
	slices.SortFunc(keys, func(a, b uniqueKey) int { return strings.Compare(a.key, b.key) })
	return slices.CompactFunc(keys, func(a, b uniqueKey) bool { return a.key == b.key })
}

// withoutDomains returns the keys of a whose key b lacks.
func withoutDomains(a, b []uniqueKey) []uniqueKey {
	var out []uniqueKey
	for _, u := range a {
		if !slices.ContainsFunc(b, func(v uniqueKey) bool { return v.key == u.key }) {
			out = append(out, u)
		}
	}
	return out
}

// CreateSSOConnection implements store.SSOConnections. The partner must
// exist; checking it in the transaction keeps a connection from outliving
// a concurrent DeletePartner.
func (s *Store) CreateSSOConnection(ctx context.Context, c store.SSOConnection) error {
	if err := s.createSSOConnection(ctx, c); err != nil {
		return fmt.Errorf("create sso connection %q: %w", c.ID, err)
	}
	return nil
}

func (s *Store) createSSOConnection(ctx context.Context, c store.SSOConnection) error {
	k, err := scopeOf(c.PartnerID)
	if err != nil {
		return err
	}
	if c.ID == "" {
		return errEmptyID
	}
	raw, err := encode(c)
	if err != nil {
		return err
	}
	take := ssoDomainKeys(k, c.Domains)
	watched := append([]string{k.partner(), k.ssoConnection(c.ID)}, keysOf(take)...)
	return s.txn(ctx, func(tx *goredis.Tx) error {
		found, err := existing(ctx, tx, watched...)
		switch {
		case err != nil:
			return err
		case !found[0]:
			return fmt.Errorf("partner %q: %w", c.PartnerID, store.ErrNotFound)
		case found[1]:
			return store.ErrAlreadyExists
		}
		if err := refuseTaken(take, found[2:]); err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.ssoConnection(c.ID), raw, 0)
			pipe.ZAdd(ctx, k.ssoConnections(), goredis.Z{Member: c.ID})
			for _, u := range take {
				pipe.Set(ctx, u.key, c.ID, 0)
			}
			return nil
		})
		return err
	}, watched...)
}

// GetSSOConnection implements store.SSOConnections.
func (s *Store) GetSSOConnection(ctx context.Context, partnerID, id string) (store.SSOConnection, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("get sso connection %q: %w", id, err)
	}
	c, err := getJSON[store.SSOConnection](ctx, s.client, k.ssoConnection(id))
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("get sso connection %q: %w", id, err)
	}
	return c, nil
}

// ListSSOConnections implements store.SSOConnections.
func (s *Store) ListSSOConnections(ctx context.Context, partnerID string) ([]store.SSOConnection, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return nil, fmt.Errorf("list sso connections: %w", err)
	}
	conns, err := listPage[store.SSOConnection](ctx, s.client, k.ssoConnections(), k.ssoConnection, store.Page{})
	if err != nil {
		return nil, fmt.Errorf("list sso connections of %q: %w", partnerID, err)
	}
	return conns, nil
}

// UpdateSSOConnection implements store.SSOConnections.
func (s *Store) UpdateSSOConnection(ctx context.Context, partnerID, id string, fn func(store.SSOConnection) (store.SSOConnection, error)) (store.SSOConnection, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("update sso connection %q: %w", id, err)
	}
	var next store.SSOConnection
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getJSON[store.SSOConnection](ctx, tx, k.ssoConnection(id))
		if err != nil {
			return err
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != cur.ID || next.PartnerID != cur.PartnerID {
			return errIDChanged
		}
		raw, err := encode(next)
		if err != nil {
			return err
		}
		from, to := ssoDomainKeys(k, cur.Domains), ssoDomainKeys(k, next.Domains)
		take, drop := withoutDomains(to, from), withoutDomains(from, to)
		if len(take) > 0 {
			if err := claimable(ctx, tx, k, partnerID, take); err != nil {
				return err
			}
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.ssoConnection(id), raw, 0)
			for _, u := range drop {
				pipe.Del(ctx, u.key)
			}
			for _, u := range take {
				pipe.Set(ctx, u.key, id, 0)
			}
			return nil
		})
		return err
	}, k.ssoConnection(id))
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("update sso connection %q: %w", id, err)
	}
	return next, nil
}

// DeleteSSOConnection implements store.SSOConnections. The failure log
// goes in the same MULTI, and AppendSSOFailure watches the connection, so
// no failure lands in a log after its connection is gone.
func (s *Store) DeleteSSOConnection(ctx context.Context, partnerID, id string) error {
	k, err := scopeOf(partnerID)
	if err != nil {
		return fmt.Errorf("delete sso connection %q: %w", id, err)
	}
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		c, err := getJSON[store.SSOConnection](ctx, tx, k.ssoConnection(id))
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, k.ssoConnection(id))
			pipe.ZRem(ctx, k.ssoConnections(), id)
			pipe.Del(ctx, k.ssoFailures(id))
			for _, u := range ssoDomainKeys(k, c.Domains) {
				pipe.Del(ctx, u.key)
			}
			return nil
		})
		return err
	}, k.ssoConnection(id))
	if err != nil {
		return fmt.Errorf("delete sso connection %q: %w", id, err)
	}
	return nil
}

// FindSSOConnectionByDomain implements store.SSOConnections. As with
// byIndex, the two reads are not atomic: a connection that gave up the
// domain in between no longer answers to it.
func (s *Store) FindSSOConnectionByDomain(ctx context.Context, partnerID, domain string) (store.SSOConnection, error) {
	c, err := s.findSSOConnectionByDomain(ctx, partnerID, domain)
	if err != nil {
		return store.SSOConnection{}, fmt.Errorf("find sso connection by domain %q: %w", domain, err)
	}
	return c, nil
}

func (s *Store) findSSOConnectionByDomain(ctx context.Context, partnerID, domain string) (store.SSOConnection, error) {
	k, err := scopeOf(partnerID)
	if err != nil {
		return store.SSOConnection{}, err
	}
	id, err := s.client.Get(ctx, k.ssoDomain(domain)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.SSOConnection{}, store.ErrNotFound
	}
	if err != nil {
		return store.SSOConnection{}, classify(err)
	}
	c, err := getJSON[store.SSOConnection](ctx, s.client, k.ssoConnection(id))
	if err != nil {
		return store.SSOConnection{}, err
	}
	if !slices.ContainsFunc(c.Domains, func(d string) bool { return k.ssoDomain(d) == k.ssoDomain(domain) }) {
		return store.SSOConnection{}, store.ErrNotFound
	}
	return c, nil
}
