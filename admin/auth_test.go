package admin

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/partnergate/partnergate/audit"
	"go.uber.org/zap"
)

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.createPartner("acme")
	tests := map[string][]string{
		"none":              {},
		"empty":             {""},
		"wrong key":         {"Bearer wrong-operator-key-000000"},
		"key prefix":        {"Bearer " + testKey[:len(testKey)-1]},
		"key with suffix":   {"Bearer " + testKey + "x"},
		"key, other case":   {"Bearer " + strings.ToUpper(testKey)},
		"empty token":       {"Bearer "},
		"no space":          {"Bearer" + testKey},
		"two spaces":        {"Bearer  " + testKey},
		"basic scheme":      {"Basic " + testKey},
		"bare key":          {testKey},
		"two headers":       {"Bearer " + testKey, "Bearer " + testKey},
		"good after bad":    {"Bearer nope", "Bearer " + testKey},
		"trailing space":    {"Bearer " + testKey + " "},
		"comma-joined keys": {"Bearer " + testKey + ", Bearer " + testKey2},
	}
	paths := []request{
		{method: "GET", path: "/api/v1/partners"},
		{method: "GET", path: "/api/v1/partners/acme"},
		{method: "DELETE", path: "/api/v1/partners/acme"},
		{method: "POST", path: "/api/v1/partners", body: `{"id": "x", "name": "X"}`},
		{method: "GET", path: "/api/v1/no-such-route"},
		{method: "GET", path: "/api/v1//partners"},
		{method: "PUT", path: "/api/v1/partners"},
	}
	i := 0
	for name, auth := range tests {
		i++
		// An address per case keeps the failures under the per-address
		// limit, which has a test of its own.
		addr := fmt.Sprintf("198.51.100.%d:4000", i)
		t.Run(name, func(t *testing.T) {
			for _, req := range paths {
				req.auth = auth
				req.remoteAddr = addr
				e.unchanged(func() {
					rec := e.do(req)
					assertError(t, rec, http.StatusUnauthorized, "unauthorized", "")
					if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
						t.Errorf("WWW-Authenticate = %q", got)
					}
				})
			}
		})
	}
	e.noLeak(testKey, testKey2)
}

func TestAuthorizedKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, auth := range []string{"Bearer " + testKey, "Bearer " + testKey2, "bearer " + testKey, "BEARER " + testKey2} {
		if rec := e.do(request{method: "GET", path: "/api/v1/partners", auth: []string{auth}}); rec.Code != http.StatusOK {
			t.Errorf("%q: status %d", auth, rec.Code)
		}
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	good := func() Config {
		return Config{
			Store:        &recordingStore{},
			OperatorKeys: keysOf(testKey),
			BaseDomain:   testBase,
			Revoker:      &recordingRevoker{},
			Audit:        &audit.Log{},
			SecretKey:    testSecret,
			SecretsKey:   testSecretsKey,
		}
	}
	tests := map[string]struct {
		change func(*Config)
		want   string
	}{
		"no store":         {func(c *Config) { c.Store = nil }, "store is required"},
		"no revoker":       {func(c *Config) { c.Revoker = nil }, "revoker is required"},
		"no audit":         {func(c *Config) { c.Audit = nil }, "audit log is required"},
		"short secret":     {func(c *Config) { c.SecretKey = testSecret[:31] }, "secret key of 32 bytes"},
		"token-like key":   {func(c *Config) { c.OperatorKeys = keysOf("pgat.acme.t_x.0123456789abcdef") }, "marks partner admin tokens"},
		"SCIM-token key":   {func(c *Config) { c.OperatorKeys = keysOf("pgsc.acme.t_x.0123456789abcdef") }, "marks partner SCIM tokens"},
		"no keys":          {func(c *Config) { c.OperatorKeys = nil }, "at least one operator key"},
		"short key":        {func(c *Config) { c.OperatorKeys = keysOf(testKey, "short-key") }, "operator key #2 is shorter"},
		"key with newline": {func(c *Config) { c.OperatorKeys = keysOf(testKey + "\n") }, "operator key #1 holds characters"},
		"key with space":   {func(c *Config) { c.OperatorKeys = keysOf("two words are not a token") }, "operator key #1 holds characters"},
		"no base domain":   {func(c *Config) { c.BaseDomain = "" }, "base domain"},
		"base with port":   {func(c *Config) { c.BaseDomain = "apps.example.com:8443" }, "base domain"},
		"base wildcard":    {func(c *Config) { c.BaseDomain = "*.example.com" }, "base domain"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := good()
			tt.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want error containing %q", err, tt.want)
			}
			for _, k := range cfg.OperatorKeys {
				if strings.Contains(err.Error(), strings.TrimSpace(k.Key)) {
					t.Errorf("error %q reveals a key", err)
				}
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		cfg := good()
		cfg.BaseDomain = "Apps.Example.COM."
		h, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if h.base != "apps.example.com" || h.log == nil || h.now == nil {
			t.Errorf("handler = base %q, log %v, now set %v", h.base, h.log, h.now != nil)
		}
		cfg.BaseDomain, cfg.Logger = "localhost", zap.NewNop()
		if _, err := New(cfg); err != nil {
			t.Errorf("single-label base domain: %v", err)
		}
	})
}

func keysOf(keys ...string) []OperatorKey {
	out := make([]OperatorKey, len(keys))
	for i, k := range keys {
		out[i] = OperatorKey{Key: k}
	}
	return out
}
