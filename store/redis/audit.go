package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// An audit stream is two keys in one slot: a sorted set of records, each an
// auditEntry scored by its seq, and a hash holding the head (seq, hash, ms,
// first). The append script keeps both bounded, so a stream never grows
// past its retention.

// auditEntry is a record as a member of the stream's sorted set. The seq
// in it keeps equal records of different seqs apart; the time is in unix
// milliseconds so the append script can read it for the age trim.
type auditEntry struct {
	Seq      int64  `json:"seq"`
	MS       int64  `json:"ms"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
	Data     []byte `json:"data"`
}

// appendAuditScript adds member ARGV[6], a record of seq ARGV[3], time
// ARGV[4] ms and hash ARGV[5], to the records KEYS[1] if the head KEYS[2]
// still has seq ARGV[1] and hash ARGV[2] and the partner KEYS[3], when
// given, exists. It then trims the records to ARGV[7] events (0: no bound)
// and drops those older than ARGV[8] ms before the new one (0: no bound),
// oldest first, and moves the head.
//
// Times never decrease along seqs, so the records too old form a prefix of
// the set; the script gallops from the oldest, then bisects, so the usual
// trim of a record or two reads only a few.
var appendAuditScript = goredis.NewScript(`
if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 0 then
	return 'nopartner'
end
local head = redis.call('HMGET', KEYS[2], 'seq', 'hash', 'ms', 'first')
local seq = tonumber(head[1]) or 0
if seq ~= tonumber(ARGV[1]) or (head[2] or '') ~= ARGV[2] then
	return 'conflict'
end
local recSeq, ms = tonumber(ARGV[3]), tonumber(ARGV[4])
if recSeq ~= seq + 1 then
	return 'badseq'
end
if ms < (tonumber(head[3]) or 0) then
	return 'badtime'
end
redis.call('ZADD', KEYS[1], recSeq, ARGV[6])

local first = tonumber(head[4]) or 0
if first == 0 then
	first = recSeq
end
local maxEvents, maxAge = tonumber(ARGV[7]), tonumber(ARGV[8])
if maxEvents > 0 then
	first = math.max(first, recSeq - maxEvents + 1)
	redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. first)
end
if maxAge > 0 then
	local cutoff = ms - maxAge
	local function old(rank)
		local m = redis.call('ZRANGE', KEYS[1], rank, rank)[1]
		return cjson.decode(m).ms < cutoff
	end
	if old(0) then
		-- Rank lo is too old; rank hi is young enough or the newest.
		local last = redis.call('ZCARD', KEYS[1]) - 1
		local lo, hi = 0, 1
		while hi < last and old(hi) do
			lo, hi = hi, math.min(hi * 2, last)
		end
		while hi - lo > 1 do
			local mid = math.floor((lo + hi) / 2)
			if old(mid) then lo = mid else hi = mid end
		end
		local dropped = redis.call('ZRANGE', KEYS[1], lo, lo, 'WITHSCORES')
		first = tonumber(dropped[2]) + 1
		redis.call('ZREMRANGEBYRANK', KEYS[1], 0, lo)
	end
