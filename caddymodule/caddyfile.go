package caddymodule

import (
	"net/netip"
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/partnergate/partnergate/policy"
)

func init() {
	httpcaddyfile.RegisterGlobalOption("partnergate", parseGlobal)
	httpcaddyfile.RegisterHandlerDirective("partner_auth", parsePartnerAuth)
	httpcaddyfile.RegisterHandlerDirective("partner_admin", parsePartnerAdmin)
	httpcaddyfile.RegisterHandlerDirective("partner_scim", parsePartnerSCIM)
	// Authentication runs after URL rewriting and before anything that
	// serves content, like basic_auth; the admin API answers like respond.
	httpcaddyfile.RegisterDirectiveOrder("partner_auth", httpcaddyfile.Before, "basic_auth")
	httpcaddyfile.RegisterDirectiveOrder("partner_admin", httpcaddyfile.Before, "respond")
	httpcaddyfile.RegisterDirectiveOrder("partner_scim", httpcaddyfile.Before, "respond")
}

// parseGlobal sets up the app from the global options block:
//
//	partnergate {
//		store file [<dir>] | store redis <url>
//		base_domain <domain>
//		operator_key <key>          # repeatable
//		secret_key <key>
//		session_lifetime <duration>
//		session_idle_timeout <duration>
//		link_scheme https|http
//		link_port <port>            # partner sites' port, when not the scheme's
//		templates_dir <dir>         # operator overrides of the pages, by file name
//		allow_private_idps          # development only: let SSO reach loopback and private IdPs
//		mail {
//			host <host>
//			port <port>
//			username <name>
//			password <password>
//			from <address>
//			tls starttls|tls|none
//			timeout <duration>
//		}
//		sms {                       # one of:
//			twilio {
//				account_sid <sid>
//				auth_token <token>
//				from <number>       # or: messaging_service_sid <sid>
//				base_url <url>      # a Twilio-compatible provider
//			}
//			webhook {
//				url <url>
//				secret <secret>     # at least 32 bytes
//			}
//		}
//		push {
//			webhook {
//				url <url>
//				secret <secret>     # also signs the devices' answers
//			}
//		}
//		audit {
//			max_events <n>
//			max_age <duration>
//		}
//		governance {                # the baseline; a line not given takes the default
//			mfa_required [true|false]                 # bare = true
//			mfa_methods <method>...                   # webauthn totp push sms
//			accept_idp_mfa true|false
//			session_max_lifetime <duration>
//			session_idle_timeout <duration>
//			remember_device <duration>                # 0 = off
//			password_min_length <n>
//			password_require <class>...               # upper lower digit symbol
//			password_history <n>
//			password_max_age <duration>               # 0 = never expires
//			passwordless allowed|off|required
//			block_common_passwords [true|false]       # bare = true
//			lockout_threshold <n>                     # 0 = no lockout
//			lockout_duration <duration>
//			sso_required [true|false]                 # bare = true
//			allowed_ip_ranges <cidr>...
//		}
//	}
func parseGlobal(d *caddyfile.Dispenser, existing any) (any, error) {
	if existing != nil {
		return nil, d.Err("partnergate: global option given more than once")
	}
	app := new(App)
	d.Next() // the option name
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if seen[option] && option != "operator_key" {
			return nil, d.Errf("partnergate: %s given more than once", option)
		}
		seen[option] = true
		switch option {
		case "store":
			if !d.NextArg() {
				return nil, d.Err("store: want 'file [<dir>]' or 'redis <url>'")
			}
			app.Store.Backend = d.Val()
			switch app.Store.Backend {
			case "file":
				if d.NextArg() {
					app.Store.Path = d.Val()
				}
			case "redis":
				if !d.NextArg() {
					return nil, d.Err("store redis: missing URL")
				}
				app.Store.URL = d.Val()
			default:
				return nil, d.Errf("store: unknown backend %q (want file or redis)", app.Store.Backend)
			}
			if d.NextArg() {
				return nil, d.ArgErr()
			}
		case "base_domain":
			if !d.AllArgs(&app.BaseDomain) {
				return nil, d.ArgErr()
			}
		case "operator_key":
			var key string
			if !d.AllArgs(&key) {
				return nil, d.ArgErr()
			}
			app.OperatorKeys = append(app.OperatorKeys, key)
		case "secret_key":
			if !d.AllArgs(&app.SecretKey) {
				return nil, d.ArgErr()
			}
		case "session_lifetime", "session_idle_timeout":
			var raw string
			if !d.AllArgs(&raw) {
				return nil, d.ArgErr()
			}
			dur, err := positiveDuration(d, option, raw)
			if err != nil {
				return nil, err
			}
			if option == "session_lifetime" {
				app.SessionLifetime = dur
			} else {
				app.SessionIdleTimeout = dur
			}
		case "link_scheme":
			if !d.AllArgs(&app.LinkScheme) {
				return nil, d.ArgErr()
			}
		case "templates_dir":
			if !d.AllArgs(&app.TemplatesDir) {
				return nil, d.ArgErr()
			}
		case "link_port":
			if !d.AllArgs(&app.LinkPort) {
				return nil, d.ArgErr()
			}
		case "admin_url":
			if !d.AllArgs(&app.AdminURL) {
				return nil, d.ArgErr()
			}
		case "allow_private_idps":
			if d.NextArg() {
				return nil, d.ArgErr()
			}
			app.AllowPrivateIdPs = true
		case "mail":
			m, err := parseMail(d)
			if err != nil {
				return nil, err
			}
			app.Mail = m
		case "sms":
			c, err := parseSMS(d)
			if err != nil {
				return nil, err
			}
			app.SMS = c
		case "push":
			c, err := parsePush(d)
			if err != nil {
				return nil, err
			}
			app.Push = c
		case "audit":
			if err := parseAudit(d, &app.Audit); err != nil {
				return nil, err
			}
		case "governance":
			if err := parseGovernance(d, &app.Governance); err != nil {
				return nil, err
			}
		default:
			return nil, d.Errf("partnergate: unknown option %q", option)
		}
	}
	return httpcaddyfile.App{Name: "partnergate", Value: caddyconfig.JSON(app, nil)}, nil
}

