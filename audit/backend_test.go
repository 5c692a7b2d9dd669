package audit_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/internal/clocktest"
	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
	"github.com/partnergate/partnergate/store/redis"
)

// The tests run against both real backends and tamper with them beneath
// the store, the way someone with access to the file or the server would.

// fixture is a store under test and a way around it.
type fixture struct {
	t testing.TB
	// store is the store; tamper may replace it.
	store store.Store
	// tamper runs fn on the raw records, with the store out of the way.
	tamper func(fn func(raw))
	// another opens a second store on the same data, as a second node
	// would; nil for a backend that cannot be shared.
	another func() store.Store
}

// raw reads and writes a backend's stored records directly. A record's
// stored value is a JSON object with the record's fields, among them
// "data" (base64), "prev_hash" and "hash"; pos is its place in the stream.
type raw interface {
	get(stream string, pos int64) []byte
	put(stream string, pos int64, value []byte)
	del(stream string, pos int64)
	delHead(stream string)
}

type backend struct {
	name string
	open func(t testing.TB) *fixture
}

var backends = []backend{
	{"bolt", openBolt},
	{"redis", openRedis},
}

// forEachBackend runs test as a parallel subtest per backend.
func forEachBackend(t *testing.T, test func(t *testing.T, f *fixture)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			test(t, b.open(t))
		})
	}
}

func openBolt(t testing.TB) *fixture {
	path := filepath.Join(t.TempDir(), "partnergate.db")
	open := func() store.Store {
		s, err := bolt.Open(path)
		if err != nil {
			t.Fatalf("open bolt store: %v", err)
		}
		return s
	}
	f := &fixture{t: t, store: open()}
	t.Cleanup(func() {
		if err := f.store.Close(); err != nil {
			t.Errorf("close store: %v", err)
		}
	})
	f.tamper = func(fn func(raw)) {
		t.Helper()
		if err := f.store.Close(); err != nil {
			t.Fatalf("close store: %v", err)
		}
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
		if err != nil {
			t.Fatalf("open %s with bbolt: %v", path, err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			fn(boltRaw{t: t, tx: tx})
			return nil
		})
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatalf("tamper with %s: %v", path, err)
		}
		f.store = open()
	}
	return f
}

// boltRaw knows the bolt store's layout: see store/bolt/audit.go.
type boltRaw struct {
	t  testing.TB
	tx *bbolt.Tx
}

func (r boltRaw) stream(stream string) *bbolt.Bucket {
	var b *bbolt.Bucket
	if stream == store.PlatformStream {
		b = r.tx.Bucket([]byte("platform_audit"))
	} else if root := r.tx.Bucket([]byte("audit")); root != nil {
		b = root.Bucket([]byte(stream))
	}
	if b == nil {
		r.t.Fatalf("no audit bucket for stream %q", stream)
	}
	return b
}

func (r boltRaw) records(stream string) *bbolt.Bucket {
	return r.stream(stream).Bucket([]byte("records"))
}

func posKey(pos int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(pos)) }

func (r boltRaw) get(stream string, pos int64) []byte {
	v := r.records(stream).Get(posKey(pos))
	if v == nil {
		r.t.Fatalf("no record at %d in stream %q", pos, stream)
	}
	return append([]byte(nil), v...)
}

func (r boltRaw) put(stream string, pos int64, value []byte) {
	if err := r.records(stream).Put(posKey(pos), value); err != nil {
		r.t.Fatal(err)
	}
}

func (r boltRaw) del(stream string, pos int64) {
	if err := r.records(stream).Delete(posKey(pos)); err != nil {
		r.t.Fatal(err)
	}
}

func (r boltRaw) delHead(stream string) {
	if err := r.stream(stream).Delete([]byte("head")); err != nil {
		r.t.Fatal(err)
	}
}

func openRedis(t testing.TB) *fixture {
	srv := redistest.Start(t)
	open := func() store.Store {
		s, err := redis.Open(t.Context(), srv.URL())
		if err != nil {
			t.Fatalf("open redis store: %v", err)
		}
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("close store: %v", err)
			}
		})
		return s
	}
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = client.Close() })
	f := &fixture{t: t, store: open(), another: open}
	f.tamper = func(fn func(raw)) { fn(redisRaw{t: t, c: client}) }
	return f
}

// redisRaw knows the Redis store's layout: see store/redis/audit.go.
type redisRaw struct {
	t testing.TB
	c *goredis.Client
}

func (r redisRaw) keys(stream string) (records, head string) {
	if stream == store.PlatformStream {
		return "pg:audit:{platform}:records", "pg:audit:{platform}:head"
	}
	return "pg:{" + stream + "}:audit", "pg:{" + stream + "}:audithead"
}

func (r redisRaw) get(stream string, pos int64) []byte {
	key, _ := r.keys(stream)
	score := fmt.Sprint(pos)
	m, err := r.c.ZRangeByScore(context.Background(), key, &goredis.ZRangeBy{Min: score, Max: score}).Result()
	if err != nil || len(m) != 1 {
		r.t.Fatalf("record at %d in %s: %q, %v", pos, key, m, err)
	}
	return []byte(m[0])
}

