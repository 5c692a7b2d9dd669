// Package partnergate registers the partnergate Caddy modules: import it
// (or build with `xcaddy build --with github.com/partnergate/partnergate`)
// to get the partnergate app and the partner_auth and partner_admin
// handlers in a custom Caddy. The modules live in caddymodule.
package partnergate

import _ "github.com/partnergate/partnergate/caddymodule"
