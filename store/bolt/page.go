package bolt

import (
	"encoding/json"
	"fmt"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// forPage calls fn for the entries of b whose keys sort after page.After,
// at most page.Limit of them, in key order; a nil b holds nothing.
func forPage(b *bbolt.Bucket, page store.Page, fn func(k, v []byte) error) error {
	if b == nil {
		return nil
	}
	c := b.Cursor()
	k, v := c.Seek([]byte(page.After))
	if k != nil && string(k) == page.After {
		k, v = c.Next()
	}
	for n := 0; k != nil && (page.Limit == 0 || n < page.Limit); n++ {
		if err := fn(k, v); err != nil {
			return err
		}
		k, v = c.Next()
	}
	return nil
}

// decodePage decodes one page of b's values.
func decodePage[T any](b *bbolt.Bucket, page store.Page) ([]T, error) {
	var out []T
	err := forPage(b, page, func(k, v []byte) error {
		var item T
		if err := json.Unmarshal(v, &item); err != nil {
			return fmt.Errorf("decode %q: %w", k, err)
		}
		out = append(out, item)
		return nil
	})
	return out, err
}
