package redis

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// Partner writes touch two slots: the global hostname index and the
// partner's own keys. They are ordered so that a crash between steps leaves
// at worst a stale claim: hostnames are claimed before the record that
// lists them is written, and released after the record stops listing them.
// A stale claim keeps its hostname from other partners until an operator
// removes it. A record never lists an unclaimed hostname, except when
// concurrent writes of one partner race on the same hostname; the partner's
// next update repairs that.

var errIDChanged = errors.New("the id cannot change")

// cleanupTimeout bounds the compensating steps that run after the caller's
// context may already be done.
const cleanupTimeout = 2 * time.Second

// claimScript reserves every hostname in ARGV[2:] for the partner ARGV[1],
// or none if one belongs to another partner. Hostnames the partner already
// holds count as its own. It returns {0, taken} or {1, newly claimed...}.
var claimScript = goredis.NewScript(`
for i = 2, #ARGV do
	local owner = redis.call('HGET', KEYS[1], ARGV[i])
	if owner and owner ~= ARGV[1] then
		return {0, ARGV[i]}
	end
end
local claimed = {1}
for i = 2, #ARGV do
	if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1]) == 1 then
		table.insert(claimed, ARGV[i])
	end
end
return claimed
`)

// releaseScript drops the hostnames in ARGV[2:] that partner ARGV[1] still
// holds, leaving any another partner has claimed since.
var releaseScript = goredis.NewScript(`
local n = 0
for i = 2, #ARGV do
	if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then
		n = n + redis.call('HDEL', KEYS[1], ARGV[i])
	end
end
return n
`)

// CreatePartner implements store.Partners.
func (s *Store) CreatePartner(ctx context.Context, p store.Partner) error {
	if err := s.createPartner(ctx, p); err != nil {
		return fmt.Errorf("create partner %q: %w", p.ID, err)
	}
	return nil
}

func (s *Store) createPartner(ctx context.Context, p store.Partner) error {
	if !validPartnerID(p.ID) {
		return errors.New("invalid id: it must be non-empty and free of '{' and '}'")
	}
	k, _ := scopeOf(p.ID)
	raw, err := encode(p)
	if err != nil {
		return err
	}
	n, err := s.client.Exists(ctx, k.partner()).Result()
	if err != nil {
		return classify(err)
	}
	if n > 0 {
		return store.ErrAlreadyExists
	}
	claimed, err := s.claimHostnames(ctx, p.ID, p.Hostnames)
	if err != nil {
		return err
	}
	// Listed before the record exists: ListPartners skips a listed id
	// without a record, but could never find a record that is not listed.
	if err := s.client.SAdd(ctx, partnersKey, p.ID).Err(); err != nil {
		return errors.Join(classify(err), s.releaseHostnames(ctx, p.ID, claimed))
	}
	created, err := s.client.SetNX(ctx, k.partner(), raw, 0).Result()
	switch {
	case err != nil:
		return errors.Join(classify(err), s.releaseHostnames(ctx, p.ID, claimed))
	case !created:
		// The id stays in pg:partners: the winner of the race needs it.
		return errors.Join(store.ErrAlreadyExists, s.releaseHostnames(ctx, p.ID, claimed))
	}
	return nil
}

// GetPartner implements store.Partners.
func (s *Store) GetPartner(ctx context.Context, id string) (store.Partner, error) {
	k, err := scopeOf(id)
	if err != nil {
		return store.Partner{}, fmt.Errorf("get partner: %w", err)
	}
	p, err := getJSON[store.Partner](ctx, s.client, k.partner())
	if err != nil {
		return store.Partner{}, fmt.Errorf("get partner %q: %w", id, err)
	}
	return p, nil
}

// ListPartners implements store.Partners, ordered by id.
func (s *Store) ListPartners(ctx context.Context) ([]store.Partner, error) {
	ids, err := s.client.SMembers(ctx, partnersKey).Result()
	if err != nil {
		return nil, fmt.Errorf("list partners: %w", classify(err))
	}
	var keys []string
	var cmds []*goredis.StringCmd
	// A pipeline rather than MGET: each record lives in its own slot.
	_, err = s.client.Pipelined(ctx, func(pipe goredis.Pipeliner) error {
		for _, id := range ids {
			if k, err := scopeOf(id); err == nil {
				keys = append(keys, k.partner())
				cmds = append(cmds, pipe.Get(ctx, k.partner()))
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("list partners: %w", classify(err))
	}
	partners := make([]store.Partner, 0, len(cmds))
	for i, cmd := range cmds {
		p, err := decodeReply[store.Partner](keys[i], cmd)
		if errors.Is(err, store.ErrNotFound) {
			continue // listed by a create that failed or has not finished
		}
		if err != nil {
			return nil, fmt.Errorf("list partners: %w", err)
		}
		partners = append(partners, p)
	}
	slices.SortFunc(partners, func(a, b store.Partner) int { return cmp.Compare(a.ID, b.ID) })
	return partners, nil
}

// UpdatePartner implements store.Partners.
func (s *Store) UpdatePartner(ctx context.Context, id string, fn func(store.Partner) (store.Partner, error)) (store.Partner, error) {
	k, err := scopeOf(id)
	if err != nil {
		return store.Partner{}, fmt.Errorf("update partner: %w", err)
	}
	var next store.Partner
	var dropped []string
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getJSON[store.Partner](ctx, tx, k.partner())
		if err != nil {
			return err
		}
		if next, err = fn(cur); err != nil {
			return err
		}
		if next.ID != id {
			return errIDChanged
		}
		raw, err := encode(next)
		if err != nil {
			return err
		}
		// Claim every hostname, not only new ones, to repair a claim lost
		// to a race (see the top of this file).
		claimed, err := s.claimHostnames(ctx, id, next.Hostnames)
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Set(ctx, k.partner(), raw, 0)
			return nil
		})
		if err != nil {
			return errors.Join(err, s.releaseHostnames(ctx, id, claimed))
		}
		dropped = without(cur.Hostnames, next.Hostnames)
		return nil
	}, k.partner())
	if err != nil {
		return store.Partner{}, fmt.Errorf("update partner %q: %w", id, err)
	}
	if err := s.releaseHostnames(ctx, id, dropped); err != nil {
		return store.Partner{}, fmt.Errorf("update partner %q: saved, but releasing hostnames %q failed: %w", id, dropped, err)
	}
	return next, nil
}

