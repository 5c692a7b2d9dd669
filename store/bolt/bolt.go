package bolt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/partnergate/partnergate/store"
)

// lockTimeout bounds the wait for the file lock, so a second process fails
// fast with a clear error instead of hanging.
const lockTimeout = time.Second

// sweepInterval paces the removal of expired sessions, counters and
// tickets. Reads filter expired records themselves, so it only bounds the
// file's growth.
const sweepInterval = time.Minute

// Root buckets, one per concern. All but partners, hostnames, policies,
// governance, brandings, logos and platform_audit hold one nested bucket
// per partner id, so deleting a partner drops whole buckets; policies,
// brandings and logos hold one value per partner id, which DeletePartner
// deletes.
var (
	bucketPartners         = []byte("partners")           // partner id -> Partner
	bucketHostnames        = []byte("hostnames")          // lowercased hostname -> partner id
	bucketUsers            = []byte("users")              // partner id / user id -> User, memberships included
	bucketEmails           = []byte("emails")             // partner id / lowercased email -> user id
	bucketUserNames        = []byte("user_names")         // partner id / lowercased user name -> user id
	bucketExternalIDs      = []byte("external_ids")       // partner id / user's external id -> user id
	bucketAltEmails        = []byte("alt_emails")         // partner id / lowercased alt email / user id -> empty
	bucketSessions         = []byte("sessions")           // partner id / session id -> Session
	bucketUserSessions     = []byte("user_sessions")      // partner id / user id / session id -> empty
	bucketCounters         = []byte("counters")           // partner id / key -> counter
	bucketGroups           = []byte("groups")             // partner id / group id -> Group
	bucketGroupNames       = []byte("group_names")        // partner id / lowercased name -> group id
	bucketGroupExternalIDs = []byte("group_external_ids") // partner id / group's external id -> group id
	bucketGroupMembers     = []byte("group_members")      // partner id / group id / user id -> empty
	bucketGroupRoles       = []byte("group_roles")        // partner id / group id / role -> mapping id
	bucketRoleMappings     = []byte("role_mappings")      // partner id / mapping id -> RoleMapping
	bucketSSOConnections   = []byte("sso_connections")    // partner id / connection id -> SSOConnection
	bucketSSODomains       = []byte("sso_domains")        // partner id / lowercased domain -> connection id
	bucketTokens           = []byte("tokens")             // partner id / token id -> Token
	bucketTickets          = []byte("tickets")            // partner id / ticket id -> ticket
	bucketSCIMRequests     = []byte("scim_requests")      // partner id / big-endian seq -> RequestRecord
	bucketSSOFailures      = []byte("sso_failures")       // partner id / connection id / big-endian seq -> SSOFailure
	bucketPolicies         = []byte("policies")           // partner id -> PolicyRecord
	bucketGovernance       = []byte("governance")         // governanceKey -> PolicyRecord, the platform's baseline
	bucketMFAMethods       = []byte("mfa_methods")        // partner id / user id / method id -> MFAMethod
	bucketMFAIDs           = []byte("mfa_ids")            // partner id / method id -> user id
	bucketMFACredentials   = []byte("mfa_credentials")    // partner id / credential id -> mfaRef
	bucketBrandings        = []byte("brandings")          // partner id -> Branding, LogoVersion left out
	bucketLogos            = []byte("logos")              // partner id -> logo record (see branding.go)
	// Audit streams; see audit.go for a stream bucket's layout.
	bucketAudit         = []byte("audit")          // partner id / stream
	bucketPlatformAudit = []byte("platform_audit") // the platform stream

	rootBuckets = [][]byte{
		bucketPartners, bucketHostnames,
		bucketUsers, bucketEmails, bucketUserNames, bucketExternalIDs, bucketAltEmails,
		bucketSessions, bucketUserSessions, bucketCounters,
		bucketGroups, bucketGroupNames, bucketGroupExternalIDs, bucketGroupMembers, bucketGroupRoles,
		bucketRoleMappings, bucketSSOConnections, bucketSSODomains,
		bucketTokens, bucketTickets, bucketSCIMRequests, bucketSSOFailures,
		bucketPolicies, bucketGovernance,
		bucketMFAMethods, bucketMFAIDs, bucketMFACredentials,
		bucketBrandings, bucketLogos,
		bucketAudit, bucketPlatformAudit,
	}
	// partnerScoped are the root buckets DeletePartner empties.
	partnerScoped = [][]byte{
		bucketUsers, bucketEmails, bucketUserNames, bucketExternalIDs, bucketAltEmails,
		bucketSessions, bucketUserSessions, bucketCounters,
		bucketGroups, bucketGroupNames, bucketGroupExternalIDs, bucketGroupMembers, bucketGroupRoles,
		bucketRoleMappings, bucketSSOConnections, bucketSSODomains,
		bucketTokens, bucketTickets, bucketSCIMRequests, bucketSSOFailures,
		bucketMFAMethods, bucketMFAIDs, bucketMFACredentials,
		bucketAudit,
	}
)

// errIdentityChanged refuses an update callback that moved a record.
var errIdentityChanged = errors.New("update cannot change the id or partner")

// Store is a store.Store kept in one bbolt file.
type Store struct {
	db *bbolt.DB

	// closed is closed by Close; it stops the sweeper and tells watchers.
	closed      chan struct{}
	sweeperDone chan struct{}
	closeOnce   sync.Once
	closeErr    error

	mu   sync.Mutex // guards subs
	subs map[*subscriber]struct{}
}

var _ store.Store = (*Store)(nil)

