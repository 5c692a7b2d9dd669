// Package netguard makes HTTP clients that refuse to connect to the
// gateway's own machine and network. Partner admins choose the URLs the
// gateway fetches for SSO (an OIDC issuer, SAML metadata, and whatever
// endpoints those documents name), so without it a partner admin could
// make the gateway call Caddy's admin API, a cloud metadata service or
// any other internal host.
package netguard

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// Client returns an HTTP client with the given timeout whose every
// connection, including each redirect hop, is checked by the dialer.
func Client(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: Transport()}
}

// Transport returns a transport with the defaults of http.DefaultTransport
// except two: the dialer refuses non-public addresses, and no proxy is
// taken from the environment, because through a proxy the dialer would
// only ever see the proxy's address and never the real target.
func Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	d := &net.Dialer{
		Timeout:   30 * time.Second,
		KeepAlive: 30 * time.Second,
		// Control runs after name resolution, on the very address about
		// to be dialled, so a name that resolves to a public address for
		// a check and to a private one for the connection (DNS
		// rebinding) cannot get through.
		Control: control,
	}
	t.DialContext = d.DialContext
	return t
}

// RefusedError is the error a guarded dial fails with.
type RefusedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("netguard: refusing to connect to %s: %s", e.Addr, e.Reason)
}

func control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address that cannot be classified is not dialled.
		return fmt.Errorf("netguard: refusing to connect to %q: %w", address, err)
	}
	return check(ap.Addr())
}

// cgnat is the shared address space of RFC 6598, used inside carriers
// and by some clouds for internal services.
var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// thisNetwork is 0.0.0.0/8, which Linux dials as the local host.
var thisNetwork = netip.MustParsePrefix("0.0.0.0/8")

// check returns a *RefusedError if ip is not a public unicast address.
func check(ip netip.Addr) error {
	// ::ffff:127.0.0.1 reaches 127.0.0.1, so IPv4-mapped addresses are
	// judged as the IPv4 address they carry.
	a := ip.Unmap().WithZone("")
	var reason string
	switch {
	case !a.IsValid():
		reason = "invalid address"
	case a.IsUnspecified(), thisNetwork.Contains(a):
		reason = "unspecified address"
	case a.IsLoopback():
		reason = "loopback address"
	case a.IsPrivate():
		reason = "private address"
	case a.IsLinkLocalUnicast():
		reason = "link-local address"
	case a.IsMulticast():
		reason = "multicast address"
	case cgnat.Contains(a):
		reason = "shared (CGNAT) address"
	default:
		return nil
	}
	return &RefusedError{Addr: ip, Reason: reason}
}
