package session

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/partnergate/partnergate/store"
)

// ErrNoSession means the request carries no valid session: the cookie is
// missing, malformed, foreign, expired, idle too long or revoked.
var ErrNoSession = errors.New("no valid session")

// Store is what the manager needs from the storage backend.
type Store interface {
	store.Sessions
	GetUser(ctx context.Context, partnerID, id string) (store.User, error)
	AccessStore
	Publish(ctx context.Context, e store.Event) error
}

// Config holds the manager's settings; zero durations take the defaults.
type Config struct {
	Store  Store
	MACKey []byte
	// Lifetime is the absolute session length (default 12h).
	Lifetime time.Duration
	// IdleTimeout ends a session nobody used for this long (default 1h).
	IdleTimeout time.Duration
	// TouchEvery bounds how often activity is written to the store
	// (default 1m, or a quarter of IdleTimeout if less); idle expiry is
	// accurate to this much across nodes.
	TouchEvery time.Duration
	// Lengths, when set, gives each partner's session lengths (its
	// effective policy), read when a session is issued and on every
	// lookup, so a shortened length ends longer sessions at once; it
	// should answer from memory. Nil applies Lifetime and IdleTimeout to
	// every partner.
	Lengths func(ctx context.Context, partnerID string) (Lengths, error)
	// StoreTimeout bounds each store call made while serving a request
	// (default 1s), so a slow backend cannot stack retries into a hang.
	StoreTimeout time.Duration
	// MaxCached caps the local cache (default 100000 sessions).
	MaxCached int
	Now       func() time.Time
	Logger    *zap.Logger
}

// Lengths are one partner's session lengths.
type Lengths struct {
	// MaxLifetime ends a session this long after it began.
	MaxLifetime time.Duration
	// IdleTimeout ends a session nobody used for this long.
	IdleTimeout time.Duration
}

