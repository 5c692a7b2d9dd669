package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"

	"github.com/partnergate/partnergate/store"
)

// lexPage reads one page of the sorted set key. Its scores are all 0, so
// ZRANGEBYLEX walks it in id order and "(" excludes page.After itself.
func lexPage(ctx context.Context, c goredis.Cmdable, key string, page store.Page) *goredis.StringSliceCmd {
	from := "-"
	if page.After != "" {
		from = "(" + page.After
	}
	// A Count of 0 sends no LIMIT at all.
	return c.ZRangeByLex(ctx, key, &goredis.ZRangeBy{Min: from, Max: "+", Count: int64(page.Limit)})
}

// listPage returns one page of the records whose ids the sorted set index
// holds, each stored as JSON at keyOf(id).
func listPage[T any](ctx context.Context, c goredis.Cmdable, index string, keyOf func(string) string, page store.Page) ([]T, error) {
	out := []T{}
	for {
		ids, err := lexPage(ctx, c, index, page).Result()
		if err != nil {
			return nil, classify(err)
		}
		if len(ids) == 0 {
			return out, nil
		}
		keys := make([]string, len(ids))
		for i, id := range ids {
			keys[i] = keyOf(id)
		}
		vals, err := c.MGet(ctx, keys...).Result()
		if err != nil {
			return nil, classify(err)
		}
		items, err := decodeAll[T](keys, vals)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		// A record deleted between the two reads leaves a hole. Reading on
		// past it keeps a short page meaning the end of the list.
		if page.Limit == 0 || len(items) == len(ids) || len(ids) < page.Limit {
			return out, nil
		}
		page = store.Page{After: ids[len(ids)-1], Limit: page.Limit - len(items)}
	}
}
