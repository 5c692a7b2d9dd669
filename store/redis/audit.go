package redis

import (
	"context"
	"errors"

	"github.com/partnergate/partnergate/store"
)

var errAuditTODO = errors.New("audit log: in progress")

// AuditHead implements store.AuditLog.
func (s *Store) AuditHead(ctx context.Context, stream string) (store.AuditHead, error) {
	return store.AuditHead{}, errAuditTODO
}

// AppendAudit implements store.AuditLog.
func (s *Store) AppendAudit(ctx context.Context, stream string, head store.AuditHead, rec store.AuditRecord, keep store.AuditRetention) error {
	return errAuditTODO
}

// ScanAudit implements store.AuditLog.
func (s *Store) ScanAudit(ctx context.Context, stream string, before int64, limit int) ([]store.AuditRecord, error) {
	return nil, errAuditTODO
}
