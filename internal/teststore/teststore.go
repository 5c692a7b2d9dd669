// Package teststore opens every storage backend for the tests of packages
// above the store, so each of them runs its tests on bbolt and on a real
// Redis alike. A missing redis-server fails the test (see redistest): it
// never skips.
package teststore

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
	pgredis "github.com/partnergate/partnergate/store/redis"
)

// Backends names every backend.
var Backends = []string{"bolt", "redis"}

// Each runs test once per backend, as parallel subtests named after the
// backend, each on a fresh, empty store.
func Each(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Helper()
	for _, backend := range Backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			test(t, Open(t, backend))
		})
	}
}

// Open returns a fresh, empty store of the backend, closed when the test
// ends.
func Open(t testing.TB, backend string) store.Store {
	t.Helper()
	var st store.Store
	var dump func(t testing.TB) []byte
	switch backend {
	case "bolt":
		path := filepath.Join(t.TempDir(), "partnergate.db")
		db, err := bolt.Open(path)
		if err != nil {
			t.Fatalf("open bolt store: %v", err)
		}
		st = db
		dump = func(t testing.TB) []byte {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read bolt file: %v", err)
			}
			return b
		}
	case "redis":
		srv := redistest.Start(t)
		s, err := pgredis.Open(t.Context(), srv.URL())
		if err != nil {
			t.Fatalf("open redis store: %v", err)
		}
		st = s
		dump = func(t testing.TB) []byte { return dumpRedis(t, srv.URL()) }
	default:
		t.Fatalf("unknown store backend %q", backend)
	}
	dumpers.Store(st, dump)
	t.Cleanup(func() { dumpers.Delete(st); st.Close() })
	return st
}

// dumpers maps each open store to what reads its raw content.
var dumpers sync.Map

// Dump returns everything st holds as its backend stores it: the bolt
// file's bytes, or every Redis value read back as plain strings. A test
// searches it for a secret that must only ever be stored sealed.
func Dump(t testing.TB, st store.Store) []byte {
	t.Helper()
	d, ok := dumpers.Load(st)
	if !ok {
		t.Fatal("teststore: Dump of a store teststore did not open")
	}
	return d.(func(testing.TB) []byte)(t)
}

// dumpRedis reads every key's value by its type, uncompressed, where
// DUMP's serialization might compress it out of sight.
func dumpRedis(t testing.TB, url string) []byte {
	opts, err := goredis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	var out bytes.Buffer
	iter := c.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		out.WriteString(key + "\n")
		var vals []string
		switch c.Type(ctx, key).Val() {
		case "string":
			vals = []string{c.Get(ctx, key).Val()}
		case "hash":
			for k, v := range c.HGetAll(ctx, key).Val() {
				vals = append(vals, k, v)
			}
		case "list":
			vals = c.LRange(ctx, key, 0, -1).Val()
		case "set":
			vals = c.SMembers(ctx, key).Val()
		case "zset":
			vals = c.ZRange(ctx, key, 0, -1).Val()
		case "stream":
			for _, m := range c.XRange(ctx, key, "-", "+").Val() {
				for k, v := range m.Values {
					vals = append(vals, k, fmt.Sprint(v))
				}
			}
		}
		for _, v := range vals {
			out.WriteString(v + "\n")
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatalf("scan redis: %v", err)
	}
	return out.Bytes()
}