// DeletePartner implements store.Partners.
func (s *Store) DeletePartner(ctx context.Context, id string) error {
	k, err := scopeOf(id)
	if err != nil {
		return fmt.Errorf("delete partner: %w", err)
	}
	// The record goes first: from then on CreateUser refuses the partner,
	// so no new user appears behind the sweep. The steps after it run even
	// if the record is already gone, so retrying a delete that failed
	// halfway finishes the job.
	var p store.Partner
	found := false
	err = s.txn(ctx, func(tx *goredis.Tx) error {
		cur, err := getJSON[store.Partner](ctx, tx, k.partner())
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(pipe goredis.Pipeliner) error {
			pipe.Del(ctx, k.partner())
			return nil
		})
		p, found = cur, err == nil
		return err
	}, k.partner())
	if err != nil {
		return fmt.Errorf("delete partner %q: %w", id, err)
	}
	if err := s.client.SRem(ctx, partnersKey, id).Err(); err != nil {
		return fmt.Errorf("delete partner %q: unlist: %w", id, classify(err))
	}
	if err := s.releaseHostnames(ctx, id, p.Hostnames); err != nil {
		return fmt.Errorf("delete partner %q: %w", id, err)
	}
	if err := s.sweep(ctx, k.pattern()); err != nil {
		return fmt.Errorf("delete partner %q: remove keys: %w", id, err)
	}
	if !found {
		return fmt.Errorf("delete partner %q: %w", id, store.ErrNotFound)
	}
	return nil
}

// sweep deletes every key matching pattern. A cluster has to be scanned on
// every primary: SCAN only walks the node it is sent to.
func (s *Store) sweep(ctx context.Context, pattern string) error {
	switch c := s.client.(type) {
	case *goredis.ClusterClient:
		return c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return sweepNode(ctx, node, pattern)
		})
	case *goredis.Ring:
		return c.ForEachShard(ctx, func(ctx context.Context, shard *goredis.Client) error {
			return sweepNode(ctx, shard, pattern)
		})
	default:
		return sweepNode(ctx, s.client, pattern)
	}
}

func sweepNode(ctx context.Context, c goredis.Cmdable, pattern string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return classify(err)
		}
		if len(keys) > 0 {
			if err := c.Unlink(ctx, keys...).Err(); err != nil {
				return classify(err)
			}
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// claimHostnames reserves hosts for partner id, all or none. It returns the
// hosts this call newly reserved: what a failed write must give back.
func (s *Store) claimHostnames(ctx context.Context, id string, hosts []string) ([]string, error) {
	if len(hosts) == 0 {
		return nil, nil
	}
	res, err := claimScript.Run(ctx, s.client, []string{hostnamesKey}, hostArgs(id, hosts)...).Slice()
	if err != nil {
		return nil, fmt.Errorf("claim hostnames: %w", classify(err))
	}
	if ok, _ := res[0].(int64); ok == 0 {
		return nil, fmt.Errorf("hostname %q: %w", res[1], store.ErrHostnameTaken)
	}
	claimed := make([]string, 0, len(res)-1)
	for _, h := range res[1:] {
		claimed = append(claimed, h.(string))
	}
	return claimed, nil
}

// releaseHostnames gives back the hosts partner id still holds. It runs
// when a write failed or after it succeeded, when the caller's context may
// be done, so it outlives that context.
func (s *Store) releaseHostnames(ctx context.Context, id string, hosts []string) error {
	if len(hosts) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := releaseScript.Run(ctx, s.client, []string{hostnamesKey}, hostArgs(id, hosts)...).Err(); err != nil {
		return fmt.Errorf("release hostnames: %w", classify(err))
	}
	return nil
}

func hostArgs(id string, hosts []string) []any {
	args := make([]any, 0, len(hosts)+1)
	args = append(args, id)
	for _, h := range hosts {
		args = append(args, h)
	}
	return args
}

// without returns the elements of a missing from b.
func without(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}
