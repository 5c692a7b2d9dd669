package caddymodule

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
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
//		audit {
//			max_events <n>
//			max_age <duration>
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
		case "link_port":
			if !d.AllArgs(&app.LinkPort) {
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
		case "audit":
			if err := parseAudit(d, &app.Audit); err != nil {
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