func parseMail(d *caddyfile.Dispenser) (*MailConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	m := new(MailConfig)
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if seen[option] {
			return nil, d.Errf("mail: %s given more than once", option)
		}
		seen[option] = true
		var val string
		if !d.AllArgs(&val) {
			return nil, d.ArgErr()
		}
		switch option {
		case "host":
			m.Host = val
		case "port":
			port, err := strconv.Atoi(val)
			if err != nil || port < 1 || port > 65535 {
				return nil, d.Errf("mail port: %q is not a port number", val)
			}
			m.Port = port
		case "username":
			m.Username = val
		case "password":
			m.Password = val
		case "from":
			m.From = val
		case "tls":
			m.TLS = val
		case "timeout":
			dur, err := positiveDuration(d, "mail timeout", val)
			if err != nil {
				return nil, err
			}
			m.Timeout = dur
		default:
			return nil, d.Errf("mail: unknown option %q", option)
		}
	}
	return m, nil
}

func parseSMS(d *caddyfile.Dispenser) (*SMSConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(SMSConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if c.Twilio != nil || c.Webhook != nil {
			return nil, d.Err("sms: configure exactly one of twilio and webhook")
		}
		switch d.Val() {
		case "twilio":
			t, err := parseTwilio(d)
			if err != nil {
				return nil, err
			}
			c.Twilio = t
		case "webhook":
			w, err := parseWebhook(d, "sms")
			if err != nil {
				return nil, err
			}
			c.Webhook = w
		default:
			return nil, d.Errf("sms: unknown sender %q (want twilio or webhook)", d.Val())
		}
	}
	if c.Twilio == nil && c.Webhook == nil {
		return nil, d.Err("sms: configure one of twilio and webhook")
	}
	return c, nil
}

func parsePush(d *caddyfile.Dispenser) (*PushConfig, error) {
	if d.NextArg() {
		return nil, d.ArgErr()
	}
	c := new(PushConfig)
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		if c.Webhook != nil {
			return nil, d.Err("push: webhook given more than once")
		}
		switch d.Val() {
		case "webhook":
			w, err := parseWebhook(d, "push")
			if err != nil {
				return nil, err
			}
			c.Webhook = w
		default:
			return nil, d.Errf("push: unknown channel %q (want webhook)", d.Val())
		}
	}
	if c.Webhook == nil {
		return nil, d.Err("push: configure a webhook")
	}
	return c, nil
}

