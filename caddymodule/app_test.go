package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/partnergate/partnergate/policy"
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

// TestValidateAdminURL: admin_url must be a bare http(s) origin, since
// partner admins paste the SCIM URL built on it into their IdP.
func TestValidateAdminURL(t *testing.T) {
	t.Parallel()
	for u, ok := range map[string]bool{"": true, "https://admin.example.com": true, "http://admin.localhost:8080/": true, "admin.example.com": false, "ftp://admin.example.com": false, "https://admin.example.com/x": false, "https://u:p@admin.example.com": false, "https://admin.example.com?a=1": false} {
		a := App{BaseDomain: "apps.example", AdminURL: u}
		err := a.Validate()
		if got := err == nil || !strings.Contains(err.Error(), "admin_url"); got != ok {
			t.Errorf("admin_url %q: Validate() = %v", u, err)
		}
	}
	if got := (&App{AdminURL: "https://admin.example.com/"}).scimBaseURL("acme"); got != "https://admin.example.com/scim/v2/acme/" {
		t.Errorf("scimBaseURL = %q", got)
	}
}

// TestAdminSite: operators and setup links are served on the admin site
// only, never on an unclaimed name under the partners' domain.
func TestAdminSite(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		app  App
		host string
		want bool
	}{
		{App{BaseDomain: "apps.example"}, "admin.example", true},
		{App{BaseDomain: "apps.example"}, "admin.example:8443", true},
		{App{BaseDomain: "apps.example"}, "nobody.apps.example", false},
		{App{BaseDomain: "apps.example"}, "Nobody.APPS.example:8080", false},
		{App{BaseDomain: "apps.example", AdminURL: "https://admin.example"}, "admin.example", true},
		{App{BaseDomain: "apps.example", AdminURL: "https://admin.example"}, "other.example", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = tc.host
		if got := tc.app.isAdminSite(r); got != tc.want {
			t.Errorf("admin_url %q, host %q: isAdminSite = %v", tc.app.AdminURL, tc.host, got)
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

// TestSessionOptionsFeedTheBaseline: session_lifetime and
// session_idle_timeout are the baseline's session lengths unless the
// governance block sets them.
func TestSessionOptionsFeedTheBaseline(t *testing.T) {
	t.Parallel()
	eight := policy.Duration(8 * time.Hour)
	a := App{SessionLifetime: caddy.Duration(4 * time.Hour), SessionIdleTimeout: caddy.Duration(20 * time.Minute)}
	if b := policy.Fill(a.baseline(), policy.Default()); b.MaxLifetime() != 4*time.Hour || b.IdleTimeout() != 20*time.Minute {
		t.Errorf("from the session options: lifetime %v, idle %v", b.MaxLifetime(), b.IdleTimeout())
	}
	a.Governance = policy.Policy{Session: &policy.Session{MaxLifetime: &eight}}
	if b := policy.Fill(a.baseline(), policy.Default()); b.MaxLifetime() != 8*time.Hour || b.IdleTimeout() != 20*time.Minute {
		t.Errorf("governance beside the session options: lifetime %v, idle %v", b.MaxLifetime(), b.IdleTimeout())
	}
	if a.Governance.Session.IdleTimeout != nil {
		t.Error("baseline() changed the configured governance block")
	}
}

// TestSecondFactorSenders: the sms and push blocks build their senders at
// provision, secrets read through placeholders, and a bad block fails the
// config load rather than the first sign-in.
func TestSecondFactorSenders(t *testing.T) {
	secret := strings.Repeat("k", 32)
	t.Setenv("PG_TEST_PUSH_SECRET", secret)
	t.Setenv("PG_TEST_TWILIO_TOKEN", "token")
	repl := caddy.NewReplacer()

	push, key, err := (&PushConfig{Webhook: &WebhookConfig{URL: "https://push.example.com/x", Secret: "{env.PG_TEST_PUSH_SECRET}"}}).sender(repl)
	if err != nil || push == nil || string(key) != secret {
		t.Fatalf("push webhook: %v, %v, key from the placeholder %v", push, err, string(key) == secret)
	}
	if _, err := (&SMSConfig{Twilio: &TwilioConfig{AccountSID: "AC1", AuthToken: "{env.PG_TEST_TWILIO_TOKEN}", From: "+15550100000"}}).sender(repl); err != nil {
		t.Errorf("twilio: %v", err)
	}
	for name, c := range map[string]*SMSConfig{
		"neither":        {},
		"both":           {Twilio: &TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+15550100000"}, Webhook: &WebhookConfig{URL: "https://x.example", Secret: secret}},
		"short secret":   {Webhook: &WebhookConfig{URL: "https://x.example", Secret: "short"}},
		"plain http":     {Webhook: &WebhookConfig{URL: "http://x.example", Secret: secret}},
		"unset token":    {Twilio: &TwilioConfig{AccountSID: "AC1", AuthToken: "{env.PG_TEST_UNSET_TOKEN}", From: "+15550100000"}},
		"from and sid":   {Twilio: &TwilioConfig{AccountSID: "AC1", AuthToken: "t", From: "+15550100000", MessagingServiceSID: "MG1"}},
		"unset password": {Webhook: &WebhookConfig{URL: "https://x.example", Secret: "{env.PG_TEST_UNSET_SECRET}"}},
	} {
		if _, err := c.sender(repl); err == nil {
			t.Errorf("%s: built a sender", name)
		} else if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error quotes the secret: %v", name, err)
		}
	}
	if _, _, err := (&PushConfig{}).sender(repl); err == nil {
		t.Error("push without a webhook built a sender")
	}
}
