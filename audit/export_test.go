package audit

import (
	"time"

	"github.com/partnergate/partnergate/store"
)

// SetBatch and SetScanBudget shrink a Log's read sizes, so tests reach
// paging and the scan budget without writing thousands of events.
func SetBatch(l *Log, n int)      { l.batch = n }
func SetScanBudget(l *Log, n int) { l.scanBudget = n }

// Seal exposes seal to benchmarks that fill a stream through the store
// directly, skipping Record's head read per event.
func Seal(head store.AuditHead, e Event, now time.Time) (store.AuditRecord, error) {
	return seal(head, e, now)
}
