package netguard

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		reason string // empty: allowed
	}{
		{"127.0.0.1", "loopback address"},
		{"127.1.2.3", "loopback address"},
		{"::1", "loopback address"},
		{"::ffff:127.0.0.1", "loopback address"},
		{"0.0.0.0", "unspecified address"},
		{"0.1.2.3", "unspecified address"},
		{"::", "unspecified address"},
		{"10.0.0.1", "private address"},
		{"172.16.0.1", "private address"},
		{"172.31.255.255", "private address"},
		{"192.168.1.1", "private address"},
		{"::ffff:10.1.1.1", "private address"},
		{"fc00::1", "private address"},
		{"fd12:3456::1", "private address"},
		{"169.254.169.254", "link-local address"},
		{"::ffff:169.254.169.254", "link-local address"},
		{"fe80::1", "link-local address"},
		{"fe80::1%eth0", "link-local address"},
		{"224.0.0.1", "multicast address"},
		{"ff02::1", "multicast address"},
		{"100.64.0.1", "shared (CGNAT) address"},
		{"100.127.255.254", "shared (CGNAT) address"},
		{"8.8.8.8", ""},
		{"::ffff:8.8.8.8", ""},
		{"172.32.0.1", ""},
		{"100.128.0.1", ""},
		{"2001:4860::1", ""},
		{"2606:4700:4700::1111", ""},
	} {
		err := check(netip.MustParseAddr(tc.addr))
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.addr, err)
			}
			continue
		}
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Reason != tc.reason {
			t.Errorf("%s: got %v, want refused as %s", tc.addr, err, tc.reason)
		}
	}
	if err := check(netip.Addr{}); err == nil {
		t.Error("the zero address is allowed")
	}
}

func TestRefusedErrorMessage(t *testing.T) {
	err := check(netip.MustParseAddr("127.0.0.1"))
	if want := "netguard: refusing to connect to 127.0.0.1: loopback address"; err == nil || err.Error() != want {
		t.Errorf("got %v, want %q", err, want)
	}
}

func TestControlFailsClosed(t *testing.T) {
	if err := control("tcp", "not-an-address", nil); err == nil {
		t.Error("an unparsable address is allowed")
	}
	if err := control("tcp4", "8.8.8.8:443", nil); err != nil {
		t.Errorf("a public address is refused: %v", err)
	}
}

// TestClientRefusesLocalServers dials a real server on the loopback
// address, directly, by a name that resolves to it, and through a
// redirect from a URL the guard would have refused anyway: the server
// must never see a request.
func TestClientRefusesLocalServers(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer srv.Close()
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	// A proxy from the environment would hide the target from the dialer.
	t.Setenv("HTTP_PROXY", srv.URL)
	t.Setenv("http_proxy", srv.URL)
	c := Client(5 * time.Second)
	for _, u := range []string{
		srv.URL + "/stop",
		"http://localhost:" + port + "/stop",
		"http://[::ffff:127.0.0.1]:" + port + "/stop",
		"http://0.0.0.0:" + port + "/stop",
	} {
		resp, err := c.Post(u, "application/json", nil)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: answered %s", u, resp.Status)
			continue
		}
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("%s: got %v, want a refusal", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the local server received %d requests", n)
	}
}

// TestRedirectHopIsChecked follows a redirect from an allowed dial to a
// loopback one: the check on the hop's dial stops it. The first server is
// reached through a transport without the guard standing in for a public
// IdP, since every test server listens on loopback.
func TestRedirectHopIsChecked(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	defer internal.Close()
	public := httptest.NewServer(http.RedirectHandler(internal.URL+"/latest/meta-data", http.StatusFound))
	defer public.Close()
	guarded := Transport()
	c := &http.Client{Transport: hopTransport{first: public.URL, open: http.DefaultTransport, guarded: guarded}}
	resp, err := c.Get(public.URL)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("redirect to loopback answered %s", resp.Status)
	}
	var refused *RefusedError
	if !errors.As(err, &refused) {
		t.Errorf("got %v, want a refusal", err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the internal server received %d requests", n)
	}
}

// hopTransport sends requests to first unguarded and every other through
// the guard.
type hopTransport struct {
	first         string
	open, guarded http.RoundTripper
}

func (h hopTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasPrefix(r.URL.String(), h.first) {
		return h.open.RoundTrip(r)
	}
	return h.guarded.RoundTrip(r)
}
