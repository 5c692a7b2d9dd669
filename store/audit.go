package store

import (
	"context"
	"time"
)

// PlatformStream is the audit stream of operator actions that belong to
// no partner, such as deleting one. No partner id can be empty.
const PlatformStream = ""

// AuditRecord is one entry of an audit stream. The store keeps Data, an
// encoded event, as opaque bytes; the chain (PrevHash, Hash) is computed
// by the caller and only stored here. Time is kept to the millisecond.
type AuditRecord struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	PrevHash string    `json:"prev_hash"`
	Hash     string    `json:"hash"`
	Data     []byte    `json:"data"`
}

// AuditHead describes a stream's newest record and its retained range.
// The zero value is an empty stream that never had a record.
type AuditHead struct {
	// Seq, Hash and Time are the newest record's; Seq 0 means none yet.
	Seq  int64     `json:"seq"`
	Hash string    `json:"hash"`
	Time time.Time `json:"time"`
	// First is the Seq of the oldest record retention kept, 0 if none.
	// Records below it were trimmed on purpose; a gap anywhere else, or a
	// different oldest record, means tampering.
	First int64 `json:"first"`
}

// AuditRetention bounds a stream. Zero fields do not bound.
type AuditRetention struct {
	MaxEvents int
	MaxAge    time.Duration
}

// AuditLog stores append-only audit streams, one per partner plus
// PlatformStream. Seq numbers are 1, 2, 3… without gaps within a stream,
// and times never decrease along them.
type AuditLog interface {
	// AuditHead returns the stream's head; the zero head if it is empty.
	AuditHead(ctx context.Context, stream string) (AuditHead, error)
	// AppendAudit writes rec if the stream's head is still head (same Seq
	// and Hash); otherwise it writes nothing and fails with ErrConflict.
	// rec.Seq must be head.Seq+1 and rec.Time must not be before
	// head.Time, or it fails writing nothing. A partner's stream needs the
	// partner: AppendAudit fails with ErrNotFound if it does not exist, so
	// no stream outlives a concurrent DeletePartner.
	//
	// After writing, in the same atomic step, it drops the oldest records
	// beyond keep.MaxEvents and those older than keep.MaxAge before
	// rec.Time, and moves First past them. Only ever a prefix goes: the
	// age trim stops at the first record young enough. First moves only as
	// far as retention demands, so a record missing from the kept range
	// stays a gap that verification finds.
	AppendAudit(ctx context.Context, stream string, head AuditHead, rec AuditRecord, keep AuditRetention) error
	// ScanAudit returns up to limit (> 0) records with Seq below before,
	// newest first; before <= 0 starts at the newest.
	ScanAudit(ctx context.Context, stream string, before int64, limit int) ([]AuditRecord, error)
	// ScanAuditForward returns up to limit (> 0) records with Seq above
	// after, oldest first, to read a stream chronologically.
	ScanAuditForward(ctx context.Context, stream string, after int64, limit int) ([]AuditRecord, error)
}
