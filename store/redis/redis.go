package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// maxTxAttempts bounds optimistic retries; only a pathological write storm
// on one key exhausts it.
const maxTxAttempts = 100

var errContention = errors.New("too much contention, transaction kept failing")

// Store is a store.Store backed by Redis.
type Store struct {
	client goredis.UniversalClient
}

var _ store.Store = (*Store)(nil)

// New wraps client; Close closes it.
func New(client goredis.UniversalClient) *Store {
	return &Store{client: client}
}

// Open parses rawURL (see ParseURL), connects and checks the server answers.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	opts, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	client := goredis.NewUniversalClient(opts)
	if err := client.Ping(ctx).Err(); err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("connect to redis: %w", classify(err))
	}
	return New(client), nil
}

// Close releases the client's connections.
func (s *Store) Close() error {
	if err := s.client.Close(); err != nil {
		return fmt.Errorf("close redis client: %w", err)
	}
	return nil
}

// classify marks errors that mean "Redis cannot serve us right now" with
// store.ErrUnavailable, so callers answer 503 instead of 500. Everything
// else, including errors from callers' update functions, passes unchanged.
func classify(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || !isUnavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

func isUnavailable(err error) bool {
	// A caller that went away is not an outage; a deadline that passed
	// while Redis was silent is.
	if errors.Is(err, context.Canceled) {
		return false
	}
	var netErr net.Error
	switch {
	case errors.As(err, &netErr),
		errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, goredis.ErrClosed),
		errors.Is(err, goredis.ErrPoolTimeout),
		errors.Is(err, goredis.ErrPoolExhausted):
		return true
	}
	// Server replies that mean the node is starting, failing over or
	// overloaded rather than that the command was wrong.
	return goredis.IsLoadingError(err) ||
		goredis.IsReadOnlyError(err) ||
		goredis.IsMasterDownError(err) ||
		goredis.IsClusterDownError(err) ||
		goredis.IsTryAgainError(err) ||
		goredis.IsMaxClientsError(err) ||
		goredis.IsNoReplicasError(err)
}

// txn runs fn under WATCH keys, retrying when another client touched a
// watched key before EXEC.
func (s *Store) txn(ctx context.Context, fn func(tx *goredis.Tx) error, keys ...string) error {
	for range maxTxAttempts {
		err := s.client.Watch(ctx, fn, keys...)
		if !errors.Is(err, goredis.TxFailedErr) {
			return classify(err)
		}
	}
	return errContention
}

type getter interface {
	Get(ctx context.Context, key string) *goredis.StringCmd
}

// getJSON reads and decodes one value, answering store.ErrNotFound for a
// missing key.
func getJSON[T any](ctx context.Context, c getter, key string) (T, error) {
	return decodeReply[T](key, c.Get(ctx, key))
}

// decodeReply decodes the reply of a GET of key.
func decodeReply[T any](key string, cmd *goredis.StringCmd) (T, error) {
	var v T
	raw, err := cmd.Bytes()
	if errors.Is(err, goredis.Nil) {
		return v, store.ErrNotFound
	}
	if err != nil {
		return v, classify(err)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("decode %s: %w", key, err)
	}
	return v, nil
}

// decodeAll decodes the values of an MGET, skipping keys that vanished.
func decodeAll[T any](keys []string, vals []any) ([]T, error) {
	out := make([]T, 0, len(vals))
	for i, val := range vals {
		raw, ok := val.(string)
		if !ok {
			continue
		}
		var v T
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, fmt.Errorf("decode %s: %w", keys[i], err)
		}
		out = append(out, v)
	}
	return out, nil
}

func encode(v any) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encode: %w", err)
	}
	return string(b), nil
}
