package caddymodule

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/partnergate/partnergate/admin"
	"github.com/partnergate/partnergate/audit"
	"github.com/partnergate/partnergate/gateway"
	"github.com/partnergate/partnergate/governance"
	"github.com/partnergate/partnergate/internal/netguard"
	"github.com/partnergate/partnergate/keys"
	"github.com/partnergate/partnergate/mail"
	"github.com/partnergate/partnergate/mfa/notify"
	"github.com/partnergate/partnergate/password"
	"github.com/partnergate/partnergate/policy"
	"github.com/partnergate/partnergate/secretbox"
	"github.com/partnergate/partnergate/session"
	"github.com/partnergate/partnergate/sso/oidc"
	"github.com/partnergate/partnergate/sso/saml"
	"github.com/partnergate/partnergate/store"
	"github.com/partnergate/partnergate/store/bolt"
	pgredis "github.com/partnergate/partnergate/store/redis"
	"github.com/partnergate/partnergate/templates"
)

func init() {
	caddy.RegisterModule(App{})
}

// App is the partnergate app: the store, the keys, the partner directory
// and the session manager shared by every partnergate handler.
type App struct {
	// Store is "file <dir>" (embedded, the default, under Caddy's data
	// directory when no dir is given) or "redis <url>".
	Store StoreConfig `json:"store,omitempty"`
	// BaseDomain gives every partner the hostname <id>.<base_domain>.
	BaseDomain string `json:"base_domain"`
	// OperatorKeys are admin API bearer tokens with access to every partner.
	OperatorKeys []string `json:"operator_keys,omitempty"`
	// SecretKey is the master secret cookies and CSRF tokens derive from.
	SecretKey string `json:"secret_key"`
	// SessionLifetime is the baseline's absolute session length (default
	// 12h) when the governance block does not set one; partners may only
	// shorten it.
	SessionLifetime caddy.Duration `json:"session_lifetime,omitempty"`
	// SessionIdleTimeout is the baseline's idle timeout (default 1h) when
	// the governance block does not set one.
	SessionIdleTimeout caddy.Duration `json:"session_idle_timeout,omitempty"`
	// Mail sends invitation and password-reset links; without it the admin
	// API refuses to send them.
	Mail *MailConfig `json:"mail,omitempty"`
	// SMS sends sign-in codes by text message; without it SMS is not
	// offered as a second factor, whatever partners' policies allow.
	SMS *SMSConfig `json:"sms,omitempty"`
	// Push sends sign-in approval requests to users' devices; without it
	// push is not offered.
	Push *PushConfig `json:"push,omitempty"`
	// Audit bounds every partner's audit trail.
	Audit AuditConfig `json:"audit,omitzero"`
	// LinkScheme is the scheme of links mailed to users: https (default)
	// or http, for a local setup without TLS.
	LinkScheme string `json:"link_scheme,omitempty"`
	// LinkPort is the port of partner sites in links and in the SSO URLs
	// the admin API shows, when it is not the scheme's default.
	LinkPort string `json:"link_port,omitempty"`
	// AdminURL is the origin of the admin site, e.g.
	// "https://admin.example.com": the portal shows partner admins their
	// SCIM base URL under it. Empty, the portal names the host it is on.
	AdminURL string `json:"admin_url,omitempty"`
	// AllowPrivateIdPs lets SSO reach identity providers on loopback,
	// private and link-local addresses, which are refused by default
	// because partner admins choose the URLs the gateway fetches. Only
	// for development and tests with IdPs on the same machine or network.
	AllowPrivateIdPs bool `json:"allow_private_idps,omitempty"`
	// TemplatesDir holds the operator's page overrides: a file named like
	// a page (login.html, layout.html, …) replaces it.
	TemplatesDir string `json:"templates_dir,omitempty"`
	// Governance is the platform's baseline every partner policy is held
	// to; unset fields take the defaults. Operators may replace it
	// through the admin API, which then wins.
	Governance policy.Policy `json:"governance,omitzero"`

	store     *sharedStore
	poolKey   string
	sessions  *session.Manager
	directory *gateway.Directory
	templates *templates.Set
	csrfKey   []byte
	adminKey  []byte
	portalKey []byte
	// secretsKey encrypts SSO connection secrets at rest; secrets opens
	// them for sign-ins.
	secretsKey []byte
	secrets    *secretbox.Box
	// oidc and samlMetadata are shared by every partner's sign-ins, so
	// one discovery document or metadata fetch serves all nodes' sites.
	oidc         *oidc.Client
	samlMetadata *saml.MetadataCache
	// policies serves every partner's effective policy, shared by the
	// sign-ins and the admin API.
	policies  *governance.Source
	operators []admin.OperatorKey
	audit     *audit.Log
	// hashing bounds argon2 work across every handler of this config.
	hashing *password.Limiter
	mailer  mail.Sender
	// sms, push and pushSecret are the second factors' senders and the
	// key push answers are signed with.
	sms        notify.SMS
	push       notify.Push
	pushSecret []byte
	logger     *zap.Logger

	stop    context.CancelFunc
	stopped chan struct{}
	// reload asks refreshDirectory for a reload without blocking the event
	// watch, which must keep delivering revocations and pinging meanwhile.
	reload chan struct{}
}