func (r redisRaw) put(stream string, pos int64, value []byte) {
	r.del(stream, pos)
	key, _ := r.keys(stream)
	if err := r.c.ZAdd(context.Background(), key, goredis.Z{Score: float64(pos), Member: value}).Err(); err != nil {
		r.t.Fatal(err)
	}
}

func (r redisRaw) del(stream string, pos int64) {
	key, _ := r.keys(stream)
	score := fmt.Sprint(pos)
	if err := r.c.ZRemRangeByScore(context.Background(), key, score, score).Err(); err != nil {
		r.t.Fatal(err)
	}
}

func (r redisRaw) delHead(stream string) {
	_, head := r.keys(stream)
	if err := r.c.Del(context.Background(), head).Err(); err != nil {
		r.t.Fatal(err)
	}
}

// storedRecord is the part of a stored value the tests change; the rest
// of the value passes through untouched.
type storedRecord struct {
	fields   map[string]json.RawMessage
	PrevHash string
	Hash     string
	Data     []byte
}

func decodeStored(t *testing.T, value []byte) storedRecord {
	t.Helper()
	var r storedRecord
	if err := json.Unmarshal(value, &r.fields); err != nil {
		t.Fatalf("decode stored record %s: %v", value, err)
	}
	for name, dst := range map[string]any{"prev_hash": &r.PrevHash, "hash": &r.Hash, "data": &r.Data} {
		if err := json.Unmarshal(r.fields[name], dst); err != nil {
			t.Fatalf("decode %s of stored record %s: %v", name, value, err)
		}
	}
	return r
}

func (r storedRecord) encode(t *testing.T) []byte {
	t.Helper()
	for name, v := range map[string]any{"prev_hash": r.PrevHash, "hash": r.Hash, "data": r.Data} {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		r.fields[name] = raw
	}
	out, err := json.Marshal(r.fields)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// editEvent rewrites fields of the event a stored value holds; the
// record's hashes stay as they were.
func editEvent(t *testing.T, value []byte, edit map[string]any) []byte {
	t.Helper()
	r := decodeStored(t, value)
	var ev map[string]json.RawMessage
	if err := json.Unmarshal(r.Data, &ev); err != nil {
		t.Fatalf("decode event %s: %v", r.Data, err)
	}
	for name, v := range edit {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		ev[name] = raw
	}
	data, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	r.Data = data
	return r.encode(t)
}

func newClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
}

// newLog returns a Log on s with the retention given and the clock.
func newLog(t testing.TB, s store.AuditLog, clock *clocktest.Clock, keep audit.Retention) *audit.Log {
	t.Helper()
	l, err := audit.New(audit.Config{Store: s, Retention: keep, Now: clock.Now})
	if err != nil {
		t.Fatalf("new audit log: %v", err)
	}
	return l
}

func createPartner(t testing.TB, s store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if err := s.CreatePartner(t.Context(), store.Partner{ID: id, Name: id}); err != nil {
			t.Fatalf("create partner %q: %v", id, err)
		}
	}
}

// event returns a valid event of partnerID, varied by n, so that a
// stream of them exercises every filter.
func event(partnerID string, n int) audit.Event {
	return audit.Event{
		PartnerID: partnerID,
		Actor:     audit.Actor{Type: audit.ActorUser, ID: fmt.Sprintf("u%d", n%3), Name: fmt.Sprintf("user%d@example.com", n%3)},
		Action:    []string{"user.create", "user.update", "signin", "group.update"}[n%4],
		Target:    audit.Target{Type: "user", ID: fmt.Sprintf("t%d", n%5)},
		Outcome:   audit.Success,
		SourceIP:  "192.0.2.7",
		RequestID: fmt.Sprintf("req-%d", n),
		Changes:   []audit.Change{{Field: "name", From: fmt.Sprint("old ", n), To: fmt.Sprint("new ", n)}},
	}
}

// record records events 1 to n of event(partnerID, i), advancing the clock a
// minute before each, and returns them as stored.
func record(t *testing.T, l *audit.Log, clock *clocktest.Clock, partnerID string, n int) []audit.Event {
	t.Helper()
	out := make([]audit.Event, 0, n)
	for i := 1; i <= n; i++ {
		clock.Advance(time.Minute)
		e, err := l.Record(t.Context(), event(partnerID, i))
		if err != nil {
			t.Fatalf("record event %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func verify(t *testing.T, l *audit.Log, partnerID string) audit.Verification {
	t.Helper()
	v, err := l.Verify(t.Context(), partnerID)
	if err != nil {
		t.Fatalf("verify %q: %v", partnerID, err)
	}
	return v
}

// checkIntact asserts the stream verifies and covers first to last.
func checkIntact(t *testing.T, l *audit.Log, partnerID string, first, last int64) {
	t.Helper()
	v := verify(t, l, partnerID)
	want := audit.Verification{OK: true, Checked: max(last-first+1, 0), FirstSeq: first, LastSeq: last}
	if last == 0 {
		want.Checked = 0
	}
	if v.Break != nil || v != want {
		t.Errorf("verify %q = %+v (break %+v), want %+v", partnerID, v, v.Break, want)
	}
}
