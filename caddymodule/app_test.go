package caddymodule

import (
	"strings"
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
