package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/partnergate/partnergate/store"
)

// A partner's branding is its value in bucketBrandings and its logo its
// value in bucketLogos, both keyed by the partner id; DeletePartner
// deletes both. The logo's version lives only in the logo record, and
// GetBranding fills LogoVersion in from it, so the two can never
// disagree, however PutBranding and PutLogo interleave.
//
// A logo record is the version's length as a uvarint, the version, then
// the logo's bytes, raw.

var errBadLogo = errors.New("malformed logo record")

func encodeLogo(png []byte, version string) []byte {
	buf := make([]byte, 0, binary.MaxVarintLen64+len(version)+len(png))
	buf = binary.AppendUvarint(buf, uint64(len(version)))
	buf = append(buf, version...)
	return append(buf, png...)
}

// decodeLogo splits a logo record; png aliases data.
func decodeLogo(data []byte) (png []byte, version string, err error) {
	n, w := binary.Uvarint(data)
	if w <= 0 || n > uint64(len(data)-w) {
		return nil, "", errBadLogo
	}
	end := w + int(n)
	return data[end:], string(data[w:end]), nil
}

// logoVersion reads the version of the partner's logo, "" when none.
func logoVersion(tx *bbolt.Tx, partnerID string) (string, error) {
	data := tx.Bucket(bucketLogos).Get([]byte(partnerID))
	if data == nil {
		return "", nil
	}
	_, version, err := decodeLogo(data)
	if err != nil {
		return "", fmt.Errorf("logo: %w", err)
	}
	return version, nil
}

func utcBranding(b store.Branding) store.Branding {
	b.UpdatedAt = b.UpdatedAt.UTC().Truncate(time.Millisecond)
	return b
}

func partnerExists(tx *bbolt.Tx, partnerID string) error {
	if tx.Bucket(bucketPartners).Get([]byte(partnerID)) == nil {
		return fmt.Errorf("partner %q: %w", partnerID, store.ErrNotFound)
	}
	return nil
}

// deleteBranding removes the partner's branding and logo.
func deleteBranding(tx *bbolt.Tx, partnerID string) error {
	if err := tx.Bucket(bucketBrandings).Delete([]byte(partnerID)); err != nil {
		return fmt.Errorf("branding: %w", err)
	}
	if err := tx.Bucket(bucketLogos).Delete([]byte(partnerID)); err != nil {
		return fmt.Errorf("logo: %w", err)
	}
	return nil
}

// GetBranding implements store.Brandings.
func (s *Store) GetBranding(ctx context.Context, partnerID string) (store.Branding, error) {
	var b store.Branding
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		if err := getJSON(tx.Bucket(bucketBrandings), partnerID, &b); err != nil {
			return err
		}
		var err error
		b.LogoVersion, err = logoVersion(tx, partnerID)
		return err
	})
	if err != nil {
		return store.Branding{}, fmt.Errorf("get branding of partner %q: %w", partnerID, err)
	}
	return b, nil
}

// PutBranding implements store.Brandings: the partner check and the write
// are one transaction.
func (s *Store) PutBranding(ctx context.Context, partnerID string, b store.Branding) error {
	b = utcBranding(b)
	b.LogoVersion = "" // the logo record holds it
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if err := partnerExists(tx, partnerID); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketBrandings), partnerID, b)
	})
	if err != nil {
		return fmt.Errorf("put branding of partner %q: %w", partnerID, err)
	}
	return nil
}

// GetLogo implements store.Brandings.
func (s *Store) GetLogo(ctx context.Context, partnerID string) ([]byte, string, error) {
	var (
		png     []byte
		version string
	)
	err := s.view(ctx, func(tx *bbolt.Tx) error {
		data := tx.Bucket(bucketLogos).Get([]byte(partnerID))
		if data == nil {
			return store.ErrNotFound
		}
		p, v, err := decodeLogo(data)
		if err != nil {
			return err
		}
		// The bytes are valid only within the transaction.
		png, version = append(make([]byte, 0, len(p)), p...), v
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("get logo of partner %q: %w", partnerID, err)
	}
	return png, version, nil
}

// PutLogo implements store.Brandings: the partner check, the logo and the
// empty branding it may create are one transaction.
func (s *Store) PutLogo(ctx context.Context, partnerID string, png []byte, version string) error {
	record := encodeLogo(png, version)
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		if err := partnerExists(tx, partnerID); err != nil {
			return err
		}
		brandings := tx.Bucket(bucketBrandings)
		if brandings.Get([]byte(partnerID)) == nil {
			if err := putJSON(brandings, partnerID, store.Branding{}); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketLogos).Put([]byte(partnerID), record)
	})
	if err != nil {
		return fmt.Errorf("put logo of partner %q: %w", partnerID, err)
	}
	return nil
}

// DeleteLogo implements store.Brandings. With the logo goes its version:
// the branding no longer names one.
func (s *Store) DeleteLogo(ctx context.Context, partnerID string) error {
	if partnerID == "" {
		return nil // no partner has the id, so none has a logo
	}
	err := s.update(ctx, func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketLogos).Delete([]byte(partnerID))
	})
	if err != nil {
		return fmt.Errorf("delete logo of partner %q: %w", partnerID, err)
	}
	return nil
}
