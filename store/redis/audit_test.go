package redis

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/partnergate/partnergate/internal/redistest"
	"github.com/partnergate/partnergate/store"
)

// appendAudit appends n records to stream.
func appendAudit(t *testing.T, s *Store, stream string, n int, keep store.AuditRetention) {
	t.Helper()
	ctx := t.Context()
	for range n {
		head, err := s.AuditHead(ctx, stream)
		must(t, err)
		seq := head.Seq + 1
		rec := store.AuditRecord{Seq: seq, Time: time.Now(), PrevHash: head.Hash, Hash: fmt.Sprint("hash ", seq), Data: []byte("{}")}
		must(t, s.AppendAudit(ctx, stream, head, rec, keep))
	}
}

// TestAuditKeyLayout checks where streams live: a partner's two keys under
// its hash tag, so DeletePartner's sweep takes them, and the platform's
// under a tag of its own. Retention keeps the records set bounded.
func TestAuditKeyLayout(t *testing.T) {
	s := openStore(t, redistest.Start(t).URL())
	ctx := t.Context()
	must(t, s.CreatePartner(ctx, store.Partner{ID: "acme"}))
	appendAudit(t, s, "acme", 5, store.AuditRetention{MaxEvents: 3})
	appendAudit(t, s, store.PlatformStream, 2, store.AuditRetention{})

	want := []string{
		"pg:audit:{platform}:head",
		"pg:audit:{platform}:records",
		"pg:partners",
		"pg:{acme}:audit",
		"pg:{acme}:audithead",
		"pg:{acme}:partner",
	}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys:\n got  %q\n want %q", got, want)
	}
	n, err := s.client.ZCard(ctx, "pg:{acme}:audit").Result()
	must(t, err)
	if n != 3 {
		t.Errorf("acme's stream holds %d records, want the 3 retention keeps", n)
	}

	must(t, s.DeletePartner(ctx, "acme"))
	want = []string{"pg:audit:{platform}:head", "pg:audit:{platform}:records"}
	if got := allKeys(t, s); !slices.Equal(got, want) {
		t.Errorf("keys after deleting acme:\n got  %q\n want %q", got, want)
	}
}