// Identity is who a session belongs to. Values handed out are shared and
// must not be modified.
type Identity struct {
	SessionID string
	PartnerID string
	UserID    string
	Email     string
	Name      string
	Groups    []string
	Roles     []string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

type entry struct {
	identity  *Identity
	lastSeen  atomic.Int64 // unix nanoseconds
	persisted atomic.Int64 // last lastSeen written to the store
}

// activityGrain is how far lastSeen must move before it is rewritten, so
// concurrent requests of one session do not all write one cache line.
const activityGrain = int64(time.Second)

// Manager is safe for concurrent use.
type Manager struct {
	cfg Config

	// healthy is false while revocations may be missed; nothing cached is
	// trusted then.
	healthy atomic.Bool
	// epoch advances on every eviction, so a lookup racing a revocation
	// never caches what it read before the revocation landed.
	epoch atomic.Uint64

	mu    sync.RWMutex
	cache cache
}

// NewManager checks cfg and fills in defaults. The manager starts unhealthy:
// it trusts nothing until SetHealthy(true).
func NewManager(cfg Config) (*Manager, error) {
	if cfg.Store == nil {
		return nil, errors.New("session manager: no store")
	}
	if len(cfg.MACKey) < 32 {
		return nil, errors.New("session manager: MAC key shorter than 32 bytes")
	}
	if cfg.Lifetime <= 0 {
		cfg.Lifetime = 12 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = time.Hour
	}
	if cfg.TouchEvery <= 0 {
		cfg.TouchEvery = min(time.Minute, cfg.IdleTimeout/4)
	}
	if cfg.StoreTimeout <= 0 {
		cfg.StoreTimeout = time.Second
	}
	if cfg.MaxCached <= 0 {
		cfg.MaxCached = 100000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	return &Manager{cfg: cfg, cache: newCache()}, nil
}

// Issue starts a session for user and returns the cookie value to set.
func (m *Manager) Issue(ctx context.Context, user store.User, ip, userAgent string) (cookie string, id *Identity, err error) {
	if !m.healthy.Load() {
		return "", nil, fmt.Errorf("issue session: %w", store.ErrUnavailable)
	}
	lengths, err := m.lengths(ctx, user.PartnerID)
	if err != nil {
		return "", nil, fmt.Errorf("issue session for user %q: %w", user.ID, err)
	}
	cookie, sid := newToken(m.cfg.MACKey, user.PartnerID)
	now := m.cfg.Now().UTC()
	s := store.Session{
		ID:         sid,
		PartnerID:  user.PartnerID,
		UserID:     user.ID,
		CreatedAt:  now,
		LastSeenAt: now,
		ExpiresAt:  now.Add(lengths.MaxLifetime),
		IP:         ip,
		UserAgent:  truncate(userAgent, 512),
	}
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	epoch := m.epoch.Load()
	if err := m.cfg.Store.CreateSession(ctx, s); err != nil {
		return "", nil, fmt.Errorf("issue session for user %q: %w", user.ID, err)
	}
	// A deactivation or a new password committed while the caller checked
	// the old one found no session to revoke; read the user again now that
	// the session exists, so any later change is followed by a revocation
	// that finds it.
	current, err := m.cfg.Store.GetUser(ctx, user.PartnerID, user.ID)
	if err != nil || !current.Active || current.PasswordHash != user.PasswordHash {
		if derr := m.cfg.Store.DeleteSession(ctx, s.PartnerID, s.ID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			m.cfg.Logger.Error("withdraw session of a changed user", zap.String("partner", s.PartnerID), zap.Error(derr))
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", nil, fmt.Errorf("issue session for user %q: %w", user.ID, errors.Join(store.ErrUnavailable, err))
		}
		return "", nil, ErrNoSession
	}
	id, err = m.identityOf(ctx, s, current)
	if err != nil {
		return "", nil, fmt.Errorf("issue session for user %q: %w", user.ID, err)
	}
	m.put(epoch, cacheKey{user.PartnerID, cookie}, s, id)
	return cookie, id, nil
}

// Lookup returns the identity behind cookie on partnerID's host. It answers
// ErrNoSession for anything but a live session of that partner, and an
// error matching store.ErrUnavailable when it cannot tell.
func (m *Manager) Lookup(ctx context.Context, partnerID, cookie string) (*Identity, error) {
	if !m.healthy.Load() {
		if _, ok := parseToken(m.cfg.MACKey, partnerID, cookie); !ok {
			return nil, ErrNoSession
		}
		return nil, store.ErrUnavailable
	}
	now := m.cfg.Now()
	lengths, err := m.lengths(ctx, partnerID)
	if err != nil {
		return nil, fmt.Errorf("session lengths: %w", errors.Join(store.ErrUnavailable, err))
	}
	key := cacheKey{partnerID, cookie}
	m.mu.RLock()
	e := m.cache.byCookie[key]
	m.mu.RUnlock()
	if e != nil && lengths.live(e.identity.IssuedAt, e.identity.ExpiresAt, time.Unix(0, e.lastSeen.Load()), now) {
		m.seen(e, now, lengths)
		return e.identity, nil
	}
	sid, ok := parseToken(m.cfg.MACKey, partnerID, cookie)
	if !ok {
		return nil, ErrNoSession
	}
	// A miss, an expiry or an idle entry: the store decides, since another
	// node may have seen activity this one did not.
	return m.load(ctx, key, sessionKey{partnerID, sid}, lengths, now)
}

// live reports whether a session issued at issued, ending at expires and
// last seen at seen is still alive at now under these lengths: the
// lifetime is measured from issue too, so a partner's shortened lifetime
// ends sessions issued under a longer one.
func (l Lengths) live(issued, expires, seen, now time.Time) bool {
	return now.Before(expires) && now.Sub(issued) < l.MaxLifetime && now.Sub(seen) < l.IdleTimeout
}

// lengths are the partner's session lengths.
func (m *Manager) lengths(ctx context.Context, partnerID string) (Lengths, error) {
	if m.cfg.Lengths == nil {
		return Lengths{MaxLifetime: m.cfg.Lifetime, IdleTimeout: m.cfg.IdleTimeout}, nil
	}
	l, err := m.cfg.Lengths(ctx, partnerID)
	if err != nil {
		return Lengths{}, err
	}
	if l.MaxLifetime <= 0 || l.IdleTimeout <= 0 {
		return Lengths{}, fmt.Errorf("partner %q: session lengths %v and %v must be positive", partnerID, l.MaxLifetime, l.IdleTimeout)
	}
	return l, nil
}

func (m *Manager) load(ctx context.Context, key cacheKey, sk sessionKey, lengths Lengths, now time.Time) (*Identity, error) {
	epoch := m.epoch.Load()
	ctx, cancel := context.WithTimeout(ctx, m.cfg.StoreTimeout)
	defer cancel()
	s, err := m.cfg.Store.GetSession(ctx, sk.partnerID, sk.sessionID)
	if errors.Is(err, store.ErrNotFound) {
		m.evict(sk)
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", errors.Join(store.ErrUnavailable, err))
	}
	if !lengths.live(s.CreatedAt, s.ExpiresAt, s.LastSeenAt, now) {
		m.evict(sk)
		if err := m.cfg.Store.DeleteSession(ctx, s.PartnerID, s.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			m.cfg.Logger.Warn("delete expired session", zap.String("partner", s.PartnerID), zap.Error(err))
		}
		return nil, ErrNoSession
	}
	u, err := m.cfg.Store.GetUser(ctx, s.PartnerID, s.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("load session user: %w", errors.Join(store.ErrUnavailable, err))
	}
	if !u.Active {
		return nil, ErrNoSession
	}
	id, err := m.identityOf(ctx, s, u)
	if err != nil {
		return nil, fmt.Errorf("load session user: %w", err)
	}
	e := m.put(epoch, key, s, id)
	m.seen(e, now, lengths)
	return id, nil
}

// SessionID returns the id behind a cookie that is valid for partnerID in
// form (it may still be revoked or expired).
func (m *Manager) SessionID(partnerID, cookie string) (string, bool) {
	return parseToken(m.cfg.MACKey, partnerID, cookie)
}

// Revoke ends one session on every node. The store goes first: a lookup
// that read the row before the delete then holds an older epoch than the
// eviction, and is not cached.
func (m *Manager) Revoke(ctx context.Context, partnerID, sessionID string) error {
	err := m.cfg.Store.DeleteSession(ctx, partnerID, sessionID)
	m.evict(sessionKey{partnerID, sessionID})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("revoke session: %w", err)
	}
	if err := m.cfg.Store.Publish(ctx, store.Event{Kind: store.SessionRevoked, PartnerID: partnerID, ID: sessionID}); err != nil {
		return fmt.Errorf("announce session revocation: %w", err)
	}
	return nil
}

// RevokeUser ends every session of a user on every node; the one
// UserChanged event evicts all of them everywhere.
func (m *Manager) RevokeUser(ctx context.Context, partnerID, userID string) error {
	_, err := m.cfg.Store.DeleteUserSessions(ctx, partnerID, userID)
	m.evictUser(partnerID, userID)
	if err != nil {
		return fmt.Errorf("revoke sessions of user %q: %w", userID, err)
	}
	if err := m.cfg.Store.Publish(ctx, store.Event{Kind: store.UserChanged, PartnerID: partnerID, ID: userID}); err != nil {
		return fmt.Errorf("announce revocation for user %q: %w", userID, err)
	}
	return nil
}

// HandleEvent applies an event announced by any node.
func (m *Manager) HandleEvent(e store.Event) {
	switch e.Kind {
	case store.SessionRevoked:
		m.evict(sessionKey{e.PartnerID, e.ID})
	case store.UserChanged:
		m.evictUser(e.PartnerID, e.ID)
	case store.AccessChanged, store.PartnersChanged:
		// Roles come from the partner's mappings and a deleted partner's
		// sessions are gone from the store: cached identities of the
		// partner are stale either way.
		m.evictPartner(e.PartnerID)
	}
}

// SetHealthy records whether revocations reach this node. Going unhealthy
// makes every lookup fail closed; coming back drops the whole cache, since
// revocations sent meanwhile were lost.
func (m *Manager) SetHealthy(up bool) {
	if up {
		m.flush()
	}
	m.healthy.Store(up)
}

// flush drops every cached session.
func (m *Manager) flush() {
	m.mu.Lock()
	m.epoch.Add(1)
	m.cache.clear()
	m.mu.Unlock()
}

func (m *Manager) put(epoch uint64, key cacheKey, s store.Session, id *Identity) *entry {
	e := &entry{identity: id}
	e.lastSeen.Store(s.LastSeenAt.UnixNano())
	e.persisted.Store(s.LastSeenAt.UnixNano())
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.epoch.Load() != epoch {
		return e // revoked meanwhile: serve this request, cache nothing
	}
	if len(m.cache.byCookie) >= m.cfg.MaxCached {
		m.cache.shrink()
	}
	m.cache.add(key, e)
	return e
}

// evicting runs remove under the lock and advances the epoch, so no lookup
// already reading the store caches what was just revoked.
func (m *Manager) evicting(remove func(*cache)) {
	m.mu.Lock()
	m.epoch.Add(1)
	remove(&m.cache)
	m.mu.Unlock()
}

func (m *Manager) evict(sk sessionKey) {
	m.evicting(func(c *cache) { c.removeSession(sk) })
}

func (m *Manager) evictUser(partnerID, userID string) {
	m.evicting(func(c *cache) { c.removeUser(userKey{partnerID, userID}) })
}

func (m *Manager) evictPartner(partnerID string) {
	m.evicting(func(c *cache) { c.removePartner(partnerID) })
}

// seen records activity and, at most every TouchEvery (or a quarter of
// the partner's idle timeout, if less), writes it to the store in the
// background so other nodes can judge idleness.
func (m *Manager) seen(e *entry, now time.Time, lengths Lengths) {
	ns := now.UnixNano()
	if ns-e.lastSeen.Load() >= min(activityGrain, int64(lengths.IdleTimeout/8)) {
		e.lastSeen.Store(ns)
	}
	last := e.persisted.Load()
	if ns-last < int64(min(m.cfg.TouchEvery, lengths.IdleTimeout/4)) || !e.persisted.CompareAndSwap(last, ns) {
		return
	}
	id := e.identity
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), m.cfg.StoreTimeout)
		defer cancel()
		err := m.cfg.Store.TouchSession(ctx, id.PartnerID, id.SessionID, time.Unix(0, ns).UTC())
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			m.cfg.Logger.Warn("record session activity", zap.String("partner", id.PartnerID), zap.Error(err))
		}
	}()
}