// MailConfig is an SMTP relay.
type MailConfig struct {
	Host     string `json:"host"`
	Port     int    `json:"port,omitempty"`
	Username string `json:"username,omitempty"`
	Password string `json:"password,omitempty"`
	// From is the sender, e.g. "Acme Platform <no-reply@example.com>".
	From string `json:"from"`
	// TLS is starttls (default), tls, or none (loopback relays only).
	TLS     string         `json:"tls,omitempty"`
	Timeout caddy.Duration `json:"timeout,omitempty"`
}

// SMSConfig is where SMS codes are sent through: exactly one of a
// Twilio-compatible REST API or a signed webhook.
type SMSConfig struct {
	Twilio  *TwilioConfig  `json:"twilio,omitempty"`
	Webhook *WebhookConfig `json:"webhook,omitempty"`
}

// PushConfig is where push requests are sent through. The webhook's
// secret also signs the devices' answers.
type PushConfig struct {
	Webhook *WebhookConfig `json:"webhook,omitempty"`
}

// TwilioConfig is a Twilio account, or a compatible provider's at
// base_url. Exactly one of From and MessagingServiceSID is set.
type TwilioConfig struct {
	BaseURL             string `json:"base_url,omitempty"`
	AccountSID          string `json:"account_sid"`
	AuthToken           string `json:"auth_token"`
	From                string `json:"from,omitempty"`
	MessagingServiceSID string `json:"messaging_service_sid,omitempty"`
}

