package redis

import (
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url   string
		check func(t *testing.T, o *goredis.UniversalOptions)
	}{
		{"redis://127.0.0.1:6379", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Addrs", o.Addrs, []string{"127.0.0.1:6379"})
			want(t, "DB", o.DB, 0)
			want(t, "TLS", o.TLSConfig != nil, false)
			want(t, "MasterName", o.MasterName, "")
			want(t, "IsClusterMode", o.IsClusterMode, false)
			want(t, "DialTimeout", o.DialTimeout, time.Second)
			want(t, "ReadTimeout", o.ReadTimeout, 500*time.Millisecond)
			want(t, "WriteTimeout", o.WriteTimeout, 500*time.Millisecond)
			want(t, "MaxRetries", o.MaxRetries, 1)
			want(t, "DialerRetries", o.DialerRetries, 1)
			want(t, "ContextTimeoutEnabled", o.ContextTimeoutEnabled, true)
		}},
		{"redis://user:pa%40ss@redis.internal:6380/3", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Addrs", o.Addrs, []string{"redis.internal:6380"})
			want(t, "Username", o.Username, "user")
			want(t, "Password", o.Password, "pa@ss")
			want(t, "DB", o.DB, 3)
		}},
		{"rediss://:secret@redis.example:6380/1", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Password", o.Password, "secret")
			want(t, "TLS", o.TLSConfig != nil, true)
			want(t, "ServerName", o.TLSConfig.ServerName, "redis.example")
		}},
		{"redis://h:1/2?dial_timeout=3s&read_timeout=2s&max_retries=4&pool_size=7", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "DialTimeout", o.DialTimeout, 3*time.Second)
			want(t, "ReadTimeout", o.ReadTimeout, 2*time.Second)
			want(t, "WriteTimeout", o.WriteTimeout, 500*time.Millisecond)
			want(t, "MaxRetries", o.MaxRetries, 4)
			want(t, "PoolSize", o.PoolSize, 7)
		}},
		{"redis+sentinel://s1:26379,s2:26380/mymaster", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Addrs", o.Addrs, []string{"s1:26379", "s2:26380"})
			want(t, "MasterName", o.MasterName, "mymaster")
			want(t, "DB", o.DB, 0)
			want(t, "Password", o.Password, "")
			want(t, "ReadTimeout", o.ReadTimeout, 500*time.Millisecond)
		}},
		{"redis+sentinel://u:p@s1:26379,[::1]:26380/mymaster/2?sentinel_password=sp&read_timeout=1s", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Addrs", o.Addrs, []string{"s1:26379", "[::1]:26380"})
			want(t, "MasterName", o.MasterName, "mymaster")
			want(t, "DB", o.DB, 2)
			want(t, "Username", o.Username, "u")
			want(t, "Password", o.Password, "p")
			want(t, "SentinelUsername", o.SentinelUsername, "")
			want(t, "SentinelPassword", o.SentinelPassword, "sp")
			want(t, "ReadTimeout", o.ReadTimeout, time.Second)
		}},
		{"rediss+sentinel://s1:26379,s2:26379/m", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "TLS", o.TLSConfig != nil, true)
			want(t, "ServerName", o.TLSConfig.ServerName, "")
		}},
		{"redis+cluster://n1:7000,n2:7001,n3:7002", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Addrs", o.Addrs, []string{"n1:7000", "n2:7001", "n3:7002"})
			want(t, "IsClusterMode", o.IsClusterMode, true)
			want(t, "DialTimeout", o.DialTimeout, time.Second)
		}},
		{"redis+cluster://u:p@n1:7000/?read_only=true", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "Addrs", o.Addrs, []string{"n1:7000"})
			want(t, "Username", o.Username, "u")
			want(t, "Password", o.Password, "p")
			want(t, "ReadOnly", o.ReadOnly, true)
			client := goredis.NewUniversalClient(o)
			defer client.Close()
			if _, ok := client.(*goredis.ClusterClient); !ok {
				t.Errorf("one seed made a %T, want a cluster client", client)
			}
		}},
		{"rediss+cluster://n1:7000,n2:7000", func(t *testing.T, o *goredis.UniversalOptions) {
			want(t, "TLS", o.TLSConfig != nil, true)
			want(t, "ServerName", o.TLSConfig.ServerName, "")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.url, func(t *testing.T) {
			o, err := ParseURL(tc.url)
			if err != nil {
				t.Fatalf("ParseURL: %v", err)
			}
			tc.check(t, o)
		})
	}
}

func want[T any](t *testing.T, field string, got, want T) {
	t.Helper()
	if !equal(got, want) {
		t.Errorf("%s = %v, want %v", field, got, want)
	}
}

func equal[T any](a, b T) bool {
	if as, ok := any(a).([]string); ok {
		return slices.Equal(as, any(b).([]string))
	}
	return any(a) == any(b)
}

func TestParseURLErrors(t *testing.T) {
	for _, raw := range []string{
		"",
		"127.0.0.1:6379",
		"http://h:1",
		"unix:///run/redis.sock",
		"redis://h:1/x",
		"redis://h:1/1/2",
		"redis://h:1?bogus=1",
		"redis+sentinel://s1:26379",
		"redis+sentinel://s1:26379/",
		"redis+sentinel://s1:26379/m/1/2",
		"redis+sentinel://s1:26379/m/x",
		"redis+sentinel://s1:26379,s2/m",
		"redis+cluster://n1:7000/2",
		"redis+cluster://n1:7000?db=1",
		"redis+cluster://n1:7000,",
		"redis+cluster://n1",
	} {
		if _, err := ParseURL(raw); err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error", raw)
		}
	}
}

func TestParseURLHidesPassword(t *testing.T) {
	for _, raw := range []string{
		"redis://u:s3cr3t@h:port/0",
		"redis+sentinel://u:s3cr3t@h:1/m?bogus=1",
		"redis+cluster://u:s3cr3t@h:1/%zz",
	} {
		_, err := ParseURL(raw)
		if err == nil {
			t.Errorf("ParseURL(%q) succeeded, want an error", raw)
		} else if strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("ParseURL(%q) error reveals the password: %v", raw, err)
		}
	}
}
