package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Defaults for what the URL leaves unset. go-redis defaults (5s dial, 3s
// reads, 3 retries, 5 dial attempts) turn a dead Redis into requests that
// hang for many seconds; these fail one in about a second, while one retry
// still covers a pooled connection the server closed.
const (
	defaultDialTimeout   = time.Second
	defaultIOTimeout     = 500 * time.Millisecond
	defaultPoolTimeout   = time.Second
	defaultMaxRetries    = 1
	defaultDialerRetries = 1
)

// ParseURL turns a URL into client options. The accepted forms are:
//
//	redis://[user:pass@]host:port[/db]
//	rediss://[user:pass@]host:port[/db]                  (TLS)
//	redis+sentinel://[user:pass@]host:port[,host:port...]/<master-name>[/db]
//	redis+cluster://[user:pass@]host:port[,host:port...]
//
// Sentinel and cluster forms also exist as rediss+sentinel and
// rediss+cluster; they need a port on every host, and each TLS connection is
// verified against the host it dials. The sentinel form lists sentinels and
// user:pass authenticates to the primary; sentinels that require a password
// take ?sentinel_username=…&sentinel_password=…. The cluster form lists seed
// nodes and has no database.
//
// Query parameters are go-redis's own (dial_timeout, read_timeout,
// max_retries, pool_size, …, see its ParseURL). Left unset, timeouts are
// short (1s dial, 500ms read and write) and retries few.
func ParseURL(rawURL string) (*goredis.UniversalOptions, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("parse redis URL: missing scheme")
	}
	var (
		opts *goredis.UniversalOptions
		err  error
	)
	switch scheme {
	case "redis", "rediss":
		opts, err = parseSingle(rawURL)
	case "redis+sentinel", "rediss+sentinel":
		opts, err = parseSentinel(strings.TrimSuffix(scheme, "+sentinel"), rest)
	case "redis+cluster", "rediss+cluster":
		opts, err = parseCluster(strings.TrimSuffix(scheme, "+cluster"), rest)
	default:
		err = fmt.Errorf("unsupported scheme %q", scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("parse redis URL: %w", redact(err))
	}
	applyDefaults(opts)
	return opts, nil
}

func parseSingle(rawURL string) (*goredis.UniversalOptions, error) {
	o, err := goredis.ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	opts, err := toUniversal(o, map[string]string{"Addr": "", "Network": ""})
	if err != nil {
		return nil, err
	}
	opts.Addrs = []string{o.Addr}
	return opts, nil
}

func parseSentinel(scheme, rest string) (*goredis.UniversalOptions, error) {
	u, extra, err := firstHostURL(scheme, rest)
	if err != nil {
		return nil, err
	}
	path := strings.Split(strings.Trim(u.Path, "/"), "/")
	if path[0] == "" || len(path) > 2 {
		return nil, errors.New("sentinel URL path must be /<master-name>[/db]")
	}
	// go-redis reads the userinfo as sentinel credentials and takes the
	// primary's from the query; ours reads like the other forms, so swap.
	q := u.Query()
	q.Set("master_name", path[0])
	u.Path = "/"
	if len(path) == 2 {
		u.Path += path[1]
	}
	if u.User != nil {
		q.Set("username", u.User.Username())
		if pass, ok := u.User.Password(); ok {
			q.Set("password", pass)
		}
		u.User = nil
	}
	if user, pass := q.Get("sentinel_username"), q.Get("sentinel_password"); user != "" || pass != "" {
		u.User = url.UserPassword(user, pass)
	}
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, h := range extra {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	o, err := goredis.ParseFailoverURL(u.String())
	if err != nil {
		return nil, err
	}
	unpinServerName(o.TLSConfig)
	return toUniversal(o, map[string]string{"SentinelAddrs": "Addrs", "ReplicaOnly": "ReadOnly"})
}

func parseCluster(scheme, rest string) (*goredis.UniversalOptions, error) {
	u, extra, err := firstHostURL(scheme, rest)
	if err != nil {
		return nil, err
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("cluster URL takes no database")
	}
	q := u.Query()
	for _, h := range extra {
		q.Add("addr", h)
	}
	u.RawQuery = q.Encode()
	o, err := goredis.ParseClusterURL(u.String())
	if err != nil {
		return nil, err
	}
	unpinServerName(o.TLSConfig)
	opts, err := toUniversal(o, nil)
	if err != nil {
		return nil, err
	}
	// Without it a single seed would make NewUniversalClient build a
	// plain client.
	opts.IsClusterMode = true
	return opts, nil
}

// firstHostURL splits "[userinfo@]h1:p1,h2:p2/path?query" into a URL on the
// first host, which go-redis parses, and the other hosts, which it takes as
// addr parameters. net/url cannot parse the list itself: it rejects a
// bracketed IPv6 host after the first.
func firstHostURL(scheme, rest string) (*url.URL, []string, error) {
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	authority, tail := rest[:end], rest[end:]
	userinfo := ""
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, authority = authority[:at+1], authority[at+1:]
	}
	hosts := strings.Split(authority, ",")
	for _, h := range hosts {
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" || port == "" {
			return nil, nil, fmt.Errorf("host %q: want host:port", h)
		}
	}
	u, err := url.Parse(scheme + "://" + userinfo + hosts[0] + tail)
	if err != nil {
		return nil, nil, err
	}
	return u, hosts[1:], nil
}

// unpinServerName lets each TLS dial verify the host it dials: go-redis
// pins the first host's name, which fails for every other node.
func unpinServerName(c *tls.Config) {
	if c != nil {
		c.ServerName = ""
	}
}

// toUniversal copies options go-redis parsed into UniversalOptions, which
// it has no conversion for. Copying by field name keeps every query
// parameter go-redis understands working without listing them here; a set
// field that UniversalOptions cannot carry is an error, not a silent drop.
// renames maps a source field to its UniversalOptions name, or to "" for
// fields the caller handles.
func toUniversal(src any, renames map[string]string) (*goredis.UniversalOptions, error) {
	dst := &goredis.UniversalOptions{}
	sv := reflect.ValueOf(src).Elem()
	dv := reflect.ValueOf(dst).Elem()
	for i := range sv.NumField() {
		field, val := sv.Type().Field(i), sv.Field(i)
		if !field.IsExported() || val.IsZero() {
			continue
		}
		name := field.Name
		if to, ok := renames[name]; ok {
			if to == "" {
				continue
			}
			name = to
		}
		d := dv.FieldByName(name)
		if !d.IsValid() || d.Type() != val.Type() {
			return nil, fmt.Errorf("option %s is not supported here", field.Name)
		}
		d.Set(val)
	}
	return dst, nil
}

func applyDefaults(o *goredis.UniversalOptions) {
	if o.DialTimeout == 0 {
		o.DialTimeout = defaultDialTimeout
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = defaultIOTimeout
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = defaultIOTimeout
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = defaultPoolTimeout
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = defaultMaxRetries
	}
	if o.DialerRetries == 0 {
		o.DialerRetries = defaultDialerRetries
	}
	// Callers' deadlines then bound every command too.
	o.ContextTimeoutEnabled = true
}

// redact drops the URL net/url quotes in its errors: it holds the password.
func redact(err error) error {
	var urlErr *url.Error
	if errors.As(err, &urlErr) {
		return fmt.Errorf("%s: %w", urlErr.Op, urlErr.Err)
	}
	return err
}