end
redis.call('HSET', KEYS[2], 'seq', recSeq, 'hash', ARGV[5], 'ms', ms, 'first', first)
return 'ok'
`)

// streamKeys are the keys of one audit stream; partner is "" for the
// platform stream, which needs none.
type streamKeys struct{ records, head, partner string }

func auditKeys(stream string) (streamKeys, error) {
	if stream == store.PlatformStream {
		return streamKeys{records: platformAuditKey, head: platformAuditHeadKey}, nil
	}
	k, err := scopeOf(stream)
	if err != nil {
		return streamKeys{}, err
	}
	return streamKeys{records: k.audit(), head: k.auditHead(), partner: k.partner()}, nil
}

// AuditHead implements store.AuditLog.
func (s *Store) AuditHead(ctx context.Context, stream string) (store.AuditHead, error) {
	keys, err := auditKeys(stream)
	if err != nil {
		return store.AuditHead{}, nil // no partner can have the id, so it has no stream
	}
	vals, err := s.client.HMGet(ctx, keys.head, "seq", "hash", "ms", "first").Result()
	if err != nil {
		return store.AuditHead{}, fmt.Errorf("read head of audit stream %q: %w", stream, classify(err))
	}
	seq, err1 := headNumber(vals[0])
	ms, err2 := headNumber(vals[2])
	first, err3 := headNumber(vals[3])
	if err := errors.Join(err1, err2, err3); err != nil {
		return store.AuditHead{}, fmt.Errorf("read head of audit stream %q: %w", stream, err)
	}
	if seq == 0 {
		return store.AuditHead{}, nil
	}
	hash, _ := vals[1].(string)
	return store.AuditHead{Seq: seq, Hash: hash, Time: time.UnixMilli(ms).UTC(), First: first}, nil
}

// headNumber parses a field of HMGET on the head; 0 if absent.
func headNumber(v any) (int64, error) {
	raw, ok := v.(string)
	if !ok {
		return 0, nil
	}
	return strconv.ParseInt(raw, 10, 64)
}

// AppendAudit implements store.AuditLog in one script, so the check, the
// write, the trim and the new head are atomic.
func (s *Store) AppendAudit(ctx context.Context, stream string, head store.AuditHead, rec store.AuditRecord, keep store.AuditRetention) error {
	if err := s.appendAudit(ctx, stream, head, rec, keep); err != nil {
		return fmt.Errorf("append record %d to audit stream %q: %w", rec.Seq, stream, err)
	}
	return nil
}

func (s *Store) appendAudit(ctx context.Context, stream string, head store.AuditHead, rec store.AuditRecord, keep store.AuditRetention) error {
	keys, err := auditKeys(stream)
	if err != nil {
		return err
	}
	ms := rec.Time.UnixMilli()
	member, err := encode(auditEntry{Seq: rec.Seq, MS: ms, PrevHash: rec.PrevHash, Hash: rec.Hash, Data: rec.Data})
	if err != nil {
		return err
	}
	// Rounded up: a bound under a millisecond must not read as none.
	maxAge := max((keep.MaxAge + time.Millisecond - 1).Milliseconds(), 0)
	scriptKeys := []string{keys.records, keys.head}
	if keys.partner != "" {
		scriptKeys = append(scriptKeys, keys.partner)
	}
	res, err := appendAuditScript.Run(ctx, s.client, scriptKeys,
		head.Seq, head.Hash, rec.Seq, ms, rec.Hash, member,
		max(keep.MaxEvents, 0), maxAge).Text()
	if err != nil {
		return classify(err)
	}
	switch res {
	case "nopartner":
		return fmt.Errorf("partner %q: %w", stream, store.ErrNotFound)
	case "conflict":
		return store.ErrConflict
	case "badseq":
		return fmt.Errorf("seq %d does not follow the head's %d", rec.Seq, head.Seq)
	case "badtime":
		return fmt.Errorf("time %v is before the head's", rec.Time)
	}
	return nil
}

// ScanAudit implements store.AuditLog.
func (s *Store) ScanAudit(ctx context.Context, stream string, before int64, limit int) ([]store.AuditRecord, error) {
	top := "+inf"
	if before > 0 {
		top = "(" + strconv.FormatInt(before, 10)
	}
	out, err := s.scanAudit(ctx, stream, limit, func(key string, by *goredis.ZRangeBy) *goredis.StringSliceCmd {
		by.Min, by.Max = "-inf", top
		return s.client.ZRevRangeByScore(ctx, key, by)
	})
	if err != nil {
		return nil, fmt.Errorf("scan audit stream %q before %d: %w", stream, before, err)
	}
	return out, nil
}

// ScanAuditForward implements store.AuditLog.
func (s *Store) ScanAuditForward(ctx context.Context, stream string, after int64, limit int) ([]store.AuditRecord, error) {
	out, err := s.scanAudit(ctx, stream, limit, func(key string, by *goredis.ZRangeBy) *goredis.StringSliceCmd {
		by.Min, by.Max = "("+strconv.FormatInt(after, 10), "+inf"
		return s.client.ZRangeByScore(ctx, key, by)
	})
	if err != nil {
		return nil, fmt.Errorf("scan audit stream %q after %d: %w", stream, after, err)
	}
	return out, nil
}

// scanAudit decodes the up to limit records that query, given the records
// key and a range with the count set, returns.
func (s *Store) scanAudit(ctx context.Context, stream string, limit int, query func(key string, by *goredis.ZRangeBy) *goredis.StringSliceCmd) ([]store.AuditRecord, error) {
	if limit < 1 {
		return nil, fmt.Errorf("limit %d is not positive", limit)
	}
	keys, err := auditKeys(stream)
	if err != nil {
		return nil, nil // no partner can have the id, so it has no stream
	}
	members, err := query(keys.records, &goredis.ZRangeBy{Count: int64(limit)}).Result()
	if err != nil {
		return nil, classify(err)
	}
	out := make([]store.AuditRecord, 0, len(members))
	for _, m := range members {
		var e auditEntry
		if err := json.Unmarshal([]byte(m), &e); err != nil {
			return nil, fmt.Errorf("decode record: %w", err)
		}
		out = append(out, store.AuditRecord{
			Seq: e.Seq, Time: time.UnixMilli(e.MS).UTC(), PrevHash: e.PrevHash, Hash: e.Hash, Data: e.Data,
		})
	}
	return out, nil
}