// Open opens the store at path, creating the file (0600) and its directory
// (0700) if needed. It fails within about a second if another process holds
// the file.
func Open(path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: lockTimeout})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open store %q: another process holds it: %w", path, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for _, name := range rootBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		// The setup error is the one worth reporting.
		_ = db.Close()
		return nil, fmt.Errorf("open store %q: %w", path, err)
	}
	s := &Store{
		db:          db,
		closed:      make(chan struct{}),
		sweeperDone: make(chan struct{}),
		subs:        make(map[*subscriber]struct{}),
	}
	go s.sweepLoop()
	return s, nil
}

// Close stops the sweeper, tells watchers the bus is down and closes the
// file. Calls after the first return the first one's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.closed)
		<-s.sweeperDone
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("close store: %w", err)
		}
	})
	return s.closeErr
}

func (s *Store) view(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable(s.db.View(fn))
}

// update runs fn in one write transaction: an error from fn rolls back
// everything it wrote.
func (s *Store) update(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable(s.db.Update(fn))
}

// unavailable marks use after Close as store.ErrUnavailable, which callers
// already treat as "fail closed".
func unavailable(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return err
}

// nested returns root's bucket for partnerID, or nil if it has none yet.
func nested(tx *bbolt.Tx, root []byte, partnerID string) *bbolt.Bucket {
	return tx.Bucket(root).Bucket([]byte(partnerID))
}

// nestedForWrite returns root's bucket for partnerID, creating it.
func nestedForWrite(tx *bbolt.Tx, root []byte, partnerID string) (*bbolt.Bucket, error) {
	b, err := tx.Bucket(root).CreateBucketIfNotExists([]byte(partnerID))
	if err != nil {
		return nil, fmt.Errorf("bucket %s/%q: %w", root, partnerID, err)
	}
	return b, nil
}

// getJSON decodes the value at key into v; a nil bucket or missing key is
// store.ErrNotFound.
func getJSON(b *bbolt.Bucket, key string, v any) error {
	if b == nil {
		return store.ErrNotFound
	}
	data := b.Get([]byte(key))
	if data == nil {
		return store.ErrNotFound
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode %q: %w", key, err)
	}
	return nil
}

func putJSON(b *bbolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %q: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

// sweepLoop deletes expired records every sweepInterval until Close.
func (s *Store) sweepLoop() {
	defer close(s.sweeperDone)
	tick := time.NewTicker(sweepInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.closed:
			return
		case <-tick.C:
			// A failed sweep is retried on the next tick; reads skip
			// expired records meanwhile, so nothing waits on it.
			_ = s.sweep(time.Now())
		}
	}
}

// sweep deletes the sessions, counters and tickets expired at now. It
// takes now as an argument so tests can sweep the future without waiting
// for it.
func (s *Store) sweep(now time.Time) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		if err := sweepSessions(tx, now); err != nil {
			return err
		}
		if err := sweepExpired[counter](tx, bucketCounters, now); err != nil {
			return err
		}
		return sweepExpired[ticket](tx, bucketTickets, now)
	})
}

// partnerIDs lists the partners that have a bucket under root, so callers
// can change those buckets without iterating root at the same time.
func partnerIDs(tx *bbolt.Tx, root []byte) ([]string, error) {
	var ids []string
	err := tx.Bucket(root).ForEachBucket(func(k []byte) error {
		ids = append(ids, string(k))
		return nil
	})
	return ids, err
}

func sweepSessions(tx *bbolt.Tx, now time.Time) error {
	ids, err := partnerIDs(tx, bucketSessions)
	if err != nil {
		return err
	}
	for _, partnerID := range ids {
		var expired []store.Session
		err := nested(tx, bucketSessions, partnerID).ForEach(func(_, v []byte) error {
			var sess store.Session
			if err := json.Unmarshal(v, &sess); err != nil {
				return fmt.Errorf("decode session: %w", err)
			}
			if !live(sess, now) {
				expired = append(expired, sess)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sweep sessions of partner %q: %w", partnerID, err)
		}
		for _, sess := range expired {
			if err := deleteSession(tx, sess); err != nil {
				return fmt.Errorf("sweep session %q: %w", sess.ID, err)
			}
		}
	}
	return nil
}

// expiring is a record the sweeper drops once it is no longer live.
type expiring interface {
	live(now time.Time) bool
}

// sweepExpired deletes the records under root that are not live at now,
// decoding each as a T. It drops partner buckets it leaves empty too: a
// partner id named only by counters or tickets, which need no partner,
// would otherwise keep one forever.
func sweepExpired[T expiring](tx *bbolt.Tx, root []byte, now time.Time) error {
	ids, err := partnerIDs(tx, root)
	if err != nil {
		return err
	}
	for _, partnerID := range ids {
		b := nested(tx, root, partnerID)
		var expired []string
		err := b.ForEach(func(k, v []byte) error {
			var rec T
			if err := json.Unmarshal(v, &rec); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			if !rec.live(now) {
				expired = append(expired, string(k))
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("sweep %s of partner %q: %w", root, partnerID, err)
		}
		for _, k := range expired {
			if err := b.Delete([]byte(k)); err != nil {
				return fmt.Errorf("sweep %s %q: %w", root, k, err)
			}
		}
		if k, _ := b.Cursor().First(); k == nil {
			if err := tx.Bucket(root).DeleteBucket([]byte(partnerID)); err != nil {
				return fmt.Errorf("sweep %s of partner %q: %w", root, partnerID, err)
			}
		}
	}
	return nil
}

// decodeAll decodes every value of b in key order; a nil b holds nothing.
func decodeAll[T any](b *bbolt.Bucket) ([]T, error) {
	return decodePage[T](b, store.Page{})
}
