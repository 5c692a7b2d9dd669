package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"redis:redis://127.0.0.1:6379/0", "redis:redis://127.0.0.1:6379/0"},
		{"redis:redis://:hunter2@10.0.0.1:6379/0", "redis:redis://REDACTED@10.0.0.1:6379/0"},
		{"redis:redis+sentinel://u:p@a:1,b:2/main/0?sentinel_password=s3cret", "redis:redis+sentinel://REDACTED@a:1,b:2/main/0"},
		{"redis:rediss://a:1/0?password=p%40ss@x", "redis:rediss://a:1/0"},
		{"file:/var/lib/partnergate", "file:/var/lib/partnergate"},
	} {
		got := redactURL(tc.in)
		if got != tc.want {
			t.Errorf("redactURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, secret := range []string{"hunter2", "s3cret", "p%40ss"} {
			if strings.Contains(got, secret) {
				t.Errorf("redactURL(%q) leaks %q", tc.in, secret)
			}
		}
	}
}

// TestValidateLinkPort: a link_port that is no port fails the config
// load, so no admin ever copies a broken URL into an IdP.
func TestValidateLinkPort(t *testing.T) {
	t.Parallel()
	for port, ok := range map[string]bool{"": true, "8443": true, "65535": true, "0": false, "65536": false, "https": false, "-1": false} {
		a := App{BaseDomain: "apps.example", LinkPort: port}
		err := a.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "link_port"); got != ok {
			t.Errorf("link_port %q: Validate() = %v", port, err)
		}
	}
}

// TestIdPCallsRefuseLocalAddresses: unless allow_private_idps is set, the
// client that reaches partners' IdPs cannot reach this machine, where
// Caddy's admin API listens.
func TestIdPCallsRefuseLocalAddresses(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	local := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(local.Close)
	if _, err := (&App{}).idpClient().Post(local.URL+"/stop", "text/plain", nil); err == nil || hits.Load() != 0 {
		t.Fatalf("the default IdP client reached %s: err %v, %d hits", local.URL, err, hits.Load())
	}
	if (&App{AllowPrivateIdPs: true}).idpClient() != nil {
		t.Error("allow_private_idps still guards the IdP client")
	}
}
