package gateway

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync/atomic"

	"github.com/partnergate/partnergate/store"
)

// Partner is what the request path needs to know about a partner.
type Partner struct {
	ID   string
	Name string
	// Host is the partner's canonical hostname, <id>.<base_domain>.
	Host string
	// PrimaryHost is where its users sign in: its first custom hostname,
	// else Host. SSO URLs registered at IdPs name it.
	PrimaryHost string
	// Suspended partners' sites serve nothing but a notice. It is kept
	// here so the check costs every request no store call.
	Suspended bool
}

// Directory maps hostnames to partners from an in-memory snapshot, so
// resolving a request costs no store round trip. Reload swaps in a new
// snapshot atomically and keeps the old one if loading fails.
type Directory struct {
	baseDomain string
	list       func(context.Context) ([]store.Partner, error)
	snapshot   atomic.Pointer[map[string]*Partner]
}

// NewDirectory returns an empty directory; call Reload to fill it.
func NewDirectory(baseDomain string, list func(context.Context) ([]store.Partner, error)) *Directory {
	d := &Directory{baseDomain: normalizeHost(baseDomain), list: list}
	empty := map[string]*Partner{}
	d.snapshot.Store(&empty)
	return d
}

// Reload rebuilds the snapshot from the store.
func (d *Directory) Reload(ctx context.Context) error {
	partners, err := d.list(ctx)
	if err != nil {
		return fmt.Errorf("reload partner directory: %w", err)
	}
	d.Set(partners)
	return nil
}

// Set swaps in a snapshot of partners.
func (d *Directory) Set(partners []store.Partner) {
	byHost := make(map[string]*Partner, 2*len(partners))
	implied := make([]*Partner, len(partners))
	for i, sp := range partners {
		p := &Partner{ID: sp.ID, Name: sp.Name, Host: sp.ID + "." + d.baseDomain, Suspended: sp.Suspended}
		p.PrimaryHost = p.Host
		if len(sp.Hostnames) > 0 {
			p.PrimaryHost = normalizeHost(sp.Hostnames[0])
		}
		implied[i] = p
		for _, h := range sp.Hostnames {
			byHost[normalizeHost(h)] = p
		}
	}
	// A partner's own <id>.<base_domain> always wins: a custom hostname
	// written before base_domain changed must not shadow it.
	for _, p := range implied {
		byHost[p.Host] = p
	}
	d.snapshot.Store(&byHost)
}

// Resolve finds the partner serving host (a Host header value).
func (d *Directory) Resolve(host string) (*Partner, bool) {
	p, ok := (*d.snapshot.Load())[normalizeHost(host)]
	return p, ok
}

// normalizeHost lowercases host and drops a port and a trailing dot, so
// "Acme.Apps.Localhost.:8080" and "acme.apps.localhost" name one partner.
func normalizeHost(host string) string {
	if strings.HasPrefix(host, "[") {
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
	} else if i := strings.LastIndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	host = strings.TrimSuffix(host, ".")
	for i := 0; i < len(host); i++ {
		if c := host[i]; 'A' <= c && c <= 'Z' {
			return strings.ToLower(host)
		}
	}
	return host
}