// identityOf builds the identity a session carries. It runs only when a
// session enters the cache, so the hot path never reads groups.
func (m *Manager) identityOf(ctx context.Context, s store.Session, u store.User) (*Identity, error) {
	groups, roles, err := Access(ctx, m.cfg.Store, u)
	if err != nil {
		return nil, errors.Join(store.ErrUnavailable, err)
	}
	return &Identity{
		SessionID: s.ID,
		PartnerID: s.PartnerID,
		UserID:    u.ID,
		Email:     u.Email,
		Name:      u.Name,
		Groups:    groups,
		Roles:     roles,
		IssuedAt:  s.CreatedAt,
		ExpiresAt: s.ExpiresAt,
	}, nil
}

// AccessStore is what Access reads.
type AccessStore interface {
	GetGroup(ctx context.Context, partnerID, id string) (store.Group, error)
	ListRoleMappings(ctx context.Context, partnerID string) ([]store.RoleMapping, error)
}

// Access returns the names of the user's groups and the union of the
// roles mapped to them, both sorted.
func Access(ctx context.Context, st AccessStore, u store.User) (groups, roles []string, err error) {
	if len(u.Groups) == 0 {
		return nil, nil, nil
	}
	for _, gid := range u.Groups {
		g, err := st.GetGroup(ctx, u.PartnerID, gid)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted since the user was read; its event follows
		}
		if err != nil {
			return nil, nil, fmt.Errorf("read group %q: %w", gid, err)
		}
		groups = append(groups, g.Name)
	}
	mappings, err := st.ListRoleMappings(ctx, u.PartnerID)
	if err != nil {
		return nil, nil, fmt.Errorf("read role mappings: %w", err)
	}
	for _, rm := range mappings {
		if slices.Contains(u.Groups, rm.GroupID) && !slices.Contains(roles, rm.Role) {
			roles = append(roles, rm.Role)
		}
	}
	slices.Sort(groups)
	slices.Sort(roles)
	return groups, roles, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}
