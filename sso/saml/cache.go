package saml

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/partnergate/partnergate/sso"
)

const (
	// maxMetadataSize bounds what a partner's metadata URL can make us
	// read; real metadata is a few kilobytes.
	maxMetadataSize = 1 << 20
	// retryAfterFailure keeps a failing metadata URL from being fetched
	// on every sign-in while a good copy is still served.
	retryAfterFailure = 30 * time.Second
	defaultRefresh    = time.Hour
	defaultTimeout    = 10 * time.Second
)

// MetadataCache fetches IdP metadata from URLs, lazily on first use so that
// a partner's outage never blocks loading the configuration, and keeps the
// last good copy of each.
type MetadataCache struct {
	client  *http.Client
	timeout time.Duration
	refresh time.Duration
	now     func() time.Time
	flights singleflight.Group

	mu      sync.Mutex
	entries map[string]*metadataEntry
}

type metadataEntry struct {
	idp      IdP
	fetched  time.Time // zero until a fetch succeeded
	failedAt time.Time // last failed refresh
}

// NewMetadataCache returns a cache that fetches with client, gives each
// fetch at most timeout and re-fetches after refresh. Zero values take
// defaults: http.DefaultClient, 10s, 1h and time.Now.
func NewMetadataCache(client *http.Client, timeout, refresh time.Duration, now func() time.Time) *MetadataCache {
	if client == nil {
		client = http.DefaultClient
	}
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	if refresh <= 0 {
		refresh = defaultRefresh
	}
	if now == nil {
		now = time.Now
	}
	return &MetadataCache{
		client:  client,
		timeout: timeout,
		refresh: refresh,
		now:     now,
		entries: map[string]*metadataEntry{},
	}
}

// Get returns the IdP described by the metadata at metadataURL. A stale copy
// is refreshed, but while the refresh fails the last good copy keeps
// serving, so a partner's brief outage does not stop sign-ins.
func (m *MetadataCache) Get(ctx context.Context, metadataURL string) (IdP, error) {
	now := m.now()
	m.mu.Lock()
	e := m.entries[metadataURL]
	if e != nil && !e.fetched.IsZero() {
		fresh := now.Sub(e.fetched) < m.refresh
		backingOff := !e.failedAt.IsZero() && now.Sub(e.failedAt) < retryAfterFailure
		if fresh || backingOff {
			idp := e.idp
			m.mu.Unlock()
			return idp, nil
		}
	}
	m.mu.Unlock()

	// The fetch is shared by every caller waiting on this URL, so one
	// caller's cancellation must not end it for the others.
	ch := m.flights.DoChan(metadataURL, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), m.timeout)
		defer cancel()
		return m.fetch(fctx, metadataURL)
	})
	var res singleflight.Result
	select {
	case res = <-ch:
	case <-ctx.Done():
		m.mu.Lock()
		defer m.mu.Unlock()
		if e := m.entries[metadataURL]; e != nil && !e.fetched.IsZero() {
			return e.idp, nil
		}
		return IdP{}, sso.Wrap(sso.Unreachable, "The identity provider's metadata could not be fetched in time.", ctx.Err(),
			sso.Fact{Label: "Metadata URL", Value: metadataURL})
	}

	m.mu.Lock()
	defer m.mu.Unlock()
	e = m.entries[metadataURL]
	if e == nil {
		e = &metadataEntry{}
		m.entries[metadataURL] = e
	}
	if res.Err == nil {
		e.idp, e.fetched, e.failedAt = res.Val.(IdP), m.now(), time.Time{}
		return e.idp, nil
	}
	if !e.fetched.IsZero() {
		e.failedAt = m.now()
		return e.idp, nil
	}
	if f, ok := errors.AsType[*sso.Failure](res.Err); ok && f.Code == sso.Unreachable {
		return IdP{}, f
	}
	return IdP{}, sso.Wrap(sso.Unreachable, "The identity provider's metadata could not be read.", res.Err,
		sso.Fact{Label: "Metadata URL", Value: metadataURL})
}

func (m *MetadataCache) fetch(ctx context.Context, metadataURL string) (IdP, error) {
	unreachable := func(msg string, err error, facts ...sso.Fact) error {
		return sso.Wrap(sso.Unreachable, msg, err, append([]sso.Fact{{Label: "Metadata URL", Value: metadataURL}}, facts...)...)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return IdP{}, unreachable("The metadata URL is not valid.", err)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return IdP{}, unreachable("The identity provider's metadata URL could not be reached.", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return IdP{}, unreachable("The identity provider's metadata URL did not answer with the metadata.",
			fmt.Errorf("metadata fetch: HTTP %d", resp.StatusCode),
			sso.Fact{Label: "HTTP status", Value: resp.Status})
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return IdP{}, unreachable("The identity provider's metadata could not be downloaded.", err)
	}
	if len(body) > maxMetadataSize {
		return IdP{}, unreachable("The identity provider's metadata is larger than 1 MiB.",
			errors.New("metadata fetch: body too large"))
	}
	idp, err := ParseMetadata(body)
	if err != nil {
		return IdP{}, fmt.Errorf("metadata from %s: %w", metadataURL, err)
	}
	return idp, nil
}
