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