// subOptions reads a block of "name value" lines, each once, into set.
func subOptions(d *caddyfile.Dispenser, what string, set func(option, val string) error) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if seen[option] {
			return d.Errf("%s: %s given more than once", what, option)
		}
		seen[option] = true
		var val string
		if !d.AllArgs(&val) {
			return d.ArgErr()
		}
		if err := set(option, val); err != nil {
			return err
		}
	}
	return nil
}

func parseTwilio(d *caddyfile.Dispenser) (*TwilioConfig, error) {
	t := new(TwilioConfig)
	err := subOptions(d, "sms twilio", func(option, val string) error {
		switch option {
		case "account_sid":
			t.AccountSID = val
		case "auth_token":
			t.AuthToken = val
		case "from":
			t.From = val
		case "messaging_service_sid":
			t.MessagingServiceSID = val
		case "base_url":
			t.BaseURL = val
		default:
			return d.Errf("sms twilio: unknown option %q", option)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	switch {
	case t.AccountSID == "" || t.AuthToken == "":
		return nil, d.Err("sms twilio: account_sid and auth_token are required")
	case (t.From == "") == (t.MessagingServiceSID == ""):
		return nil, d.Err("sms twilio: set exactly one of from and messaging_service_sid")
	}
	return t, nil
}

func parseWebhook(d *caddyfile.Dispenser, what string) (*WebhookConfig, error) {
	w := new(WebhookConfig)
	err := subOptions(d, what+" webhook", func(option, val string) error {
		switch option {
		case "url":
			w.URL = val
		case "secret":
			w.Secret = val
		default:
			return d.Errf("%s webhook: unknown option %q", what, option)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if w.URL == "" || w.Secret == "" {
		return nil, d.Errf("%s webhook: url and secret are required", what)
	}
	return w, nil
}

func parseAudit(d *caddyfile.Dispenser, a *AuditConfig) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		var val string
		if !d.AllArgs(&val) {
			return d.ArgErr()
		}
		switch option {
		case "max_events":
			n, err := strconv.Atoi(val)
			if err != nil || n < 1 {
				return d.Errf("audit max_events: %q is not a positive number", val)
			}
			a.MaxEvents = n
		case "max_age":
			dur, err := positiveDuration(d, "audit max_age", val)
			if err != nil {
				return err
			}
			a.MaxAge = dur
		default:
			return d.Errf("audit: unknown option %q", option)
		}
	}
	return nil
}

// parseGovernance fills p, the governance baseline, from the governance
// block. Values are only parsed here; App.Validate checks their ranges.
func parseGovernance(d *caddyfile.Dispenser, p *policy.Policy) error {
	if d.NextArg() {
		return d.ArgErr()
	}
	mfa := func() *policy.MFA {
		if p.MFA == nil {
			p.MFA = new(policy.MFA)
		}
		return p.MFA
	}
	session := func() *policy.Session {
		if p.Session == nil {
			p.Session = new(policy.Session)
		}
		return p.Session
	}
	password := func() *policy.Password {
		if p.Password == nil {
			p.Password = new(policy.Password)
		}
		return p.Password
	}
	lockout := func() *policy.Lockout {
		if p.Lockout == nil {
			p.Lockout = new(policy.Lockout)
		}
		return p.Lockout
	}
	seen := map[string]bool{}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		option := d.Val()
		if seen[option] {
			return d.Errf("governance: %s given more than once", option)
		}
		seen[option] = true
		args := d.RemainingArgs()
		// one returns the line's single value.
		one := func() (string, error) {
			if len(args) != 1 {
				return "", d.Errf("governance %s: want one value, got %d", option, len(args))
			}
			return args[0], nil
		}
		// some returns the line's values, at least one.
		some := func() ([]string, error) {
			if len(args) == 0 {
				return nil, d.Errf("governance %s: want one or more values", option)
			}
			return args, nil
		}
		// flag reads true or false; a bare line is true when bare is set.
		flag := func(bare bool) (*bool, error) {
			if bare && len(args) == 0 {
				return ptr(true), nil
			}
			val, err := one()
			if err != nil {
				return nil, err
			}
			switch val {
			case "true":
				return ptr(true), nil
			case "false":
				return ptr(false), nil
			}
			return nil, d.Errf("governance %s: %q is not true or false", option, val)
		}
		duration := func() (*policy.Duration, error) {
			val, err := one()
			if err != nil {
				return nil, err
			}
			dur, err := caddy.ParseDuration(val)
			if err != nil {
				return nil, d.Errf("governance %s: %q is not a duration such as \"8h\" or \"30m\"", option, val)
			}
			return ptr(policy.Duration(dur)), nil
		}
		number := func() (*int, error) {
			val, err := one()
			if err != nil {
				return nil, err
			}
			n, err := strconv.Atoi(val)
			if err != nil {
				return nil, d.Errf("governance %s: %q is not a whole number", option, val)
			}
			return &n, nil
		}
		var err error
		switch option {
		case "mfa_required":
			mfa().Required, err = flag(true)
		case "mfa_methods":
			var vals []string
			if vals, err = some(); err == nil {
				mfa().Methods = convert[policy.Method](vals)
			}
		case "accept_idp_mfa":
			mfa().AcceptIdPMFA, err = flag(false)
		case "session_max_lifetime":
			session().MaxLifetime, err = duration()
		case "session_idle_timeout":
			session().IdleTimeout, err = duration()
		case "remember_device":
			session().RememberDevice, err = duration()
		case "password_min_length":
			password().MinLength, err = number()
		case "password_require":
			var vals []string
			if vals, err = some(); err == nil {
				password().Require = convert[policy.CharClass](vals)
			}
		case "password_history":
			password().History, err = number()
		case "password_max_age":
			password().MaxAge, err = duration()
		case "passwordless":
			var val string
			if val, err = one(); err == nil {
				password().Passwordless = ptr(policy.Passwordless(val))
			}
		case "block_common_passwords":
			password().BlockCommon, err = flag(true)
		case "lockout_threshold":
			lockout().Threshold, err = number()
		case "lockout_duration":
			lockout().Duration, err = duration()
		case "sso_required":
			p.SSORequired, err = flag(true)
		case "allowed_ip_ranges":
			var vals []string
			if vals, err = some(); err == nil {
				ranges := make([]netip.Prefix, 0, len(vals))
				for _, val := range vals {
					prefix, perr := netip.ParsePrefix(val)
					if perr != nil {
						return d.Errf("governance %s: %q is not an IP range such as 10.0.0.0/8", option, val)
					}
					ranges = append(ranges, prefix)
				}
				p.AllowedIPRanges = ranges
			}
		default:
			return d.Errf("governance: unknown option %q", option)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// convert turns a line's values into a list of a string type.
func convert[T ~string](vals []string) []T {
	out := make([]T, len(vals))
	for i, v := range vals {
		out[i] = T(v)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// positiveDuration parses raw, the value of option name, as a duration
// above zero.
func positiveDuration(d *caddyfile.Dispenser, name, raw string) (caddy.Duration, error) {
	dur, err := caddy.ParseDuration(raw)
	if err != nil || dur <= 0 {
		return 0, d.Errf("%s: %q is not a positive duration", name, raw)
	}
	return caddy.Duration(dur), nil
}

// parsePartnerAuth sets up the handler:
//
//	partner_auth {
//		prefix <path>
//	}
func parsePartnerAuth(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	m := new(PartnerAuth)
	h.Next() // the directive name
	if h.NextArg() {
		return nil, h.ArgErr()
	}
	for nesting := h.Nesting(); h.NextBlock(nesting); {
		switch h.Val() {
		case "prefix":
			if !h.AllArgs(&m.Prefix) {
				return nil, h.ArgErr()
			}
		default:
			return nil, h.Errf("partner_auth: unknown option %q", h.Val())
		}
	}
	return m, nil
}

// parsePartnerAdmin sets up the handler; it takes no options:
//
//	partner_admin
func parsePartnerAdmin(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // the directive name
	if h.NextArg() || h.NextBlock(h.Nesting()) {
		return nil, h.ArgErr()
	}
	return new(PartnerAdmin), nil
}

// parsePartnerSCIM sets up the handler; it takes no options:
//
//	partner_scim
func parsePartnerSCIM(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	h.Next() // the directive name
	if h.NextArg() || h.NextBlock(h.Nesting()) {
		return nil, h.ArgErr()
	}
	return new(PartnerSCIM), nil
}