// WebhookConfig is a receiver of signed JSON POSTs; Secret (at least 32
// bytes) is the HMAC key shared with it.
type WebhookConfig struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`
}

// sender builds the SMS sender; secrets come through placeholders, as the
// mail password does, so they need not sit in the config.
func (c *SMSConfig) sender(repl *caddy.Replacer) (notify.SMS, error) {
	switch {
	case (c.Twilio == nil) == (c.Webhook == nil):
		return nil, errors.New("sms: configure exactly one of twilio and webhook")
	case c.Twilio != nil:
		sid, err := repl.ReplaceOrErr(c.Twilio.AccountSID, true, true)
		if err != nil {
			return nil, fmt.Errorf("sms twilio account_sid: %w", err)
		}
		token, err := repl.ReplaceOrErr(c.Twilio.AuthToken, true, true)
		if err != nil {
			return nil, fmt.Errorf("sms twilio auth_token: %w", err)
		}
		s, err := notify.NewTwilio(notify.TwilioConfig{
			BaseURL: c.Twilio.BaseURL, AccountSID: sid, AuthToken: token,
			From: repl.ReplaceKnown(c.Twilio.From, ""), MessagingServiceSID: repl.ReplaceKnown(c.Twilio.MessagingServiceSID, ""),
		})
		if err != nil {
			return nil, fmt.Errorf("sms: %w", err)
		}
		return s, nil
	default:
		s, _, err := c.Webhook.build(repl, "sms")
		return s, err
	}
}

func (c *PushConfig) sender(repl *caddy.Replacer) (notify.Push, []byte, error) {
	if c.Webhook == nil {
		return nil, nil, errors.New("push: configure a webhook")
	}
	return c.Webhook.build(repl, "push")
}

func (c *WebhookConfig) build(repl *caddy.Replacer, what string) (*notify.Webhook, []byte, error) {
	secret, err := repl.ReplaceOrErr(c.Secret, true, true)
	if err != nil {
		return nil, nil, fmt.Errorf("%s webhook secret: %w", what, err)
	}
	w, err := notify.NewWebhook(notify.WebhookConfig{URL: repl.ReplaceKnown(c.URL, ""), Secret: []byte(secret)})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	return w, []byte(secret), nil
}

// AuditConfig bounds each audit stream; zero values take the defaults
// (100000 events, 90 days).
type AuditConfig struct {
	MaxEvents int            `json:"max_events,omitempty"`
	MaxAge    caddy.Duration `json:"max_age,omitempty"`
}

func (c AuditConfig) retention() audit.Retention {
	return audit.Retention{MaxEvents: c.MaxEvents, MaxAge: time.Duration(c.MaxAge)}
}

// StoreConfig selects a storage backend.
type StoreConfig struct {
	Backend string `json:"backend,omitempty"` // "file" or "redis"
	Path    string `json:"path,omitempty"`
	URL     string `json:"url,omitempty"`
}

// CaddyModule returns the Caddy module information.
func (App) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "partnergate",
		New: func() caddy.Module { return new(App) },
	}
}

// Provision resolves secrets, opens the shared store and builds the parts.
// No network I/O beyond the store's own connection happens here.
func (a *App) Provision(ctx caddy.Context) error {
	a.logger = ctx.Logger()
	repl := caddy.NewReplacer()
	secret, err := repl.ReplaceOrErr(a.SecretKey, true, true)
	if err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	for i, k := range a.OperatorKeys {
		key, err := repl.ReplaceOrErr(k, true, true)
		if err != nil {
			return fmt.Errorf("operator_key %d: %w", i+1, err)
		}
		a.operators = append(a.operators, admin.OperatorKey{Key: key})
	}
	sessionKey, err := keys.Derive(secret, keys.SessionCookie)
	if err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	if a.csrfKey, err = keys.Derive(secret, keys.CSRF); err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	if a.adminKey, err = keys.Derive(secret, keys.AdminCSRF); err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	if a.portalKey, err = keys.Derive(secret, keys.Portal); err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	if a.secretsKey, err = keys.Derive(secret, keys.ConnectionSecrets); err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	if a.secrets, err = secretbox.New(a.secretsKey); err != nil {
		return fmt.Errorf("secret_key: %w", err)
	}
	idpClient := a.idpClient()
	// Both fetch lazily: provisioning never waits on a partner's IdP.
	a.oidc = oidc.New(oidc.Options{HTTPClient: idpClient})
	a.samlMetadata = saml.NewMetadataCache(idpClient, 5*time.Second, time.Hour, nil)
	if a.Mail != nil {
		if a.mailer, err = a.Mail.sender(repl); err != nil {
			return err
		}
	}
	if a.SMS != nil {
		if a.sms, err = a.SMS.sender(repl); err != nil {
			return err
		}
	}
	if a.Push != nil {
		if a.push, a.pushSecret, err = a.Push.sender(repl); err != nil {
			return err
		}
	}
	var overrides fs.FS
	if a.TemplatesDir != "" {
		overrides = os.DirFS(a.TemplatesDir)
	}
	if a.templates, err = templates.ParseWith(overrides); err != nil {
		return err
	}
	if err := a.openStore(ctx); err != nil {
		return err
	}
	a.policies = governance.New(a.store, a.baseline())
	a.sessions, err = session.NewManager(session.Config{
		Store:   a.store,
		MACKey:  sessionKey,
		Lengths: a.sessionLengths,
		Logger:  a.logger.Named("session"),
	})
	if err != nil {
		return err
	}
	a.directory = gateway.NewDirectory(a.BaseDomain, a.store.listPartners)
	a.hashing = password.NewLimiter(0, 0)
	a.audit, err = audit.New(audit.Config{
		Store:     a.store,
		Retention: a.Audit.retention(),
	})
	return err
}

// baseline is the configured governance baseline; the older
// session_lifetime and session_idle_timeout options stand in for its
// session lengths when the governance block does not set them.
func (a *App) baseline() policy.Policy {
	b := a.Governance
	if a.SessionLifetime == 0 && a.SessionIdleTimeout == 0 {
		return b
	}
	s := policy.Session{}
	if b.Session != nil {
		s = *b.Session
	}
	if s.MaxLifetime == nil && a.SessionLifetime > 0 {
		d := policy.Duration(a.SessionLifetime)
		s.MaxLifetime = &d
	}
	if s.IdleTimeout == nil && a.SessionIdleTimeout > 0 {
		d := policy.Duration(a.SessionIdleTimeout)
		s.IdleTimeout = &d
	}
	b.Session = &s
	return b
}

// sessionLengths are a partner's session lengths: its effective policy's.
func (a *App) sessionLengths(ctx context.Context, partnerID string) (session.Lengths, error) {
	eff, err := a.policies.Effective(ctx, partnerID)
	if err != nil {
		return session.Lengths{}, err
	}
	return session.Lengths{MaxLifetime: eff.MaxLifetime(), IdleTimeout: eff.IdleTimeout()}, nil
}

// idpClient makes the calls to partners' IdPs. Partner admins choose the
// URLs, and the documents there name further ones, so by default those
// calls refuse the gateway's own machine and network: Caddy's admin API,
// cloud metadata, internal hosts. Nil lets each part dial anywhere.
func (a *App) idpClient() *http.Client {
	if a.AllowPrivateIdPs {
		return nil
	}
	return netguard.Client(5 * time.Second)
}

func (m *MailConfig) sender(repl *caddy.Replacer) (mail.Sender, error) {
	password, err := repl.ReplaceOrErr(m.Password, true, true)
	if err != nil {
		return nil, fmt.Errorf("mail password: %w", err)
	}
	s, err := mail.NewSMTP(mail.SMTPConfig{
		Host:     m.Host,
		Port:     m.Port,
		Username: repl.ReplaceKnown(m.Username, ""),
		Password: password,
		From:     m.From,
		TLS:      m.TLS,
		Timeout:  time.Duration(m.Timeout),
	})
	if err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	return s, nil
}

// Validate checks the config without side effects.
func (a *App) Validate() error {
	var errs []error
	if a.BaseDomain == "" {
		errs = append(errs, errors.New("base_domain is required"))
	}
	if err := admin.CheckOperatorKeys(a.operators); err != nil {
		errs = append(errs, err)
	}
	if err := a.Audit.retention().Validate(); err != nil {
		errs = append(errs, fmt.Errorf("audit: %w", err))
	}
	for _, pr := range a.Governance.Validate() {
		errs = append(errs, fmt.Errorf("governance: %s: %s", pr.Field, pr.Message))
	}
	if p, err := strconv.Atoi(a.LinkPort); a.LinkPort != "" && (err != nil || p < 1 || p > 65535) {
		errs = append(errs, fmt.Errorf("link_port: %q is not a port number", a.LinkPort))
	}
	if u, err := url.Parse(a.AdminURL); a.AdminURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil) {
		errs = append(errs, fmt.Errorf("admin_url: %q is not an http(s) origin like https://admin.example.com", a.AdminURL))
	}
	if a.LinkScheme != "" && a.LinkScheme != "https" && a.LinkScheme != "http" {
		errs = append(errs, fmt.Errorf("link_scheme: %q is neither https nor http", a.LinkScheme))
	}
	return errors.Join(errs...)
}

// Start follows the store's events (revocations, partner changes and the
// health of the channel that carries them) and refreshes the directory.
func (a *App) Start() error {
	ctx, cancel := context.WithCancel(context.Background())
	a.stop = cancel
	a.stopped = make(chan struct{})
	a.reload = make(chan struct{}, 1)
	a.store.listen(a)
	// The directory is full before this config serves a request; if the
	// store cannot be read now, the last list any config read stands in.
	if err := a.loadDirectory(); err != nil {
		if last, ok := a.store.lastPartners(); ok {
			a.directory.Set(last)
		}
	}
	go func() {
		defer close(a.stopped)
		a.refreshDirectory(ctx)
	}()
	return nil
}

// Stop stops following events; the store and its watch stay for the next
// config.
func (a *App) Stop() error {
	if a.stop != nil {
		a.store.unlisten(a)
		a.stop()
		<-a.stopped
	}
	return nil
}

// Cleanup releases this config's hold on the shared store.
func (a *App) Cleanup() error {
	if a.poolKey == "" {
		return nil
	}
	_, err := storePool.Delete(a.poolKey)
	return err
}

func (a *App) handleEvent(e store.Event) {
	a.sessions.HandleEvent(e)
	a.policies.HandleEvent(e)
	if e.Kind == store.PartnersChanged {
		a.requestReload()
	}
}

func (a *App) handleHealth(up bool) {
	a.sessions.SetHealthy(up)
	a.policies.SetHealthy(up)
	if up {
		a.requestReload()
	} else {
		a.logger.Warn("store events unreachable: refusing sessions until they are back")
	}
}

func (a *App) requestReload() {
	select {
	case a.reload <- struct{}{}:
	default: // one is already pending
	}
}

func (a *App) loadDirectory() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := a.directory.Reload(ctx)
	if err != nil {
		a.logger.Error("partner directory not refreshed", zap.Error(err))
	}
	return err
}

// refreshDirectory reloads the directory whenever an event asks, and every
// 30 seconds as a backstop should an event be lost.
func (a *App) refreshDirectory(ctx context.Context) {
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-a.reload:
		}
		_ = a.loadDirectory() // logged there; the old snapshot stays
	}
}

func (a *App) openStore(ctx caddy.Context) error {
	repl := caddy.NewReplacer()
	var open func() (store.Store, error)
	switch a.Store.Backend {
	case "", "file":
		dir := a.Store.Path
		if dir == "" {
			dir = filepath.Join(caddy.AppDataDir(), "partnergate")
		}
		dir, err := filepath.Abs(repl.ReplaceKnown(dir, ""))
		if err != nil {
			return fmt.Errorf("store file: %w", err)
		}
		a.poolKey = "file:" + dir
		open = func() (store.Store, error) { return bolt.Open(filepath.Join(dir, "partnergate.db")) }
	case "redis":
		url, err := repl.ReplaceOrErr(a.Store.URL, true, true)
		if err != nil {
			return fmt.Errorf("store redis: %w", err)
		}
		a.poolKey = "redis:" + url
		goredis.SetLogger(redisLogger{a.logger.Named("redis")})
		open = func() (store.Store, error) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			return pgredis.Open(ctx, url)
		}
	default:
		return fmt.Errorf("store: unknown backend %q (want file or redis)", a.Store.Backend)
	}
	val, _, err := storePool.LoadOrNew(a.poolKey, func() (caddy.Destructor, error) {
		s, err := open()
		if err != nil {
			return nil, err
		}
		return newSharedStore(s), nil
	})
	if err != nil {
		key := a.poolKey
		a.poolKey = ""
		return fmt.Errorf("open store %s: %w", redactURL(key), err)
	}
	a.store = val.(*sharedStore)
	return nil
}

// redisLogger routes go-redis's own messages (dial failures, pool
// trouble) into Caddy's log rather than stderr. go-redis keeps one logger
// per process, so the newest config's wins.
type redisLogger struct{ l *zap.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	r.l.Warn(fmt.Sprintf(format, v...))
}

// redactURL keeps a store URL's scheme, hosts and path for messages and
// drops what may hold a secret: the user info and the query, where
// parameters like sentinel_password live.
func redactURL(s string) string {
	s, _, _ = strings.Cut(s, "?")
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		rest = "REDACTED@" + rest[at+1:]
	}
	return scheme + "://" + rest
}

// Interface guards
var (
	_ caddy.App          = (*App)(nil)
	_ caddy.Provisioner  = (*App)(nil)
	_ caddy.Validator    = (*App)(nil)
	_ caddy.CleanerUpper = (*App)(nil)
)

// siteURL is the origin of a partner's site on host as links name it.
func (a *App) siteURL(host string) string {
	scheme := a.LinkScheme
	if scheme == "" {
		scheme = "https"
	}
	if a.LinkPort != "" {
		host = net.JoinHostPort(host, a.LinkPort)
	}
	return scheme + "://" + host
}

// scimBaseURL is a partner's SCIM endpoint on the admin_url site.
func (a *App) scimBaseURL(partnerID string) string {
	return strings.TrimSuffix(a.AdminURL, "/") + "/scim/v2/" + partnerID + "/"
}

// isAdminSite reports whether r, on no partner's hostname, is on the
// admin site: the host admin_url names, or without it any host outside
// base_domain, so an unclaimed partner-style name serves no operator
// sign-in.
func (a *App) isAdminSite(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if a.AdminURL != "" {
		u, err := url.Parse(a.AdminURL)
		return err == nil && strings.EqualFold(host, u.Hostname())
	}
	return !strings.HasSuffix(strings.ToLower(host), "."+strings.ToLower(a.BaseDomain))
}
